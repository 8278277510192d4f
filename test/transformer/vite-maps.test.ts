/**
 * weft/vite hands vite the source map of what it emits, so stacks in a vite-compiled file
 * (vitest's included) name the TypeScript line. Before, it returned the code with an inline
 * map and `map: undefined`, and lines after an op site (whose injected checks span many
 * emitted lines) were off.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { op } from "weft";

const shaped = op({ kind: "io" }, async (x: { a: string; b: number[]; c?: { d: boolean } }, y: "p" | "q"): Promise<{ ok: boolean; n: number }> => ({ ok: x.a === y, n: x.b.length }));

function lineOfHere(): number {
  const frame = new Error().stack!.split("\n")[2]!;
  return Number(/vite-maps\.test\.ts:(\d+):\d+\)?$/.exec(frame)?.[1]);
}

describe("weft/vite source maps", () => {
  it("a stack in a compiled file names the TypeScript line, after an op site", async () => {
    expect(await shaped({ a: "p", b: [1] }, "p")).toEqual({ ok: true, n: 1 });
    const line = lineOfHere(); // the line to find
    const source = readFileSync(import.meta.filename, "utf8").split("\n");
    expect(line).toBe(source.findIndex((l) => l.includes("lineOfHere(); // the line to find")) + 1);
  });
});
