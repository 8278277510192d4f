/**
 * Staged code run before any `jit(...)` call in the process: weft defines the staging
 * helpers' global when it loads, so a staged function called eagerly first works. (Before,
 * the global was set by the first `jit(...)` call, and this threw "Cannot read properties of
 * undefined (reading 'at')".) Nothing in this file calls `jit` before the test does.
 */
import { expect, it } from "vitest";
import { op, jit } from "weft";

const echo = op({ kind: "io" }, async (x: string) => `echo(${x})`);

// Staged: the jit below calls it with a traced argument.
const early = (s: string) => echo(`${s}!`);

it("a staged helper called eagerly before any jit() reaches the staging helpers", async () => {
  expect(await early("p")).toBe("echo(p!)");
  const jf = jit(async (x: string) => early(x));
  expect(await jf("q")).toBe("echo(q!)");
});
