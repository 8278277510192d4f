import { describe, expect, it, vi } from "vitest";
import { main, similarity, tokenize } from "../examples/quickstart.js";

describe("examples/quickstart", () => {
  it("prints a verdict per pair and honours the per-call threshold", async () => {
    const lines: string[] = [];
    const log = vi.spyOn(console, "log").mockImplementation((line: string) => void lines.push(line));
    try {
      await main();
    } finally {
      log.mockRestore();
    }
    expect(lines[0]).toBe('["hello world","Hello, world!"] -> close (score=1.000, threshold=0.8)');
    expect(lines[1]).toMatch(/-> not close \(score=0\.\d+, threshold=0\.8\)$/);
    expect(lines[3]).toBe("with threshold 0.99 for this call: not close (score=0.866, threshold=0.99)");
    expect(lines[4]).toBe("20 op calls, each with its own context, span and validation.");
  });

  it("runs the pipeline as one op built from the four steps", async () => {
    expect(await tokenize(["A b", "c"])).toEqual([["a", "b"], ["c"]]);
    expect(similarity.descriptor.name).toBe("Sequential(tokenize, Embed, cosine, Humanize)");
  });
});
