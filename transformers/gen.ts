/**
 * `weft gen`: the descriptors the transformer would inject, written to a manifest, for
 * builds that run no transformer (esbuild, tsx, vitest without the weft plugin, and
 * TypeScript 7, which has no JavaScript API).
 *
 * The runtime (`runtime/manifest.ts`) reads it when an op registers without injected
 * metadata: it finds the entry by the registering module's source file and the line of
 * the call (or the method's name), and refuses a stale manifest: every source file that
 * shaped an entry's types is listed with a content hash, re-hashed on load.
 */
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import type * as TS from "typescript";
import { manifestChecksFile } from "../decorators/descriptor.js";
import type { Manifest, ManifestEntry } from "../decorators/manifest-format.js";
import { findOpSites } from "./sites.js";
import { relativePath } from "./util.js";

/** Options of `generateManifest`. */
export interface GenerateOptions {
  /** Path to the tsconfig.json of the project. */
  readonly project: string;
  /** Where the manifest will be written; default `weft.manifest.json` beside the tsconfig. */
  readonly out?: string;
  /** The TypeScript to analyse with (needs the JavaScript API: 5.x or 6.x). Default: the project's `typescript`. */
  readonly typescript?: typeof TS;
}

/** What `generateManifest` found: the manifest, where it belongs, and any build errors. */
export interface GenerateResult {
  readonly manifest: Manifest;
  readonly out: string;
  /** `file:line:column: message`, one per error; non-empty means the manifest must not be written. */
  readonly errors: readonly string[];
  /** The generated checks module, written to `manifestChecksFile(out)`. */
  readonly checks: string;
}

/** The manifest's default file name. */
export const MANIFEST_FILE = "weft.manifest.json";

/**
 * Analyses a project and returns its manifest. Pure apart from reading the project's files.
 *
 * @example
 * ```ts
 * const { manifest, errors, out } = generateManifest({ project: "tsconfig.json" });
 * if (errors.length === 0) writeManifest(out, manifest);
 * ```
 */
export function generateManifest(options: GenerateOptions): GenerateResult {
  const project = path.resolve(options.project);
  const root = path.dirname(project);
  const ts = usableTypeScript(options.typescript ?? loadTypeScript(root));
  const parsed = ts.getParsedCommandLineOfConfigFile(project, {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new Error(`weft gen: ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`);
    },
  });
  if (!parsed) throw new Error(`weft gen: cannot read ${project}`);
  const program = ts.createProgram({ rootNames: parsed.fileNames, options: parsed.options, ...(parsed.projectReferences ? { projectReferences: parsed.projectReferences } : {}) });
  return manifestOf(ts, program, parsed.fileNames, parsed.options, root, options.out);
}

/** The manifest of one program: what `generateManifest` and `watchManifest` share. */
function manifestOf(ts: typeof TS, program: TS.Program, fileNames: readonly string[], compilerOptions: TS.CompilerOptions, root: string, outOption: string | undefined): GenerateResult {
  const roots = new Set(fileNames.map((f) => path.resolve(f)));
  const entries: ManifestEntry[] = [];
  const errors: string[] = [];
  const checks = new Map<string, string>();
  for (const sf of program.getSourceFiles()) {
    if (sf.isDeclarationFile || !roots.has(path.resolve(sf.fileName))) continue;
    for (const site of findOpSites(ts, program, sf, { root })) {
      const start = site.node.getStart(sf);
      const { line, character } = sf.getLineAndCharacterOfPosition(start);
      for (const message of site.errors) errors.push(`${relativePath(root, sf.fileName)}:${line + 1}:${character + 1}: weft: ${message}`);
      // A models.object<T>() site needs T's schema at its call: only the transformer can give it (the manifest has no slot for calls).
      if (site.errors.length > 0 || site.kind === "object") continue;
      // Keyed by the schemas' hash: equal schemas have equal checks, and a stale module can only lack an entry, never misapply one.
      if (site.checks !== undefined) checks.set(site.meta.hash, site.checks);
      entries.push({
        kind: site.kind,
        file: relativePath(root, sf.fileName),
        span: site.span,
        ...(site.owner ? { owner: site.owner } : {}),
        meta: site.meta,
        deps: site.files,
      });
    }
  }
  entries.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.span[0] - b.span[0]));
  const files: Record<string, string> = {};
  for (const dep of [...new Set(entries.flatMap((e) => e.deps))].sort()) files[dep] = hashFile(path.join(root, dep));
  const out = path.resolve(outOption ?? path.join(root, MANIFEST_FILE));
  const { rootDir, outDir } = compilerOptions;
  const manifest: Manifest = {
    weft: 1,
    root: relativePath(path.dirname(out), root) || ".",
    ...(rootDir ? { rootDir: relativePath(root, path.resolve(root, rootDir)) || "." } : {}),
    ...(outDir ? { outDir: relativePath(root, path.resolve(root, outDir)) } : {}),
    files,
    entries,
  };
  return { manifest, out, errors, checks: checksModule(checks) };
}

/** The checks module: `module.exports = { "<hash>": function (F) { ... }, ... }`, sorted by hash. */
function checksModule(checks: ReadonlyMap<string, string>): string {
  const body = [...checks.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([hash, source]) => `  ${JSON.stringify(hash)}: ${source.replace(/\n/g, "\n  ")},`);
  return `// Generated by \`weft gen\`: the checks of weft.manifest.json's ops, by schema hash. Do not edit.\n"use strict";\nmodule.exports = {\n${body.join("\n")}\n};\n`;
}

function usableTypeScript(ts: typeof TS): typeof TS {
  const major = Number(String(ts.versionMajorMinor ?? ts.version).split(".")[0]);
  if (!(major < 7) || typeof ts.createProgram !== "function") {
    throw new Error(
      `weft gen: TypeScript ${String(ts.version)} has no JavaScript API. Install a JavaScript TypeScript beside it ` +
        `(npm i -D typescript-6@npm:typescript@6) and run \`weft gen --typescript typescript-6\`.`,
    );
  }
  return ts;
}

/** A running `weft gen --watch`. */
export interface ManifestWatch {
  /** Stops watching (closes TypeScript's file watchers). */
  close(): void;
}

/**
 * `weft gen --watch`: writes the manifest and its checks module, then again after every
 * change TypeScript's watcher reports (an incremental program: only edited files are
 * re-read), and only when their text changed. Build errors are reported and leave the
 * files as they were.
 *
 * @example
 * ```ts
 * const watch = watchManifest({ project: "tsconfig.json" }, console);
 * process.on("SIGINT", () => watch.close());
 * ```
 */
export function watchManifest(options: GenerateOptions, io: { log: (s: string) => void; error: (s: string) => void } = console): ManifestWatch {
  const project = path.resolve(options.project);
  const root = path.dirname(project);
  const ts = usableTypeScript(options.typescript ?? loadTypeScript(root));
  const host = ts.createWatchCompilerHost(
    project,
    { noEmit: true },
    ts.sys,
    ts.createSemanticDiagnosticsBuilderProgram,
    () => {},
    () => {},
  );
  let written: { manifest?: string; checks?: string } = {};
  host.afterProgramCreate = (builder) => {
    const program = builder.getProgram();
    const names = program.getRootFileNames();
    const result = manifestOf(ts, program, names, program.getCompilerOptions(), root, options.out);
    if (result.errors.length > 0) {
      for (const e of result.errors) io.error(e);
      io.error(`weft gen: ${result.errors.length} error${result.errors.length === 1 ? "" : "s"}; manifest left as it was`);
      return;
    }
    const text = serializeManifest(result.manifest);
    if (text === written.manifest && result.checks === written.checks) return;
    writeFileSync(result.out, text);
    writeFileSync(manifestChecksFile(result.out), result.checks);
    written = { manifest: text, checks: result.checks };
    io.log(`weft gen: ${result.manifest.entries.length} op site${result.manifest.entries.length === 1 ? "" : "s"} → ${path.relative(process.cwd(), result.out) || result.out}`);
  };
  const watch = ts.createWatchProgram(host);
  return { close: () => watch.close() };
}

/**
 * The content hash the manifest records for a file: sha256 of its bytes, 16 hex digits.
 *
 * @example
 * ```ts
 * hashFile("src/types.ts"); // "9c1f0e2a7b3d4c5e"
 * ```
 */
export function hashFile(file: string): string {
  return createHash("sha256").update(readFileSync(file)).digest("hex").slice(0, 16);
}

/**
 * The manifest as it is written: stable JSON, two-space indented, newline at the end.
 *
 * @example
 * ```ts
 * writeFileSync(out, serializeManifest(manifest));
 * ```
 */
export function serializeManifest(manifest: Manifest): string {
  return `${JSON.stringify(manifest, null, 2)}\n`;
}

/**
 * Writes a manifest to `file`.
 *
 * @example
 * ```ts
 * writeManifest("weft.manifest.json", generateManifest({ project: "tsconfig.json" }).manifest);
 * ```
 */
export function writeManifest(file: string, manifest: Manifest): void {
  writeFileSync(file, serializeManifest(manifest));
}

const USAGE = `usage: weft gen [-p tsconfig.json] [-o weft.manifest.json] [--typescript <module>] [--check | --watch]

Writes the op descriptors of a project to a manifest, for builds that run no weft transformer
(esbuild, tsx, TypeScript 7). The runtime loads it and refuses it when a source file changed.

  -p, --project     the tsconfig.json to analyse (default: ./tsconfig.json)
  -o, --out         where to write the manifest (default: weft.manifest.json beside the tsconfig)
  --typescript      the TypeScript package to analyse with (default: typescript)
  --check           write nothing; exit 1 when the manifest on disk is missing or out of date
  --watch           write it, then again whenever a source file changes (until interrupted)`;

/**
 * The `weft gen` command. Returns the process exit code.
 *
 * @example
 * ```ts
 * process.exitCode = runGen(["-p", "tsconfig.json"]);
 * ```
 */
export function runGen(argv: readonly string[], io: { log: (s: string) => void; error: (s: string) => void } = console): number {
  let project = "tsconfig.json";
  let out: string | undefined;
  let typescript: string | undefined;
  let check = false;
  let watch = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = (): string | undefined => {
      const next = argv[++i];
      if (next === undefined) io.error(`weft gen: ${arg} needs a value\n\n${USAGE}`);
      return next;
    };
    if (arg === "-p" || arg === "--project") project = value() ?? "";
    else if (arg === "-o" || arg === "--out") out = value() ?? "";
    else if (arg === "--typescript") typescript = value() ?? "";
    else if (arg === "--check") check = true;
    else if (arg === "--watch") watch = true;
    else if (arg === "-h" || arg === "--help") {
      io.log(USAGE);
      return 0;
    } else {
      io.error(`weft gen: unknown argument ${arg}\n\n${USAGE}`);
      return 2;
    }
  }
  if (project === "" || out === "" || typescript === "") return 2;
  if (check && watch) {
    io.error(`weft gen: --check and --watch do not go together\n\n${USAGE}`);
    return 2;
  }
  try {
    const root = path.dirname(path.resolve(project));
    const ts = typescript === undefined ? undefined : (createRequire(path.join(root, "package.json"))(typescript) as typeof TS);
    if (watch) {
      // The watchers keep the process alive; Ctrl-C ends it.
      watchManifest({ project, ...(out !== undefined ? { out } : {}), ...(ts ? { typescript: ts } : {}) }, io);
      return 0;
    }
    const result = generateManifest({ project, ...(out !== undefined ? { out } : {}), ...(ts ? { typescript: ts } : {}) });
    if (result.errors.length > 0) {
      for (const e of result.errors) io.error(e);
      io.error(`weft gen: ${result.errors.length} error${result.errors.length === 1 ? "" : "s"}; no manifest written`);
      return 1;
    }
    const text = serializeManifest(result.manifest);
    const checksFile = manifestChecksFile(result.out);
    if (check) {
      for (const [file, want] of [
        [result.out, text],
        [checksFile, result.checks],
      ] as const) {
        let current: string | undefined;
        try {
          current = readFileSync(file, "utf8");
        } catch {
          current = undefined;
        }
        if (current === want) continue;
        io.error(`weft gen --check: ${path.relative(process.cwd(), file) || file} is ${current === undefined ? "missing" : "out of date"}; run \`weft gen\``);
        return 1;
      }
      return 0;
    }
    writeFileSync(result.out, text);
    writeFileSync(checksFile, result.checks);
    io.log(`weft gen: ${result.manifest.entries.length} op site${result.manifest.entries.length === 1 ? "" : "s"} → ${path.relative(process.cwd(), result.out) || result.out}`);
    return 0;
  } catch (error) {
    io.error((error as Error).message);
    return 1;
  }
}

function loadTypeScript(root: string): typeof TS {
  // The project's TypeScript, else the one installed beside weft.
  for (const from of [path.join(root, "package.json"), import.meta.url]) {
    try {
      return createRequire(from)("typescript") as typeof TS;
    } catch {
      // try the next place
    }
  }
  throw new Error(`weft gen: cannot load \`typescript\` from ${root}; install it or pass --typescript`);
}
