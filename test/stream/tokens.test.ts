/**
 * Ops that return streams: the transformer describes the item type (no build error), each
 * item is checked as it is yielded, the generator runs in the op's own context, and the
 * tokens flow through later stages like any source.
 */
import { describe, expect, it } from "vitest";
import { data, getContext, models, op, vmap, ValidationError, describeOp } from "weft";

/** A token stream: one word at a time, split on the op's configured separator. */
export const tokens = op({ config: { separator: " " } }, async function* (text: string): AsyncIterable<string> {
  const { separator } = getContext().config as { separator: string };
  for (const word of text.split(separator)) yield word;
});

/** Declared to yield strings; yields a number third. */
export const liar = op(async function* (n: number): AsyncGenerator<string> {
  yield "a";
  yield "b";
  yield n as unknown as string;
  yield "never";
});

export const shout = op(async (word: string): Promise<string> => word.toUpperCase());

describe("an op returning an AsyncIterable", () => {
  it("is described by its item type and runs as an io op", () => {
    const desc = describeOp(tokens);
    expect(desc?.stream).toBe(true);
    expect(desc?.returns).toEqual({ type: "string" });
    expect(desc?.kind).toBe("io");
  });

  it("yields checked items, its body in the op's own context", async () => {
    const got: string[] = [];
    for await (const t of await tokens("to be or")) got.push(t);
    expect(got).toEqual(["to", "be", "or"]);
    const dashed: string[] = [];
    for await (const t of await tokens.with({ config: { separator: "-" } })("a-b")) dashed.push(t);
    expect(dashed).toEqual(["a", "b"]);
  });

  it("fails at the first item that breaks the declared type, naming its position", async () => {
    const seen: string[] = [];
    const error = await (async () => {
      for await (const t of await liar(7)) seen.push(t);
    })().catch((e: unknown) => e);
    expect(seen).toEqual(["a", "b"]);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).message).toBe("liar: invalid output: return at $[2]: expected string, received 7");
  });

  it("is consumed by a later stage: tokens flat-mapped, mapped through another op, batched", async () => {
    const summary = await data
      .stream(["one two", "three", "four five six"])
      .flatMap((line) => tokens(line))
      .map(shout, { concurrency: 2 })
      .batch(4)
      .lineage()
      .collect();
    expect(summary.map((t) => t.value)).toEqual([
      ["ONE", "TWO", "THREE", "FOUR"],
      ["FIVE", "SIX"],
    ]);
    expect(summary[0]!.sources).toEqual([0, 0, 1, 2]);
  });

  it("dead-letters the outer item whose token stream broke its type, and goes on", async () => {
    const summary = await data.stream([1, 2]).flatMap((n) => liar(n)).run();
    expect(summary.emitted).toBe(4);
    expect(summary.deadLetters.map((d) => [d.offset, (d.error as Error).constructor.name])).toEqual([
      [0, "ValidationError"],
      [1, "ValidationError"],
    ]);
  });

  it("carries models.stream deltas through stages", async () => {
    const deltas = await data
      .stream(["stream me a sentence"])
      .flatMap((prompt) => models.stream("local:chat", prompt))
      .filter((e) => e.type === "delta")
      .map((e) => (e.type === "delta" ? e.text : ""))
      .collect();
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.join("")).toBe(await models("local:chat", "stream me a sentence"));
  });

  it("streams vmap results as they finish, each with its index", async () => {
    const order: number[] = [];
    const slowLen = op(async (word: string): Promise<number> => {
      for (let i = 0; i < (word.length * 5) % 7; i++) await new Promise<void>((r) => setImmediate(r));
      return word.length;
    });
    const words = ["a", "abc", "ab", "abcdef", "", "abcd"];
    for await (const r of vmap(slowLen, { concurrency: 6 }).stream(words)) {
      expect(r.ok && r.value).toBe(words[r.index]!.length);
      order.push(r.index);
    }
    expect([...order].sort()).toEqual([0, 1, 2, 3, 4, 5]);
    expect(order).not.toEqual([0, 1, 2, 3, 4, 5]);
  });
});
