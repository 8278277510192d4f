/**
 * Constant folding: nodes whose inputs are known at compile time become constants.
 *
 * The compiler never calls an op on its own (it must not know how ops run), so folding a
 * pure op takes an injected `evaluate` callback; without one, only structural nodes fold.
 * Consts are trace-time values: reading one of their data properties now is what tracing
 * did with every captured value. Rules:
 * - `get` of a const: own data properties and string indices only (a getter would run user code);
 * - `get` of a `pack`: forwarded to the packed node or literal at that key (never to a
 *   nested literal, which eager code shares by identity with the packed value);
 * - `pack` inputs that are consts become literals of its template;
 * - `cond` on a const predicate: the taken branch is inlined (ids are unique across
 *   subgraphs, so its nodes keep theirs);
 * - a `pure` op on const inputs: replaced by `evaluate`'s value, if it gives one. An op that
 *   throws on those inputs stays, so its error surfaces at run time as in eager code.
 */
import { Cacheable } from "../../decorators/descriptor.js";
import { FRESH, evalExpr } from "../expr.js";
import { IdMap, make, mapHoles, type Graph, type Node, type NodeId, type OpNode, type Template } from "../ir.js";
import { nested, renameInputs, rewrite, type Rule } from "./rewrite.js";

/**
 * Computes a pure op's result at compile time, or declines with `undefined` (for example
 * for async bodies). `args` exclude `this`, which is `self` (undefined for function ops).
 *
 * @example
 * ```ts
 * const evaluate: Evaluate = (node, args, self) => (node.desc.async ? undefined : { value: bodyOf(node.desc.id).apply(self, args) });
 * ```
 */
export type Evaluate = (node: OpNode, args: readonly unknown[], self: unknown) => { readonly value: unknown } | undefined;

/**
 * Options of the fold pass.
 *
 * @example
 * ```ts
 * fold(g, { evaluate });
 * ```
 */
export interface FoldOptions {
  /** Evaluates pure ops on constant inputs; without it pure ops are left alone. */
  readonly evaluate?: Evaluate;
}

/**
 * `get` of a const folds to the property's value.
 *
 * @example
 * ```ts
 * rewrite(g, [getOfConst]); // get(const {model: "m"}, "model") -> const "m"
 * ```
 */
export const getOfConst: Rule = (n, cx) => {
  if (n.kind !== "get") return undefined;
  const source = cx.node(n.inputs[0]!);
  if (source.kind !== "const") return undefined;
  const read = readData(source.value, n.key);
  return read === undefined ? undefined : make.const(n.id, read.value, n.loc);
};

/**
 * `get` of a pack forwards to the node or literal packed at that key.
 *
 * @example
 * ```ts
 * rewrite(g, [getOfPack]); // get(pack {page: %1}, "page") -> %1
 * ```
 */
export const getOfPack: Rule = (n, cx) => {
  if (n.kind !== "get") return undefined;
  const source = cx.node(n.inputs[0]!);
  if (source.kind !== "pack") return undefined;
  const at = templateAt(source.template, n.key);
  if (at?.kind === "hole") return { alias: source.inputs[at.index]! };
  if (at?.kind === "lit") return make.const(n.id, at.value, n.loc);
  return undefined;
};

/**
 * Const inputs of a pack become literals in its template.
 *
 * @example
 * ```ts
 * rewrite(g, [packConsts]); // pack [%1, const "en"] -> pack [%1, "en"]
 * ```
 */
export const packConsts: Rule = (n, cx) => {
  if (n.kind !== "pack") return undefined;
  const consts = n.inputs.map((x) => cx.node(x)).map((m) => (m.kind === "const" ? m : undefined));
  if (consts.every((c) => c === undefined)) return undefined;
  const inputs: NodeId[] = [];
  const renumber = n.inputs.map((x, i) => (consts[i] === undefined ? inputs.push(x) - 1 : -1));
  const template = mapHoles(n.template, (i): Template => {
    const c = consts[i];
    return c === undefined ? { kind: "hole", index: renumber[i]! } : { kind: "lit", value: c.value };
  });
  return make.pack(n.id, template, inputs, n.loc);
};

/**
 * A `cond` on a const predicate is replaced by its taken branch, spliced in place.
 *
 * @example
 * ```ts
 * rewrite(g, [condOfConst]); // cond(const true, then, else) -> the nodes of then
 * ```
 */
export const condOfConst: Rule = (n, cx) => {
  if (n.kind !== "cond") return undefined;
  const pred = cx.node(n.inputs[0]!);
  if (pred.kind !== "const") return undefined;
  const branch = n.branches[pred.value ? 0 : 1];
  const local = new IdMap<NodeId>();
  const splice: Node[] = [];
  let result: NodeId = n.inputs[0]!;
  for (const m of branch.nodes) {
    if (m.kind === "input") local.set(m.id, n.inputs[1 + m.index]!);
    else if (m.kind === "output") result = local.get(m.inputs[0]!) ?? m.inputs[0]!;
    else splice.push(renameInputs(m, local));
  }
  return { alias: result, splice };
};

/**
 * An `expr` on const inputs is evaluated now (it is a pure operator); one that throws is
 * left to throw at run time, as the eager code does.
 *
 * @example
 * ```ts
 * rewrite(g, [exprOfConsts]); // +(const 1, const 2) -> const 3
 * ```
 */
export const exprOfConsts: Rule = (n, cx) => {
  if (n.kind !== "expr") return undefined;
  const values: unknown[] = [];
  for (const x of n.inputs) {
    const m = cx.node(x);
    if (m.kind !== "const") return undefined;
    values.push(m.value);
  }
  // A chain or concat reading a const object would see its trace-time contents, which eager
  // code reads at run time (an op may have mutated it): only primitives fold.
  if (values.some((v) => (typeof v === "object" && v !== null) || typeof v === "function")) return undefined;
  // A new object on every run (`Object.entries("ab")`) must not become one shared constant.
  if (FRESH.has(n.op)) return undefined;
  try {
    return make.const(n.id, evalExpr(n.op, values, n.arg), n.loc);
  } catch {
    return undefined;
  }
};

/**
 * A rule folding pure ops whose inputs are all consts through `evaluate`.
 *
 * @example
 * ```ts
 * rewrite(g, [pureOp((node, args) => (node.desc.async ? undefined : { value: registry.body(node.desc.id)(...args) }))]);
 * ```
 */
export function pureOp(evaluate: Evaluate): Rule {
  return (n, cx) => {
    if (n.kind !== "op" || !Cacheable.has(n.desc.kind)) return undefined;
    const values: unknown[] = [];
    for (const x of n.inputs) {
      const m = cx.node(x);
      if (m.kind !== "const") return undefined;
      values.push(m.value);
    }
    let result: { readonly value: unknown } | undefined;
    try {
      result = n.self ? evaluate(n, values.slice(1), values[0]) : evaluate(n, values, undefined);
    } catch {
      return undefined;
    }
    return result === undefined ? undefined : make.const(n.id, result.value, n.loc);
  };
}

/**
 * Folds what is known at compile time in `g` and its subgraphs. Returns `g` when nothing
 * folded. Leaves unused consts behind for `dce`.
 *
 * @example
 * ```ts
 * dce(fold(g, { evaluate }));
 * ```
 */
export function fold(g: Graph, options: FoldOptions = {}): Graph {
  const { evaluate } = options;
  const rules: Rule[] = [nested((s) => fold(s, options)), getOfConst, getOfPack, packConsts, condOfConst, exprOfConsts];
  if (evaluate !== undefined) rules.push(pureOp(evaluate));
  return rewrite(g, rules);
}

function readData(value: unknown, key: string | number): { value: unknown } | undefined {
  if (typeof value === "string") {
    if (key === "length") return { value: value.length };
    const i = arrayIndex(key);
    return i !== undefined && i < value.length ? { value: value[i] } : undefined;
  }
  if ((typeof value !== "object" && typeof value !== "function") || value === null) return undefined;
  const d = Object.getOwnPropertyDescriptor(value, key);
  return d !== undefined && "value" in d ? { value: d.value } : undefined;
}

function templateAt(t: Template, key: string | number): Template | undefined {
  if (t.kind === "array") {
    if (key === "length") return { kind: "lit", value: t.items.length };
    const i = arrayIndex(key);
    return i === undefined ? undefined : t.items[i];
  }
  if (t.kind === "object") {
    const k = String(key);
    return t.entries.findLast(([name]) => name === k)?.[1];
  }
  return undefined;
}

function arrayIndex(key: string | number): number | undefined {
  if (typeof key === "number") return Number.isSafeInteger(key) && key >= 0 ? key : undefined;
  return /^(?:0|[1-9]\d*)$/.test(key) ? Number(key) : undefined;
}
