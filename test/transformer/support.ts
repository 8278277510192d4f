/**
 * Emitting in-memory programs through the weft transformer, and running the emitted
 * CommonJS against a recording stand-in for weft, so tests see what each site received.
 */
import path from "node:path";
import type * as TS from "typescript";
import weftTransformer from "../../transformers/transformer.js";
import { ROOT } from "../schema/support.js";

/** A `weft` package as its .d.ts would look: the three entry points carry their marker tags. */
export const WEFT_STUB: Record<string, string> = {
  "node_modules/weft/package.json": JSON.stringify({ name: "weft", types: "index.d.ts", main: "index.js" }),
  "node_modules/weft/index.d.ts": [
    "/** Declares an op. @weftOp */",
    "export declare function op(...args: any[]): any;",
    "/** Traces a function. @weftJit */",
    "export declare function jit(...args: any[]): any;",
    "/** Maps over a batch. @weftVmap */",
    "export declare function vmap(...args: any[]): any;",
  ].join("\n"),
};

/** What `emit` returns: the JavaScript per file and weft's diagnostics, as text. */
export interface EmitResult {
  readonly js: Record<string, string>;
  readonly diagnostics: string[];
}

/**
 * Emits a program through the weft transformer, in memory.
 *
 * @example
 * ```ts
 * const { js } = emit(ts6, createProgram(ts6, files));
 * ```
 */
export function emit(ts: typeof TS, program: TS.Program): EmitResult {
  const js: Record<string, string> = {};
  const diagnostics: string[] = [];
  const addDiagnostic = (d: TS.Diagnostic): void => {
    const where = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start) : undefined;
    const file = d.file ? path.posix.relative(ROOT, d.file.fileName) : "";
    diagnostics.push(`${file}${where ? `:${where.line + 1}` : ""}: ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`);
  };
  program.emit(
    undefined,
    (name, text) => {
      if (/\.[mc]?js$/.test(name)) js[path.posix.relative(ROOT, name)] = text;
    },
    undefined,
    false,
    { before: [weftTransformer(program, {}, { ts, addDiagnostic })] },
  );
  return { js, diagnostics };
}

/** One call the stand-in weft received. */
export interface RecordedCall {
  readonly kind: "op" | "jit" | "vmap";
  readonly args: readonly unknown[];
}

/**
 * Runs emitted CommonJS modules with `require("weft")` answered by a recorder. Returns
 * the calls in order. Decorator calls return a decorator that changes nothing, in either mode.
 *
 * @example
 * ```ts
 * const calls = runCommonJs(js, "main.js");
 * ```
 */
export function runCommonJs(js: Record<string, string>, entry: string): RecordedCall[] {
  const calls: RecordedCall[] = [];
  const record =
    (kind: RecordedCall["kind"]) =>
    (...args: unknown[]): unknown => {
      calls.push({ kind, args });
      return args.find((a) => typeof a === "function") ?? (() => undefined);
    };
  const weft = { op: record("op"), jit: record("jit"), vmap: record("vmap") };
  const cache = new Map<string, unknown>();
  const load = (file: string): unknown => {
    if (cache.has(file)) return cache.get(file);
    const code = js[file];
    if (code === undefined) throw new Error(`no emitted ${file}`);
    const module = { exports: {} as unknown };
    cache.set(file, module.exports);
    const requireFn = (specifier: string): unknown => {
      if (specifier === "weft") return weft;
      if (specifier === "node:url") return { pathToFileURL: (p: string) => ({ href: `file://${p}` }) };
      if (specifier.startsWith(".")) return load(path.posix.join(path.posix.dirname(file), specifier));
      throw new Error(`unexpected require(${specifier})`);
    };
    new Function("require", "module", "exports", "__filename", code)(requireFn, module, module.exports, path.posix.join(ROOT, file));
    cache.set(file, module.exports);
    return module.exports;
  };
  load(entry);
  return calls;
}
