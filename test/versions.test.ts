/**
 * The README's pinned-versions table is true: every row names a package of package.json at
 * exactly the version pinned there, and every runtime dependency and toolchain package has
 * a row. Every dependency is an exact version, not a range.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

const root = path.resolve(import.meta.dirname, "..");
const pkg = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  peerDependencies?: Record<string, string>;
};
const pinned: Record<string, string> = { ...pkg.dependencies, ...pkg.devDependencies };

/** The toolchain the README promises, beyond the runtime dependencies. */
const TOOLCHAIN = ["node", "typescript", "typescript-5.9", "ts-patch", "vitest", "vite", "@types/node"];

function tableRows(readme: string): Map<string, string> {
  const start = readme.indexOf("<!-- versions:start -->");
  const end = readme.indexOf("<!-- versions:end -->");
  if (start < 0 || end < start) throw new Error("README.md has no <!-- versions:start --> ... <!-- versions:end --> table");
  const rows = new Map<string, string>();
  for (const line of readme.slice(start, end).split("\n")) {
    const m = /^\| `([^`]+)` \| `([^`]+)` \|/.exec(line);
    if (m) rows.set(m[1]!, m[2]!);
  }
  return rows;
}

describe("README pinned versions", () => {
  const rows = tableRows(readFileSync(path.join(root, "README.md"), "utf8"));

  it("lists every row at the version package.json pins", () => {
    const wrong = [...rows].filter(([name, version]) => pinned[name] !== version).map(([name, version]) => `${name}: README ${version}, package.json ${pinned[name] ?? "(absent)"}`);
    expect(wrong).toEqual([]);
  });

  it("has a row for every runtime dependency and toolchain package", () => {
    const missing = [...Object.keys(pkg.dependencies), ...TOOLCHAIN].filter((name) => !rows.has(name));
    expect(missing).toEqual([]);
  });

  it("pins every dependency exactly", () => {
    const ranges = Object.entries(pinned).filter(([, v]) => !/^(npm:[^@]+@)?\d+\.\d+\.\d+$/.test(v));
    expect(ranges).toEqual([]);
  });
});
