/**
 * A build-time check for what a runtime tracer cannot see. A Proxy traps property reads,
 * calls and conversion to primitives, but not truthiness (`if (x)`, `!x`, `x && y`) or
 * strict equality (`x === y`): on a traced value those silently take one branch while
 * tracing, and the plan would freeze it for every later input.
 *
 * So the transformer looks at the body of each jitted function: values derived from its
 * parameters or from awaited calls are "traced"; a branch or an equality test on a traced
 * value makes the function run eagerly (with a warning naming the line), unless the logic
 * is staged with `cond()` or moved into an op. The analysis is deliberately conservative:
 * a false alarm costs speed, a miss would cost correctness.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import type * as TS from "typescript";

/** weft's own source folders (weft compiled from source, as in its own tests): its API (cond, map) is not a helper. */
const WEFT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..").replace(/[\\/]dist$/, "");
const WEFT_SOURCES = ["compiler", "runtime", "decorators", "transformers", "index.ts"].map((d) => path.join(WEFT_ROOT, d));

/** True for a function of the user's own code: not in node_modules, not weft's own source. */
function isUserFunction(fn: TS.Node): boolean {
  const file = path.resolve(fn.getSourceFile().fileName);
  return !file.includes(`${path.sep}node_modules${path.sep}`) && !WEFT_SOURCES.some((dir) => file.startsWith(dir));
}

/**
 * The names that hold traced values in `fn`: its parameters (but `staticParams`), names
 * declared or assigned from traced expressions, and parameters of callbacks passed to
 * `map()`. Flow-insensitive, to a fixed point: conservative.
 *
 * @example
 * ```ts
 * tracedNames(ts, fnNode, []); // Set { "q", "draft" }
 * ```
 */
export function tracedNames(ts: typeof TS, fn: TS.FunctionLikeDeclaration, staticParams: readonly number[] = []): Set<string> {
  const traced = new Set<string>();
  fn.parameters.forEach((p, i) => {
    if (!staticParams.includes(i)) bindNames(ts, p.name, traced);
  });
  for (let size = -1; size !== traced.size; ) {
    size = traced.size;
    const visit = (node: TS.Node): void => {
      if (ts.isVariableDeclaration(node) && node.initializer && isTracedBy(ts, traced, node.initializer)) bindNames(ts, node.name, traced);
      if (ts.isBinaryExpression(node) && node.operatorToken.kind === ts.SyntaxKind.EqualsToken && ts.isIdentifier(node.left) && isTracedBy(ts, traced, node.right)) traced.add(node.left.text);
      if (ts.isCallExpression(node) && ts.isIdentifier(node.expression) && node.expression.text === "map") {
        const body = node.arguments[1];
        if (body && ts.isFunctionLike(body)) body.parameters.forEach((p) => bindNames(ts, p.name, traced));
      }
      ts.forEachChild(node, visit);
    };
    if (fn.body) visit(fn.body);
  }
  return traced;
}

/**
 * True when `node` reads a traced name or awaits something (an op result is traced),
 * outside nested functions.
 *
 * @example
 * ```ts
 * isTracedBy(ts, new Set(["q"]), expr); // true for `q.length > 3`
 * ```
 */
export function isTracedBy(ts: typeof TS, traced: ReadonlySet<string>, node: TS.Node | undefined): boolean {
  if (!node) return false;
  let found = false;
  const look = (n: TS.Node): void => {
    if (found) return;
    if (ts.isIdentifier(n) && traced.has(n.text) && !isPropertyName(ts, n)) found = true;
    else if (ts.isAwaitExpression(n)) found = true;
    else if (!ts.isFunctionLike(n)) ts.forEachChild(n, look);
  };
  look(node);
  return found;
}

const BUILTINS = new Set(["Array.isArray", "Number.isInteger", "Number.isNaN", "Number.isFinite", "Number.isSafeInteger"]);

/** True when the staging rewrite handles this optional chain: property and element reads only, no calls. */
export function stageableChain(ts: typeof TS, node: TS.Expression): boolean {
  let n: TS.Expression = node;
  while (ts.isPropertyAccessExpression(n) || ts.isElementAccessExpression(n) || ts.isNonNullExpression(n) || ts.isCallExpression(n)) {
    if (ts.isCallExpression(n) || ts.isNonNullExpression(n)) return false;
    if (!(n.flags & ts.NodeFlags.OptionalChain)) break;
    n = n.expression;
  }
  return true;
}

/** True when a builtin call is staged: `Array.isArray(x)`, `Number.is*(x)`, `Boolean(x)`, `xs.concat(...)` without spreads. */
export function stageableBuiltin(ts: typeof TS, node: TS.CallExpression): string | undefined {
  if (node.arguments.some((a) => ts.isSpreadElement(a))) return undefined;
  const callee = node.expression;
  if (ts.isIdentifier(callee) && callee.text === "Boolean" && node.arguments.length === 1) return "Boolean";
  if (ts.isPropertyAccessExpression(callee) && !callee.questionDotToken) {
    if (ts.isIdentifier(callee.expression)) {
      const name = `${callee.expression.text}.${callee.name.text}`;
      if (BUILTINS.has(name) && node.arguments.length === 1) return name;
      if (name === "Object.is" && node.arguments.length === 2) return name;
    }
    if (callee.name.text === "concat") return "concat";
  }
  return undefined;
}

/** One construct the tracer could not follow, with its line (1-based) and column. */
export interface UntraceableUse {
  readonly reason: string;
  readonly line: number;
  readonly column: number;
}

/**
 * The branches and equality tests on traced values inside a jitted function `fn`.
 * `staticParams` are parameter indices passed by value (`jit(f, { static: [...] })`).
 *
 * @example
 * ```ts
 * const uses = untraceableUses(ts, fnNode, []);
 * // [{ reason: "branches on a traced value (if)", line: 4, column: 7 }]
 * ```
 */
export function untraceableUses(
  ts: typeof TS,
  fn: TS.FunctionLikeDeclaration,
  staticParams: readonly number[] = [],
  resolve?: (callee: TS.Expression) => TS.FunctionLikeDeclaration | undefined,
  seen: Set<TS.Node> = new Set(),
  staged = true,
): UntraceableUse[] {
  const file = fn.getSourceFile();
  seen.add(fn);
  const traced = tracedNames(ts, fn, staticParams);
  const isTraced = (node: TS.Node | undefined) => isTracedBy(ts, traced, node);
  const uses: UntraceableUse[] = [];
  const flag = (node: TS.Node, reason: string) => {
    const { line, character } = file.getLineAndCharacterOfPosition(node.getStart(file));
    uses.push({ reason, line: line + 1, column: character + 1 });
  };
  fn.parameters.forEach((p, i) => {
    // A default applies when the argument is undefined, which a tracer never is (staged for a plain name).
    if (!staticParams.includes(i) && p.initializer && !(staged && ts.isIdentifier(p.name) && !p.dotDotDotToken)) flag(p, "gives a traced parameter a default value");
  });

  const visit = (node: TS.Node): void => {
    if (ts.isVariableDeclaration(node) && node.initializer && isTraced(node.initializer) && !ts.isIdentifier(node.name) && !staged && hasDefault(ts, node.name)) {
      flag(node.name, "destructures a traced value with a default");
    }
    if (ts.isTryStatement(node) && containsCall(ts, node.tryBlock)) flag(node, "handles failures of op calls with try/catch");
    if (ts.isCallExpression(node)) {
      const callee = node.expression;
      const builtin = staged ? stageableBuiltin(ts, node) : undefined;
      if (ts.isPropertyAccessExpression(callee)) {
        const method = callee.name.text;
        const receiver = callee.expression;
        if (ts.isIdentifier(receiver) && receiver.text === "Promise" && (method === "allSettled" || method === "race" || method === "any")) {
          flag(node, `combines op calls with Promise.${method}`);
        } else if ((method === "catch" || method === "finally" || (method === "then" && node.arguments.length >= 2)) && (isTraced(receiver) || ts.isCallExpression(skipParens(ts, receiver)))) {
          flag(node, `handles an op call's outcome with .${method}()`);
        } else if (builtin === undefined && node.arguments.some((a) => isTraced(a)) && ts.isIdentifier(receiver) && (receiver.text === "Array" || receiver.text === "Number" || receiver.text === "Object") && /^is/.test(method)) {
          flag(node, `tests a traced value with ${receiver.text}.${method}`);
        } else if (builtin === undefined && method === "concat" && node.arguments.some((a) => isTraced(a)) && !isTraced(receiver)) {
          flag(node, "passes a traced value to concat()");
        }
      } else if (builtin === undefined && ts.isIdentifier(callee) && callee.text === "Boolean" && node.arguments.some((a) => isTraced(a))) {
        flag(node, "tests the truthiness of a traced value (Boolean)");
      } else if (resolve && node.arguments.some((a) => isTraced(a))) {
        // A helper the jitted function calls runs during the trace too: its branches count.
        const helper = resolve(callee);
        if (helper && !seen.has(helper) && isUserFunction(helper)) {
          const name = ts.isIdentifier(callee) ? callee.text : "a helper";
          // Helpers in the same file are staged with the jitted function; others are only checked.
          const sameFile = helper.getSourceFile() === file;
          for (const use of untraceableUses(ts, helper, [], resolve, seen, staged && sameFile)) {
            if (sameFile) uses.push({ ...use, reason: `${use.reason} in ${name}()` });
            else flag(node, `${use.reason} in ${name}() (${helper.getSourceFile().fileName.split("/").pop()}:${use.line})`);
          }
        }
      }
    }
    if ((ts.isPropertyAccessExpression(node) || ts.isElementAccessExpression(node) || ts.isCallExpression(node)) && node.questionDotToken && isTraced(node.expression)) {
      if (!(staged && !ts.isCallExpression(node) && stageableChain(ts, node))) flag(node, "reads a traced value with optional chaining (?.)");
    }
    if ((ts.isIfStatement(node) || ts.isWhileStatement(node) || ts.isDoStatement(node)) && isTraced(node.expression)) {
      flag(node.expression, `branches on a traced value (${ts.isIfStatement(node) ? "if" : "loop condition"})`);
    } else if (ts.isForStatement(node) && node.condition && isTraced(node.condition)) {
      flag(node.condition, "branches on a traced value (loop condition)");
    } else if (ts.isSwitchStatement(node) && isTraced(node.expression)) {
      flag(node.expression, "branches on a traced value (switch)");
    } else if (!staged) {
      // What the staging transform rewrites (jit-stage.ts) is flagged only where it does not run.
      if (ts.isConditionalExpression(node) && isTraced(node.condition)) {
        flag(node.condition, "branches on a traced value (?:)");
      } else if (ts.isPrefixUnaryExpression(node) && node.operator === ts.SyntaxKind.ExclamationToken && isTraced(node.operand)) {
        flag(node, "tests the truthiness of a traced value (!)");
      } else if (ts.isTypeOfExpression(node) && isTraced(node.expression)) {
        flag(node, "tests the type of a traced value (typeof)");
      } else if (ts.isBinaryExpression(node)) {
        const op = node.operatorToken.kind;
        const shortCircuit = op === ts.SyntaxKind.AmpersandAmpersandToken || op === ts.SyntaxKind.BarBarToken || op === ts.SyntaxKind.QuestionQuestionToken;
        const equality = op === ts.SyntaxKind.EqualsEqualsEqualsToken || op === ts.SyntaxKind.ExclamationEqualsEqualsToken || op === ts.SyntaxKind.EqualsEqualsToken || op === ts.SyntaxKind.ExclamationEqualsToken;
        if (shortCircuit && isTraced(node.left)) flag(node, `branches on a traced value (${node.operatorToken.getText(file)})`);
        else if (equality && (isTraced(node.left) || isTraced(node.right))) flag(node, `compares a traced value (${node.operatorToken.getText(file)})`);
      }
    }
    // A nested function's body is traced too when it runs during the trace (cond/map
    // callbacks); other callbacks are rare in glue code, so the check stays conservative.
    ts.forEachChild(node, visit);
  };
  if (fn.body) visit(fn.body);
  return uses;
}

function hasDefault(ts: typeof TS, name: TS.BindingName): boolean {
  if (ts.isIdentifier(name)) return false;
  return name.elements.some((e) => !ts.isOmittedExpression(e) && (e.initializer !== undefined || hasDefault(ts, e.name)));
}

function skipParens(ts: typeof TS, node: TS.Expression): TS.Expression {
  while (ts.isParenthesizedExpression(node)) node = node.expression;
  return node;
}

/** True when `node` makes a call or awaits (outside nested functions). */
function containsCall(ts: typeof TS, node: TS.Node): boolean {
  let found = false;
  const look = (n: TS.Node): void => {
    if (found) return;
    if (ts.isCallExpression(n) || ts.isAwaitExpression(n)) found = true;
    else if (!ts.isFunctionLike(n)) ts.forEachChild(n, look);
  };
  look(node);
  return found;
}

function bindNames(ts: typeof TS, name: TS.BindingName, into: Set<string>): void {
  if (ts.isIdentifier(name)) {
    into.add(name.text);
    return;
  }
  for (const element of name.elements) if (!ts.isOmittedExpression(element)) bindNames(ts, element.name, into);
}

/** `x` in `a.x` or `{ x: 1 }` is a property name, not a read of the variable `x`. */
function isPropertyName(ts: typeof TS, node: TS.Identifier): boolean {
  const parent = node.parent as TS.Node | undefined;
  if (parent === undefined) return false;
  return (ts.isPropertyAccessExpression(parent) && parent.name === node) || (ts.isPropertyAssignment(parent) && parent.name === node);
}
