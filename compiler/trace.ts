/**
 * The tracer: runs a function on tracer values and records what it does as an IR graph.
 *
 * Tracers are Proxies. Reading a property records a `get`, calling a method records a
 * `call`, calling an op (the runtime hands op calls to `recordOp` while a session is active)
 * records an `op` and returns a new tracer. Tracing is abstract: no op runs while tracing,
 * so a trace that fails has done nothing, and running the function eagerly instead cannot
 * repeat an op call.
 *
 * What a Proxy can see but a graph cannot express fails at once with a `TraceError` naming
 * the reason and the user's source line: primitive conversion (arithmetic, comparison,
 * template strings), `JSON.stringify`, mutation, `in`, listing keys, iteration of unknown
 * length, calling a traced value. What a Proxy cannot see (truthiness, `===`) is
 * catalogued in test/compiler/footguns.test.ts; `cond` and `map` stage such logic instead.
 */
import { readFileSync } from "node:fs";
import { SourceMap } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { JsonSchema, OpDescriptor, SourceLocation } from "../decorators/descriptor.js";
import type { Sig } from "./cache.js";
import { FRESH, type ExprOp } from "./expr.js";
import { GraphBuilder, isPlainObject, templateOf, type Graph, type NodeId, type Template } from "./ir.js";
import { TraceError } from "./trace-error.js";

export { TraceError } from "./trace-error.js";

const TRACER = Symbol("weft.tracer");
/** Iterating a tracer yields this many items at most before it is called unbounded. */
const MAX_ITERATION = 1024;

interface TracerInfo {
  readonly session: TraceSession;
  readonly id: NodeId;
  /** For a tracer made by reading a property: what it was read from, for method calls. */
  readonly method?: { readonly on: NodeId; readonly key: string };
}

/** The node a tracer stands for, or `undefined` for any other value. */
export function tracerInfo(value: unknown): TracerInfo | undefined {
  if (typeof value !== "function" || value === null) return undefined;
  return (value as { [TRACER]?: TracerInfo })[TRACER];
}

/** True for a tracer value. */
export function isTracer(value: unknown): boolean {
  return tracerInfo(value) !== undefined;
}

/** True when `value` is, or holds inside arrays and plain objects, a tracer. */
export function containsTracer(value: unknown, depth = 0): boolean {
  if (isTracer(value)) return true;
  if (depth > 8 || value === null || typeof value !== "object") return false;
  if (Array.isArray(value)) return value.some((v) => containsTracer(v, depth + 1));
  if (isPlainObject(value)) return Object.values(value).some((v) => containsTracer(v, depth + 1));
  return false;
}

/** At most this many objects are looked into for a tracer hidden in a class instance, Map or Set. */
const MAX_SCAN = 10_000;

/**
 * The class name of an instance, Map or Set inside `value` (at any depth) that holds a
 * tracer, or `undefined`. Arrays and plain objects holding tracers are fine: packs rebuild
 * them. Looks at own data properties only (no getter runs), within a budget.
 */
function tracerHolder(value: unknown, holder: string | undefined, budget: { left: number }, depth: number): string | undefined {
  if (isTracer(value)) return holder;
  if (typeof value !== "object" || value === null || depth > 16 || --budget.left < 0) return undefined;
  const inside = holder ?? (Array.isArray(value) || isPlainObject(value) ? undefined : (value.constructor as { name?: string } | undefined)?.name || "Object");
  let children: Iterable<unknown>;
  if (value instanceof Map) children = [...value.keys(), ...value.values()];
  else if (value instanceof Set) children = value;
  else if (ArrayBuffer.isView(value)) return undefined;
  else children = Object.values(Object.getOwnPropertyDescriptors(value)).flatMap((d) => ("value" in d ? [d.value as unknown] : []));
  for (const child of children) {
    const found = tracerHolder(child, inside, budget, depth + 1);
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * weft's own folders, whose frames `callerLocation` skips, as paths and as file URLs (frames
 * show either). Run from the build (`dist/`), frames can also name the source folders:
 * `node --enable-source-maps` maps dist/compiler/trace.js back to compiler/trace.ts.
 *
 * @example
 * ```ts
 * internalDirs("file:///app/node_modules/weft/dist/compiler/trace.js");
 * // [".../weft/dist/compiler/", ..., ".../weft/compiler/", ...] (URL and path of each)
 * ```
 */
export function internalDirs(moduleUrl: string): string[] {
  const root = new URL("../", moduleUrl);
  const roots = root.pathname.endsWith("/dist/") ? [root, new URL("../", root)] : [root];
  return roots.flatMap((r) =>
    ["compiler", "runtime", "decorators"].flatMap((d) => {
      const url = new URL(`${d}/`, r);
      return [url.href, fileURLToPath(url)];
    }),
  );
}
const INTERNAL = internalDirs(import.meta.url);
const FRAME = /\(?((?:file:\/\/)?[^()\s]+):(\d+):(\d+)\)?$/;

/**
 * Frames read first when the caller names the weft function the user's code called
 * (`callerLocation(through)`): that function's own caller (an op's callable) and the user's frame.
 */
const NEAR_FRAMES = 2;

/**
 * The user's source location of the current call: the first stack frame outside weft's own
 * folders, `node:` internals and node_modules. Trace time only; it runs once per recorded
 * node. Capturing the stack is most of its cost, and V8 pays per frame it walks: `through`,
 * a weft function on the stack that the user's code reached directly or through one
 * wrapper (runtime/invoke.ts `invoke` for an op call), lets it capture just the two frames
 * above that function; when neither is the user's (or `through` is not on the stack), it
 * reads the whole stack, as without `through`. Both find the same frame: every frame below
 * `through` is weft's own.
 */
export function callerLocation(through?: Function): SourceLocation | undefined {
  if (through !== undefined) {
    const near = userFrame(through, NEAR_FRAMES);
    if (near !== undefined) return near;
  }
  return userFrame(callerLocation, undefined);
}

/** The first user frame of the stack above `below` (at most `limit` frames of it, else `Error.stackTraceLimit`). */
function userFrame(below: Function, limit: number | undefined): SourceLocation | undefined {
  const max = Error.stackTraceLimit;
  const narrowed = limit !== undefined && typeof max === "number" && max > limit;
  if (narrowed) Error.stackTraceLimit = limit;
  try {
    const sites = callSites(below);
    if (sites !== undefined) return locationIn(sites);
    const holder: { stack?: string } = {};
    Error.captureStackTrace(holder, below);
    return holder.stack === undefined ? undefined : locationIn(holder.stack);
  } finally {
    if (narrowed) Error.stackTraceLimit = max;
  }
}

/**
 * The user's location in a read stack (raw call sites, or a formatted stack where something
 * maps stacks, as `decorators/stack.ts` `noteCaller` keeps them): its first frame outside
 * weft's own folders, `node:` internals and node_modules.
 */
export function locationIn(stack: NodeJS.CallSite[] | string | { readonly file: string; readonly line: number; readonly column: number }): SourceLocation | undefined {
  // A position the transformer marked: already the TypeScript file's.
  if (typeof stack === "object" && !Array.isArray(stack)) return { file: relativeToCwd(stack.file), line: stack.line, column: stack.column };
  if (typeof stack !== "string") {
    for (const site of stack) {
      const spelled = site.getFileName();
      if (!spelled) continue;
      const file = fileOf(spelled);
      if (file === undefined) continue;
      return located(file, site.getLineNumber() ?? 0, site.getColumnNumber() ?? 0);
    }
    return undefined;
  }
  let end = stack.indexOf("\n");
  while (end !== -1) {
    const start = end + 1;
    end = stack.indexOf("\n", start);
    const frame = stack.slice(start, end === -1 ? stack.length : end);
    if (frame.includes("node:") || frame.includes("/node_modules/") || INTERNAL.some((dir) => frame.includes(dir))) continue;
    const match = FRAME.exec(frame);
    if (!match) continue;
    const file = fileOf(match[1]!);
    if (file === undefined) continue;
    return located(file, Number(match[2]), Number(match[3]));
  }
  return undefined;
}

/** What a file seen in a frame is: weft's own (or Node's, or a dependency's), or the user's. */
interface FrameFile {
  /** `undefined` for weft's, Node's and dependencies' files: frames to skip. */
  readonly path: string | undefined;
}

/** Per spelling of a file in a frame: classified once (every recorded node walks the same few files). */
const frameFiles = new Map<string, FrameFile>();

/** The user's file a frame spelled `spelled` is in, or `undefined` for a frame to skip. */
function fileOf(spelled: string): string | undefined {
  let known = frameFiles.get(spelled);
  if (known === undefined) {
    const skip = spelled.startsWith("node:") || spelled.includes("/node_modules/") || INTERNAL.some((dir) => spelled.startsWith(dir));
    known = { path: skip ? undefined : spelled.startsWith("file://") ? fileURLToPath(spelled) : spelled };
    if (frameFiles.size >= 1024) frameFiles.clear();
    frameFiles.set(spelled, known);
  }
  return known.path;
}

/** Node's own stack formatter (Node 20 installs it as `Error.prepareStackTrace`), when it is the one in place at load. */
const NODE_FORMATTER = Error.prepareStackTrace?.name === "ErrorPrepareStackTrace" ? Error.prepareStackTrace : undefined;

const RAW_SITES = (_error: Error, sites: NodeJS.CallSite[]): NodeJS.CallSite[] => sites;

/**
 * The stack above `below` as structured call sites, skipping the string formatting, when nothing would
 * rewrite the formatted stack: Node's own formatter in place (no source-map support or test
 * runner hook) and Node's source maps off. Otherwise `undefined`: read `.stack`.
 */
function callSites(below: Function): NodeJS.CallSite[] | undefined {
  const formatter = Error.prepareStackTrace;
  if ((formatter !== undefined && formatter !== NODE_FORMATTER) || (process as { sourceMapsEnabled?: boolean }).sourceMapsEnabled) return undefined;
  Error.prepareStackTrace = RAW_SITES;
  try {
    const holder: { stack?: unknown } = {};
    Error.captureStackTrace(holder, below);
    // Read now: V8 formats (here: hands over the sites) lazily, with the hook set at that time.
    return holder.stack as NodeJS.CallSite[];
  } finally {
    (Error as { prepareStackTrace?: unknown }).prepareStackTrace = formatter;
  }
}

/** A location in the user's source: a compiled `.js` file with a source map names the TypeScript line. */
function located(file: string, line: number, column: number): SourceLocation {
  const map = /\.[mc]?js$/.test(file) ? sourceMapOf(file) : undefined;
  if (map !== undefined) {
    const entry = map.findEntry(line - 1, column - 1) as { originalSource?: string; originalLine?: number; originalColumn?: number } | undefined;
    if (entry?.originalSource !== undefined && entry.originalLine !== undefined) {
      const source = entry.originalSource.startsWith("file://") ? fileURLToPath(entry.originalSource) : path.resolve(path.dirname(file), entry.originalSource);
      return { file: relativeToCwd(source), line: entry.originalLine + 1, column: (entry.originalColumn ?? 0) + 1 };
    }
  }
  return { file: relativeToCwd(file), line, column };
}

const sourceMaps = new Map<string, SourceMap | null>();

/** The source map of a compiled file (inline or next to it), read once per file; `undefined` when there is none. */
function sourceMapOf(file: string): SourceMap | undefined {
  let map = sourceMaps.get(file);
  if (map === undefined) {
    map = null;
    try {
      const text = readFileSync(file, "utf8");
      const url = /\/\/# sourceMappingURL=(\S+)\s*$/.exec(text)?.[1];
      if (url !== undefined) {
        const payload = url.startsWith("data:") ? Buffer.from(url.slice(url.indexOf(",") + 1), "base64").toString("utf8") : readFileSync(path.resolve(path.dirname(file), url), "utf8");
        map = new SourceMap(JSON.parse(payload) as ConstructorParameters<typeof SourceMap>[0]);
      }
    } catch {
      map = null;
    }
    if (sourceMaps.size >= 256) sourceMaps.clear();
    sourceMaps.set(file, map);
  }
  return map ?? undefined;
}

function relativeToCwd(file: string): string {
  const cwd = process.cwd() + "/";
  return file.startsWith(cwd) ? file.slice(cwd.length) : file;
}

/** One op call as the runtime reports it to the tracer. */
export interface RecordedCall {
  readonly desc: OpDescriptor;
  /** `this` of a method op (a Module instance), `undefined` for a function op. */
  readonly self: unknown;
  readonly args: readonly unknown[];
  /**
   * Where the user's code made the call, when the caller read it already (the jit driver
   * reads it before it calls `recordOp`, nearer the user's frame: see `callerLocation`).
   */
  readonly loc?: SourceLocation;
}

/**
 * One trace in progress: the graph being built and the tracers standing for its nodes.
 * A sub-session (for a `cond` branch or a `map` body) turns tracers of its parent into
 * captured inputs the first time it sees them.
 */
export class TraceSession {
  readonly builder: GraphBuilder;
  private readonly consts = new Map<unknown, NodeId>();
  private readonly gets = new Map<string, unknown>();
  /** Op calls whose promise the traced code has not awaited (yet), with where they were made. */
  private readonly unawaited = new Map<NodeId, { name: string; loc: SourceLocation | undefined }>();
  /** Op calls the traced code has awaited to completion: what it called afterwards comes after them. */
  private readonly completed = new Set<NodeId>();
  /** For a node read out of another (get, call, seq): the value it was read from, at the root. */
  private readonly roots = new Map<NodeId, NodeId>();
  /** Per root value: the last op that may have mutated it, and the accesses since. */
  private readonly writers = new Map<NodeId, NodeId>();
  private readonly accesses = new Map<NodeId, NodeId[]>();
  private readonly seqs = new Map<string, NodeId>();
  /** Arrays and plain objects already packed, by identity: one literal stays one object in the plan. */
  private readonly packs = new WeakMap<object, { readonly id: NodeId; readonly template: Template; readonly inputs: readonly NodeId[] }>();
  private readonly calls = new Set<NodeId>();
  /**
   * What is known of a node's value on every run of this plan (see `Shape`): a node known to
   * be a primitive cannot be mutated by an op, so handing it to one orders nothing.
   */
  private readonly shapes = new Map<NodeId, Shape>();
  /** Parent node ids captured by this sub-session, in capture order. */
  readonly captures: NodeId[] = [];
  private readonly captured = new Map<NodeId, NodeId>();
  /** Inputs declared up front (arguments), before any capture. */
  private readonly declared: number;
  /**
   * A staged try body (or a branch inside one): each op call, and each nested node holding
   * ops, runs only after what eager code finished before making it, so a failure caught by
   * the handler leaves exactly eager's calls behind.
   */
  ordered = false;

  constructor(
    readonly arity: number,
    readonly parent?: TraceSession,
    builder?: GraphBuilder,
  ) {
    this.builder = builder ?? new GraphBuilder();
    this.declared = arity;
  }

  /** The tracers for the function's arguments; `sigs`, the call's signature, tells what each input holds on every run. */
  inputs(sigs?: readonly Sig[]): unknown[] {
    return Array.from({ length: this.arity }, (_, i) => {
      const id = this.builder.input();
      const sig = sigs?.[i];
      if (sig !== undefined) this.shapes.set(id, { kind: "sig", sig });
      return this.tracer(id);
    });
  }

  /** A tracer standing for node `id`. */
  tracer(id: NodeId, method?: { on: NodeId; key: string }): unknown {
    const info: TracerInfo = method ? { session: this, id, method } : { session: this, id };
    // A function target, so a tracer read as a method can be called.
    return new Proxy(function traced() {}, handler(info));
  }

  /** The node for any value: its tracer's node, a capture, a pack of arrays and plain objects, or a constant. */
  nodeOf(value: unknown): NodeId {
    const info = tracerInfo(value);
    if (info) return this.ownNode(info);
    if (typeof value === "object" && value instanceof Promise) {
      untraceable(
        value instanceof TracedPromise
          ? "an op call's promise is used without await (kept in a value, returned inside an object or passed to a call) inside a jitted function: await it first"
          : "a promise is used as a value inside a jitted function (a plan would hand every run the same promise): await it, or create it inside an op",
      );
    }
    if (typeof value === "object" && value !== null && !this.consts.has(value)) {
      const holder = tracerHolder(value, undefined, { left: MAX_SCAN }, 0);
      if (holder !== undefined) {
        untraceable(`a traced value inside a ${holder} instance (a class instance, Map or Set) inside a jitted function: a plan keeps such objects by reference and cannot put the value in; use plain objects and arrays, or build the ${holder} inside an op`);
      }
      // Arrays and plain objects are rebuilt on every run, as eager code builds its literals
      // on every call: a constant would hand every run (and every caller) one mutable object.
      if (Array.isArray(value) || isPlainObject(value)) {
        const packed = this.tryPack(value);
        if (packed !== undefined) return packed;
      }
    }
    let id = this.consts.get(value);
    if (id === undefined) {
      id = this.builder.constant(value);
      this.consts.set(value, id);
      if ((typeof value !== "object" && typeof value !== "function") || value === null) this.shapes.set(id, PRIM);
    }
    return id;
  }

  /**
   * A pack node rebuilding `value`, or `undefined` for a cyclic value without tracers (kept
   * as a constant). The same literal packs once: passed to two ops, or to an op and then
   * returned, it is one object in the plan as in eager code (an op may mutate it).
   */
  private tryPack(value: object): NodeId | undefined {
    let packed: ReturnType<typeof templateOf>;
    try {
      packed = templateOf(value, (v) => {
        const inner = tracerInfo(v);
        if (inner) return this.ownNode(inner);
        // A literal inside this one that was packed before keeps its identity.
        return v !== value && typeof v === "object" && v !== null && this.packs.has(v) ? this.nodeOf(v) : undefined;
      });
    } catch (error) {
      if (containsTracer(value) || !(error instanceof TypeError)) throw error;
      return undefined;
    }
    const known = this.packs.get(value);
    if (known !== undefined) {
      if (sameTemplate(known.template, packed.template) && sameIds(known.inputs, packed.inputs)) return known.id;
      if (this.writers.has(known.id) || (this.accesses.get(known.id)?.length ?? 0) > 0) {
        untraceable("an object or array literal was changed by glue code after an op received it, inside a jitted function: build a new literal instead");
      }
    }
    const id = this.builder.pack(packed.template, packed.inputs);
    this.packs.set(value, { id, template: packed.template, inputs: packed.inputs });
    return id;
  }

  /** This session's node for a tracer of this session or of an enclosing one (captured). */
  ownNode(info: TracerInfo): NodeId {
    if (info.session === this) return info.id;
    let outer: TraceSession | undefined = this.parent;
    while (outer && outer !== info.session) outer = outer.parent;
    if (!outer) throw new TraceError("a traced value escaped its jitted function (stored and used by a later call)", callerLocation());
    const parentId = this.parent!.ownNode(info);
    let local = this.captured.get(parentId);
    if (local === undefined) {
      local = this.builder.input();
      const shape = this.parent!.shapes.get(parentId);
      if (shape !== undefined) this.shapes.set(local, shape);
      this.captured.set(parentId, local);
      this.captures.push(parentId);
    }
    return local;
  }

  /**
   * Records an op call; returns a promise of the tracer of its result. The promise notes
   * when the traced code awaits it: an op whose promise is never awaited is fire-and-forget
   * in eager code (its failure does not fail the function), which a plan cannot express.
   */
  recordOp(call: RecordedCall): Promise<unknown> {
    const loc = "loc" in call ? call.loc : callerLocation();
    const touched: { root: NodeId; writes: boolean }[] = [];
    const args = call.args.map((a, i) => this.orderedArg(a, mayMutate(call.desc, i), touched));
    let self = call.self === undefined ? undefined : this.nodeOf(call.self);
    if (this.ordered) {
      if (args.length > 0) args[0] = this.gate(args[0]!);
      else if (self !== undefined) self = this.gate(self);
      else if (this.barrier().length > 0) untraceable(`an op without arguments (${call.desc.name}) inside a staged try, after other work: it cannot be ordered after that work; give it an argument or move it first`);
    }
    const id = this.builder.op(call.desc, args, { ...(self !== undefined && { self }), ...(loc && { loc }) });
    if (call.desc.typed && call.desc.returns !== undefined && !call.desc.stream) this.shapes.set(id, { kind: "schema", schema: call.desc.returns, defs: call.desc.defs });
    for (const { root, writes } of touched) {
      if (writes) {
        this.writers.set(root, id);
        this.accesses.set(root, []);
      } else this.accessed(root, id);
    }
    this.unawaited.set(id, { name: call.desc.name, loc });
    return TracedPromise.of(this, id, this.tracer(id));
  }

  /**
   * The nodes an op call in a staged try body must follow: every op eager code awaited to
   * completion before it, and every glue node before it (one may throw, and then eager code
   * never makes the call).
   */
  private barrier(): NodeId[] {
    const after: NodeId[] = [];
    for (const n of this.builder.recorded()) {
      if (n.kind === "op") {
        if (this.completed.has(n.id)) after.push(n.id);
      } else if (n.kind === "get" || n.kind === "call" || n.kind === "cond" || n.kind === "map" || n.kind === "try" || (n.kind === "expr" && n.op !== "seq")) after.push(n.id);
    }
    return after;
  }

  /** `id`, ordered after this session's barrier when it is a staged try body (else `id`). */
  gate(id: NodeId): NodeId {
    if (!this.ordered) return id;
    return this.sequenced(id, this.barrier().filter((b) => b !== id));
  }

  /** The traced code awaited op `id`'s promise (`then` on it); `done` once its callback ran. */
  awaitedOp(id: NodeId, done: boolean): void {
    this.unawaited.delete(id);
    if (done) this.completed.add(id);
  }

  /** The root value a node was read out of (itself for op results, inputs, packs). */
  private rootOf(id: NodeId): NodeId {
    return this.roots.get(id) ?? id;
  }

  private accessed(root: NodeId, by: NodeId): void {
    const list = this.accesses.get(root);
    if (list) list.push(by);
    else this.accesses.set(root, [by]);
  }

  /** The ops a read of `root` must come after: its last writer, once the traced code awaited it. */
  private writerBefore(root: NodeId): NodeId | undefined {
    const w = this.writers.get(root);
    return w !== undefined && this.completed.has(w) ? w : undefined;
  }

  /** `id`, or a `seq` of it that runs after `after` (memoised). */
  private sequenced(id: NodeId, after: readonly NodeId[]): NodeId {
    if (after.length === 0) return id;
    const key = `${id}|${after.join(",")}`;
    let seq = this.seqs.get(key);
    if (seq === undefined) {
      seq = this.builder.expr("seq", [id, ...after]);
      this.roots.set(seq, this.rootOf(id));
      const shape = this.shapes.get(id);
      if (shape !== undefined) this.shapes.set(seq, shape);
      this.seqs.set(key, seq);
    }
    return seq;
  }

  /** A read of node `id` by glue (a property, a method call, an operator): after the ops that may have mutated it. */
  private read(id: NodeId): NodeId {
    const w = this.writerBefore(this.rootOf(id));
    return w === undefined ? id : this.sequenced(id, [w]);
  }

  /**
   * The node of an op argument, ordered after the ops that may have mutated the values in
   * it and, when this op may mutate them, after every earlier access to them as well (eager
   * code finished those before calling it). Fills `touched` with the roots it holds.
   */
  private orderedArg(value: unknown, writes: boolean, touched: { root: NodeId; writes: boolean }[]): NodeId {
    const id = this.nodeOf(value);
    const roots = new Set<NodeId>();
    this.rootsIn(value, roots, 0);
    const after = new Set<NodeId>();
    for (const root of roots) {
      const w = this.writerBefore(root);
      if (w !== undefined) after.add(w);
      if (writes) for (const a of this.accesses.get(root) ?? []) if (!this.calls.has(a) || this.completed.has(a)) after.add(a);
      touched.push({ root, writes });
    }
    for (const a of [...after]) if (!this.completed.has(a) && this.unawaitedOp(a)) after.delete(a);
    return this.sequenced(id, [...after]);
  }

  private unawaitedOp(id: NodeId): boolean {
    return this.unawaited.has(id);
  }

  /** The roots of the traced values and packed literals inside `value`. */
  private rootsIn(value: unknown, into: Set<NodeId>, depth: number): void {
    const info = tracerInfo(value);
    if (info) {
      const id = this.ownNode(info);
      if (!isPrimitive(this.shapes.get(id))) into.add(this.rootOf(id));
      return;
    }
    if (typeof value !== "object" || value === null || depth > 16) return;
    const known = this.packs.get(value);
    if (known !== undefined) into.add(known.id);
    if (Array.isArray(value)) for (const v of value) this.rootsIn(v, into, depth + 1);
    else if (isPlainObject(value)) for (const v of Object.values(value)) this.rootsIn(v, into, depth + 1);
  }

  /** Records a property read (memoised: the same read twice is one node). */
  recordGet(of: NodeId, key: string | number): unknown {
    const root = this.rootOf(of);
    const from = this.read(of);
    const memo = `${from}:${typeof key}:${key}`;
    let t = this.gets.get(memo);
    if (t === undefined) {
      const id = this.builder.get(from, key);
      const shape = childShape(this.shapes.get(of), key);
      if (shape !== undefined) this.shapes.set(id, shape);
      this.roots.set(id, root);
      this.accessed(root, id);
      t = this.tracer(id, typeof key === "string" ? { on: of, key } : undefined);
      this.gets.set(memo, t);
    }
    return t;
  }

  /** Records a method call on a traced value. */
  recordCall(on: NodeId, method: string, args: readonly unknown[]): unknown {
    const loc = callerLocation();
    // A callback would run later, in the plan, where values it captured from the trace are
    // tracers no longer backed by a session: refuse it now, while eager fallback is possible.
    if (args.some((a) => typeof a === "function" && !isTracer(a))) {
      throw new TraceError(`a callback was passed to ${method}() on a traced value inside a jitted function: use map() to stage it, or do it inside an op`, loc);
    }
    const root = this.rootOf(on);
    const id = this.builder.call(this.read(on), method, args.map((a) => this.read(this.nodeOf(a))), loc);
    this.roots.set(id, root);
    this.accessed(root, id);
    this.calls.add(id);
    return this.tracer(id);
  }

  /** The traced code read `then` of node `id` (it awaited it): an awaited method call settles its promise. */
  thenRead(id: NodeId): void {
    if (this.calls.has(id)) this.builder.markAwaited(id);
  }

  /** Records a staged operator (compiler/expr.ts) on values; returns its tracer. */
  recordExpr(op: ExprOp, values: readonly unknown[], arg?: unknown): unknown {
    const loc = callerLocation();
    const nodes = values.map((v) => this.nodeOf(v));
    const inputs = nodes.map((n) => this.read(n));
    const id = this.builder.expr(op, inputs, arg, loc);
    if (op === "select" ? isPrimitive(this.shapes.get(inputs[1]!)) && isPrimitive(this.shapes.get(inputs[2]!)) : !NON_PRIMITIVE_EXPRS.has(op)) this.shapes.set(id, PRIM);
    // The operator reads the objects it is given (`r?.[k]`, `k in r`, `Object.keys(r)`): an
    // op that later mutates one of them runs after it, as eagerly.
    for (const n of nodes) if (!isPrimitive(this.shapes.get(n))) this.accessed(this.rootOf(n), id);
    // A chain's result may be an object inside its base: reads of it follow
    // the writers of that base, as a property read's do.
    if (op === "chain") this.roots.set(id, this.rootOf(nodes[0]!));
    return this.tracer(id);
  }

  /** Ends the trace: `result` (a tracer, a constant, or a structure holding tracers) is the output. */
  finish(result: unknown): Graph {
    let out: NodeId;
    try {
      out = this.nodeOf(result);
      for (const [, { name, loc }] of this.unawaited) {
        throw new TraceError(`op ${name} is called without await inside a jitted function (fire-and-forget: eager code ignores its outcome, a plan cannot): await it`, loc);
      }
    } catch (error) {
      // The function has returned, so no frame of it is on the stack: a line found now would
      // be an unrelated caller's. Leave the location to the driver (a recorded one stays).
      throw error instanceof TraceError && error.loc !== undefined && error.reason.startsWith("op ") ? error : error instanceof TraceError ? new TraceError(error.reason, undefined) : error;
    }
    return this.builder.output(out);
  }

  /** How many inputs the graph takes: the declared arguments plus the captures. */
  get inputCount(): number {
    return this.declared + this.captures.length;
  }
}

/**
 * For a traced op call's promise, its tracer (the promise counts as awaited: a staged
 * branch that returns it hands it on); any other value as it is.
 */
export function awaitedTracer(value: unknown): unknown {
  return !isTracer(value) && value instanceof TracedPromise ? value.awaited() : value;
}

/**
 * The promise an op call returns while tracing: resolved with the tracer, it tells its
 * session when the traced code awaits it (`then` is how `await`, `Promise.all` and
 * returning it reach it) and when that await resumed. `.catch()` and `.finally()` would
 * handle a failure the trace never sees, so they stop the trace. Its constructor is not
 * `Promise` (so `await` and `Promise.resolve` adopt it through its `then`, which they skip
 * for a plain native promise); its species is, so `then` hands back plain promises.
 */
class TracedPromise extends Promise<unknown> {
  static override get [Symbol.species](): PromiseConstructor {
    return Promise;
  }

  // Private: a scan of a value for tracers (tracerHolder) must not find this one's. Set
  // after super(): a Promise subclass's constructor takes the executor first.
  #session!: TraceSession;
  #id!: NodeId;
  #tracer: unknown;

  static of(session: TraceSession, id: NodeId, tracer: unknown): TracedPromise {
    // The tracer is a Proxy over a function: resolving with it reads its `then`.
    let resolve!: (v: unknown) => void;
    const p = new TracedPromise((r) => (resolve = r as (v: unknown) => void));
    p.#session = session;
    p.#id = id;
    p.#tracer = tracer;
    resolve(tracer);
    return p;
  }

  /** Its tracer, counting the promise as awaited. */
  awaited(): unknown {
    this.#session.awaitedOp(this.#id, true);
    return this.#tracer;
  }

  override then<A = unknown, B = never>(onFulfilled?: ((v: unknown) => A | PromiseLike<A>) | null, onRejected?: ((e: unknown) => B | PromiseLike<B>) | null): Promise<A | B> {
    const session = this.#session;
    const id = this.#id;
    session.awaitedOp(id, false);
    return super.then(
      typeof onFulfilled === "function"
        ? (v: unknown) => {
            session.awaitedOp(id, true);
            return onFulfilled(v);
          }
        : onFulfilled,
      onRejected,
    );
  }

  override catch(): never {
    return untraceable("`.catch()` on an op call inside a jitted function: its failure handling is not staged; use try/catch around an awaited call outside the jit, or move the handling into an op");
  }

  override finally(): never {
    return untraceable("`.finally()` on an op call inside a jitted function: not staged; move it outside the jit or into an op");
  }
}

/** True when op `desc` may mutate its argument `i`: io and cpu ops with an object-typed (or untyped) parameter. */
function mayMutate(desc: OpDescriptor, i: number): boolean {
  if (desc.kind === "pure") return false;
  const param = desc.params[i] ?? (desc.params.at(-1)?.rest ? desc.params.at(-1) : undefined);
  if (!desc.typed || param === undefined) return true;
  return !primitiveSchema(param.schema);
}

const PRIMITIVE_TYPES = new Set(["string", "number", "integer", "boolean", "null"]);

/**
 * What the trace knows of a node's value on every run: a primitive (a primitive constant or
 * operator result), the schema its op is typed to return (checked by the kernel), or an
 * input's signature (the plan runs only for calls of that signature).
 */
type Shape = { readonly kind: "prim" } | { readonly kind: "schema"; readonly schema: JsonSchema; readonly defs: Readonly<Record<string, JsonSchema>> | undefined } | { readonly kind: "sig"; readonly sig: Sig };

const PRIM: Shape = { kind: "prim" };

/** Operators whose result may be an object (every other staged operator yields a primitive). */
const NON_PRIMITIVE_EXPRS: ReadonlySet<ExprOp> = new Set<ExprOp>(["chain", "select", "seq", "concat", ...(FRESH as ReadonlySet<ExprOp>)]);

function isPrimitive(shape: Shape | undefined): boolean {
  if (shape === undefined) return false;
  switch (shape.kind) {
    case "prim":
      return true;
    case "sig":
      return shape.sig.kind === "prim";
    case "schema":
      return primitiveSchema(resolved(shape.schema, shape.defs));
  }
}

/** A schema with a local `$ref` followed (once per level: a missing definition is unknown). */
function resolved(schema: JsonSchema, defs: Readonly<Record<string, JsonSchema>> | undefined): JsonSchema | undefined {
  if (typeof schema !== "object" || schema === null || typeof schema.$ref !== "string") return schema;
  const name = /^#\/\$defs\/(.+)$/.exec(schema.$ref)?.[1];
  return name === undefined ? undefined : defs?.[name];
}

/** What is known of `value[key]` from what is known of `value`. */
function childShape(shape: Shape | undefined, key: string | number): Shape | undefined {
  if (shape === undefined) return undefined;
  const index = typeof key === "number";
  switch (shape.kind) {
    case "prim":
      // A primitive's length or character; its other properties are methods.
      return key === "length" || index ? PRIM : undefined;
    case "sig": {
      const sig = shape.sig;
      if (sig.kind === "prim") return key === "length" || index ? PRIM : undefined;
      if (sig.kind === "array") {
        if (key === "length") return PRIM;
        const item = index ? sig.items[key] : undefined;
        return item === undefined ? undefined : { kind: "sig", sig: item };
      }
      if (sig.kind === "object" && !index) {
        const entry = sig.entries.find(([k]) => k === key);
        return entry === undefined ? undefined : { kind: "sig", sig: entry[1] };
      }
      return undefined;
    }
    case "schema": {
      const schema = resolved(shape.schema, shape.defs);
      if (schema === undefined || typeof schema !== "object" || schema === null) return undefined;
      if (primitiveSchema(schema)) return key === "length" || index ? PRIM : undefined;
      const sub = (s: unknown): Shape | undefined => (typeof s === "object" && s !== null ? { kind: "schema", schema: s as JsonSchema, defs: shape.defs } : undefined);
      if (schema.type === "array") {
        if (key === "length") return PRIM;
        if (!index) return undefined;
        const prefix = (schema as { prefixItems?: unknown }).prefixItems;
        if (Array.isArray(prefix)) return key < prefix.length ? sub(prefix[key]) : sub((schema as { items?: unknown }).items);
        return sub((schema as { items?: unknown }).items);
      }
      if (schema.type === "object" && !index) {
        const props = (schema as { properties?: Record<string, unknown> }).properties;
        return props !== undefined && Object.hasOwn(props, key) ? sub(props[key]) : undefined;
      }
      return undefined;
    }
  }
}

function primitiveSchema(schema: JsonSchema | undefined): boolean {
  if (schema === undefined || typeof schema === "boolean") return false;
  const type = schema.type;
  if (typeof type === "string") return PRIMITIVE_TYPES.has(type);
  if (Array.isArray(type)) return type.every((t) => PRIMITIVE_TYPES.has(t as string));
  if ("const" in schema) return typeof schema.const !== "object" || schema.const === null;
  if (Array.isArray(schema.enum)) return schema.enum.every((v) => typeof v !== "object" || v === null);
  for (const key of ["anyOf", "oneOf"] as const) {
    const list = schema[key];
    if (Array.isArray(list)) return list.every((s) => primitiveSchema(s as JsonSchema));
  }
  return false;
}

function sameIds(a: readonly NodeId[], b: readonly NodeId[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function sameTemplate(a: Template, b: Template): boolean {
  if (a.kind !== b.kind) return false;
  switch (a.kind) {
    case "hole":
      return a.index === (b as typeof a).index;
    case "lit":
      return Object.is(a.value, (b as typeof a).value);
    case "array": {
      const items = (b as typeof a).items;
      return a.items.length === items.length && a.items.every((t, i) => sameTemplate(t, items[i]!));
    }
    case "object": {
      const entries = (b as typeof a).entries;
      return a.entries.length === entries.length && a.entries.every(([k, t], i) => k === entries[i]![0] && sameTemplate(t, entries[i]![1]));
    }
  }
}

function untraceable(reason: string): never {
  throw new TraceError(reason, callerLocation());
}

/** Finds the session being recorded in the current async context (set by the jit driver). */
let activeResolver: () => TraceSession | undefined = () => undefined;

/** Tells the tracer how to find the active session (runtime/jit.ts: from the current frame). Internal. */
export function setActiveSessionResolver(resolve: () => TraceSession | undefined): void {
  activeResolver = resolve;
}

/**
 * The session that records a use of a tracer of `owner`: the active one when it is a
 * sub-session of `owner` (a staged branch reading a captured value reads it inside the
 * branch, so only the taken branch runs the read), else `owner`.
 */
function recorderFor(owner: TraceSession): TraceSession {
  const active = activeResolver();
  if (active === undefined || active === owner) return owner;
  for (let s = active.parent; s; s = s.parent) if (s === owner) return active;
  return owner;
}

function handler(info: TracerInfo): ProxyHandler<() => void> {
  const { session, id } = info;
  return {
    get(_target, key) {
      if (key === TRACER) return info;
      // Not a thenable: `await tracer` gives the tracer back.
      if (key === "then") {
        session.thenRead(id);
        return undefined;
      }
      if (key === Symbol.toPrimitive) {
        return (hint: string) =>
          untraceable(
            `a traced value was converted to a ${hint === "default" ? "primitive" : hint} (arithmetic, comparison, string concatenation or a template string) inside a jitted function: its value is not known while tracing; compute it in an op, or stage the logic with cond()`,
          );
      }
      if (key === "toJSON") return () => untraceable("JSON.stringify of a traced value inside a jitted function: do it inside an op");
      if (key === Symbol.iterator) {
        return function* iterate() {
          for (let i = 0; i < MAX_ITERATION; i++) yield session.recordGet(id, i);
          untraceable(`iterating a traced value of unknown length (for...of, spread, Array.from) inside a jitted function: use map() to stage it`);
        };
      }
      if (key === Symbol.asyncIterator) return untraceable("async iteration of a traced value inside a jitted function");
      if (key === Symbol.for("nodejs.util.inspect.custom")) return () => `Tracer(%${id})`;
      if (typeof key === "symbol") return undefined;
      // Numeric keys index arrays: record them as numbers, as `x[0]` is.
      const recorder = recorderFor(session);
      return recorder.recordGet(recorder === session ? id : recorder.ownNode(info), /^(0|[1-9]\d*)$/.test(key) ? Number(key) : key);
    },
    apply(_target, thisArg, args) {
      const receiver = tracerInfo(thisArg);
      if (info.method && receiver && receiver.id === info.method.on && receiver.session === info.session) {
        const recorder = recorderFor(session);
        return recorder.recordCall(recorder === session ? info.method.on : recorder.ownNode(receiver), info.method.key, args);
      }
      return untraceable("a traced value was called as a function inside a jitted function");
    },
    construct() {
      return untraceable("`new` on a traced value inside a jitted function");
    },
    set(_target, key) {
      return untraceable(`mutating a traced value (setting ${String(key)}) inside a jitted function: build a new object instead`);
    },
    defineProperty(_target, key) {
      return untraceable(`mutating a traced value (defining ${String(key)}) inside a jitted function`);
    },
    deleteProperty(_target, key) {
      return untraceable(`mutating a traced value (deleting ${String(key)}) inside a jitted function`);
    },
    has(_target, key) {
      return untraceable(`testing a traced value with \`${String(key)} in ...\` inside a jitted function: its keys are not known while tracing`);
    },
    ownKeys() {
      return untraceable("listing the keys of a traced value (Object.keys, {...spread}, for...in) inside a jitted function: its keys are not known while tracing");
    },
    getPrototypeOf() {
      return untraceable("instanceof or a prototype check on a traced value inside a jitted function");
    },
  };
}
