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
import type * as TS from "typescript";

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
export function untraceableUses(ts: typeof TS, fn: TS.FunctionLikeDeclaration, staticParams: readonly number[] = []): UntraceableUse[] {
  const file = fn.getSourceFile();
  const traced = new Set<string>();
  fn.parameters.forEach((p, i) => {
    if (!staticParams.includes(i)) bindNames(ts, p.name, traced);
  });
  const uses: UntraceableUse[] = [];
  const flag = (node: TS.Node, reason: string) => {
    const { line, character } = file.getLineAndCharacterOfPosition(node.getStart(file));
    uses.push({ reason, line: line + 1, column: character + 1 });
  };

  /** True when `node` reads a traced name or awaits something (an op result is traced). */
  const isTraced = (node: TS.Node | undefined): boolean => {
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
  };

  const visit = (node: TS.Node): void => {
    // Taint flows through declarations and assignments.
    if (ts.isVariableDeclaration(node) && node.initializer && isTraced(node.initializer)) bindNames(ts, node.name, traced);
    if (ts.isBinaryExpression(node) && node.operatorToken.kind === ts.SyntaxKind.EqualsToken && isTraced(node.right) && ts.isIdentifier(node.left)) traced.add(node.left.text);
    // Parameters of callbacks passed to map()/cond() receive traced values.
    if (ts.isCallExpression(node) && ts.isIdentifier(node.expression) && node.expression.text === "map") {
      const body = node.arguments[1];
      if (body && ts.isFunctionLike(body)) body.parameters.forEach((p) => bindNames(ts, p.name, traced));
    }

    if ((ts.isIfStatement(node) || ts.isWhileStatement(node) || ts.isDoStatement(node)) && isTraced(node.expression)) {
      flag(node.expression, `branches on a traced value (${ts.isIfStatement(node) ? "if" : "loop condition"})`);
    } else if (ts.isForStatement(node) && node.condition && isTraced(node.condition)) {
      flag(node.condition, "branches on a traced value (loop condition)");
    } else if (ts.isConditionalExpression(node) && isTraced(node.condition)) {
      flag(node.condition, "branches on a traced value (?:)");
    } else if (ts.isSwitchStatement(node) && isTraced(node.expression)) {
      flag(node.expression, "branches on a traced value (switch)");
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
    // A nested function's body is traced too when it runs during the trace (cond/map
    // callbacks); other callbacks are rare in glue code, so the check stays conservative.
    ts.forEachChild(node, visit);
  };
  if (fn.body) visit(fn.body);
  return uses;
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
  const parent = node.parent;
  return (ts.isPropertyAccessExpression(parent) && parent.name === node) || (ts.isPropertyAssignment(parent) && parent.name === node);
}
