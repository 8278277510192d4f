/** The ops the review probes (review.test.ts, review2.test.ts) call; each notes its calls for the differential check. */
import { op } from "weft";
import { note } from "./calls.js";

export const echo = op({ kind: "io" }, async (x: string) => (note("echo", "io", x), `echo(${x})`));
export const score = op({ kind: "io" }, async (x: string) => (note("score", "io", x), x.length));
export const maybe = op({ kind: "io" }, async (x: string): Promise<{ v: string } | null> => (note("maybe", "io", x), x === "none" ? null : { v: x }));
export const failing = op({ kind: "io" }, async (x: string): Promise<string> => {
  note("failing", "io", x);
  if (x.startsWith("bad")) throw new Error(`no ${x}`);
  return `ok(${x})`;
});
export const anything = op({ kind: "io" }, async (x: string): Promise<unknown> => {
  note("anything", "io", x);
  const table: Record<string, unknown> = { list: ["a", "b"], str: "hi", nil: null, num: 5, obj: { a: 1 } };
  return x in table ? table[x] : x;
});
