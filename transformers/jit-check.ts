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
      if (ts.isBinaryExpression(node) && isAssignment(ts, node.operatorToken.kind) && ts.isIdentifier(node.left) && isTracedBy(ts, traced, node.right)) traced.add(node.left.text);
      // What a branch on a traced value assigns is traced after it (a staged if threads it
      // through its cond), objects it writes a property of too (they are copied and threaded).
      if (ts.isIfStatement(node) && isTracedBy(ts, traced, node.expression)) assignedIn(ts, node, traced, true);
      // And what a switch on a traced value assigns (a staged switch is a chain of conds).
      if (ts.isSwitchStatement(node) && switchIsTraced(ts, traced, node)) assignedIn(ts, node.caseBlock, traced, true);
      // So does what a try around op calls assigns (a staged try threads it through its node).
      if (ts.isTryStatement(node) && isTracedBy(ts, traced, node.tryBlock)) assignedIn(ts, node, traced);
      // A for...of over a traced array binds traced items.
      if (ts.isForOfStatement(node) && isTracedBy(ts, traced, node.expression) && ts.isVariableDeclarationList(node.initializer)) {
        for (const d of node.initializer.declarations) bindNames(ts, d.name, traced);
        // The arrays a staged loop pushes onto hold its node's result after it.
        const pushed = (n: TS.Node): void => {
          if (ts.isCallExpression(n) && ts.isPropertyAccessExpression(n.expression) && n.expression.name.text === "push" && ts.isIdentifier(n.expression.expression)) traced.add(n.expression.expression.text);
          if (!ts.isFunctionLike(n)) ts.forEachChild(n, pushed);
        };
        pushed(node.statement);
        assignedIn(ts, node.statement, traced);
      }
      // A catch variable holds an op's error, a traced value in a staged try's handler.
      if (ts.isCatchClause(node) && node.variableDeclaration) bindNames(ts, node.variableDeclaration.name, traced);
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

const BUILTINS = new Set(["Array.isArray", "Number.isInteger", "Number.isNaN", "Number.isFinite", "Number.isSafeInteger", "Object.keys", "Object.values", "Object.entries"]);

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

/** True when a builtin call is staged: `Array.isArray(x)`, `Number.is*(x)`, `Object.keys/values/entries(x)`, `Boolean(x)`, `xs.concat(...)` without spreads. */
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

/** The variable at the root of `o.a[k]!.b` (`o`), or `undefined` when the root is not a name (`this`, a call). */
function rootName(ts: typeof TS, e: TS.Expression): string | undefined {
  let n = e;
  while (ts.isPropertyAccessExpression(n) || ts.isElementAccessExpression(n) || ts.isParenthesizedExpression(n) || ts.isNonNullExpression(n)) n = n.expression;
  return ts.isIdentifier(n) ? n.text : undefined;
}

/**
 * True when the assignment or update `n` ends its branch: its statement is the last of its
 * block but for glue that cannot fail (`cannotFail`), up through blocks and `if`s to one of
 * `roots`. When what follows it fails, nothing after it could have run in eager code either.
 */
function endsBranch(ts: typeof TS, n: TS.Node, roots: ReadonlySet<TS.Node>): boolean {
  let st = n.parent;
  if (st === undefined || !ts.isExpressionStatement(st)) return false;
  for (;;) {
    if (roots.has(st)) return true;
    const p: TS.Node | undefined = st.parent;
    if (p === undefined) return false;
    if (ts.isBlock(p)) {
      if (!p.statements.slice(p.statements.indexOf(st as TS.Statement) + 1).every((after) => cannotFail(ts, after))) return false;
    } else if (!ts.isIfStatement(p)) return false;
    st = p;
  }
}

/**
 * True when evaluating `node` may change state outside it: an assignment, `++`/`--`,
 * `delete`, a mutating method (`push`, `Object.assign`), `call`/`apply`, or a method of a
 * value that is neither traced nor a pure global and whose promise is not awaited. A staged
 * `?:`, `&&`, `||` or `??` runs both sides while tracing, so such a side is not staged.
 *
 * @example
 * ```ts
 * changesState(ts, traced, node); // true for `log.push(x)`
 * ```
 */
export function changesState(ts: typeof TS, traced: ReadonlySet<string>, node: TS.Node): boolean {
  let found = false;
  const look = (n: TS.Node): void => {
    if (found || ts.isFunctionLike(n)) return;
    if (ts.isBinaryExpression(n) && isAssignment(ts, n.operatorToken.kind)) found = true;
    else if ((ts.isPrefixUnaryExpression(n) || ts.isPostfixUnaryExpression(n)) && (n.operator === ts.SyntaxKind.PlusPlusToken || n.operator === ts.SyntaxKind.MinusMinusToken)) found = true;
    else if (ts.isDeleteExpression(n)) found = true;
    else if (ts.isCallExpression(n) && ts.isPropertyAccessExpression(n.expression)) {
      const method = n.expression.name.text;
      const root = rootName(ts, n.expression.expression);
      const awaited = n.parent !== undefined && ts.isAwaitExpression(n.parent);
      // weft's own staging helpers (`globalThis.__weft$.at(...)`, emitted by the rewrite) compute.
      const helper = ts.isPropertyAccessExpression(n.expression.expression) && ts.isIdentifier(n.expression.expression.name) && n.expression.expression.name.text === "__weft$";
      if (!helper && (MUTATORS.has(method) || method === "call" || method === "apply" || (root !== undefined && !traced.has(root) && !PURE_NAMESPACES.has(root) && !awaited))) found = true;
    }
    if (!found) ts.forEachChild(n, look);
  };
  look(node);
  return found;
}

/**
 * True when the default parameters of `fn` can be applied in its body (the staged form):
 * no default reads its own parameter or a later one, which the parameter list's scope
 * would refuse (a ReferenceError) and the body's would not.
 */
export function defaultsStageable(ts: typeof TS, fn: TS.FunctionLikeDeclaration): boolean {
  const params = fn.parameters;
  return params.every((p, i) => {
    if (!p.initializer) return true;
    const later = new Set<string>();
    for (const q of params.slice(i)) bindNames(ts, q.name, later);
    let reads = false;
    const look = (n: TS.Node): void => {
      if (ts.isIdentifier(n) && later.has(n.text) && !isPropertyName(ts, n)) reads = true;
      else ts.forEachChild(n, look);
    };
    look(p.initializer);
    return !reads;
  });
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
  const stagedAt = staged ? stagedStatements(ts, fn, traced) : undefined;
  const uses: UntraceableUse[] = [];
  const flag = (node: TS.Node, reason: string) => {
    const { line, character } = file.getLineAndCharacterOfPosition(node.getStart(file));
    uses.push({ reason, line: line + 1, column: character + 1 });
  };
  fn.parameters.forEach((p, i) => {
    // A default applies when the argument is undefined, which a tracer never is (staged for a plain name).
    if (!staticParams.includes(i) && p.initializer && !(staged && ts.isIdentifier(p.name) && !p.dotDotDotToken && defaultsStageable(ts, fn))) flag(p, "gives a traced parameter a default value");
  });

  const visit = (node: TS.Node): void => {
    if (ts.isVariableDeclaration(node) && node.initializer && isTraced(node.initializer) && !ts.isIdentifier(node.name) && !staged && hasDefault(ts, node.name)) {
      flag(node.name, "destructures a traced value with a default");
    }
    if (ts.isTryStatement(node) && containsCall(ts, node.tryBlock) && !stagedAt?.has(node)) flag(node, "handles failures of op calls with try/catch");
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
    // `r?.v.m()`: the call is part of the chain, which the staging leaves as written.
    if (staged && ts.isCallExpression(node) && node.flags & ts.NodeFlags.OptionalChain && !node.questionDotToken && isTraced(node)) flag(node, "calls a method in an optional chain on a traced value (?.)");
    if (ts.isBinaryExpression(node) && [ts.SyntaxKind.BarBarEqualsToken, ts.SyntaxKind.AmpersandAmpersandEqualsToken, ts.SyntaxKind.QuestionQuestionEqualsToken].includes(node.operatorToken.kind) && isTraced(node.left) && !(staged && ts.isIdentifier(node.left))) {
      flag(node, `assigns a traced value with ${node.operatorToken.getText(file)}`);
    }
    if (staged && ts.isConditionalExpression(node) && isTraced(node.condition) && (changesState(ts, traced, node.whenTrue) || changesState(ts, traced, node.whenFalse))) flag(node, "branches on a traced value (?:) with a side that changes state");
    if (staged && ts.isBinaryExpression(node) && [ts.SyntaxKind.AmpersandAmpersandToken, ts.SyntaxKind.BarBarToken, ts.SyntaxKind.QuestionQuestionToken].includes(node.operatorToken.kind) && isTraced(node.left) && changesState(ts, traced, node.right)) {
      flag(node, `branches on a traced value (${node.operatorToken.getText(file)}) with a side that changes state`);
    }
    if ((ts.isIfStatement(node) || ts.isWhileStatement(node) || ts.isDoStatement(node)) && isTraced(node.expression) && !(ts.isIfStatement(node) && stagedAt?.has(node))) {
      flag(node.expression, `branches on a traced value (${ts.isIfStatement(node) ? "if" : "loop condition"})`);
    } else if (ts.isForStatement(node) && node.condition && isTraced(node.condition)) {
      flag(node.condition, "branches on a traced value (loop condition)");
    } else if (ts.isSwitchStatement(node) && switchIsTraced(ts, traced, node) && !stagedAt?.has(node)) {
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

/**
 * How a staged statement is lowered (transformers/jit-stage.ts): `assigned` are the
 * variables declared outside it that it (and, for an `if` that returns, the statements
 * after it) assigns, threaded through the staged node as its result.
 * - `if`, `returns: false`: no branch returns; the statement becomes
 *   `({ a } = cond(c, () => { then; return { a } }, () => { else; return { a } }))`.
 * - `if`, `returns: true`: a branch returns, and the `if` is a statement of a function body
 *   (or of such a branch); the statements after it move into each branch that can fall
 *   through, and it becomes `return cond(c, () => { then; rest }, () => { else; rest })`.
 * - `try`, `returns: false`: `({ a } = tryA(() => { body; return { a } }, (e) => { handler; return { a } }))`.
 * - `try`, `returns: true`: the body and the handler both end in `return`:
 *   `return tryA(() => { body }, (e) => { handler })`.
 * - `switch`: as an `if`/`else if` chain over its case groups (`switchGroups`), each test
 *   `d === t`, with the discriminant `d` evaluated once.
 */
export interface StagedStatement {
  readonly kind: "if" | "try" | "for" | "switch";
  readonly returns: boolean;
  readonly assigned: readonly string[];
  /** For a `for...of`: the outer arrays its body appends to (`out.push(v)` statements). */
  readonly collects?: readonly string[];
  /** For an `if` or a `switch`: the outer object literals its branches write a property of, copied at the start of each branch (and in `assigned`). */
  readonly copies?: readonly string[];
}

/** Globals whose methods compute and change nothing (their mutating ones, `Object.assign`, are in `MUTATORS`). */
export const PURE_NAMESPACES: ReadonlySet<string> = new Set(["Math", "JSON", "Number", "String", "Object", "Array", "Date", "Promise", "BigInt", "Symbol", "Boolean", "URL", "encodeURIComponent"]);

const MUTATORS = new Set(["push", "pop", "shift", "unshift", "splice", "sort", "reverse", "fill", "copyWithin", "set", "add", "delete", "clear", "assign", "defineProperty", "defineProperties", "setPrototypeOf", "freeze", "seal", "preventExtensions", "deleteProperty"]);

/** The statements of a branch (a block or a single statement). */
export function statementsOf(ts: typeof TS, s: TS.Statement | undefined): readonly TS.Statement[] {
  if (s === undefined) return [];
  return ts.isBlock(s) ? s.statements : [s];
}

/** True when control never falls off the end of `s` (it ends in `return` or `throw` on every path). */
function definitelyEnds(ts: typeof TS, s: TS.Statement | undefined): boolean {
  if (s === undefined) return false;
  if (ts.isReturnStatement(s) || ts.isThrowStatement(s)) return true;
  if (ts.isBlock(s)) return s.statements.length > 0 && definitelyEnds(ts, s.statements[s.statements.length - 1]);
  if (ts.isIfStatement(s)) return definitelyEnds(ts, s.thenStatement) && definitelyEnds(ts, s.elseStatement);
  return false;
}

/** What one branch of a staged `if` runs: its statements, then `rest` when it can fall through. */
export function branchStatements(ts: typeof TS, branch: TS.Statement | undefined, rest: readonly TS.Statement[] | undefined): readonly TS.Statement[] {
  const own = statementsOf(ts, branch);
  return rest !== undefined && rest.length > 0 && !definitelyEnds(ts, branch) ? [...own, ...rest] : own;
}

/** The catch variable of a staged `try` (`undefined` for `catch {`). */
export function catchName(ts: typeof TS, s: TS.TryStatement): string | undefined {
  const decl = s.catchClause?.variableDeclaration;
  return decl && ts.isIdentifier(decl.name) ? decl.name.text : undefined;
}

/** True for a statement that cannot fail: glue assigning a plain variable an inert value (see `inertFinally`). */
function cannotFail(ts: typeof TS, st: TS.Statement): boolean {
  return inertFinally(ts, ts.factory.createBlock([st])) !== undefined;
}

/**
 * The variables a `finally` block assigns when it is inert glue: only statements that assign
 * plain variables (`=`, `+=`, `++`, `--`) from literals, variables, template literals and `+`
 * of those (no call, no await, no property read: nothing that acts or that can fail on a
 * value from an op); `undefined` otherwise.
 *
 * @example
 * ```ts
 * inertFinally(ts, finallyBlock); // ["label"] for `finally { label += "!"; }`
 * ```
 */
export function inertFinally(ts: typeof TS, block: TS.Block): string[] | undefined {
  const inert = (e: TS.Expression): boolean => {
    if (ts.isParenthesizedExpression(e)) return inert(e.expression);
    if (ts.isStringLiteral(e) || ts.isNumericLiteral(e) || ts.isNoSubstitutionTemplateLiteral(e) || ts.isIdentifier(e)) return true;
    if (e.kind === ts.SyntaxKind.TrueKeyword || e.kind === ts.SyntaxKind.FalseKeyword || e.kind === ts.SyntaxKind.NullKeyword) return true;
    if (ts.isTemplateExpression(e)) return e.templateSpans.every((span) => inert(span.expression));
    if (ts.isBinaryExpression(e) && e.operatorToken.kind === ts.SyntaxKind.PlusToken) return inert(e.left) && inert(e.right);
    return false;
  };
  const assigned: string[] = [];
  for (const st of block.statements) {
    if (!ts.isExpressionStatement(st)) return undefined;
    const e = st.expression;
    if (ts.isBinaryExpression(e) && (e.operatorToken.kind === ts.SyntaxKind.EqualsToken || e.operatorToken.kind === ts.SyntaxKind.PlusEqualsToken) && ts.isIdentifier(e.left) && inert(e.right)) assigned.push(e.left.text);
    else if ((ts.isPrefixUnaryExpression(e) || ts.isPostfixUnaryExpression(e)) && (e.operator === ts.SyntaxKind.PlusPlusToken || e.operator === ts.SyntaxKind.MinusMinusToken) && ts.isIdentifier(e.operand)) assigned.push(e.operand.text);
    else return undefined;
  }
  return assigned;
}

/**
 * The `if` statements on a traced condition and the `try`/`catch` statements around op
 * calls in `fn` that the staging transform lowers to staged nodes, and how. The jit check
 * does not flag these; every other one it still flags. A statement is staged when what
 * moves into its branches neither `break`s/`continue`s out, nor `throw`s, nor declares
 * `var`s, functions or classes, nor mutates an object declared outside it (both branches
 * run while tracing), nor assigns an outer variable that a function written outside it
 * reads. A `try` is staged with a `catch` (a plain catch variable) when its returns return
 * an awaited value (eager `try { return op(x) }` does not catch); a `finally` with it only
 * when it returns nothing and the `finally` is inert glue (see `inertFinally`), which then
 * runs after the staged try: when the handler itself fails, eager code runs that glue and
 * fails anyway, so skipping it changes nothing anyone can see.
 *
 * @example
 * ```ts
 * stagedStatements(ts, fnNode, tracedNames(ts, fnNode)).get(ifNode); // { kind: "if", returns: false, assigned: ["label"] }
 * ```
 */
export function stagedStatements(ts: typeof TS, fn: TS.FunctionLikeDeclaration, traced: ReadonlySet<string>): Map<TS.Statement, StagedStatement> {
  const out = new Map<TS.Statement, StagedStatement>();
  const decided = new Set<TS.Statement>();
  if (!fn.body) return out;
  const body = fn.body;

  /**
   * Names read or written inside functions nested in `fn`, outside `moved`. With `after`
   * (a staged statement not inside a loop), arrow functions and function expressions that
   * start after it are left out: they are made once it has run, so they can only see its
   * final assignments, as eagerly (a hoisted function declaration could run inside it).
   */
  const closureNames = (moved: ReadonlySet<TS.Node>, after?: TS.Node): Set<string> => {
    const names = new Set<string>();
    const from = after !== undefined && !inLoop(after) ? after.end : Number.POSITIVE_INFINITY;
    const walk = (n: TS.Node, inner: boolean): void => {
      if (moved.has(n)) return;
      if (inner && ts.isIdentifier(n)) names.add(n.text);
      ts.forEachChild(n, (c) => {
        // Only a closure of `fn`'s own body: one inside another function (a hoisted declaration) may be made earlier.
        if (!inner && (ts.isArrowFunction(c) || ts.isFunctionExpression(c)) && c.pos >= from) return;
        walk(c, inner || ts.isFunctionLike(c));
      });
    };
    walk(body, false);
    return names;
  };
  /**
   * True when the outer variable `name`, which the branches of `stmt` write one property
   * deep, can be copied at the start of each branch (`name = { ...name }`) and threaded
   * like a variable: it is declared once in `fn`, before `stmt`, as an object literal of
   * plain properties, and nothing before `stmt` can hold it under another name (it is only
   * read or written there as `name.key`), so no one can tell the copy from the original.
   */
  const copyableObject = (name: string, stmt: TS.Node): boolean => {
    let declarations = 0;
    let ok = true;
    // What runs before a branch's copy: the condition, a switch's discriminant and case tests.
    const tests: TS.Node[] = ts.isIfStatement(stmt) ? [stmt.expression] : ts.isSwitchStatement(stmt) ? [stmt.expression, ...stmt.caseBlock.clauses.flatMap((c) => (ts.isCaseClause(c) ? [c.expression] : []))] : [];
    const functionOf = (n: TS.Node): TS.Node | undefined => {
      for (let p = n.parent as TS.Node | undefined; p !== undefined; p = p.parent) if (ts.isFunctionLike(p)) return p;
      return undefined;
    };
    const walk = (n: TS.Node): void => {
      if (!ok) return;
      if ((ts.isVariableDeclaration(n) || ts.isParameter(n) || ts.isBindingElement(n) || ts.isFunctionDeclaration(n) || ts.isClassDeclaration(n)) && n.name && ts.isIdentifier(n.name) && n.name.text === name) {
        declarations++;
        const list = n.parent;
        const init = ts.isVariableDeclaration(n) ? n.initializer && skipParens(ts, n.initializer) : undefined;
        const plain = (p: TS.ObjectLiteralElementLike) => (ts.isPropertyAssignment(p) && !(ts.isIdentifier(p.name) || ts.isStringLiteral(p.name) ? p.name.text === "__proto__" : false)) || (ts.isShorthandPropertyAssignment(p) && p.objectAssignmentInitializer === undefined) || ts.isSpreadAssignment(p);
        // Declared in the same function as the statement: a closure run concurrently would thread its copy back over another's.
        if (!ts.isVariableDeclaration(n) || n.end > stmt.pos || functionOf(n) !== functionOf(stmt) || !ts.isVariableDeclarationList(list) || !(list.flags & (ts.NodeFlags.Let | ts.NodeFlags.Const)) || init === undefined || !ts.isObjectLiteralExpression(init) || !init.properties.every(plain)) ok = false;
        if (init !== undefined) ts.forEachChild(init, walk);
        return;
      }
      if (ts.isIdentifier(n) && n.text === name && !isPropertyName(ts, n) && (n.end <= stmt.pos || tests.some((t) => n.pos >= t.pos && n.end <= t.end))) {
        const access = n.parent;
        // A key that is not a plain literal could be `__proto__`, which a `{ ...o }` copy would not keep.
        const plainKey = ts.isPropertyAccessExpression(access) ? access.name.text !== "__proto__" : ts.isElementAccessExpression(access) && (ts.isStringLiteral(access.argumentExpression) || ts.isNumericLiteral(access.argumentExpression)) && access.argumentExpression.text !== "__proto__";
        const keyed = (ts.isPropertyAccessExpression(access) || ts.isElementAccessExpression(access)) && access.expression === n && plainKey;
        const around = keyed ? access.parent : undefined;
        if (!keyed || around === undefined || ts.isDeleteExpression(around) || ((ts.isPropertyAccessExpression(around) || ts.isElementAccessExpression(around)) && around.expression === access) || (ts.isCallExpression(around) && around.expression === access)) ok = false;
      }
      ts.forEachChild(n, walk);
    };
    walk(body);
    return ok && declarations === 1;
  };
  /**
   * True when a failure escaping `n` can be caught in `fn` (it is in a `try` block, or in a
   * `catch` block with a `finally`): a staged branch that fails after assigning loses its
   * copies' values, which a handler would see in eager code.
   */
  const guarded = (n: TS.Node): boolean => {
    // Through nested functions too: a callback's failure reaches `fn`'s try through the promise it returns.
    for (let c = n, p = n.parent as TS.Node | undefined; p !== undefined && p !== body; c = p, p = p.parent) {
      if (ts.isTryStatement(p) && (c === p.tryBlock || (c === p.catchClause && p.finallyBlock !== undefined))) return true;
    }
    return false;
  };
  /** True when every assignment in the branches (`roots`) ends its branch: nothing after it in the branch can fail. */
  const tailAssignments = (roots: ReadonlySet<TS.Node>): boolean => {
    let ok = true;
    const tail = (n: TS.Node) => endsBranch(ts, n, roots);
    const walk = (n: TS.Node): void => {
      if (!ok || ts.isFunctionLike(n)) return;
      if (ts.isBinaryExpression(n) && isAssignment(ts, n.operatorToken.kind) && !tail(n)) ok = false;
      if ((ts.isPrefixUnaryExpression(n) || ts.isPostfixUnaryExpression(n)) && (n.operator === ts.SyntaxKind.PlusPlusToken || n.operator === ts.SyntaxKind.MinusMinusToken) && !tail(n)) ok = false;
      ts.forEachChild(n, walk);
    };
    for (const r of roots) walk(r);
    return ok;
  };
  /** True when `n` is inside a loop of `fn` (outside nested functions). */
  const inLoop = (n: TS.Node): boolean => {
    for (let p = n.parent as TS.Node | undefined; p !== undefined && p !== body; p = p.parent) {
      if (ts.isIterationStatement(p, false) || ts.isFunctionLike(p)) return ts.isIterationStatement(p, false);
    }
    return false;
  };
  /**
   * True for a method call whose promise is awaited (`await judge.score(x)`, or an item of
   * `await Promise.all([...])`): an op method (ops' methods return promises), recorded while
   * tracing; any other promise awaited there stops the trace.
   */
  const awaitedCall = (n: TS.CallExpression): boolean => {
    const p = n.parent;
    if (p !== undefined && ts.isAwaitExpression(p)) return true;
    const list = p !== undefined && ts.isArrayLiteralExpression(p) ? p.parent : undefined;
    return list !== undefined && ts.isCallExpression(list) && ts.isPropertyAccessExpression(list.expression) && ts.isIdentifier(list.expression.expression) && list.expression.expression.text === "Promise" && list.parent !== undefined && ts.isAwaitExpression(list.parent);
  };
  /** The functions `fn` declares (declarations, and `const f = () => ...`), by name. */
  const localFunctions = new Map<string, TS.Node>();
  const findFunctions = (n: TS.Node): void => {
    if (ts.isFunctionDeclaration(n) && n.name) localFunctions.set(n.name.text, n);
    if (ts.isVariableDeclaration(n) && ts.isIdentifier(n.name) && n.initializer && (ts.isArrowFunction(skipParens(ts, n.initializer)) || ts.isFunctionExpression(skipParens(ts, n.initializer)))) localFunctions.set(n.name.text, skipParens(ts, n.initializer));
    ts.forEachChild(n, findFunctions);
  };
  findFunctions(body);
  /**
   * True when calling the body's own function `name` may change something outside it: it
   * assigns or writes a property of (or calls a mutating method on) a name it does not
   * declare, deletes, or calls such a function. A helper that only computes is fine.
   */
  const changesOuter = (name: string, seen: Set<string> = new Set()): boolean => {
    const helper = localFunctions.get(name);
    if (helper === undefined || seen.has(name)) return false;
    seen.add(name);
    const own = new Set<string>();
    const declare = (n: TS.Node): void => {
      if ((ts.isVariableDeclaration(n) || ts.isParameter(n) || ts.isBindingElement(n)) && n.name) bindNames(ts, n.name as TS.BindingName, own);
      ts.forEachChild(n, declare);
    };
    declare(helper);
    const outer = (e: TS.Expression) => {
      const root = rootName(ts, e);
      return root === undefined || !own.has(root);
    };
    let found = false;
    const look = (n: TS.Node): void => {
      if (found) return;
      if (ts.isBinaryExpression(n) && isAssignment(ts, n.operatorToken.kind) && outer(n.left)) found = true;
      else if ((ts.isPrefixUnaryExpression(n) || ts.isPostfixUnaryExpression(n)) && (n.operator === ts.SyntaxKind.PlusPlusToken || n.operator === ts.SyntaxKind.MinusMinusToken) && outer(n.operand)) found = true;
      else if (ts.isDeleteExpression(n)) found = true;
      else if (ts.isCallExpression(n) && ts.isPropertyAccessExpression(n.expression) && MUTATORS.has(n.expression.name.text)) found = true;
      else if (ts.isCallExpression(n) && ts.isIdentifier(n.expression) && changesOuter(n.expression.text, seen)) found = true;
      else ts.forEachChild(n, look);
    };
    ts.forEachChild(helper, look);
    return found;
  };
  const throws = (n: TS.Node): boolean => ts.isThrowStatement(n) || (!ts.isFunctionLike(n) && ts.forEachChild(n, throws) === true);

  /** The outer variables `moved` assigns, or `undefined` when it cannot be lowered faithfully. */
  const threadable = (moved: readonly TS.Statement[], noThrow: readonly TS.Node[], bound: readonly string[], appendable: ReadonlySet<string> = new Set(), stmt?: TS.Node, copies?: string[]): string[] | undefined => {
    const declared = new Set<string>(bound);
    /** Roots written deeper than one property (`o.a.b = v`) or through a method (`o.push(v)`): never copied. */
    const deep = new Set<string>();
    const assigned = new Set<string>();
    const nestedAssigned = new Set<string>();
    let ok = true;
    const mutated: string[] = [];
    const target = (e: TS.Expression, into: Set<string>): void => {
      const t = skipParens(ts, e);
      if (ts.isIdentifier(t)) into.add(t.text);
      else if (ts.isPropertyAccessExpression(t) || ts.isElementAccessExpression(t)) {
        const root = rootName(ts, t);
        if (root === undefined) ok = false;
        else {
          mutated.push(root);
          if (!ts.isIdentifier(skipParens(ts, t.expression))) deep.add(root);
        }
      } else if (ts.isObjectLiteralExpression(t)) {
        for (const p of t.properties) {
          if (ts.isShorthandPropertyAssignment(p)) into.add(p.name.text);
          else if (ts.isPropertyAssignment(p)) target(p.initializer, into);
          else if (ts.isSpreadAssignment(p)) target(p.expression, into);
          else ok = false;
        }
      } else if (ts.isArrayLiteralExpression(t)) {
        for (const el of t.elements) if (!ts.isOmittedExpression(el)) target(ts.isSpreadElement(el) ? el.expression : el, into);
      } else if (ts.isBinaryExpression(t) && t.operatorToken.kind === ts.SyntaxKind.EqualsToken) target(t.left, into);
      else ok = false;
    };
    /** Names declared in `moved` whose value may be an object from outside (`const p = o`): writing them writes that object. */
    const aliases = new Set<string>();
    const fresh = (e: TS.Expression | undefined): boolean => {
      if (e === undefined) return true;
      const v = skipParens(ts, e);
      return ts.isObjectLiteralExpression(v) || ts.isArrayLiteralExpression(v) || ts.isCallExpression(v) || ts.isAwaitExpression(v) || ts.isNewExpression(v) || ts.isLiteralExpression(v) || ts.isTemplateExpression(v);
    };
    const walk = (n: TS.Node, loops: number, nested: boolean): void => {
      if (!ok) return;
      if (ts.isVariableDeclaration(n) || ts.isParameter(n) || ts.isBindingElement(n)) {
        if (ts.isIdentifier(n.name)) declared.add(n.name.text);
        if (ts.isVariableDeclaration(n) && !fresh(n.initializer)) bindNames(ts, n.name, aliases);
        else if (ts.isVariableDeclaration(n) && !ts.isIdentifier(n.name)) bindNames(ts, n.name, aliases);
        // A loop's binding and a callback's parameter hold values from outside.
        if (ts.isVariableDeclaration(n) && n.parent !== undefined && (ts.isForOfStatement(n.parent.parent) || ts.isForInStatement(n.parent.parent))) bindNames(ts, n.name, aliases);
        if (ts.isParameter(n)) bindNames(ts, n.name, aliases);
      }
      // `p = o` after `let p`: p holds an outer object.
      if (ts.isBinaryExpression(n) && n.operatorToken.kind === ts.SyntaxKind.EqualsToken && ts.isIdentifier(skipParens(ts, n.left)) && !fresh(n.right)) aliases.add((skipParens(ts, n.left) as TS.Identifier).text);
      // A method called on a value from outside may change it (`tracker.hit()`), and both branches run while tracing; traced values' methods are recorded, not run.
      if (ts.isCallExpression(n) && ts.isPropertyAccessExpression(n.expression)) {
        const method = n.expression.name.text;
        const root = rootName(ts, n.expression.expression);
        if (method === "call" || method === "apply" || method === "bind") ok = false;
        else if (root !== undefined && !PURE_NAMESPACES.has(root) && !traced.has(root) && (!declared.has(root) || aliases.has(root)) && !MUTATORS.has(method) && !awaitedCall(n)) ok = false;
      }
      // A function of `fn`'s own that changes what it closes over, called in a branch: both branches run while tracing.
      if (!nested && ts.isCallExpression(n) && ts.isIdentifier(n.expression) && changesOuter(n.expression.text)) ok = false;
      if (!nested) {
        if (ts.isVariableDeclarationList(n) && !(n.flags & (ts.NodeFlags.Let | ts.NodeFlags.Const))) ok = false;
        if (ts.isFunctionDeclaration(n) || ts.isClassDeclaration(n) || ts.isYieldExpression(n) || ts.isLabeledStatement(n)) ok = false;
        if ((ts.isBreakStatement(n) || ts.isContinueStatement(n)) && (n.label !== undefined || loops === 0)) ok = false;
      }
      if (ts.isBinaryExpression(n) && isAssignment(ts, n.operatorToken.kind)) target(n.left, nested ? nestedAssigned : assigned);
      if ((ts.isPrefixUnaryExpression(n) || ts.isPostfixUnaryExpression(n)) && (n.operator === ts.SyntaxKind.PlusPlusToken || n.operator === ts.SyntaxKind.MinusMinusToken)) target(n.operand, nested ? nestedAssigned : assigned);
      if (ts.isDeleteExpression(n)) target(n.expression, nestedAssigned);
      if (ts.isCallExpression(n) && ts.isPropertyAccessExpression(n.expression) && MUTATORS.has(n.expression.name.text)) {
        const root = rootName(ts, n.expression.expression);
        // `Object.assign(o, ...)`: the first argument is what changes.
        const changed = root === "Object" || root === "Reflect" ? n.arguments[0] && rootName(ts, n.arguments[0]) : root;
        if (changed === undefined) ok = false;
        else if (!(appendable.has(changed) && n.expression.name.text === "push")) {
          mutated.push(changed);
          deep.add(changed);
        }
      }
      const inLoop = ts.isIterationStatement(n, false) || ts.isSwitchStatement(n);
      ts.forEachChild(n, (c) => walk(c, loops + (inLoop ? 1 : 0), nested || ts.isFunctionLike(c)));
    };
    for (const m of moved) walk(m, 0, false);
    if (!ok || noThrow.some(throws)) return undefined;
    if (mutated.some((m) => aliases.has(m))) return undefined;
    const outer = [...new Set(mutated.filter((m) => !declared.has(m)))];
    // An outer object literal written one property deep is copied in each branch and threaded (`copyableObject`).
    if (outer.some((m) => copies === undefined || deep.has(m) || nestedAssigned.has(m) || !copyableObject(m, stmt!))) return undefined;
    copies?.push(...outer);
    if ([...nestedAssigned].some((m) => !declared.has(m))) return undefined;
    const threaded = [...new Set([...assigned, ...outer])].filter((a) => !declared.has(a));
    if (threaded.includes("this") || threaded.includes("arguments")) return undefined;
    // A closure made in a branch would keep the branch's copy of a threaded variable, not the variable.
    if (threaded.length > 0) {
      const inClosures = new Set<string>();
      const collect = (n: TS.Node, inner: boolean): void => {
        if (inner && ts.isIdentifier(n)) inClosures.add(n.text);
        ts.forEachChild(n, (c) => collect(c, inner || ts.isFunctionLike(c)));
      };
      for (const m of moved) collect(m, false);
      if (threaded.some((t) => inClosures.has(t))) return undefined;
    }
    if (threaded.length > 0) {
      const closures = closureNames(new Set(moved), stmt);
      if (threaded.some((a) => closures.has(a))) return undefined;
    }
    return threaded;
  };

  const decideIf = (s: TS.IfStatement, rest: readonly TS.Statement[] | undefined): StagedStatement | undefined => {
    const returns = containsReturn(ts, s.thenStatement) || (s.elseStatement !== undefined && containsReturn(ts, s.elseStatement));
    if (returns && rest === undefined) return undefined;
    const moved: TS.Statement[] = returns ? [...branchStatements(ts, s.thenStatement, rest), ...branchStatements(ts, s.elseStatement, rest)] : [...statementsOf(ts, s.thenStatement), ...statementsOf(ts, s.elseStatement)];
    const copies: string[] = [];
    const assigned = threadable(moved, [s.thenStatement, ...(s.elseStatement ? [s.elseStatement] : [])], [], undefined, s, copies);
    if (assigned && assigned.length > 0 && guarded(s) && !tailAssignments(new Set([s.thenStatement, ...(s.elseStatement ? [s.elseStatement] : [])]))) return undefined;
    return assigned && { kind: "if", returns, assigned, copies };
  };

  /** A `switch` on a traced value whose case groups lower to an if/else-if chain (`switchGroups`). */
  const decideSwitch = (s: TS.SwitchStatement, rest: readonly TS.Statement[] | undefined): StagedStatement | undefined => {
    const groups = switchGroups(ts, s);
    if (groups === undefined) return undefined;
    const returns = groups.some((g) => g.body.some((st) => containsReturn(ts, st)));
    if (returns && rest === undefined) return undefined;
    const moved = groups.flatMap((g) => (returns ? branchList(ts, g.body, rest) : g.body));
    if (returns && !groups.some((g) => g.isDefault)) moved.push(...(rest ?? []));
    const copies: string[] = [];
    const assigned = threadable(moved, groups.flatMap((g) => g.body), [], undefined, s, copies);
    if (assigned && assigned.length > 0 && guarded(s)) return undefined;
    return assigned && { kind: "switch", returns, assigned, copies };
  };

  const decideTry = (s: TS.TryStatement, rest: readonly TS.Statement[] | undefined): StagedStatement | undefined => {
    const handler = s.catchClause;
    if (handler === undefined) return undefined;
    if (s.finallyBlock !== undefined) {
      const assigned = inertFinally(ts, s.finallyBlock);
      if (assigned === undefined || containsReturn(ts, s.tryBlock) || containsReturn(ts, handler.block)) return undefined;
      const closures = closureNames(new Set(), s);
      if (assigned.some((a) => closures.has(a))) return undefined;
    }
    // The lowering awaits the body: only a body that awaits is in an async function.
    const awaitsIn = (n: TS.Node): boolean => ts.isAwaitExpression(n) || (!ts.isFunctionLike(n) && ts.forEachChild(n, awaitsIn) === true);
    if (!awaitsIn(s.tryBlock)) return undefined;
    if (handler.variableDeclaration !== undefined && !ts.isIdentifier(handler.variableDeclaration.name)) return undefined;
    const returns = containsReturn(ts, s.tryBlock) || containsReturn(ts, handler.block);
    // Both end in return: what follows is unreachable (and dropped), unless something in it is hoisted.
    if (returns && (rest === undefined || !definitelyEnds(ts, s.tryBlock) || !definitelyEnds(ts, handler.block))) return undefined;
    if (returns && rest!.some((r) => ts.isFunctionDeclaration(r) || (ts.isVariableStatement(r) && !(r.declarationList.flags & (ts.NodeFlags.Let | ts.NodeFlags.Const))))) return undefined;
    // `try { return op(x) }` (not awaited) does not catch the op's failure in eager code.
    const mayBeCall = (e: TS.Expression): boolean => {
      let n = e;
      while (ts.isParenthesizedExpression(n) || ts.isAsExpression(n) || ts.isNonNullExpression(n) || ts.isSatisfiesExpression(n)) n = n.expression;
      if (ts.isCallExpression(n)) return true;
      if (ts.isConditionalExpression(n)) return mayBeCall(n.whenTrue) || mayBeCall(n.whenFalse);
      if (ts.isBinaryExpression(n) && [ts.SyntaxKind.AmpersandAmpersandToken, ts.SyntaxKind.BarBarToken, ts.SyntaxKind.QuestionQuestionToken, ts.SyntaxKind.CommaToken].includes(n.operatorToken.kind)) return mayBeCall(n.left) || mayBeCall(n.right);
      return false;
    };
    let unawaitedReturn = false;
    const look = (n: TS.Node): void => {
      if (ts.isReturnStatement(n) && n.expression && mayBeCall(n.expression)) unawaitedReturn = true;
      else if (!ts.isFunctionLike(n)) ts.forEachChild(n, look);
    };
    look(s.tryBlock);
    if (unawaitedReturn) return undefined;
    const name = catchName(ts, s);
    // The handler sees what the body assigned before it failed, which only the failure
    // point decides: a handler reading a variable the body assigns is not staged.
    // An assignment that ends the body (`v = await op(x)` as its last statement, or in an
    // `if` that is) leaves the old value when it fails, as the handler's copy has it.
    const early = new Set<string>();
    const tryBody = new Set([s.tryBlock]);
    const tail = (n: TS.Node) => endsBranch(ts, n, tryBody);
    const walkAssigned = (n: TS.Node): void => {
      if (ts.isBinaryExpression(n) && isAssignment(ts, n.operatorToken.kind) && ts.isIdentifier(n.left) && !tail(n)) early.add(n.left.text);
      // `[v] = [...]`, `({ v } = o)`: every name the pattern assigns.
      if (ts.isBinaryExpression(n) && n.operatorToken.kind === ts.SyntaxKind.EqualsToken && (ts.isArrayLiteralExpression(skipParens(ts, n.left)) || ts.isObjectLiteralExpression(skipParens(ts, n.left)))) {
        const names = (e: TS.Node): void => {
          if (ts.isIdentifier(e) && !isPropertyName(ts, e)) early.add(e.text);
          else if (ts.isShorthandPropertyAssignment(e)) early.add(e.name.text);
          else ts.forEachChild(e, names);
        };
        names(n.left);
      }
      if ((ts.isPrefixUnaryExpression(n) || ts.isPostfixUnaryExpression(n)) && ts.isIdentifier(n.operand) && (n.operator === ts.SyntaxKind.PlusPlusToken || n.operator === ts.SyntaxKind.MinusMinusToken) && !tail(n)) early.add(n.operand.text);
      if (!ts.isFunctionLike(n)) ts.forEachChild(n, walkAssigned);
    };
    walkAssigned(s.tryBlock);
    // Declared in the body: its own. An outer variable assigned before the body can fail
    // keeps that value in eager code, which the staged try cannot tell from the failure point.
    const own = new Set<string>();
    const declaredIn = (n: TS.Node): void => {
      if (ts.isVariableDeclaration(n)) bindNames(ts, n.name, own);
      if (!ts.isFunctionLike(n)) ts.forEachChild(n, declaredIn);
    };
    declaredIn(s.tryBlock);
    if ([...early].some((e) => !own.has(e))) return undefined;
    // The handler's copies are lost the same way when it fails inside an outer try.
    if (guarded(s) && !tailAssignments(new Set([handler.block]))) return undefined;
    const assigned = threadable([...s.tryBlock.statements, ...handler.block.statements], [s.tryBlock, handler.block], name === undefined ? [] : [name], undefined, s);
    return assigned && { kind: "try", returns, assigned };
  };

  /**
   * A `for (const x of xs)` over a traced array whose body awaits: a staged map run one item
   * at a time (as eager code runs it), when the body assigns no outer variable, never leaves
   * the loop early, and changes no outer object but arrays it appends to with
   * `out.push(v)` statements, arrays declared in this function as literals and not used
   * before the loop nor by a nested function outside it.
   */
  const decideFor = (s: TS.ForOfStatement): StagedStatement | undefined => {
    if (s.awaitModifier !== undefined || !isTracedBy(ts, traced, s.expression)) return undefined;
    const init = s.initializer;
    if (!ts.isVariableDeclarationList(init) || init.declarations.length !== 1 || !(init.flags & (ts.NodeFlags.Let | ts.NodeFlags.Const))) return undefined;
    const awaitsIn = (n: TS.Node): boolean => ts.isAwaitExpression(n) || (!ts.isFunctionLike(n) && ts.forEachChild(n, awaitsIn) === true);
    if (!awaitsIn(s.statement)) return undefined;
    const stmts = statementsOf(ts, s.statement);
    if (stmts.some((st) => containsReturn(ts, st))) return undefined;
    // `out.push(v)` statements, anywhere in the body (outside nested functions).
    const pushes = new Map<string, number>();
    const findPushes = (n: TS.Node): void => {
      if (ts.isExpressionStatement(n) && ts.isCallExpression(n.expression) && ts.isPropertyAccessExpression(n.expression.expression) && n.expression.expression.name.text === "push" && ts.isIdentifier(n.expression.expression.expression) && n.expression.arguments.length === 1 && !ts.isSpreadElement(n.expression.arguments[0]!)) {
        const name = n.expression.expression.expression.text;
        pushes.set(name, (pushes.get(name) ?? 0) + 1);
      }
      if (!ts.isFunctionLike(n)) ts.forEachChild(n, findPushes);
    };
    stmts.forEach(findPushes);
    const collects = [...pushes.keys()];
    for (const name of collects) {
      // Read only by its push statements inside the body.
      let uses = 0;
      const count = (n: TS.Node): void => {
        if (ts.isIdentifier(n) && n.text === name && !isPropertyName(ts, n)) uses++;
        ts.forEachChild(n, count);
      };
      stmts.forEach(count);
      if (uses !== pushes.get(name)) return undefined;
      if (!declaredAsLiteralBefore(name, s)) return undefined;
    }
    // A binding with defaults (`for (const { v = d } of xs)`) is not applied by the staged map.
    if (hasDefault(ts, init.declarations[0]!.name)) return undefined;
    // The appends happen once the whole loop succeeded: a failure part way, caught in `fn`, would lose them.
    if (collects.length > 0 && guarded(s)) return undefined;
    const bound = new Set<string>();
    bindNames(ts, init.declarations[0]!.name, bound);
    const assigned = threadable(stmts, [s.statement], [...bound], new Set(collects));
    if (assigned === undefined || assigned.length > 0) return undefined;
    if (collects.length > 0 && collects.some((c) => closureNames(new Set([s])).has(c))) return undefined;
    return { kind: "for", returns: false, assigned: [], collects };
  };
  /** `name` is declared in `fn` as `const|let name = [...]` and not mentioned between there and `loop`. */
  const declaredAsLiteralBefore = (name: string, loop: TS.Node): boolean => {
    let state = "before" as "before" | "declared" | "bad" | "ok";
    const walk = (n: TS.Node): void => {
      if (state === "bad" || state === "ok") return;
      if (n === loop) {
        if (state === "declared") state = "ok";
        return;
      }
      if (ts.isVariableDeclaration(n) && ts.isIdentifier(n.name) && n.name.text === name) {
        if (state !== "before" || !n.initializer || !ts.isArrayLiteralExpression(n.initializer) || !ts.isVariableDeclarationList(n.parent ?? n) || !((n.parent as TS.VariableDeclarationList).flags & (ts.NodeFlags.Let | ts.NodeFlags.Const))) state = "bad";
        else state = "declared";
        ts.forEachChild(n.initializer ?? n, walk);
        return;
      }
      if (state === "declared" && ts.isIdentifier(n) && n.text === name && !isPropertyName(ts, n)) {
        state = "bad";
        return;
      }
      ts.forEachChild(n, walk);
    };
    walk(body);
    return state === "ok";
  };

  const scanList = (stmts: readonly TS.Statement[], top: boolean): void => {
    stmts.forEach((s, i) => {
      if (ts.isIfStatement(s) || ts.isTryStatement(s) || ts.isSwitchStatement(s)) return scanStatement(s, top ? stmts.slice(i + 1) : undefined);
      scanNode(s);
    });
  };
  const scanStatement = (s: TS.IfStatement | TS.TryStatement | TS.SwitchStatement, rest: readonly TS.Statement[] | undefined): void => {
    let decision: StagedStatement | undefined;
    if (!decided.has(s)) {
      decided.add(s);
      if (ts.isIfStatement(s)) decision = isTracedBy(ts, traced, s.expression) ? decideIf(s, rest) : undefined;
      else if (ts.isSwitchStatement(s)) decision = switchIsTraced(ts, traced, s) ? decideSwitch(s, rest) : undefined;
      else decision = containsCall(ts, s.tryBlock) ? decideTry(s, rest) : undefined;
      if (decision) out.set(s, decision);
    } else decision = out.get(s);
    if (ts.isSwitchStatement(s)) {
      if (!decision) return ts.forEachChild(s, scanNode);
      scanNode(s.expression);
      const groups = switchGroups(ts, s)!;
      for (const g of groups) {
        g.tests.forEach(scanNode);
        scanList(decision.returns ? branchList(ts, g.body, rest) : g.body, decision.returns);
      }
      if (decision.returns && !groups.some((g) => g.isDefault)) scanList(rest ?? [], true);
      return;
    }
    if (ts.isTryStatement(s)) {
      if (!decision) {
        scanNode(s.tryBlock);
        if (s.catchClause) scanNode(s.catchClause.block);
        if (s.finallyBlock) scanNode(s.finallyBlock);
        return;
      }
      scanList(s.tryBlock.statements, decision.returns);
      scanList(s.catchClause!.block.statements, decision.returns);
      if (s.finallyBlock) scanList(s.finallyBlock.statements, false);
      return;
    }
    scanNode(s.expression);
    if (decision?.returns) {
      scanList(branchStatements(ts, s.thenStatement, rest), true);
      scanList(branchStatements(ts, s.elseStatement, rest), true);
    } else {
      scanList(statementsOf(ts, s.thenStatement), false);
      scanList(statementsOf(ts, s.elseStatement), false);
    }
  };
  const scanNode = (n: TS.Node): void => {
    if (ts.isIfStatement(n) || ts.isTryStatement(n) || ts.isSwitchStatement(n)) return scanStatement(n, undefined);
    if (ts.isForOfStatement(n) && !decided.has(n)) {
      decided.add(n);
      const decision = decideFor(n);
      if (decision) out.set(n, decision);
      scanNode(n.expression);
      // The body is a function of its own once staged: its statements are a function body.
      return decision ? scanList(statementsOf(ts, n.statement), false) : scanNode(n.statement);
    }
    if (ts.isBlock(n)) return scanList(n.statements, false);
    if (ts.isFunctionLike(n) && "body" in n && n.body && ts.isBlock(n.body)) return scanList(n.body.statements, true);
    ts.forEachChild(n, scanNode);
  };
  if (ts.isBlock(body)) scanList(body.statements, true);
  else scanNode(body);
  return out;
}

/** True when `node` holds a `return` outside nested functions. */
function containsReturn(ts: typeof TS, node: TS.Node): boolean {
  if (ts.isReturnStatement(node)) return true;
  if (ts.isFunctionLike(node)) return false;
  return ts.forEachChild(node, (c) => containsReturn(ts, c) || undefined) === true;
}

function isAssignment(ts: typeof TS, kind: TS.SyntaxKind): boolean {
  return kind >= ts.SyntaxKind.FirstAssignment && kind <= ts.SyntaxKind.LastAssignment;
}

/** Adds the identifiers `node` assigns (`=`, `op=`, `++`, `--`), outside nested functions; with `written`, the variables whose property it sets too. */
function assignedIn(ts: typeof TS, node: TS.Node, into: Set<string>, written = false): void {
  const walk = (n: TS.Node): void => {
    if (ts.isBinaryExpression(n) && isAssignment(ts, n.operatorToken.kind) && ts.isIdentifier(n.left)) into.add(n.left.text);
    if (written && ts.isBinaryExpression(n) && isAssignment(ts, n.operatorToken.kind) && (ts.isPropertyAccessExpression(n.left) || ts.isElementAccessExpression(n.left)) && ts.isIdentifier(n.left.expression)) into.add(n.left.expression.text);
    if ((ts.isPrefixUnaryExpression(n) || ts.isPostfixUnaryExpression(n)) && ts.isIdentifier(n.operand) && (n.operator === ts.SyntaxKind.PlusPlusToken || n.operator === ts.SyntaxKind.MinusMinusToken)) into.add(n.operand.text);
    if (!ts.isFunctionLike(n)) ts.forEachChild(n, walk);
  };
  walk(node);
}

/** True when a `switch` tests a traced value: its discriminant, or one of its case tests. */
export function switchIsTraced(ts: typeof TS, traced: ReadonlySet<string>, s: TS.SwitchStatement): boolean {
  return isTracedBy(ts, traced, s.expression) || s.caseBlock.clauses.some((c) => ts.isCaseClause(c) && isTracedBy(ts, traced, c.expression));
}

/** One group of a lowered `switch`: the case tests that share a body (`default` among them when `isDefault`), and the body without its closing `break`. */
export interface SwitchGroup {
  readonly tests: readonly TS.Expression[];
  readonly isDefault: boolean;
  readonly body: TS.Statement[];
}

/**
 * The case groups of a `switch` that lowers to `if (d === a || d === b) { body } else if ...`,
 * or `undefined` when it does not lower faithfully: a group other than the last falls
 * through into the next (it must end in `break`, `return` or `throw`), a case test could
 * act or fail (only literals, names and property reads of names), or a group uses a name
 * declared in another group (one scope in the switch, one per branch once lowered).
 *
 * @example
 * ```ts
 * switchGroups(ts, node); // [{ tests: [1, 2], isDefault: false, body: [...] }, { tests: [], isDefault: true, body: [...] }]
 * ```
 */
export function switchGroups(ts: typeof TS, s: TS.SwitchStatement): SwitchGroup[] | undefined {
  const groups: SwitchGroup[] = [];
  let tests: TS.Expression[] = [];
  let isDefault = false;
  const clauses = s.caseBlock.clauses;
  const simple = (e: TS.Expression): boolean => {
    if (ts.isParenthesizedExpression(e)) return simple(e.expression);
    if (ts.isStringLiteral(e) || ts.isNumericLiteral(e) || ts.isBigIntLiteral(e) || ts.isNoSubstitutionTemplateLiteral(e) || ts.isIdentifier(e)) return true;
    if (e.kind === ts.SyntaxKind.TrueKeyword || e.kind === ts.SyntaxKind.FalseKeyword || e.kind === ts.SyntaxKind.NullKeyword) return true;
    if (ts.isPrefixUnaryExpression(e) && e.operator === ts.SyntaxKind.MinusToken) return ts.isNumericLiteral(e.operand);
    return ts.isPropertyAccessExpression(e) && !e.questionDotToken && simple(e.expression);
  };
  for (let i = 0; i < clauses.length; i++) {
    const c = clauses[i]!;
    if (ts.isCaseClause(c)) {
      if (!simple(c.expression)) return undefined;
      tests.push(c.expression);
    } else isDefault = true;
    if (c.statements.length === 0 && i < clauses.length - 1) continue;
    let body = c.statements.length === 1 && ts.isBlock(c.statements[0]!) ? [...(c.statements[0] as TS.Block).statements] : [...c.statements];
    const last = body[body.length - 1];
    if (last !== undefined && ts.isBreakStatement(last) && last.label === undefined) body = body.slice(0, -1);
    else if (i < clauses.length - 1 && !definitelyEndsList(ts, body)) return undefined;
    groups.push({ tests, isDefault, body });
    tests = [];
    isDefault = false;
  }
  // Names declared at a group's top level belong to the whole switch block.
  const declared = groups.map((g) => {
    const names = new Set<string>();
    for (const st of g.body) {
      if (ts.isVariableStatement(st)) for (const d of st.declarationList.declarations) bindNames(ts, d.name, names);
      else if ((ts.isFunctionDeclaration(st) || ts.isClassDeclaration(st)) && st.name) names.add(st.name.text);
    }
    return names;
  });
  for (let i = 0; i < groups.length; i++) {
    const others = new Set(declared.flatMap((d, j) => (j === i ? [] : [...d])));
    if (others.size > 0 && groups[i]!.body.some((st) => readsAny(ts, st, others, true))) return undefined;
  }
  // A case test reading a name declared in a case (the lowered test runs outside the switch's scope).
  const all = new Set(declared.flatMap((d) => [...d]));
  if (all.size > 0 && groups.some((g) => g.tests.some((t) => readsAny(ts, t, all, true)))) return undefined;
  // A property read can throw: eager code evaluates tests one at a time, the lowering a group's together (and never a default group's).
  if (groups.some((g) => (g.tests.length > 1 || g.isDefault) && g.tests.some((t) => !ts.isIdentifier(skipParens(ts, t)) && ts.isPropertyAccessExpression(skipParens(ts, t))))) return undefined;
  return groups;
}

/** A statement list's `branchStatements`: the list, then `rest` when it can fall off its end. */
export function branchList(ts: typeof TS, body: readonly TS.Statement[], rest: readonly TS.Statement[] | undefined): TS.Statement[] {
  return rest !== undefined && rest.length > 0 && !definitelyEndsList(ts, body) ? [...body, ...rest] : [...body];
}

function definitelyEndsList(ts: typeof TS, body: readonly TS.Statement[]): boolean {
  const last = body[body.length - 1];
  return last !== undefined && definitelyEnds(ts, last);
}


/**
 * True when `node` mentions one of `names` as a variable (nested functions included), not
 * counting plain `name = value` targets unless `anyUse`.
 */
function readsAny(ts: typeof TS, node: TS.Node, names: ReadonlySet<string>, anyUse = false): boolean {
  let found = false;
  const look = (n: TS.Node): void => {
    if (found) return;
    if (!anyUse && ts.isBinaryExpression(n) && n.operatorToken.kind === ts.SyntaxKind.EqualsToken && ts.isIdentifier(n.left)) return look(n.right);
    if (ts.isIdentifier(n) && names.has(n.text) && !isPropertyName(ts, n)) found = true;
    else ts.forEachChild(n, look);
  };
  look(node);
  return found;
}
