/**
 * The runtime side of `weft gen`: which manifest entry an op that registered without
 * metadata gets, read from the stack, and how a stale or ambiguous manifest fails.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createHash } from "node:crypto";
import { parseStack } from "../../decorators/stack.js";
import { loadManifest, lookupManifest, pickFrame, resetManifests, StaleManifestError } from "../../runtime/manifest.js";
import type { Manifest, ManifestEntry } from "../../decorators/manifest-format.js";

const REPO = path.resolve(import.meta.dirname, "../..");
let tmp: string;

function hash(text: string): string {
  return createHash("sha256").update(text).digest("hex").slice(0, 16);
}

function entry(kind: ManifestEntry["kind"], file: string, span: [number, number], name: string, extra: Partial<ManifestEntry> = {}): ManifestEntry {
  return {
    kind,
    file,
    span,
    meta: {
      __weft: 1,
      name,
      params: [{ name: "x", schema: { type: "string" } }],
      hash: hash(name),
      source: { file, line: span[0], column: 1 },
      ...(name.includes(".") ? {} : { locator: { export: name } }),
    },
    deps: [file],
    ...extra,
  };
}

/** Writes a project with sources and a manifest describing them; returns its directory. */
function project(name: string, entries: ManifestEntry[], sources: Record<string, string>, options: Partial<Manifest> = {}): string {
  const dir = path.join(tmp, name);
  for (const [file, text] of Object.entries(sources)) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), text);
  }
  const manifest: Manifest = { weft: 1, root: ".", files: Object.fromEntries(Object.entries(sources).map(([f, t]) => [f, hash(t)])), entries, ...options };
  writeFileSync(path.join(dir, "weft.manifest.json"), JSON.stringify(manifest));
  return dir;
}

beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), "weft-manifest-"));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
afterEach(() => {
  resetManifests();
  delete process.env.WEFT_MANIFEST;
  delete process.env.WEFT_MANIFEST_VERIFY;
});

describe("lookupManifest", () => {
  const sources = { "src/ops.ts": "// ops\n".repeat(40) };
  const entries = [
    entry("op", "src/ops.ts", [3, 5], "tokenize"),
    entry("op", "src/ops.ts", [7, 7], "judge"),
    entry("jit", "src/ops.ts", [9, 12], "pipeline"),
    entry("op", "src/ops.ts", [20, 22], "Judge.score", { owner: { name: "Judge", member: "score", span: [18, 30] } }),
    // Not exported: no locator, found by its class and method names all the same.
    entry("op", "src/ops.ts", [33, 35], "Batcher.score", { owner: { name: "Batcher", member: "score", span: [32, 40] } }),
  ];

  it("finds the entry whose lines contain the registering frame, and names the module", () => {
    const dir = project("lines", entries, sources);
    const file = path.join(dir, "src/ops.ts");
    const meta = lookupManifest({ file, lines: [4] });
    expect(meta?.name).toBe("tokenize");
    expect(meta?.locator).toEqual({ module: pathToFileURL(file).href, export: "tokenize" });
    expect(lookupManifest({ file, lines: [7], module: "file:///app/dist/ops.js" })?.locator?.module).toBe("file:///app/dist/ops.js");
  });

  it("narrows by kind, name and class, and uses the class's lines when the method's are not on the stack", () => {
    const dir = project("names", entries, sources);
    const file = path.join(dir, "src/ops.ts");
    expect(lookupManifest({ file, name: "judge" })?.name).toBe("judge");
    expect(lookupManifest({ file, kind: "jit", lines: [1] })?.name).toBe("pipeline");
    expect(lookupManifest({ file, name: "score", className: "Batcher" })?.name).toBe("Batcher.score");
    // A decorator helper's frame sits outside the method, but inside its class.
    expect(lookupManifest({ file, name: "score", lines: [1, 39] })?.name).toBe("Batcher.score");
  });

  it("refuses to guess between same-named sites it cannot tell apart", () => {
    const dir = project("ambiguous", entries, sources);
    expect(() => lookupManifest({ file: path.join(dir, "src/ops.ts"), name: "score" })).toThrow(
      /cannot tell which of 2 op sites in .*ops\.ts registered here \(Judge\.score at line 20, Batcher\.score at line 33\)/,
    );
  });

  it("returns undefined for files and sites it does not describe, and without any manifest", () => {
    const dir = project("unknown", entries, sources);
    expect(lookupManifest({ file: path.join(dir, "src/other.ts"), lines: [4] })).toBeUndefined();
    expect(lookupManifest({ file: path.join(dir, "src/ops.ts"), lines: [100] })).toBeUndefined();
    expect(lookupManifest({ file: path.join(os.tmpdir(), "nowhere", "x.ts"), lines: [1] })).toBeUndefined();
  });

  it("maps an emitted file in outDir back to its source in rootDir", () => {
    const dir = project("outdir", entries, sources, { rootDir: "src", outDir: "dist" });
    expect(lookupManifest({ file: path.join(dir, "dist/ops.js"), lines: [7] })?.name).toBe("judge");
  });

  it("uses a manifest loaded explicitly or named by WEFT_MANIFEST, when none sits above the file", () => {
    const dir = project("explicit", entries, sources);
    // Move the manifest out of the project: discovery cannot find it any more.
    const moved = path.join(tmp, "manifests", "explicit.json");
    mkdirSync(path.dirname(moved), { recursive: true });
    const manifest = JSON.parse(readFileSync(path.join(dir, "weft.manifest.json"), "utf8")) as Manifest;
    writeFileSync(moved, JSON.stringify({ ...manifest, root: "../explicit" }));
    rmSync(path.join(dir, "weft.manifest.json"));
    const file = path.join(dir, "src/ops.ts");
    expect(lookupManifest({ file, lines: [7] })).toBeUndefined();
    process.env.WEFT_MANIFEST = moved;
    expect(lookupManifest({ file, lines: [7] })?.name).toBe("judge");
    delete process.env.WEFT_MANIFEST;
    resetManifests();
    expect(lookupManifest({ file, lines: [7] })).toBeUndefined();
    loadManifest(moved);
    expect(lookupManifest({ file, lines: [7] })?.name).toBe("judge");
  });
});

describe("stale manifests", () => {
  it("throws naming a changed file and the ops it shapes", () => {
    const dir = project("changed", [entry("op", "src/a.ts", [1, 1], "a")], { "src/a.ts": "export {}\n" });
    writeFileSync(path.join(dir, "src/a.ts"), "export {} // edited\n");
    expect(() => lookupManifest({ file: path.join(dir, "src/a.ts"), lines: [1] })).toThrow(StaleManifestError);
    expect(() => lookupManifest({ file: path.join(dir, "src/a.ts"), lines: [1] })).toThrow(/is stale: src\/a\.ts changed since it was generated \(it shapes the types of a\)\. Run `weft gen` again/);
  });

  it("warns once, saying what to do, when an op registers from a file the manifest does not list (a bundle without source maps)", () => {
    const dir = project("bundled", [entry("op", "src/a.ts", [1, 1], "a")], { "src/a.ts": "export {}\n" });
    loadManifest(path.join(dir, "weft.manifest.json"));
    const warnings: string[] = [];
    const onWarning = (w: Error & { code?: string }) => void (w.code === "WEFT_MANIFEST_UNMAPPED" && warnings.push(w.message));
    const spy = vi.spyOn(process, "emitWarning").mockImplementation(((message: string, options: { code?: string }) => onWarning(Object.assign(new Error(message), { code: options?.code }))) as never);
    try {
      expect(lookupManifest({ file: path.join(dir, "dist/bundle.js"), lines: [1200] })).toBeUndefined();
      expect(lookupManifest({ file: path.join(dir, "dist/bundle.js"), lines: [1300] })).toBeUndefined();
    } finally {
      spy.mockRestore();
    }
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/registered from .*dist\/bundle\.js, which .*weft\.manifest\.json has no entries for, so it runs unvalidated\. If that is a bundle, it lost its source locations: bundle with source maps \(esbuild --sourcemap/);
  });

  it("invalidates only the ops whose types the edited file shaped", () => {
    const dir = project("per-file", [entry("op", "src/a.ts", [1, 1], "a"), entry("op", "src/b.ts", [1, 1], "b")], { "src/a.ts": "export {}\n", "src/b.ts": "export {}\n" });
    writeFileSync(path.join(dir, "src/a.ts"), "export {} // edited\n");
    expect(() => loadManifest(path.join(dir, "weft.manifest.json"))).not.toThrow();
    expect(lookupManifest({ file: path.join(dir, "src/b.ts"), lines: [1] })?.name).toBe("b");
    expect(() => lookupManifest({ file: path.join(dir, "src/a.ts"), lines: [1] })).toThrow(/src\/a\.ts changed since it was generated \(it shapes the types of a\)/);
  });

  it("throws naming a removed file", () => {
    const dir = project("removed", [entry("op", "src/a.ts", [1, 1], "a")], { "src/a.ts": "export {}\n" });
    rmSync(path.join(dir, "src/a.ts"));
    expect(() => lookupManifest({ file: path.join(dir, "src/a.ts"), lines: [1] })).toThrow(/src\/a\.ts was removed since it was generated/);
  });

  it("can skip the check where sources are not deployed", () => {
    const dir = project("unchecked", [entry("op", "src/a.ts", [1, 1], "a")], { "src/a.ts": "export {}\n" });
    rmSync(path.join(dir, "src/a.ts"));
    expect(loadManifest(path.join(dir, "weft.manifest.json"), { verify: false }).entries).toHaveLength(1);
    resetManifests();
    process.env.WEFT_MANIFEST_VERIFY = "0";
    expect(lookupManifest({ file: path.join(dir, "src/a.ts"), lines: [1] })?.name).toBe("a");
  });

  it("rejects files that are not weft manifests", () => {
    const file = path.join(tmp, "bogus.json");
    writeFileSync(file, JSON.stringify({ hello: 1 }));
    expect(() => loadManifest(file)).toThrow(/is not a weft manifest \(format 1\); run `weft gen`/);
  });
});

describe("reading the stack", () => {
  it("parses V8 frames, keeping unparseable ones as gaps so indices line up with call sites", () => {
    const stack = [
      "Error: x",
      "    at record (file:///app/node_modules/weft/dist/runtime/manifest.js:10:5)",
      "    at new Judge (/app/src/judge.ts:12:3)",
      "    at <anonymous>",
      "    at async Promise.all (index 0)",
      "    at file:///app/src/ops.ts:4:22",
      "    at C:\\app\\src\\win.ts:3:1",
    ].join("\n");
    expect(parseStack(stack)).toEqual([
      { file: "/app/node_modules/weft/dist/runtime/manifest.js", line: 10, column: 5 },
      { file: "/app/src/judge.ts", line: 12, column: 3 },
      undefined,
      undefined,
      { file: "/app/src/ops.ts", line: 4, column: 22 },
      { file: "C:\\app\\src\\win.ts", line: 3, column: 1 },
    ]);
  });

  it("skips weft's own frames and gathers the lines of the registering module", () => {
    const internal = path.join(REPO, "decorators/op.ts");
    const frames = [
      { file: path.join(REPO, "runtime/manifest.ts"), line: 1, column: 1 },
      { file: internal, line: 2, column: 1 },
      { file: "/app/dist/methods.js", line: 19, column: 40 }, // a decorator helper: not mapped
      { file: "/app/src/methods.ts", line: 32, column: 3 }, // the class's static block, mapped
      { file: "/app/src/methods.ts", line: 24, column: 21 },
      { file: "/app/src/main.ts", line: 1, column: 1 },
    ];
    const emitted = [path.join(REPO, "runtime/manifest.ts"), internal, "/app/dist/methods.js", "file:///app/dist/methods.js", "/app/dist/methods.js", "/app/dist/main.js"];
    expect(pickFrame(frames, emitted)).toEqual({ file: "/app/src/methods.ts", lines: [32, 24], module: "file:///app/dist/methods.js" });
    // Without raw call sites, the formatted frame is all there is.
    expect(pickFrame(frames, [])).toEqual({ file: "/app/dist/methods.js", lines: [19] });
  });
});
