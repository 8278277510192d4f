/**
 * Small pure helpers shared by the transformer, the schema extractor and `weft gen`.
 */
import { createHash } from "node:crypto";

/**
 * `path` relative to `root`, `/`-separated: how descriptors name source files.
 *
 * @example
 * ```ts
 * relativePath("/repo", "/repo/src/ops.ts"); // "src/ops.ts"
 * ```
 */
export function relativePath(root: string, path: string): string {
  const from = root.replace(/\\/g, "/").split("/").filter(Boolean);
  const to = path.replace(/\\/g, "/").split("/").filter(Boolean);
  let common = 0;
  while (common < from.length && common < to.length && from[common] === to[common]) common++;
  return [...from.slice(common).map(() => ".."), ...to.slice(common)].join("/");
}

/**
 * JSON with object keys sorted at every level: equal values give equal strings.
 *
 * @example
 * ```ts
 * canonicalJson({ b: 1, a: [true] }); // '{"a":[true],"b":1}'
 * ```
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? "null" : canonicalJson(v))).join(",")}]`;
  const entries = Object.keys(value)
    .sort()
    .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
    .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
  return `{${entries.join(",")}}`;
}

/**
 * The short content hash of a site's schemas: 16 hex digits of sha256 over canonical JSON.
 *
 * @example
 * ```ts
 * contentHash({ params: [], returns: { type: "string" } }); // e.g. "3f9a0c1d2e4b5a6c"
 * ```
 */
export function contentHash(value: unknown): string {
  return createHash("sha256").update(canonicalJson(value)).digest("hex").slice(0, 16);
}
