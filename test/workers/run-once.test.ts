/**
 * Nothing runs twice unasked, and what cannot cross to a worker stays inline without a
 * crash or a retry; errors come back with their class. Real worker threads, compiled weft,
 * and for the entry-script case a real `node` process.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { useWeft, newProbe } from "./weft.js";

const w = useWeft();

/** Collects process warnings emitted while `f` runs. */
async function warningsDuring<T>(f: () => Promise<T>): Promise<{ value: T; warnings: string[] }> {
  const warnings: string[] = [];
  const listen = (warning: Error) => warnings.push(warning.message);
  process.on("warning", listen);
  try {
    const value = await f();
    // 'warning' events are emitted on the next tick after emitWarning.
    await new Promise((resolve) => setImmediate(resolve));
    return { value, warnings };
  } finally {
    process.off("warning", listen);
  }
}

/** Attempts per op name while `run` runs. */
async function attemptsDuring(run: () => Promise<unknown>): Promise<Record<string, number>> {
  const attempts: Record<string, number> = {};
  const stop = w.weft.subscribe((e) => {
    if (e.type === "op:attempt") attempts[e.op] = (attempts[e.op] ?? 0) + 1;
  });
  try {
    await run();
  } finally {
    stop();
  }
  return attempts;
}

describe("a result that cannot come back from a worker", () => {
  it("fails that one call with a typed refusal instead of running the body again inline; later calls run inline", async () => {
    const { countedPoint, CALLS, Point } = w.ops;
    const probe = newProbe();
    const first = await warningsDuring(() => countedPoint(probe, 1).catch((e: unknown) => e));
    expect(Atomics.load(probe, CALLS)).toBe(1);
    expect(first.value).toBeInstanceOf(w.errors.OpError);
    const cause = (first.value as { cause: unknown }).cause;
    expect(cause).toBeInstanceOf(w.protocol.WorkerRefused);
    expect(cause).toMatchObject({ reason: "result-not-cloneable" });
    expect(first.warnings.join("\n")).toContain("its result holds an instance of Point");
    const tasks = w.pool.defaultPool().tasks;
    await expect(countedPoint(probe, 2)).resolves.toBeInstanceOf(Point);
    expect(Atomics.load(probe, CALLS)).toBe(2);
    expect(w.pool.defaultPool().tasks).toBe(tasks);
  });

  it("is learned from inline runs before an auto-placed op ever moves, so no call runs twice", async () => {
    const { countedPointAuto, CALLS, Point } = w.ops;
    const probe = newProbe();
    await expect(countedPointAuto(probe, 1)).resolves.toBeInstanceOf(Point);
    // Now measured as heavy: without the lesson it would move, decline and run again inline.
    w.cost.recordDuration(countedPointAuto.descriptor.id, 20, 10);
    const tasks = w.pool.defaultPool().tasks;
    await expect(countedPointAuto(probe, 2)).resolves.toBeInstanceOf(Point);
    await expect(countedPointAuto(probe, 3)).resolves.toBeInstanceOf(Point);
    expect(Atomics.load(probe, CALLS)).toBe(3);
    expect(w.pool.defaultPool().tasks).toBe(tasks);
  });
});

describe("an argument that cannot be cloned (a Proxy)", () => {
  it("runs the call inline with a warning: one attempt, no WorkerCrashed, no retry", async () => {
    const { addFields } = w.ops;
    let value: unknown;
    const run = await warningsDuring(() =>
      attemptsDuring(async () => {
        value = await addFields(new Proxy({ a: 1, b: 2 }, {}));
      }),
    );
    expect(value).toBe(3);
    expect(run.value).toEqual({ addFields: 1 });
    expect(run.warnings.join("\n")).toContain("a Proxy at args[0]");
  });
});

describe("errors from a worker", () => {
  it.each(["constructor", "hasOwnProperty", "__proto__", "toString"])("keep their class, name and message when name and _tag are %j", async (name) => {
    const error = (await w.ops.throwsNamed(name).catch((e: unknown) => e)) as { cause: Error & { _tag?: unknown } };
    expect(error).toBeInstanceOf(w.errors.OpError);
    expect(error.cause).toBeInstanceOf(Error);
    expect(error.cause.message).toBe(`named ${name}`);
    expect(error.cause.name).toBe(name);
    expect(Object.hasOwn(error.cause, "_tag") && error.cause._tag).toBe(name);
  });

  it("reach the caller as WorkerCrashed itself when the thread dies (as the README shows)", async () => {
    const error = await w.ops.exitsAlways().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(w.errors.WorkerCrashed);
    expect(error).toMatchObject({ op: "exitsAlways", exitCode: 3 });
  });
});

describe("a cpu op defined in the program's entry script", () => {
  it("runs inline with a warning saying why; no worker imports the entry again", { timeout: 60_000 }, async () => {
    const script = fileURLToPath(w.build.url("fixtures/entry.js"));
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [script], { timeout: 50_000 });
    expect(stdout.split("\n").filter((line) => line === "top level ran")).toHaveLength(1);
    expect(stdout).toContain("result 6 9");
    expect(stderr).toContain("it is defined in the program's entry script");
    // One warning, not one per call.
    expect(stderr.split("entry script (").length - 1).toBe(1);
  });
});
