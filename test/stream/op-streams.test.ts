/**
 * Ops that return streams, over the stream's whole life: the call's span and `op:end` last
 * until the stream ends, fails, is closed or cancelled (with the failure recorded); inside
 * `durable()` a finished stream is journaled as its items, so a resumed run replays it
 * without running the body; web `ReadableStream` results are described, checked and handed
 * back as web streams. The killed-process resume is in durable.test.ts.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { SpanStatusCode } from "@opentelemetry/api";
import { afterAll, describe, expect, it, vi } from "vitest";
import { Cancelled, DeadlineExceeded, MemoryStore, OpError, SqliteStore, ValidationError, configureDurable, describeOp, durable, op, subscribe, withContext, type DurableStore, type RuntimeEvent } from "weft";
import { recordSpans } from "../support/spans.js";

const exporter = recordSpans();
const dir = mkdtempSync(path.join(tmpdir(), "weft-op-streams-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ran: string[] = [];
const closed: string[] = [];

/** One word at a time; notes each run and each close (its `finally`). */
export const words = op(async function* (text: string): AsyncIterable<string> {
  ran.push(text);
  try {
    for (const w of text.split(" ")) {
      await new Promise<void>((r) => setImmediate(r));
      yield w;
    }
  } finally {
    closed.push(text);
  }
});

/** Fails after its second item. */
export const breaks = op(async function* (n: number): AsyncGenerator<number> {
  yield n;
  yield n + 1;
  throw new Error("the source went away");
});

/** Declared to yield strings; yields a number second. */
export const liar = op(async function* (): AsyncIterable<string> {
  yield "a";
  yield 2 as unknown as string;
});

/** A web stream of the letters of `text`. */
export const letters = op(async (text: string): Promise<ReadableStream<string>> => {
  ran.push(`letters:${text}`);
  return ReadableStream.from([...text]);
});

/** A web stream declared to carry strings, carrying a number. */
export const webLiar = op(async (): Promise<ReadableStream<string>> => ReadableStream.from(["x", 1 as unknown as string]));

/** A full garbage collection (the flag is set for this process only; `gc` is read from a new context). */
function collectGarbage(): void {
  setFlagsFromString("--expose-gc");
  (runInNewContext("gc") as () => void)();
}

async function drain<T>(stream: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of stream) out.push(x);
  return out;
}

async function read<T>(stream: ReadableStream<T>): Promise<T[]> {
  const reader = stream.getReader();
  const out: T[] = [];
  for (let r = await reader.read(); !r.done; r = await reader.read()) out.push(r.value);
  return out;
}

const spansOf = (name: string) => exporter.getFinishedSpans().filter((s) => s.name === name);

describe("a stream op's span and op:end", () => {
  it("stay open while the stream is consumed and end with it, counting its items", async () => {
    const events: RuntimeEvent[] = [];
    const off = subscribe((e) => events.push(e));
    try {
      const stream = await words("to be or");
      // Handed over, not finished.
      expect(spansOf("words")).toHaveLength(0);
      expect(events.filter((e) => e.type === "op:end")).toHaveLength(0);
      const it = stream[Symbol.asyncIterator]();
      expect((await it.next()).value).toBe("to");
      expect(spansOf("words")).toHaveLength(0);
      expect(await drain({ [Symbol.asyncIterator]: () => it })).toEqual(["be", "or"]);
    } finally {
      off();
    }
    const [span] = spansOf("words");
    expect(span!.attributes["weft.stream.items"]).toBe(3);
    expect(span!.attributes["weft.outcome"]).toBe("ok");
    expect(span!.status.code).toBe(SpanStatusCode.OK);
    expect(events.filter((e) => e.type === "op:end")).toEqual([{ type: "op:end", op: "words", stepId: expect.any(String), attempts: 1 }]);
  });

  it("record the body's failure mid-stream, surfaced as the op's OpError", async () => {
    const got: number[] = [];
    const error = await (async () => {
      for await (const n of await breaks(1)) got.push(n);
    })().catch((e: unknown) => e);
    expect(got).toEqual([1, 2]);
    expect(error).toBeInstanceOf(OpError);
    expect((error as OpError).op).toBe("breaks");
    expect(((error as OpError).cause as Error).message).toBe("the source went away");
    const [span] = spansOf("breaks");
    expect(span!.status.code).toBe(SpanStatusCode.ERROR);
    expect(span!.attributes["weft.stream.items"]).toBe(2);
    expect(span!.events.map((e) => e.name)).toEqual(["exception"]);
    expect(span!.events[0]!.attributes!["exception.message"]).toContain("the source went away");
  });

  it("record an item that breaks the declared type", async () => {
    await expect(drain(await liar())).rejects.toThrow("liar: invalid output: return at $[1]: expected string, received 2");
    const [span] = spansOf("liar");
    expect(span!.status.code).toBe(SpanStatusCode.ERROR);
    expect(span!.attributes["weft.stream.items"]).toBe(1);
  });

  it("end when the consumer stops early, closing the body", async () => {
    ran.length = 0;
    closed.length = 0;
    for await (const w of await words("one two three")) if (w === "one") break;
    expect(closed).toEqual(["one two three"]);
    const [span] = spansOf("words");
    expect(span!.attributes["weft.stream.closed"]).toBe(true);
    expect(span!.attributes["weft.stream.items"]).toBe(1);
    expect(span!.status.code).toBe(SpanStatusCode.OK);
  });

  it("end when the caller drops the stream unfinished: never read, or left mid-way without closing it", async () => {
    ran.length = 0;
    closed.length = 0;
    const ends: RuntimeEvent[] = [];
    const off = subscribe((e) => {
      if (e.type === "op:end" && e.op === "words") ends.push(e);
    });
    try {
      // Each stream lives only inside its function: once it returns, nothing holds it.
      await (async () => void (await words("never read")))();
      await (async () => {
        const it = (await words("left mid way"))[Symbol.asyncIterator]();
        await it.next();
      })();
      for (let i = 0; i < 20 && spansOf("words").length < 2; i++) {
        collectGarbage();
        await new Promise<void>((r) => setImmediate(r));
      }
      const spans = spansOf("words");
      expect(spans).toHaveLength(2);
      for (const span of spans) {
        expect(span.attributes["weft.stream.closed"]).toBe(true);
        expect(span.attributes["weft.stream.abandoned"]).toBe(true);
        expect(span.status.code).toBe(SpanStatusCode.OK);
      }
      expect(spans.map((s) => s.attributes["weft.stream.items"]).sort()).toEqual([0, 1]);
      expect(ends).toHaveLength(2);
      // The stream that had started is closed: its body's `finally` ran.
      await vi.waitFor(() => expect(closed).toEqual(["left mid way"]));
    } finally {
      off();
    }
  });

  it("end with the cancellation when the caller's signal fires between reads, and the body is closed", async () => {
    closed.length = 0;
    const controller = new AbortController();
    const error = await withContext({ signal: controller.signal }, async () => {
      const it = (await words("a b c"))[Symbol.asyncIterator]();
      expect((await it.next()).value).toBe("a");
      controller.abort("stop");
      // Ended at the abort, before anyone reads again.
      expect(spansOf("words")).toHaveLength(1);
      return it.next().catch((e: unknown) => e);
    });
    expect(error).toBeInstanceOf(Cancelled);
    const [span] = spansOf("words");
    expect(span!.status.code).toBe(SpanStatusCode.ERROR);
    expect(span!.attributes["weft.outcome"]).toBe("Cancelled");
    await new Promise<void>((r) => setImmediate(r));
    expect(closed).toEqual(["a b c"]);
  });
});

describe("a stream op's timeout", () => {
  it("covers the stream's life: a stream still going at its deadline fails with DeadlineExceeded, its body closed", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      let release: () => void = () => undefined;
      let finished = false;
      const stalls = op({ timeout: 50 }, async function* (): AsyncIterable<number> {
        try {
          yield 1;
          await new Promise<void>((r) => (release = r));
          yield 2;
        } finally {
          finished = true;
        }
      });
      const it = (await stalls())[Symbol.asyncIterator]();
      expect((await it.next()).value).toBe(1);
      const next = it.next().catch((e: unknown) => e);
      await vi.advanceTimersByTimeAsync(60);
      const error = await next;
      expect(error).toBeInstanceOf(DeadlineExceeded);
      const [span] = spansOf("stalls");
      expect(span!.attributes["weft.outcome"]).toBe("DeadlineExceeded");
      release();
      await vi.advanceTimersByTimeAsync(0);
      expect(finished).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe("an op returning a web ReadableStream", () => {
  it("is described by its item type", () => {
    const desc = describeOp(letters);
    expect(desc?.stream).toBe(true);
    expect(desc?.returns).toEqual({ type: "string" });
  });

  it("hands back a web stream of checked items", async () => {
    const stream = await letters("abc");
    expect(stream).toBeInstanceOf(ReadableStream);
    expect(await read(stream)).toEqual(["a", "b", "c"]);
    expect(spansOf("letters")[0]!.attributes["weft.stream.items"]).toBe(3);
    const error = await read(await webLiar()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as Error).message).toBe("webLiar: invalid output: return at $[1]: expected string, received 1");
  });
});

let n = 0;
const stores: Array<[string, () => DurableStore]> = [
  ["memory", () => new MemoryStore()],
  ["sqlite", () => new SqliteStore(path.join(dir, `s${n++}.db`))],
];

describe.each(stores)("stream ops inside durable() on the %s store", (_name, makeStore) => {
  it("a resumed run replays finished streams without running their bodies, and runs the rest", async () => {
    const store = makeStore();
    let failBefore: string | undefined = "c";
    const body = async () => {
      const out: string[][] = [];
      for (const line of ["a b", "c", "d e"]) {
        if (line === failBefore) throw new Error(`crash before ${line}`);
        out.push(await drain(await words(line)));
      }
      out.push(await read(await letters("xy")));
      return out;
    };
    ran.length = 0;
    await expect(durable({ run: "r", store }, body)).rejects.toThrow(/crash before c/);
    expect(ran).toEqual(["a b"]);
    ran.length = 0;
    failBefore = "d e";
    await expect(durable({ run: "r", store }, body)).rejects.toThrow(/crash before d e/);
    expect(ran).toEqual(["c"]);
    ran.length = 0;
    failBefore = undefined;
    expect(await durable({ run: "r", store }, body)).toEqual([["a", "b"], ["c"], ["d", "e"], ["x", "y"]]);
    expect(ran).toEqual(["d e", "letters:xy"]);
    store.close();
  });

  it("a stream closed early or failed is not finished: a resumed run runs it again", async () => {
    const store = makeStore();
    let crash = true;
    const body = async () => {
      const first: string[] = [];
      for await (const w of await words("p q r")) {
        first.push(w);
        break;
      }
      const got: number[] = [];
      const failed = await (async () => {
        for await (const x of await breaks(5)) got.push(x);
      })().catch((e: unknown) => e);
      if (crash) throw new Error("crash");
      return { first, got, failed: failed instanceof OpError };
    };
    ran.length = 0;
    await expect(durable({ run: "r2", store }, body)).rejects.toThrow("crash");
    crash = false;
    expect(await durable({ run: "r2", store }, body)).toEqual({ first: ["p"], got: [5, 6], failed: true });
    expect(ran).toEqual(["p q r", "p q r"]);
    store.close();
  });
});

describe("a stream op with a result cache", () => {
  /** The letters of `text`, one at a time; counts its runs. */
  let runs = 0;
  const spell = op({ name: "spell", cache: { ttl: "1m" } }, async function* (text: string): AsyncIterable<string> {
    runs++;
    for (const c of text) {
      await new Promise<void>((r) => setImmediate(r));
      yield c;
    }
  });

  it("caches the items of a finished stream and replays them without running the body; a stream left early is not cached", async () => {
    configureDurable({ store: new MemoryStore() });
    // Left after its first item: not finished, so not cached.
    for await (const _ of await spell("xyz")) break;
    expect(runs).toBe(1);
    expect(await drain(await spell("xyz"))).toEqual(["x", "y", "z"]);
    expect(runs).toBe(2);
    // Served from the cache: the same items, the body not run again (it cached `{}` and the
    // second call's result was not iterable before).
    expect(await drain(await spell("xyz"))).toEqual(["x", "y", "z"]);
    expect(await drain(await spell("xyz"))).toEqual(["x", "y", "z"]);
    expect(runs).toBe(2);
  });
});
