/**
 * Descriptors from a `weft gen` manifest, for ops that registered without transformer
 * metadata (builds by esbuild, tsx, TypeScript 7, or vitest without the weft plugin).
 *
 * Finding the manifest: those registered with `loadManifest(path)` first, then the file
 * named by `WEFT_MANIFEST`, then the nearest `weft.manifest.json` above the registering
 * module's source file.
 *
 * Finding the entry: an op does not know its own export name when it registers (the
 * assignment happens after `op()` returns), so the entry is found by where the
 * registration happened: the source file of the first stack frame outside weft, then
 * the entry whose lines contain one of that file's frames, narrowed by kind, by the
 * method or function name when the caller knows it, and by the class name. Stack frames
 * give source positions when the environment maps them (tsx, vitest, `node
 * --enable-source-maps`); otherwise weft maps compiled frames itself through the emitted
 * file's `//# sourceMappingURL` (so build with `sourceMap` or `inlineSourceMap`). Without
 * any source map, entries are still found by name where the name is unique in the file.
 *
 * Staleness: the manifest lists every source file that shaped an entry's types with a
 * content hash. Loading re-hashes them and throws `StaleManifestError` naming the first
 * changed file, rather than validating against old types. `loadManifest(path, { verify:
 * false })` or `WEFT_MANIFEST_VERIFY=0` skips that when sources are not deployed.
 *
 * Free of Effect and of the transformer: plain synchronous Node, called at registration.
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { manifestChecksFile, type InjectedChecks, type InjectedMeta } from "../decorators/descriptor.js";
import { currentStack, isWeftFile, pathOf, toSource, type StackFrame } from "../decorators/stack.js";
import type { Manifest, ManifestEntry } from "../decorators/manifest-format.js";
import { WeftError } from "./errors.js";
import { log } from "./log.js";

/** Which entry point registered: narrows the search when given. */
export type ManifestKind = "op" | "jit" | "vmap";

/**
 * Where an op registered. Every member is optional: without `file`, the site is read
 * from the current stack (the first frame outside weft).
 */
export interface ManifestSite {
  readonly kind?: ManifestKind;
  /** The function or method name, when known (a method decorator always knows it). */
  readonly name?: string;
  /** The class of a method op, when known (legacy decorators know it at decoration time). */
  readonly className?: string;
  /** The registering module's source file: an absolute path or a `file:` URL. */
  readonly file?: string;
  /** Lines (1-based) of that file on the stack at registration, innermost first. */
  readonly lines?: readonly number[];
  /** The emitted module's URL, for the locator; defaults to `file`'s URL. */
  readonly module?: string;
}

/** A manifest turned out to describe older sources than the ones on disk. */
export class StaleManifestError extends WeftError {
  readonly _tag = "StaleManifestError";
  constructor(
    /** The manifest file. */
    readonly manifest: string,
    /** The source file (relative to the project root) that changed or disappeared. */
    readonly file: string,
    /** Names of the ops whose types depend on it. */
    readonly ops: readonly string[],
    readonly reason: "changed" | "missing",
  ) {
    super(
      `weft: ${manifest} is stale: ${file} ${reason === "changed" ? "changed" : "was removed"} since it was generated` +
        `${ops.length > 0 ? ` (it shapes the types of ${ops.slice(0, 5).join(", ")}${ops.length > 5 ? ", ..." : ""})` : ""}. ` +
        "Run `weft gen` again, or build with the weft transformer.",
    );
  }
}

interface Loaded {
  readonly file: string;
  readonly manifest: Manifest;
  readonly root: string;
  readonly rootDir: string | undefined;
  readonly outDir: string | undefined;
  /** Entries by source path relative to the root, without its extension. */
  readonly byFile: ReadonlyMap<string, readonly ManifestEntry[]>;
  /** The generated checks written beside the manifest, by schema hash (none when the module is absent). */
  readonly checks: Readonly<Record<string, InjectedChecks>>;
  /** Files whose content no longer matches the manifest: only the entries that depend on them are refused. */
  readonly stale: ReadonlyMap<string, "changed" | "missing">;
}

const loaded = new Map<string, Loaded>();
const registered: Loaded[] = [];
const discovered = new Map<string, Loaded | null>();

/**
 * Loads a manifest, hashes the source files it lists, and uses it for lookups (ahead of
 * environment and discovered manifests). An entry whose types a changed file shaped is
 * refused when it is looked up (`StaleManifestError`); the other entries stay usable, so
 * an edit invalidates only the ops that depend on the edited file. Loading the same file
 * again is free.
 *
 * @example
 * ```ts
 * loadManifest(new URL("../weft.manifest.json", import.meta.url).pathname);
 * ```
 */
export function loadManifest(file: string, options: { readonly verify?: boolean } = {}): Manifest {
  const entry = load(path.resolve(file), options.verify ?? verifyByDefault());
  if (!registered.includes(entry)) registered.push(entry);
  return entry.manifest;
}

/**
 * The descriptor metadata for an op that registered without any, or undefined when no
 * manifest describes it. Throws `StaleManifestError` when a file that shaped the entry changed,
 * and an error naming the candidates when the site matches several entries.
 *
 * @example
 * ```ts
 * const meta = injected ?? lookupManifest({ kind: "op", name: fn.name });
 * ```
 */
export function lookupManifest(site: ManifestSite = {}): InjectedMeta | undefined {
  const where = site.file !== undefined ? { file: pathOf(site.file), lines: site.lines ?? [], module: site.module } : callerSite();
  if (!where) return undefined;
  let consulted: Loaded | undefined;
  for (const manifest of manifestsFor(where.file)) {
    consulted ??= manifest;
    const entry = findEntry(manifest, where.file, where.lines, site);
    if (!entry) continue;
    refuseStale(manifest, entry);
    return withModule(entry, where.module ?? pathToFileURL(where.file).href, manifest.checks[entry.meta.hash]);
  }
  if (consulted) warnUnmapped(consulted, where.file);
  return undefined;
}

const unmapped = new Set<string>();

/**
 * Once per file: an op registered from a file the manifest has no entries for. Usually a
 * bundle whose stack frames name the bundle, not the sources (no source maps), or a file
 * added since `weft gen`; either way its ops would run unvalidated without a word.
 */
function warnUnmapped(manifest: Loaded, file: string): void {
  if (unmapped.has(file) || keysFor(manifest, file).some((k) => manifest.byFile.has(k))) return;
  unmapped.add(file);
  const rel = (f: string) => path.relative(process.cwd(), f) || f;
  log.warn(
    `weft: an op registered from ${rel(file)}, which ${rel(manifest.file)} has no entries for, so it runs unvalidated. ` +
      "If that is a bundle, it lost its source locations: bundle with source maps (esbuild --sourcemap, or inline ones) so weft maps the call back to its source, " +
      "or keep the modules that define ops out of the bundle. If it is a new file, run `weft gen` again.",
    { code: "WEFT_MANIFEST_UNMAPPED" },
  );
}

/**
 * Forgets loaded and discovered manifests (tests, or after regenerating in a long-lived process).
 *
 * @example
 * ```ts
 * resetManifests();
 * loadManifest("weft.manifest.json"); // read and checked again
 * ```
 */
export function resetManifests(): void {
  loaded.clear();
  registered.length = 0;
  discovered.clear();
}

function verifyByDefault(): boolean {
  const flag = process.env.WEFT_MANIFEST_VERIFY;
  return !(flag === "0" || flag === "false" || flag === "off");
}

function load(file: string, verify: boolean): Loaded {
  const known = loaded.get(file);
  if (known) return known;
  let manifest: Manifest;
  try {
    manifest = JSON.parse(readFileSync(file, "utf8")) as Manifest;
  } catch (error) {
    throw new Error(`weft: cannot read manifest ${file}: ${(error as Error).message}`, { cause: error });
  }
  if (manifest?.weft !== 1 || !Array.isArray(manifest.entries)) throw new Error(`weft: ${file} is not a weft manifest (format 1); run \`weft gen\``);
  const root = path.resolve(path.dirname(file), manifest.root);
  const stale = verify ? staleFiles(manifest, root) : new Map<string, "changed" | "missing">();
  const byFile = new Map<string, ManifestEntry[]>();
  for (const entry of manifest.entries) {
    const key = stripExtension(entry.file);
    const list = byFile.get(key) ?? [];
    list.push(entry);
    byFile.set(key, list);
  }
  const checksFile = manifestChecksFile(file);
  // A module, `require`d: the checks were written by `weft gen`, nothing is compiled here.
  const checks = existsSync(checksFile) ? (createRequire(file)(checksFile) as Record<string, InjectedChecks>) : {};
  const result: Loaded = {
    file,
    manifest,
    checks,
    stale,
    root,
    rootDir: manifest.rootDir === undefined ? undefined : path.resolve(root, manifest.rootDir),
    outDir: manifest.outDir === undefined ? undefined : path.resolve(root, manifest.outDir),
    byFile,
  };
  loaded.set(file, result);
  return result;
}

/** The manifest's files whose content hash changed (or that are gone) since `weft gen`. */
function staleFiles(manifest: Manifest, root: string): Map<string, "changed" | "missing"> {
  const stale = new Map<string, "changed" | "missing">();
  for (const [dep, expected] of Object.entries(manifest.files)) {
    let actual: string | undefined;
    try {
      actual = (process.getBuiltinModule("node:crypto") as typeof import("node:crypto")).createHash("sha256").update(readFileSync(path.resolve(root, dep))).digest("hex").slice(0, 16);
    } catch {
      actual = undefined;
    }
    if (actual !== expected) stale.set(dep, actual === undefined ? "missing" : "changed");
  }
  return stale;
}

/** Throws when an entry's types were shaped by a file that changed: the edit invalidates that file's ops, not the rest. */
function refuseStale(loaded: Loaded, entry: ManifestEntry): void {
  for (const dep of entry.deps) {
    const reason = loaded.stale.get(dep);
    if (reason === undefined) continue;
    const ops = [...new Set(loaded.manifest.entries.filter((e) => e.deps.includes(dep)).map((e) => e.meta.name ?? `${e.file}:${e.span[0]}`))].sort();
    throw new StaleManifestError(path.relative(process.cwd(), loaded.file) || loaded.file, dep, ops, reason);
  }
}

function* manifestsFor(file: string): Generator<Loaded> {
  yield* registered;
  const fromEnv = process.env.WEFT_MANIFEST;
  if (fromEnv) yield load(path.resolve(fromEnv), verifyByDefault());
  const found = discover(path.dirname(file));
  if (found) yield found;
}

function discover(dir: string): Loaded | undefined {
  const seen: string[] = [];
  let at = dir;
  let found: Loaded | null | undefined;
  for (;;) {
    found = discovered.get(at);
    if (found !== undefined) break;
    seen.push(at);
    const candidate = path.join(at, "weft.manifest.json");
    if (existsSync(candidate)) {
      found = load(candidate, verifyByDefault());
      break;
    }
    const up = path.dirname(at);
    if (up === at) {
      found = null;
      break;
    }
    at = up;
  }
  for (const d of seen) discovered.set(d, found);
  return found ?? undefined;
}

/** Source keys (relative to the root, extensionless) a file may be listed under. */
function keysFor(manifest: Loaded, file: string): string[] {
  const keys = [stripExtension(toSlash(path.relative(manifest.root, file)))];
  // An emitted file (outDir/x.js) stands for its source (rootDir/x.ts).
  if (manifest.outDir && isInside(manifest.outDir, file)) {
    const source = path.join(manifest.rootDir ?? manifest.root, path.relative(manifest.outDir, file));
    keys.push(stripExtension(toSlash(path.relative(manifest.root, source))));
  }
  return keys;
}

function findEntry(manifest: Loaded, file: string, lines: readonly number[], site: ManifestSite): ManifestEntry | undefined {
  let candidates: readonly ManifestEntry[] = [];
  for (const key of keysFor(manifest, file)) {
    const list = manifest.byFile.get(key);
    if (list) {
      candidates = list;
      break;
    }
  }
  if (site.kind) candidates = candidates.filter((e) => e.kind === site.kind);
  const narrow = (keep: (e: ManifestEntry) => boolean): void => {
    const kept = candidates.filter(keep);
    if (kept.length > 0) candidates = kept;
  };
  // A method registers under its own name ("score"); its entry is named "Judge.score".
  if (site.name) narrow((e) => e.meta.name === site.name || e.owner?.member === site.name);
  if (site.className) narrow((e) => e.owner?.name === site.className);
  if (candidates.length > 1 && lines.length > 0) {
    const within = (span: readonly [number, number] | undefined) => span !== undefined && lines.some((l) => l >= span[0] && l <= span[1]);
    const direct = candidates.filter((e) => within(e.span));
    candidates = direct.length > 0 ? direct : candidates.filter((e) => within(e.owner?.span));
  }
  if (candidates.length <= 1) return candidates[0];
  throw new Error(
    `weft: cannot tell which of ${candidates.length} op sites in ${path.relative(process.cwd(), file) || file} registered here ` +
      `(${candidates.map((e) => `${e.meta.name ?? "anonymous"} at line ${e.span[0]}`).join(", ")}). ` +
      "Run with source maps (node --enable-source-maps), give the ops distinct names, or build with the weft transformer.",
  );
}

function withModule(entry: ManifestEntry, module: string, checks: InjectedChecks | undefined): InjectedMeta {
  const { locator, ...rest } = entry.meta;
  const meta = checks && entry.kind === "op" ? { ...rest, checks } : rest;
  return locator ? { ...meta, locator: { module, ...locator } } : meta;
}

// ---- stack sites -------------------------------------------------------------------

/** The first stack frame outside weft: its source file, that file's lines on the stack, and the emitted module's URL. */
export interface CallerSite {
  readonly file: string;
  readonly lines: readonly number[];
  readonly module?: string;
}

function isInternal(file: string): boolean {
  return isWeftFile(file) || file.includes(`${path.sep}node_modules${path.sep}tslib${path.sep}`);
}

/**
 * Where the current registration happens: the first stack frame outside weft's own
 * modules (the shared walker, decorators/stack.ts, gives source positions, mapped when the
 * environment maps stacks, and each frame's emitted file).
 *
 * @example
 * ```ts
 * callerSite(); // { file: "/app/src/ops.ts", lines: [12], module: "file:///app/dist/ops.js" }
 * ```
 */
export function callerSite(): CallerSite | undefined {
  const { frames, emitted } = currentStack(callerSite, { emitted: true, limit: 50 });
  return pickFrame(frames, emitted);
}

/**
 * The first frame outside weft, with every line of its source file on the stack.
 *
 * `emitted` are the raw (unmapped) file names of the same frames, when known. All frames
 * of the chosen emitted module count: a decorator helper inlined at the top of a compiled
 * file has no source mapping, but the class body that called it does.
 *
 * @example
 * ```ts
 * pickFrame(parseStack(new Error().stack ?? ""), []);
 * ```
 */
export function pickFrame(frames: readonly (StackFrame | undefined)[], emitted: readonly (string | undefined)[]): CallerSite | undefined {
  const aligned = emitted.length === frames.length;
  for (let i = 0; i < frames.length; i++) {
    const frame = frames[i];
    if (!frame || frame.file.startsWith("node:") || isInternal(frame.file)) continue;
    const raw = aligned ? emitted[i] : undefined;
    const rawPath = raw !== undefined && /^(?:file:\/\/|\/|[A-Za-z]:[\\/])/.test(raw) ? pathOf(raw) : undefined;
    if (rawPath !== undefined && isInternal(rawPath)) continue;
    let group = rawPath === undefined ? [frame] : frames.filter((f, j): f is StackFrame => f !== undefined && emitted[j] !== undefined && pathOf(emitted[j]!) === rawPath);
    // Stacks not mapped by the environment (no --enable-source-maps): map them with the file's own source map.
    if (group.every((f) => f.file === (rawPath ?? frame.file))) group = group.map(toSource);
    // Prefer a mapped source over the emitted file itself.
    const source = group.find((f) => f.file !== rawPath)?.file ?? group[0]?.file ?? frame.file;
    const lines = group.filter((f) => f.file === source).map((f) => f.line);
    return { file: source, lines, ...(rawPath !== undefined ? { module: pathToFileURL(rawPath).href } : {}) };
  }
  return undefined;
}

function toSlash(p: string): string {
  return p.split(path.sep).join("/");
}

function stripExtension(p: string): string {
  return p.replace(/\.(?:d\.)?[mc]?[jt]sx?$/, "");
}

function isInside(dir: string, file: string): boolean {
  const rel = path.relative(dir, file);
  return rel !== "" && !rel.startsWith("..") && !path.isAbsolute(rel);
}
