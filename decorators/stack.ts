/**
 * The one stack walker: the frames of the running code's stack as source positions, which
 * of them are weft's own, and compiled frames mapped to their sources. The jit's tracer
 * (the source line of a recorded node, compiler/trace.ts) and the manifest loader (where an
 * op registration happened, runtime/manifest.ts) both read the stack through it. A layer-1
 * helper so that both layers' folders can share it; it reads a compiled file's source map
 * on first use, nothing else.
 */
import { readFileSync } from "node:fs";
import { SourceMap } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** One frame: a file path and 1-based line and column. */
export interface StackFrame {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

/** The frames of a stack, innermost first. */
export interface Stack {
  /** Source positions (mapped when the environment maps stacks); a frame without a file position is `undefined`. */
  readonly frames: readonly (StackFrame | undefined)[];
  /** The raw V8 file name of each frame (the emitted file, whatever source maps say), aligned with `frames`; empty unless asked for. */
  readonly emitted: readonly (string | undefined)[];
}

/** Node's own stack formatter (Node 20 installs it as `Error.prepareStackTrace`), when it is the one in place at load. */
const NODE_FORMATTER = Error.prepareStackTrace?.name === "ErrorPrepareStackTrace" ? Error.prepareStackTrace : undefined;

/**
 * The current stack below `below` (the function whose frame and callees are left out).
 * When nothing rewrites formatted stacks (Node's own formatter, Node's source maps off),
 * the frames come from V8's structured call sites without formatting any text; otherwise
 * from the formatted stack, so an environment's source mapping (tsx, vitest,
 * `--enable-source-maps`) applies. `emitted` also reads each frame's raw file name;
 * `limit` overrides `Error.stackTraceLimit` for this read.
 *
 * @example
 * ```ts
 * const { frames } = currentStack(callerLocation);
 * const user = frames.find((f) => f !== undefined && !isWeftFile(f.file));
 * ```
 */
export function currentStack(below: Function, options: { readonly emitted?: boolean; readonly limit?: number } = {}): Stack {
  const limit = Error.stackTraceLimit;
  if (options.limit !== undefined) Error.stackTraceLimit = options.limit;
  try {
    const formatted = plainStacks() ? undefined : formattedFrames(below);
    if (formatted && !options.emitted) return { frames: formatted, emitted: [] };
    const sites = callSites(below);
    const emitted = options.emitted ? sites.map((s) => s.getFileName() ?? undefined) : [];
    const frames = formatted ?? sites.map((s) => {
      const spelled = s.getFileName();
      return spelled ? { file: pathOf(spelled), line: s.getLineNumber() ?? 0, column: s.getColumnNumber() ?? 0 } : undefined;
    });
    return { frames, emitted };
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/**
 * The innermost frame of the current stack below `below` whose file `accept`s, read as
 * `currentStack` reads frames; only that frame's position is computed (V8 resolves a
 * position per frame asked, which is most of a stack read's cost).
 *
 * @example
 * ```ts
 * const user = findFrame(callerLocation, (file) => !isWeftFile(file));
 * ```
 */
export function findFrame(below: Function, accept: (file: string) => boolean): StackFrame | undefined {
  if (!plainStacks()) return formattedFrames(below).find((f): f is StackFrame => f !== undefined && accept(f.file));
  for (const site of callSites(below)) {
    const spelled = site.getFileName();
    if (!spelled) continue;
    const file = pathOf(spelled);
    if (accept(file)) return { file, line: site.getLineNumber() ?? 0, column: site.getColumnNumber() ?? 0 };
  }
  return undefined;
}

/**
 * Traces in progress in this process (the jit driver counts them). While there is one, an
 * op's callable notes where it was called from (`noteCaller`) before it calls the kernel.
 * Internal.
 */
export const callerNotes = { tracing: 0 };

/**
 * What an op call made during a trace noted of its caller: raw call sites, the formatted
 * stack where something maps stacks, or the TypeScript position the transformer marked
 * (`markCall`).
 */
export type CallerNote = NodeJS.CallSite[] | string | StackFrame;

let noted: { readonly call: object; readonly stack: CallerNote } | undefined;

/**
 * Notes the frame that called `callee` (an op's callable, which calls this first), for the
 * tracer to take when it records the call whose argument list is `call`. Reading the stack
 * costs per frame V8 walks, so it is read here, one frame above the user's, and only that
 * frame: a read from where the tracer records the call walks the kernel's frames too.
 * Internal.
 */
export function noteCaller(callee: Function, call: object): void {
  if (pending.fn !== undefined) {
    const marked = pending.fn === callee;
    pending.fn = undefined;
    if (marked) {
      noted = { call, stack: { file: pending.file, line: pending.line, column: pending.column } };
      return;
    }
  }
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 1;
  try {
    let stack: CallerNote;
    if (plainStacks()) stack = callSites(callee);
    else {
      const holder: { stack?: string } = {};
      Error.captureStackTrace(holder, callee);
      stack = holder.stack ?? "";
    }
    noted = { call, stack };
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** The note of the call whose argument list is `call`, once (`undefined` when that call noted nothing). Internal. */
export function takeCaller(call: object): CallerNote | undefined {
  const note = noted;
  noted = undefined;
  return note !== undefined && note.call === call ? note.stack : undefined;
}

/**
 * A module with staged code, as the transformer marks it (`{ url: import.meta.url }`), and
 * the TypeScript file it was compiled from once resolved (`null`: not known, so its calls
 * read the stack).
 */
export interface ModuleMark {
  readonly url: string;
  /** The TypeScript source relative to the module's own file, as the build emitted it. */
  readonly from?: string;
  source?: string | null;
}

/** The call the transformer marked as the next one made (`markCall`), until an op's callable takes it. */
const pending: { fn: unknown; file: string; line: number; column: number } = { fn: undefined, file: "", line: 0, column: 0 };

/**
 * Notes that the code about to call `fn` is at `line`:`column` of `module`'s TypeScript
 * source (the transformer emits this right before each call in staged code, after its
 * arguments are evaluated). When `fn` is an op's callable, `noteCaller` takes this
 * position instead of reading the stack (a stack read costs microseconds per op call
 * traced); any other callable's `noteCaller` drops it. Only while a trace is in progress.
 * Internal.
 */
export function markCall(module: ModuleMark | undefined, fn: unknown, line: number, column: number): void {
  if (callerNotes.tracing === 0 || module === undefined) return;
  let source = module.source;
  if (source === undefined) source = module.source = sourceOfModule(module.url, module.from) ?? null;
  if (source === null) return;
  pending.fn = fn;
  pending.file = source;
  pending.line = line;
  pending.column = column;
}

/** The TypeScript file a module (by URL) was compiled from: itself when it is one (vite), else where the build said (`from`), else its source map's one source. */
function sourceOfModule(url: string, from: string | undefined): string | undefined {
  let file: string;
  try {
    file = url.startsWith("file:") ? fileURLToPath(url) : url;
  } catch {
    return undefined;
  }
  if (/\.[cm]?tsx?$/.test(file)) return file;
  if (from !== undefined) return path.resolve(path.dirname(file), from);
  if (!/\.[cm]?js$/.test(file)) return undefined;
  const loaded = sourceMapOf(file);
  const sources = (loaded?.map.payload as { sources?: readonly string[] } | undefined)?.sources;
  if (loaded === undefined || sources?.length !== 1) return undefined;
  const only = sources[0]!;
  return only.startsWith("file:") ? fileURLToPath(only) : path.resolve(loaded.base, only);
}

/** Whether formatted stacks say what raw call sites say: Node's own formatter in place and Node's source maps off. */
function plainStacks(): boolean {
  const formatter = Error.prepareStackTrace;
  return (formatter === undefined || formatter === NODE_FORMATTER) && !(process as { sourceMapsEnabled?: boolean }).sourceMapsEnabled;
}

function formattedFrames(below: Function): (StackFrame | undefined)[] {
  // Read `.stack` at once: V8 formats it lazily, with whatever prepareStackTrace is set then.
  const holder: { stack?: string } = {};
  Error.captureStackTrace(holder, below);
  return parseStack(holder.stack ?? "");
}

function callSites(below: Function): NodeJS.CallSite[] {
  const formatter = Error.prepareStackTrace;
  Error.prepareStackTrace = (_error, sites) => sites;
  try {
    const holder: { stack?: unknown } = {};
    Error.captureStackTrace(holder, below);
    // Read now: V8 hands over the sites lazily, with the hook set at that time.
    return (holder.stack as NodeJS.CallSite[] | undefined) ?? [];
  } finally {
    (Error as { prepareStackTrace?: unknown }).prepareStackTrace = formatter;
  }
}

/** Paths of the files seen in frames, by how the frame spells them (file URLs are slow to convert). */
const paths = new Map<string, string>();

/** A frame's file as a path (frames name files by path or by file URL). */
export function pathOf(spelled: string): string {
  let p = paths.get(spelled);
  if (p === undefined) {
    if (paths.size >= 1024) paths.clear();
    paths.set(spelled, (p = spelled.startsWith("file:") ? fileURLToPath(spelled) : spelled));
  }
  return p;
}

/**
 * The frames of a V8-formatted stack (`    at fn (file:///a.ts:3:5)`), as paths; frames
 * without a file position (native, eval) are kept as undefined so indices match call sites.
 *
 * @example
 * ```ts
 * parseStack("Error\n    at f (file:///app/a.ts:3:5)"); // [{ file: "/app/a.ts", line: 3, column: 5 }]
 * ```
 */
export function parseStack(stack: string): (StackFrame | undefined)[] {
  const frames: (StackFrame | undefined)[] = [];
  for (const line of stack.split("\n")) {
    if (!/^\s+at /.test(line)) continue;
    const match = /\(?((?:file:\/\/|\/|[A-Za-z]:[\\/])[^()]*?):(\d+):(\d+)\)?\s*$/.exec(line);
    frames.push(match ? { file: pathOf(match[1]!), line: Number(match[2]), column: Number(match[3]) } : undefined);
  }
  return frames;
}

/**
 * weft's own folders, whose frames are not the user's, for weft loaded from `moduleUrl`'s
 * package: `compiler/`, `runtime/`, `decorators/` at the package root, and, run from the
 * build (`dist/`), at the package root above it too (`node --enable-source-maps` maps
 * dist/compiler/trace.js back to compiler/trace.ts).
 *
 * @example
 * ```ts
 * weftDirs("file:///app/node_modules/weft/dist/decorators/stack.js");
 * // ["/app/node_modules/weft/dist/compiler/", ..., "/app/node_modules/weft/compiler/", ...]
 * ```
 */
export function weftDirs(moduleUrl: string): string[] {
  return weftRoots(moduleUrl).flatMap((root) => ["compiler", "runtime", "decorators"].map((d) => path.join(root, d) + path.sep));
}

function weftRoots(moduleUrl: string): string[] {
  const root = fileURLToPath(new URL("../", moduleUrl));
  return path.basename(root) === "dist" ? [root, path.dirname(root)] : [root];
}

const WEFT_DIRS = weftDirs(import.meta.url);
const WEFT_FILES = new Set(weftRoots(import.meta.url).flatMap((root) => ["index", "effect"].flatMap((f) => [".ts", ".js"].map((x) => path.join(root, f + x)))));

/**
 * Whether `file` (a path) is one of weft's own modules, whose frames are never the user's.
 *
 * @example
 * ```ts
 * isWeftFile(fileURLToPath(import.meta.url)); // true
 * ```
 */
export function isWeftFile(file: string): boolean {
  return WEFT_DIRS.some((d) => file.startsWith(d)) || WEFT_FILES.has(file);
}

interface LoadedMap {
  readonly map: SourceMap;
  /** What relative `sources` are resolved against: the map file's directory plus `sourceRoot`. */
  readonly base: string;
}

const sourceMaps = new Map<string, LoadedMap | null>();

/**
 * `frame` mapped to its source through its file's `//# sourceMappingURL` (inline or a
 * file beside it), read once per file; the frame itself when there is no mapping.
 *
 * @example
 * ```ts
 * toSource({ file: "/app/dist/ops.js", line: 12, column: 3 }); // { file: "/app/src/ops.ts", line: 9, column: 1 }
 * ```
 */
export function toSource(frame: StackFrame): StackFrame {
  const loaded = sourceMapOf(frame.file);
  if (!loaded) return frame;
  const entry = loaded.map.findEntry(frame.line - 1, frame.column - 1) as { originalSource?: string; originalLine?: number; originalColumn?: number };
  if (entry.originalSource === undefined || entry.originalLine === undefined) return frame;
  const file = entry.originalSource.startsWith("file:") ? fileURLToPath(entry.originalSource) : path.resolve(loaded.base, entry.originalSource);
  return { file, line: entry.originalLine + 1, column: (entry.originalColumn ?? 0) + 1 };
}

function sourceMapOf(file: string): LoadedMap | undefined {
  let loaded = sourceMaps.get(file);
  if (loaded === undefined) {
    loaded = null;
    try {
      const text = readFileSync(file, "utf8");
      const url = /\/\/[#@] sourceMappingURL=(\S+)\s*$/.exec(text)?.[1];
      if (url) {
        const inline = url.startsWith("data:");
        const mapFile = inline ? file : path.resolve(path.dirname(file), decodeURIComponent(url));
        const json = inline ? Buffer.from(url.slice(url.indexOf(",") + 1), url.includes(";base64,") ? "base64" : "utf8").toString("utf8") : readFileSync(mapFile, "utf8");
        const payload = JSON.parse(json) as ConstructorParameters<typeof SourceMap>[0] & { sourceRoot?: string };
        loaded = { map: new SourceMap(payload), base: path.resolve(path.dirname(mapFile), payload.sourceRoot ?? "") };
      }
    } catch {
      loaded = null;
    }
    if (sourceMaps.size >= 256) sourceMaps.clear();
    sourceMaps.set(file, loaded);
  }
  return loaded ?? undefined;
}
