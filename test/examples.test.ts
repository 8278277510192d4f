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

describe("examples/demo (quick mode)", () => {
  it("runs every section and reports that eager, jit and jit + vmap agree", async () => {
    const { demo } = await import("../examples/demo.js");
    const lines: string[] = [];
    const log = vi.spyOn(console, "log").mockImplementation((...parts: unknown[]) => void lines.push(parts.join(" ")));
    const err = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    try {
      await demo({ quick: true });
    } finally {
      log.mockRestore();
      err.mockRestore();
    }
    const text = lines.join("\n");
    expect(text).toContain("same as eager: true");
    expect(text).toMatch(/usage, jit: +6 calls, \d+ input \+ \d+ output tokens, \$0\.000000/);
    expect(text).toMatch(/verdict: answer [1-5] — /);
    expect(text).toContain("flowchart TD");
    expect(text).toMatch(/30 of 60 pairs are close; eager, jit and jit \+ vmap agree: true/);
  });
});
