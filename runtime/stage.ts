/**
 * The runtime half of build-time staging (transformers/jit-stage.ts). Inside jitted bodies
 * the transformer rewrites what a Proxy cannot see (operators, templates, `?.`, `??`,
 * `&&`, `||`, `?:`, defaults, some builtins) into calls of these helpers. On plain values
 * each helper does exactly what the original code did; on a traced value it records a
 * graph node (an `expr`, or a `cond` whose branches are traced separately), so the plan
 * computes it on every run instead of freezing what the tracer saw.
 *
 * Emitted code reaches the helpers as `globalThis.__weft$` (set when weft loads), so the
 * rewrite needs no import in the user's module.
 */
// One evaluator for both paths: what a plan computes is what eager code computed.
import { evalExpr as evalPlain, type ChainLink, type ExprOp, type ObjectPart } from "../compiler/expr.js";
import { TraceError, awaitedTracer, callerLocation, isTracer } from "../compiler/trace.js";
import { markCall, type ModuleMark } from "../decorators/stack.js";
import { activeSession, cond, condSync, forOfStaged, tryStaged } from "./jit.js";

function session() {
  const s = activeSession();
  if (!s) throw new TraceError("a traced value escaped its jitted function (stored and used by a later call)", callerLocation());
  return s;
}

function anyTraced(values: readonly unknown[]): boolean {
  for (const v of values) if (isTracer(v)) return true;
  return false;
}

type Thunk = () => unknown;
type AsyncThunk = () => Promise<unknown>;

/** The promises `choose` hands back, with the tracer each resolves to. */
const chosen = new WeakMap<Promise<unknown>, unknown>();

/** `pred ? then() : otherwise()` for a traced predicate, sync branches. */
function choose(pred: unknown, then: Thunk, otherwise: Thunk): unknown {
  const s = session();
  let promised = false;
  const wrap = (f: Thunk) => () => {
    const v = f();
    if (isTracer(v) || !(v instanceof Promise)) return v;
    promised = true;
    // A nested staged choice that returned a promise (`else if (c) return op(x)`): its tracer.
    return chosen.has(v) ? chosen.get(v) : awaitedTracer(v);
  };
  const out = condSync(s, pred, wrap(then), wrap(otherwise));
  if (!promised) return out;
  // A branch that returned an op call's promise: the whole expression is a promise, as in eager code.
  const p = Promise.resolve(out);
  chosen.set(p, out);
  return p;
}

const isNullish = (v: unknown) => v === null || v === undefined;

/** The staging helpers, by the names the transformer emits. */
export const stage = {
  /** `value`, once the next call (of `fn`) is marked as made at `line`:`column` of `module` (decorators/stack.ts `markCall`). */
  at<T>(value: T, module: ModuleMark | undefined, fn: unknown, line: number, column: number): T {
    markCall(module, fn, line, column);
    return value;
  },
  /** The mark of a call without arguments. */
  mark(module: ModuleMark | undefined, fn: unknown, line: number, column: number): void {
    markCall(module, fn, line, column);
  },
  /** A binary operator. */
  bin(op: ExprOp, a: unknown, b: unknown): unknown {
    if (isTracer(a) || isTracer(b)) return session().recordExpr(op, [a, b]);
    return evalPlain(op, [a, b]);
  },
  /** A unary operator (`!`, `neg`, `pos`, `~`, `typeof`). */
  un(op: ExprOp, a: unknown): unknown {
    if (isTracer(a)) return session().recordExpr(op, [a]);
    return evalPlain(op, [a]);
  },
  /** A template literal: cooked strings, then substitutions. */
  tpl(strings: readonly string[], ...values: unknown[]): unknown {
    if (anyTraced(values)) return session().recordExpr("template", values, strings);
    let out = strings[0]!;
    for (let i = 1; i < strings.length; i++) out += `${values[i - 1] as string}${strings[i]!}`;
    return out;
  },
  /** A property chain with optional links; `keys` are the computed keys, in order. */
  chain(base: unknown, links: readonly ChainLink[], ...keys: unknown[]): unknown {
    if (isTracer(base) || anyTraced(keys)) return session().recordExpr("chain", [base, ...keys], links);
    return evalPlain("chain", [base, ...keys], links);
  },
  /** A builtin call (`Array.isArray(x)`, `Boolean(x)`, `xs.concat(...)`). */
  fn(op: ExprOp, ...args: unknown[]): unknown {
    if (anyTraced(args)) return session().recordExpr(op, args);
    return evalPlain(op, args);
  },
  /** `{ ...o }`: the copy of an outer object that a staged branch writes (jit-stage.ts `condStatement`). */
  copy(o: unknown): unknown {
    if (isTracer(o)) {
      throw new TraceError("an object written by an earlier staged if or switch is written again inside a jitted function (it holds that statement's result now, a traced value): build the object in one statement, or assign its fields to variables first", callerLocation());
    }
    return { ...(o as object) };
  },
  /** An object literal with a spread (`{ a, ...t }`): `parts` say what each value is. */
  obj(parts: readonly ObjectPart[], ...values: unknown[]): unknown {
    if (anyTraced(values)) return session().recordExpr("object", values, parts);
    return evalPlain("object", values, parts);
  },
  /** An array literal with a spread (`[a, ...t]`): `spreads` says which values are spread. */
  arr(spreads: readonly boolean[], ...values: unknown[]): unknown {
    if (anyTraced(values)) return session().recordExpr("array", values, spreads);
    return evalPlain("array", values, spreads);
  },
  /** `a ?? rhs()`. */
  nullish(a: unknown, rhs: Thunk): unknown {
    if (!isTracer(a)) return isNullish(a) ? rhs() : a;
    return choose(session().recordExpr("nullish", [a]), rhs, () => a);
  },
  /** `a && rhs()`. */
  and(a: unknown, rhs: Thunk): unknown {
    if (!isTracer(a)) return a ? rhs() : a;
    return choose(a, rhs, () => a);
  },
  /** `a || rhs()`. */
  or(a: unknown, rhs: Thunk): unknown {
    if (!isTracer(a)) return a ? a : rhs();
    return choose(a, () => a, rhs);
  },
  /** `c ? then() : otherwise()`. */
  cond(c: unknown, then: Thunk, otherwise: Thunk): unknown {
    if (!isTracer(c)) return c ? then() : otherwise();
    return choose(c, then, otherwise);
  },
  /** A default: `v === undefined ? init() : v`. */
  dflt(v: unknown, init: Thunk): unknown {
    if (!isTracer(v)) return v === undefined ? init() : v;
    return choose(session().recordExpr("===", [v, undefined]), init, () => v);
  },
  /** The forms above whose right side awaits: the branches are traced as async functions. */
  async nullishA(a: unknown, rhs: AsyncThunk): Promise<unknown> {
    if (!isTracer(a)) return isNullish(a) ? rhs() : a;
    return cond(session().recordExpr("nullish", [a]), rhs, () => a);
  },
  async andA(a: unknown, rhs: AsyncThunk): Promise<unknown> {
    if (!isTracer(a)) return a ? rhs() : a;
    return cond(a, rhs, () => a);
  },
  async orA(a: unknown, rhs: AsyncThunk): Promise<unknown> {
    if (!isTracer(a)) return a ? a : rhs();
    return cond(a, () => a, rhs);
  },
  async condA(c: unknown, then: AsyncThunk, otherwise: AsyncThunk): Promise<unknown> {
    if (!isTracer(c)) return c ? then() : otherwise();
    return cond(c, then, otherwise);
  },
  /** `try { return await body() } catch (e) { return handler(e) }`; inside a trace, a staged try node. */
  async tryA(body: AsyncThunk, handler: (error: unknown) => Promise<unknown>): Promise<unknown> {
    const s = activeSession();
    if (!s) {
      try {
        return await body();
      } catch (error) {
        return handler(error);
      }
    }
    return tryStaged(s, body, handler);
  },
  /** `for (const x of items) out.push(await body(x))`, one item after another; inside a trace over traced items, a staged map. */
  async forOf(items: unknown, body: (item: unknown) => Promise<unknown>): Promise<unknown[]> {
    const s = activeSession();
    if (s && isTracer(items)) return forOfStaged(s, items, body) as Promise<unknown[]>;
    const out: unknown[] = [];
    for (const item of items as Iterable<unknown>) out.push(await body(item));
    return out;
  },
  /** `for (const p of pushed) out.push(...p[key])`, returning `out` (a staged loop's appends). */
  appendAll(out: unknown, pushed: unknown, key: string): unknown {
    if (isTracer(out) || isTracer(pushed)) return session().recordExpr("appendAll", [out, pushed], key);
    return evalPlain("appendAll", [out, pushed], key);
  },
  async dfltA(v: unknown, init: AsyncThunk): Promise<unknown> {
    if (!isTracer(v)) return v === undefined ? init() : v;
    return cond(session().recordExpr("===", [v, undefined]), init, () => v);
  },
} as const;

/** The global the emitted code reads. */
export const STAGE_GLOBAL = "__weft$";

/** Makes the helpers reachable from emitted code (idempotent). */
export function installStage(): void {
  // Read the descriptor: the global may still be weft's accessor (decorators/jit.ts), which calls this.
  if (Object.getOwnPropertyDescriptor(globalThis, STAGE_GLOBAL)?.value === stage) return;
  Object.defineProperty(globalThis, STAGE_GLOBAL, { value: stage, configurable: true, enumerable: false, writable: false });
}
