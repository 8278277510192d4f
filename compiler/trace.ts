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
import { fileURLToPath } from "node:url";
import type { OpDescriptor, SourceLocation } from "../decorators/descriptor.js";
import { GraphBuilder, isPlainObject, templateOf, type Graph, type NodeId } from "./ir.js";

/** Why a function could not be traced, and where. */
export class TraceError extends Error {
  override readonly name = "TraceError";
  constructor(
    readonly reason: string,
    readonly loc: SourceLocation | undefined,
  ) {
    super(loc ? `${reason} (${loc.file}:${loc.line}:${loc.column})` : reason);
  }
}

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
/** Paths of the files seen in frames, by how the frame spells them (file URLs are slow to convert). */
const paths = new Map<string, string>();

/**
 * The user's source location of the current call: the first stack frame outside weft's own
 * folders, `node:` internals and node_modules. Trace time only; it runs once per recorded
 * node, so it scans the stack string in place and tests each frame with cheap substring
 * checks before any parsing.
 */
export function callerLocation(): SourceLocation | undefined {
  const sites = callSites();
  if (sites !== undefined) {
    for (const site of sites) {
      const spelled = site.getFileName();
      if (!spelled || spelled.startsWith("node:") || spelled.includes("/node_modules/") || INTERNAL.some((dir) => spelled.startsWith(dir))) continue;
      return { file: relativeToCwd(pathOf(spelled)), line: site.getLineNumber() ?? 0, column: site.getColumnNumber() ?? 0 };
    }
    return undefined;
  }
  const stack = new Error().stack;
  if (stack === undefined) return undefined;
  let end = stack.indexOf("\n");
  while (end !== -1) {
    const start = end + 1;
    end = stack.indexOf("\n", start);
    const frame = stack.slice(start, end === -1 ? stack.length : end);
    if (frame.includes("node:") || frame.includes("/node_modules/") || INTERNAL.some((dir) => frame.includes(dir))) continue;
    const match = FRAME.exec(frame);
    if (!match) continue;
    return { file: relativeToCwd(pathOf(match[1]!)), line: Number(match[2]), column: Number(match[3]) };
  }
  return undefined;
}

/** Node's own stack formatter (Node 20 installs it as `Error.prepareStackTrace`), when it is the one in place at load. */
const NODE_FORMATTER = Error.prepareStackTrace?.name === "ErrorPrepareStackTrace" ? Error.prepareStackTrace : undefined;

/**
 * The stack as structured call sites, skipping the string formatting, when nothing would
 * rewrite the formatted stack: Node's own formatter in place (no source-map support or test
 * runner hook) and Node's source maps off. Otherwise `undefined`: read `.stack`.
 */
function callSites(): NodeJS.CallSite[] | undefined {
  const formatter = Error.prepareStackTrace;
  if ((formatter !== undefined && formatter !== NODE_FORMATTER) || (process as { sourceMapsEnabled?: boolean }).sourceMapsEnabled) return undefined;
  Error.prepareStackTrace = (_error, sites) => sites;
  try {
    const holder: { stack?: unknown } = {};
    Error.captureStackTrace(holder, callerLocation);
    // Read now: V8 formats (here: hands over the sites) lazily, with the hook set at that time.
    return holder.stack as NodeJS.CallSite[];
  } finally {
    (Error as { prepareStackTrace?: unknown }).prepareStackTrace = formatter;
  }
}

function pathOf(spelled: string): string {
  let path = paths.get(spelled);
  if (path === undefined) {
    if (paths.size >= 1024) paths.clear();
    paths.set(spelled, (path = spelled.startsWith("file://") ? fileURLToPath(spelled) : spelled));
  }
  return path;
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
  /** Parent node ids captured by this sub-session, in capture order. */
  readonly captures: NodeId[] = [];
  private readonly captured = new Map<NodeId, NodeId>();
  /** Inputs declared up front (arguments), before any capture. */
  private readonly declared: number;

  constructor(
    readonly arity: number,
    readonly parent?: TraceSession,
    builder?: GraphBuilder,
  ) {
    this.builder = builder ?? new GraphBuilder();
    this.declared = arity;
  }

  /** The tracers for the function's arguments. */
  inputs(): unknown[] {
    return Array.from({ length: this.arity }, () => this.tracer(this.builder.input()));
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
    }
    return id;
  }

  /** A pack node rebuilding `value`, or `undefined` for a cyclic value without tracers (kept as a constant). */
  private tryPack(value: unknown): NodeId | undefined {
    let packed: ReturnType<typeof templateOf>;
    try {
      packed = templateOf(value, (v) => {
        const inner = tracerInfo(v);
        return inner ? this.ownNode(inner) : undefined;
      });
    } catch (error) {
      if (containsTracer(value) || !(error instanceof TypeError)) throw error;
      return undefined;
    }
    return this.builder.pack(packed.template, packed.inputs);
  }

  /** This session's node for a tracer of this session or of an enclosing one (captured). */
  private ownNode(info: TracerInfo): NodeId {
    if (info.session === this) return info.id;
    let outer: TraceSession | undefined = this.parent;
    while (outer && outer !== info.session) outer = outer.parent;
    if (!outer) throw new TraceError("a traced value escaped its jitted function (stored and used by a later call)", callerLocation());
    const parentId = this.parent!.ownNode(info);
    let local = this.captured.get(parentId);
    if (local === undefined) {
      local = this.builder.input();
      this.captured.set(parentId, local);
      this.captures.push(parentId);
    }
    return local;
  }

  /** Records an op call; returns the tracer of its result. */
  recordOp(call: RecordedCall): unknown {
    const loc = callerLocation();
    const args = call.args.map((a) => this.nodeOf(a));
    if (call.self !== undefined) {
      const self = this.nodeOf(call.self);
      return this.tracer(this.builder.op(call.desc, args, { self, ...(loc && { loc }) }));
    }
    return this.tracer(this.builder.op(call.desc, args, loc ? { loc } : {}));
  }

  /** Records a property read (memoised: the same read twice is one node). */
  recordGet(of: NodeId, key: string | number): unknown {
    const memo = `${of}:${typeof key}:${key}`;
    let t = this.gets.get(memo);
    if (t === undefined) {
      t = this.tracer(this.builder.get(of, key), typeof key === "string" ? { on: of, key } : undefined);
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
    return this.tracer(this.builder.call(on, method, args.map((a) => this.nodeOf(a)), loc));
  }

  /** Ends the trace: `result` (a tracer, a constant, or a structure holding tracers) is the output. */
  finish(result: unknown): Graph {
    let out: NodeId;
    try {
      out = this.nodeOf(result);
    } catch (error) {
      // The function has returned, so no frame of it is on the stack: a line found now would
      // be an unrelated caller's. Leave the location to the driver.
      throw error instanceof TraceError ? new TraceError(error.reason, undefined) : error;
    }
    return this.builder.output(out);
  }

  /** How many inputs the graph takes: the declared arguments plus the captures. */
  get inputCount(): number {
    return this.declared + this.captures.length;
  }
}

function untraceable(reason: string): never {
  throw new TraceError(reason, callerLocation());
}

function handler(info: TracerInfo): ProxyHandler<() => void> {
  const { session, id } = info;
  return {
    get(_target, key) {
      if (key === TRACER) return info;
      // Not a thenable: `await tracer` gives the tracer back.
      if (key === "then") return undefined;
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
      return session.recordGet(id, /^(0|[1-9]\d*)$/.test(key) ? Number(key) : key);
    },
    apply(_target, thisArg, args) {
      const receiver = tracerInfo(thisArg);
      if (info.method && receiver && receiver.id === info.method.on) return session.recordCall(info.method.on, info.method.key, args);
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
