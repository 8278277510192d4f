/**
 * What an `expr` node computes: the JavaScript operators and builtins the build-time staging
 * transform (transformers/jit-stage.ts) turns into graph nodes when they apply to traced
 * values. Each is pure and synchronous, and evaluates exactly as the operator would in the
 * user's code (`evalExpr("+", [a, b])` is `a + b`, a template is a template).
 */

/** Binary operators, evaluated as written. */
export const BINARY = ["+", "-", "*", "/", "%", "**", "<", ">", "<=", ">=", "==", "!=", "===", "!==", "&", "|", "^", "<<", ">>", ">>>", "in"] as const;
/** Unary operators (`neg` is `-x`, `pos` is `+x`). */
export const UNARY = ["!", "neg", "pos", "~", "typeof"] as const;
/** Builtins staged as calls on traced values. */
export const BUILTINS = ["Array.isArray", "Number.isInteger", "Number.isNaN", "Number.isFinite", "Number.isSafeInteger", "Object.is", "Object.keys", "Object.values", "Object.entries", "Boolean", "String", "Number", "concat"] as const;

/**
 * The operations whose result is a new object on every evaluation (eager code gets a fresh
 * one from each call or literal): never merged by CSE nor folded into a shared constant.
 */
export const FRESH: ReadonlySet<string> = new Set(["concat", "appendAll", "Object.keys", "Object.values", "Object.entries", "object", "array"]);

/** One part of an `object` literal: a property (`key`, or the key is the next input when `computed`), or a spread of the next input. */
export type ObjectPart = { readonly key: string } | { readonly computed: true } | { readonly spread: true };

/**
 * One `expr` node's operation.
 * - a binary or unary operator, or a builtin;
 * - `template`: a template literal, `arg` its cooked strings, inputs its substitutions;
 * - `chain`: a property chain with optional links (`a?.b.c`), `arg` the links (a link with
 *   no `key` reads its key from the next input);
 * - `nullish`: `inputs[0] == null`;
 * - `select`: `inputs[0] ? inputs[1] : inputs[2]` (both sides already computed);
 * - `seq`: `inputs[0]`, once `inputs[1..]` have run: orders a read after the ops that may
 *   have mutated the value;
 * - `appendAll`: `inputs[0]` (an array) with `p[arg]` of every item `p` of `inputs[1]`
 *   appended, in order: what a staged `for...of` pushed;
 * - `object`: an object literal with spreads, `arg` its parts (`ObjectPart[]`), inputs the
 *   values (a computed key, then its value) in order;
 * - `array`: an array literal with spreads, `arg` one boolean per input (true: spread it).
 *
 * @example
 * ```ts
 * evalExpr("template", [name], ["Hello, ", "!"]); // `Hello, ${name}!`
 * ```
 */
export type ExprOp = (typeof BINARY)[number] | (typeof UNARY)[number] | (typeof BUILTINS)[number] | "template" | "chain" | "nullish" | "select" | "seq" | "appendAll" | "object" | "array";

/** One link of a `chain`: `?.key` when `optional`, else `.key`. */
export interface ChainLink {
  readonly optional: boolean;
  /** A static key; absent when the key is the chain's next input. */
  readonly key?: string | number;
}

const KNOWN: ReadonlySet<string> = new Set<string>([...BINARY, ...UNARY, ...BUILTINS, "template", "chain", "nullish", "select", "seq", "appendAll", "object", "array"]);

/**
 * True for a known `ExprOp`.
 *
 * @example
 * ```ts
 * isExprOp("+"); // true
 * ```
 */
export function isExprOp(op: unknown): op is ExprOp {
  return typeof op === "string" && KNOWN.has(op);
}

/**
 * Evaluates an `expr` node's operation on its input values.
 *
 * @example
 * ```ts
 * evalExpr("===", [1, 1]); // true
 * evalExpr("chain", [null], [{ optional: true, key: "v" }]); // undefined
 * ```
 */
export function evalExpr(op: ExprOp, v: readonly unknown[], arg?: unknown): unknown {
  // biome-ignore lint: operators on unknown values are the point here
  const a = v[0] as any;
  // biome-ignore lint: as above
  const b = v[1] as any;
  switch (op) {
    case "+":
      return a + b;
    case "-":
      return a - b;
    case "*":
      return a * b;
    case "/":
      return a / b;
    case "%":
      return a % b;
    case "**":
      return a ** b;
    case "<":
      return a < b;
    case ">":
      return a > b;
    case "<=":
      return a <= b;
    case ">=":
      return a >= b;
    case "==":
      return a == b;
    case "!=":
      return a != b;
    case "===":
      return a === b;
    case "!==":
      return a !== b;
    case "&":
      return a & b;
    case "|":
      return a | b;
    case "^":
      return a ^ b;
    case "<<":
      return a << b;
    case ">>":
      return a >> b;
    case ">>>":
      return a >>> b;
    case "in":
      return a in b;
    case "!":
      return !a;
    case "neg":
      return -a;
    case "pos":
      return +a;
    case "~":
      return ~a;
    case "typeof":
      return typeof a;
    case "Array.isArray":
      return Array.isArray(a);
    case "Number.isInteger":
      return Number.isInteger(a);
    case "Number.isNaN":
      return Number.isNaN(a);
    case "Number.isFinite":
      return Number.isFinite(a);
    case "Number.isSafeInteger":
      return Number.isSafeInteger(a);
    case "Object.is":
      return Object.is(a, b);
    case "Object.keys":
      return Object.keys(a);
    case "Object.values":
      return Object.values(a);
    case "Object.entries":
      return Object.entries(a);
    case "Boolean":
      return Boolean(a);
    case "String":
      return v.length === 0 ? String() : String(a);
    case "Number":
      return v.length === 0 ? Number() : Number(a);
    case "concat":
      return (a as unknown[]).concat(...v.slice(1));
    case "template": {
      const strings = arg as readonly string[];
      let out = strings[0]!;
      for (let i = 1; i < strings.length; i++) out += `${v[i - 1] as string}${strings[i]!}`;
      return out;
    }
    case "chain": {
      let value = a;
      let next = 1;
      for (const link of arg as readonly ChainLink[]) {
        if (link.optional && (value === null || value === undefined)) return undefined;
        const key = link.key ?? (v[next++] as string | number);
        value = value[key];
      }
      return value;
    }
    case "nullish":
      return a === null || a === undefined;
    case "select":
      return a ? b : v[2];
    case "seq":
      return a;
    case "appendAll": {
      const out = a as unknown[];
      for (const pushed of b as readonly Record<string, readonly unknown[]>[]) out.push(...pushed[arg as string]!);
      return out;
    }
    case "object": {
      // Each part as the literal defines it: spreads copy own enumerable properties, keys define (never set) a property.
      let out: Record<PropertyKey, unknown> = {};
      let next = 0;
      for (const part of arg as readonly ObjectPart[]) {
        if ("spread" in part) out = { ...out, ...(v[next++] as object) };
        else if ("computed" in part) {
          const key = v[next++] as PropertyKey;
          out = { ...out, [key]: v[next++] };
        } else out = { ...out, [part.key]: v[next++] };
      }
      return out;
    }
    case "array": {
      const out: unknown[] = [];
      (arg as readonly boolean[]).forEach((spread, i) => (spread ? out.push(...(v[i] as Iterable<unknown>)) : out.push(v[i])));
      return out;
    }
    default: {
      const never: never = op;
      throw new TypeError(`unknown expr op ${String(never)}`);
    }
  }
}
