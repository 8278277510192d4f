/**
 * Build-time staging (after TensorFlow's AutoGraph): inside jitted bodies, and helpers in
 * the same file that they call, the transformer rewrites what a Proxy-based tracer cannot
 * see into calls of weft's staging helpers (runtime/stage.ts), which record graph nodes on
 * traced values and do exactly what the original code did on plain ones:
 *
 * | source                              | emitted                                         |
 * |-------------------------------------|-------------------------------------------------|
 * | `` `Critique: ${d}` ``              | `G.tpl(["Critique: ", ""], d)`                  |
 * | `a + b`, `a === b`, `a < b`, ...    | `G.bin("+", a, b)`                              |
 * | `!a`, `-a`, `typeof a`              | `G.un("!", a)`, `G.un("neg", a)`, ...           |
 * | `r?.v.w`, `r?.[k]`                  | `G.chain(r, [{optional, key}...], ...keys)`     |
 * | `a ?? b`, `a && b`, `a \|\| b`        | `G.nullish(a, () => b)` (`await G.nullishA(a, async () => b)` when `b` awaits) |
 * | `c ? t : e`                         | `G.cond(c, () => t, () => e)` (or `condA`)      |
 * | `Array.isArray(x)`, `Number.is*(x)`, `Boolean(x)`, `xs.concat(y)` | `G.fn("Array.isArray", x)` |
 * | `(x = init) => ...`                 | `(x = void 0) => { x = G.dflt(x, () => init); ... }` |
 * | `const { v = d } = r`               | `const { v: t } = r, v = G.dflt(t, () => d)`    |
 * | `if (c) { a = f() } else { ... }`   | `({ a } = await G.condA(c, ((a) => async () => { a = f(); return { a } })(a), ...))` |
 * | `if (c) return f(); rest`           | `return await G.condA(c, async () => { return f() }, async () => { rest })` |
 * | `for (const x of xs) { out.push(await f(x)) }` | `{ const r = await G.forOf(xs, async (x) => { const p = { out: [] }; p.out.push(await f(x)); return p; }); out = G.appendAll(out, r, "out"); }` |
 * | `try { a = await f() } catch (e) { a = g(e) }` | `({ a } = await G.tryA(((a) => async () => { ...; return { a } })(a), ((a) => async (e) => { ... })(a)))` |
 *
 * `G` is `globalThis.__weft$`. Only expressions whose operands are traced (derived from a
 * parameter or an awaited call, as transformers/jit-check.ts decides) are rewritten; what
 * this module stages, the check does not flag, and what it cannot stage (`while`/`for` loops, `switch`,
 * an `if`, `try` or `for...of` that `jit-check.ts`'s `stagedStatements` refuses) the check still flags, so that
 * function runs eagerly. A staged `if` whose branch returns takes the statements after it
 * into each branch that can fall through (AutoGraph's continuation form), so both paths of
 * the function are traced and the plan runs only the taken one.
 */
import type * as TS from "typescript";
import { branchList, branchStatements, catchName, changesState, defaultsStageable, isTracedBy, stageableBuiltin, stageableChain, stagedStatements, statementsOf, switchGroups, tracedNames, type StagedStatement } from "./jit-check.js";

const BINARY: ReadonlyMap<number, string> = new Map();
/** Staging helpers that compute a value and nothing else (no op call, no branch). */
const PURE_HELPERS: ReadonlySet<string> = new Set(["bin", "un", "tpl", "chain", "fn", "obj", "arr", "at", "mark"]);
/** Callees never marked (`stageFunction` `marked`): globals that are not ops. */
const UNMARKED: ReadonlySet<string> = new Set(["String", "Number", "Boolean", "BigInt", "Symbol", "Array", "Object", "Date", "Error", "TypeError", "RangeError", "Promise", "parseInt", "parseFloat", "isNaN", "isFinite", "encodeURIComponent", "decodeURIComponent", "encodeURI", "decodeURI", "structuredClone", "queueMicrotask", "setTimeout", "setImmediate", "clearTimeout", "require", "cond", "map"]);
/** `a op= b` to the operator it applies. */
const COMPOUND: ReadonlyMap<number, string> = new Map();
const UNARY: ReadonlyMap<number, string> = new Map();

function tables(ts: typeof TS): void {
  if (BINARY.size > 0) return;
  const k = ts.SyntaxKind;
  const b = BINARY as Map<number, string>;
  for (const [kind, op] of [
    [k.PlusToken, "+"],
    [k.MinusToken, "-"],
    [k.AsteriskToken, "*"],
    [k.SlashToken, "/"],
    [k.PercentToken, "%"],
    [k.AsteriskAsteriskToken, "**"],
    [k.LessThanToken, "<"],
    [k.GreaterThanToken, ">"],
    [k.LessThanEqualsToken, "<="],
    [k.GreaterThanEqualsToken, ">="],
    [k.EqualsEqualsToken, "=="],
    [k.ExclamationEqualsToken, "!="],
    [k.EqualsEqualsEqualsToken, "==="],
    [k.ExclamationEqualsEqualsToken, "!=="],
    [k.AmpersandToken, "&"],
    [k.BarToken, "|"],
    [k.CaretToken, "^"],
    [k.LessThanLessThanToken, "<<"],
    [k.GreaterThanGreaterThanToken, ">>"],
    [k.GreaterThanGreaterThanGreaterThanToken, ">>>"],
    [k.InKeyword, "in"],
  ] as const)
    b.set(kind, op);
  const c = COMPOUND as Map<number, string>;
  for (const [kind, op] of [
    [k.PlusEqualsToken, "+"],
    [k.MinusEqualsToken, "-"],
    [k.AsteriskEqualsToken, "*"],
    [k.SlashEqualsToken, "/"],
    [k.PercentEqualsToken, "%"],
    [k.AsteriskAsteriskEqualsToken, "**"],
    [k.AmpersandEqualsToken, "&"],
    [k.BarEqualsToken, "|"],
    [k.CaretEqualsToken, "^"],
    [k.LessThanLessThanEqualsToken, "<<"],
    [k.GreaterThanGreaterThanEqualsToken, ">>"],
    [k.GreaterThanGreaterThanGreaterThanEqualsToken, ">>>"],
  ] as const)
    c.set(kind, op);
  const u = UNARY as Map<number, string>;
  for (const [kind, op] of [
    [k.ExclamationToken, "!"],
    [k.MinusToken, "neg"],
    [k.PlusToken, "pos"],
    [k.TildeToken, "~"],
  ] as const)
    u.set(kind, op);
}

/**
 * Rewrites one function (already visited by the weft transformer) with its staged forms.
 * `staticParams` are parameters passed by value (never traced).
 *
 * @example
 * ```ts
 * const staged = stageFunction(ts, context, fn, []);
 * ```
 */
export function stageFunction<F extends TS.FunctionLikeDeclaration>(ts: typeof TS, context: TS.TransformationContext, fn: F, staticParams: readonly number[], moduleMark?: TS.Identifier): F {
  tables(ts);
  const { factory } = context;
  const source = (ts.getOriginalNode(fn) as TS.Node).getSourceFile() as TS.SourceFile | undefined;
  /**
   * `f(a, b)` as `f(a, G.at(b, module, f, line, column))` (`(G.mark(...), f)()` without
   * arguments): the call's TypeScript position, noted right before the call, is what an op
   * called while tracing records, with no stack read (decorators/stack.ts `markCall`).
   */
  const marked = (n: TS.CallExpression, original: TS.CallExpression): TS.Expression => {
    const callee = n.expression;
    if (moduleMark === undefined || source === undefined || !ts.isIdentifier(callee) || n.questionDotToken || n.flags & ts.NodeFlags.OptionalChain || original.pos < 0 || UNMARKED.has(callee.text)) return n;
    const at = source.getLineAndCharacterOfPosition((ts.getOriginalNode(original.expression) as TS.Node).getStart(source));
    const where = [moduleMark, factory.createIdentifier(callee.text), factory.createNumericLiteral(at.line + 1), factory.createNumericLiteral(at.character + 1)];
    const args = [...n.arguments];
    const last = args.pop();
    if (last === undefined) return factory.updateCallExpression(n, factory.createParenthesizedExpression(factory.createComma(call("mark", where), callee)), n.typeArguments, []);
    const value = ts.isSpreadElement(last) ? factory.createSpreadElement(call("at", [last.expression, ...where])) : call("at", [last, ...where]);
    return factory.updateCallExpression(n, callee, n.typeArguments, [...args, value]);
  };
  const traced = tracedNames(ts, fn, staticParams);
  const isTraced = (n: TS.Node | undefined) => isTracedBy(ts, traced, n);
  const G = () => factory.createPropertyAccessExpression(factory.createIdentifier("globalThis"), "__weft$");
  const call = (name: string, args: readonly TS.Expression[]) => factory.createCallExpression(factory.createPropertyAccessExpression(G(), name), undefined, args);
  const str = (s: string) => factory.createStringLiteral(s);
  let temp = 0;
  const fresh = () => {
    const name = `__weft_d${temp++}`;
    traced.add(name);
    return factory.createIdentifier(name);
  };

  /** `() => e`, or `async () => e` with the call awaited when `e` awaits. */
  const thunk = (e: TS.Expression, async: boolean) =>
    factory.createArrowFunction(async ? [factory.createModifier(ts.SyntaxKind.AsyncKeyword)] : undefined, undefined, [], undefined, factory.createToken(ts.SyntaxKind.EqualsGreaterThanToken), e);
  const lazy = (name: string, head: TS.Expression[], branches: TS.Expression[]) => {
    const async = branches.some((b) => awaits(ts, b));
    const made = call(async ? `${name}A` : name, [...head, ...branches.map((b) => thunk(b, async))]);
    return async ? factory.createParenthesizedExpression(factory.createAwaitExpression(made)) : made;
  };

  const chainOf = (node: TS.Expression): TS.Expression | undefined => {
    const links: { optional: boolean; key?: string | number }[] = [];
    const keys: TS.Expression[] = [];
    let n: TS.Expression = node;
    while ((ts.isPropertyAccessExpression(n) || ts.isElementAccessExpression(n)) && n.flags & ts.NodeFlags.OptionalChain) {
      const optional = n.questionDotToken !== undefined;
      if (ts.isPropertyAccessExpression(n)) {
        if (!ts.isIdentifier(n.name)) return undefined;
        links.unshift({ optional, key: n.name.text });
      } else {
        const arg = n.argumentExpression;
        if (ts.isStringLiteral(arg)) links.unshift({ optional, key: arg.text });
        else if (ts.isNumericLiteral(arg)) links.unshift({ optional, key: Number(arg.text) });
        else {
          links.unshift({ optional });
          keys.unshift(visit(arg) as TS.Expression);
        }
      }
      n = n.expression;
    }
    // What is left below the chain's links is its base, an ordinary expression.
    if (!isTraced(n)) return undefined;
    const linkArray = factory.createArrayLiteralExpression(
      links.map((l) =>
        factory.createObjectLiteralExpression([
          factory.createPropertyAssignment("optional", l.optional ? factory.createTrue() : factory.createFalse()),
          ...(l.key === undefined ? [] : [factory.createPropertyAssignment("key", typeof l.key === "number" ? factory.createNumericLiteral(l.key) : str(l.key))]),
        ]),
      ),
    );
    return call("chain", [visit(n) as TS.Expression, linkArray, ...keys]);
  };

  // `if` statements on traced values and `try` around op calls (decided by jit-check.ts, which then does not flag them).
  const ifs = stagedStatements(ts, fn, traced);
  const topBlocks = new Set<TS.Node>();
  const bodies = (n: TS.Node): void => {
    if (ts.isFunctionLike(n) && "body" in n && n.body && ts.isBlock(n.body)) topBlocks.add(n.body);
    ts.forEachChild(n, bodies);
  };
  bodies(fn);

  /** `(a, b) => thunk` called with `a, b`: the branch works on its own copies of the variables it assigns. */
  const threaded = (assigned: readonly string[], stmts: readonly TS.Statement[], async: boolean, param?: string): TS.Expression => {
    const own = param === undefined ? [] : [factory.createParameterDeclaration(undefined, undefined, param)];
    const inner = factory.createArrowFunction(async ? [factory.createModifier(ts.SyntaxKind.AsyncKeyword)] : undefined, undefined, own, undefined, factory.createToken(ts.SyntaxKind.EqualsGreaterThanToken), factory.createBlock(stmts, true));
    if (assigned.length === 0) return inner;
    const params = assigned.map((a) => factory.createParameterDeclaration(undefined, undefined, a));
    const outer = factory.createArrowFunction(undefined, undefined, params, undefined, factory.createToken(ts.SyntaxKind.EqualsGreaterThanToken), inner);
    return factory.createCallExpression(factory.createParenthesizedExpression(outer), undefined, assigned.map((a) => factory.createIdentifier(a)));
  };
  /** The assignment back of what a staged statement threads, or the statement itself. */
  const finish = (d: StagedStatement, value: TS.Expression): TS.Statement => {
    if (d.returns) return factory.createReturnStatement(value);
    if (d.assigned.length === 0) return factory.createExpressionStatement(value);
    const pattern = factory.createObjectLiteralExpression(d.assigned.map((a) => factory.createShorthandPropertyAssignment(a)));
    return factory.createExpressionStatement(factory.createParenthesizedExpression(factory.createAssignment(pattern, value)));
  };
  /** `try { A } catch (e) { B }` as `await G.tryA(async () => { A }, async (e) => { B })`, threading what it assigns. */
  const stagedTry = (s: TS.TryStatement, d: StagedStatement): TS.Statement => {
    const result = d.assigned.length > 0 && !d.returns ? [factory.createReturnStatement(factory.createObjectLiteralExpression(d.assigned.map((a) => factory.createShorthandPropertyAssignment(a))))] : [];
    const body = threaded(d.assigned, [...stageStatements(s.tryBlock.statements, d.returns), ...result], true);
    const handler = threaded(d.assigned, [...stageStatements(s.catchClause!.block.statements, d.returns), ...result], true, catchName(ts, s) ?? "__weft_error");
    const staged = finish(d, factory.createAwaitExpression(call("tryA", [body, handler])));
    // An inert `finally` (jit-check.ts inertFinally) runs after the staged try, as glue.
    return s.finallyBlock === undefined ? staged : factory.createBlock([staged, ...stageStatements(s.finallyBlock.statements, false)], true);
  };
  /** The arrays staged loops append to: declared `let` so the loop's result can replace them. */
  const collected = new Set<string>([...ifs.values()].flatMap((d) => [...(d.collects ?? []), ...(d.copies ?? [])]));
  /**
   * `for (const x of xs) { ...; out.push(v) }` as
   * `{ const r = await G.forOf(xs, async (x) => { const p = { out: [] }; ...; p.out.push(v); return p; }); out = G.appendAll(out, r, "out"); }`.
   */
  const stagedFor = (s: TS.ForOfStatement, d: StagedStatement): TS.Statement => {
    const collects = d.collects ?? [];
    const p = factory.createUniqueName("__weft_pushed");
    const r = factory.createUniqueName("__weft_items");
    const rename = (n: TS.Node): TS.Node => {
      if (ts.isExpressionStatement(n) && ts.isCallExpression(n.expression) && ts.isPropertyAccessExpression(n.expression.expression) && ts.isIdentifier(n.expression.expression.expression) && collects.includes(n.expression.expression.expression.text) && n.expression.expression.name.text === "push") {
        const target = factory.createPropertyAccessExpression(p, n.expression.expression.expression.text);
        return factory.updateExpressionStatement(n, factory.updateCallExpression(n.expression, factory.createPropertyAccessExpression(target, "push"), undefined, n.expression.arguments.map((a) => ts.visitNode(a, rename) as TS.Expression)));
      }
      return ts.isFunctionLike(n) ? n : ts.visitEachChild(n, rename, context);
    };
    const own = statementsOf(ts, s.statement).map((st) => ts.visitNode(st, rename) as TS.Statement);
    const decl = (s.initializer as TS.VariableDeclarationList).declarations[0]!;
    const start = collects.length > 0 ? [factory.createVariableStatement(undefined, factory.createVariableDeclarationList([factory.createVariableDeclaration(p, undefined, undefined, factory.createObjectLiteralExpression(collects.map((c) => factory.createPropertyAssignment(c, factory.createArrayLiteralExpression([])))))], ts.NodeFlags.Const))] : [];
    const result = collects.length > 0 ? [factory.createReturnStatement(p)] : [];
    const body = factory.createArrowFunction([factory.createModifier(ts.SyntaxKind.AsyncKeyword)], undefined, [factory.createParameterDeclaration(undefined, undefined, decl.name)], undefined, factory.createToken(ts.SyntaxKind.EqualsGreaterThanToken), factory.createBlock([...start, ...stageStatements(own, false), ...result], true));
    const loop = factory.createAwaitExpression(call("forOf", [visit(s.expression) as TS.Expression, body]));
    if (collects.length === 0) return factory.createExpressionStatement(loop);
    return factory.createBlock(
      [
        factory.createVariableStatement(undefined, factory.createVariableDeclarationList([factory.createVariableDeclaration(r, undefined, undefined, loop)], ts.NodeFlags.Const)),
        ...collects.map((c) => factory.createExpressionStatement(factory.createAssignment(factory.createIdentifier(c), call("appendAll", [factory.createIdentifier(c), r, str(c)])))),
      ],
      true,
    );
  };
  /** `cond(test, () => { then }, () => { otherwise })` over already staged branches, threading what they assign. */
  const condStatement = (test: TS.Expression, branches: readonly (readonly TS.Statement[])[], d: StagedStatement): TS.Statement => {
    const async = branches.some((stmts) => stmts.some((st) => awaits(ts, st)));
    const result = d.assigned.length > 0 && !d.returns ? [factory.createReturnStatement(factory.createObjectLiteralExpression(d.assigned.map((a) => factory.createShorthandPropertyAssignment(a))))] : [];
    // `o = G.copy(o)` (`{ ...o }`): each branch writes its own copy of an outer object (both run while tracing).
    const copy = (d.copies ?? []).map((c) => factory.createExpressionStatement(factory.createAssignment(factory.createIdentifier(c), call("copy", [factory.createIdentifier(c)]))));
    const thunks = branches.map((stmts) => threaded(d.assigned, [...copy, ...stmts, ...result], async));
    const made = call(async ? "condA" : "cond", [test, ...thunks]);
    return finish(d, async ? factory.createAwaitExpression(made) : made);
  };
  const stagedIf = (s: TS.IfStatement, d: StagedStatement, rest: readonly TS.Statement[] | undefined): TS.Statement => {
    const own = [statementsOf(ts, s.thenStatement), statementsOf(ts, s.elseStatement)];
    const moved = d.returns ? [branchStatements(ts, s.thenStatement, rest), branchStatements(ts, s.elseStatement, rest)] : own;
    const test = visit(s.expression) as TS.Expression;
    return condStatement(test, moved.map((stmts) => stageStatements(stmts, d.returns)), d);
  };
  /**
   * `switch (e) { case a: case b: A; break; default: B }` as
   * `{ const d = e; cond(d === a | d === b, () => { A }, () => { B }) }` (nested for more groups;
   * the tests are plain, so testing them all changes nothing).
   */
  const stagedSwitch = (s: TS.SwitchStatement, d: StagedStatement, rest: readonly TS.Statement[] | undefined): TS.Statement => {
    const groups = switchGroups(ts, s)!;
    const disc = factory.createUniqueName("__weft_case");
    traced.add(disc.text);
    const branch = (body: readonly TS.Statement[]): TS.Statement[] => stageStatements(d.returns ? branchList(ts, body, rest) : body, d.returns);
    const fallback = groups.find((g) => g.isDefault);
    let otherwise: TS.Statement[] = fallback ? branch(fallback.body) : d.returns ? stageStatements(rest ?? [], true) : [];
    for (const g of [...groups].reverse()) {
      if (g.isDefault) continue;
      const test = g.tests.map((t) => call("bin", [str("==="), disc, visit(t) as TS.Expression])).reduce((a, b) => call("bin", [str("|"), a, b]));
      otherwise = [condStatement(test, [branch(g.body), otherwise], d)];
    }
    const head = factory.createVariableStatement(undefined, factory.createVariableDeclarationList([factory.createVariableDeclaration(disc, undefined, undefined, visit(s.expression) as TS.Expression)], ts.NodeFlags.Const));
    return factory.createBlock([head, ...otherwise], true);
  };

  /** A statement list; in a function body (`top`), a staged `if` that returns takes the statements after it. */
  const stageStatements = (stmts: readonly TS.Statement[], top: boolean): TS.Statement[] => {
    const out: TS.Statement[] = [];
    for (let i = 0; i < stmts.length; i++) {
      const s = stmts[i]!;
      const d = ifs.get(s);
      if (d?.returns && top) {
        // A staged try that returns on both paths leaves the rest unreachable.
        out.push(ts.isTryStatement(s) ? stagedTry(s, d) : ts.isSwitchStatement(s) ? stagedSwitch(s, d, stmts.slice(i + 1)) : stagedIf(s as TS.IfStatement, d, stmts.slice(i + 1)));
        break;
      }
      out.push(visit(s) as TS.Statement);
    }
    return out;
  };

  const visit = (node: TS.Node): TS.Node => {
    if (ts.isBlock(node)) return factory.updateBlock(node, stageStatements(node.statements, topBlocks.has(node)));
    if (ts.isExpressionStatement(node) && ts.isPostfixUnaryExpression(node.expression) && isTraced(node.expression.operand)) {
      // `a++;` (its value unused) is `++a;`, staged below.
      return visit(factory.updateExpressionStatement(node, factory.createPrefixUnaryExpression(node.expression.operator, node.expression.operand)));
    }
    if (ts.isForOfStatement(node)) {
      const d = ifs.get(node);
      if (d) return stagedFor(node, d);
    }
    if (ts.isIfStatement(node) || ts.isTryStatement(node) || ts.isSwitchStatement(node)) {
      const d = ifs.get(node);
      if (d && !d.returns) return ts.isTryStatement(node) ? stagedTry(node, d) : ts.isSwitchStatement(node) ? stagedSwitch(node, d, undefined) : stagedIf(node, d, undefined);
    }
    // An optional call (`a?.b()`, `a?.()`) is not staged: the check flags it.
    if (ts.isCallExpression(node) && node.flags & ts.NodeFlags.OptionalChain) return node;
    // Nested functions keep their own `this`/`arguments`; their bodies are staged too (map and cond callbacks).
    if ((ts.isPropertyAccessExpression(node) || ts.isElementAccessExpression(node)) && node.flags & ts.NodeFlags.OptionalChain && stageableChain(ts, node)) {
      const staged = chainOf(node);
      if (staged) return staged;
    }
    if (ts.isVariableDeclarationList(node)) return stageDestructuring(node);
    const n = ts.visitEachChild(node, visit, context);
    if (ts.isTemplateExpression(n) && n.templateSpans.some((s) => isTraced(s.expression))) {
      const strings = [n.head.text, ...n.templateSpans.map((s) => s.literal.text)];
      return call("tpl", [factory.createArrayLiteralExpression(strings.map(str)), ...n.templateSpans.map((s) => s.expression)]);
    }
    if (ts.isBinaryExpression(n)) {
      const kind = n.operatorToken.kind;
      const op = BINARY.get(kind);
      if (op !== undefined && (isTraced(n.left) || isTraced(n.right)) && !ts.isPrivateIdentifier(n.left)) return call("bin", [str(op), n.left, n.right]);
      if (kind === ts.SyntaxKind.BarBarEqualsToken || kind === ts.SyntaxKind.AmpersandAmpersandEqualsToken || kind === ts.SyntaxKind.QuestionQuestionEqualsToken) {
        // `a ||= b` on a traced name is `a = a || b` (assigning a its own value changes nothing).
        if (ts.isIdentifier(n.left) && isTraced(n.left)) return factory.createAssignment(n.left, lazy(kind === ts.SyntaxKind.BarBarEqualsToken ? "or" : kind === ts.SyntaxKind.AmpersandAmpersandEqualsToken ? "and" : "nullish", [n.left], [n.right]));
      } else if (isTraced(n.left) && !changesState(ts, traced, n.right)) {
        if (kind === ts.SyntaxKind.QuestionQuestionToken) return lazy("nullish", [n.left], [n.right]);
        if (kind === ts.SyntaxKind.AmpersandAmpersandToken) return lazy("and", [n.left], [n.right]);
        if (kind === ts.SyntaxKind.BarBarToken) return lazy("or", [n.left], [n.right]);
      }
    }
    if (ts.isBinaryExpression(n) && COMPOUND.has(n.operatorToken.kind) && plainTarget(n.left) && (isTraced(n.left) || isTraced(n.right))) {
      // `a += b` (or `o.k += b`) on a traced value is `a = a + b`, staged.
      return factory.createAssignment(n.left, call("bin", [str(COMPOUND.get(n.operatorToken.kind)!), n.left, n.right]));
    }
    if (ts.isPrefixUnaryExpression(n) && (n.operator === ts.SyntaxKind.PlusPlusToken || n.operator === ts.SyntaxKind.MinusMinusToken) && ts.isIdentifier(n.operand) && isTraced(n.operand)) {
      // `++a` is `a = +a + 1` (a number, as `++` makes); `a++` only where its value is unused.
      return factory.createAssignment(n.operand, call("bin", [str(n.operator === ts.SyntaxKind.PlusPlusToken ? "+" : "-"), call("un", [str("pos"), n.operand]), factory.createNumericLiteral(1)]));
    }
    if (ts.isPrefixUnaryExpression(n) && UNARY.has(n.operator) && isTraced(n.operand)) return call("un", [str(UNARY.get(n.operator)!), n.operand]);
    if (ts.isTypeOfExpression(n) && isTraced(n.expression)) return call("un", [str("typeof"), n.expression]);
    if (ts.isConditionalExpression(n) && isTraced(n.condition) && !changesState(ts, traced, n.whenTrue) && !changesState(ts, traced, n.whenFalse)) return lazy("cond", [n.condition], [n.whenTrue, n.whenFalse]);
    if (ts.isCallExpression(n) && n.arguments.some((a) => isTraced(a))) {
      const builtin = stageableBuiltin(ts, n);
      // `[x].concat(t)` too: a native concat cannot tell that a traced argument is an array to spread.
      if (builtin === "concat") return call("fn", [str("concat"), (n.expression as TS.PropertyAccessExpression).expression, ...n.arguments]);
      if (builtin !== undefined) return call("fn", [str(builtin), ...n.arguments]);
    }
    if (ts.isCallExpression(n) && ts.isCallExpression(node)) return marked(n, node);
    if (ts.isObjectLiteralExpression(n) && !isAssignmentTarget(node)) {
      const staged = stagedObject(n);
      if (staged) return staged;
    }
    if (ts.isArrayLiteralExpression(n) && !isAssignmentTarget(node) && n.elements.some((e) => ts.isSpreadElement(e) && isTraced(e.expression)) && !n.elements.some((e) => ts.isOmittedExpression(e)) && inertAfterSpread(n.elements)) {
      // `[a, ...t]`: spreading a traced array needs its length, known only when the plan runs.
      const spreads = n.elements.map((e) => (ts.isSpreadElement(e) ? factory.createTrue() : factory.createFalse()));
      return call("arr", [factory.createArrayLiteralExpression(spreads), ...n.elements.map((e) => (ts.isSpreadElement(e) ? e.expression : e))]);
    }
    return n;
  };

  /**
   * True when nothing after a literal's first spread acts: the staged literal evaluates
   * every part before it applies any spread, where eager code spreads as it goes (a call
   * after `...o` could change `o` first). Staged operators and builtins do not act.
   */
  const inertAfterSpread = (parts: readonly TS.Node[]): boolean => {
    const first = parts.findIndex((p) => ts.isSpreadAssignment(p) || ts.isSpreadElement(p));
    const acts = (n: TS.Node): boolean => {
      if (ts.isFunctionLike(n)) return false;
      if (ts.isCallExpression(n)) {
        const callee = n.expression;
        const staged = ts.isPropertyAccessExpression(callee) && ts.isPropertyAccessExpression(callee.expression) && ts.isIdentifier(callee.expression.name) && callee.expression.name.text === "__weft$" && PURE_HELPERS.has(callee.name.text);
        if (!staged) return true;
      }
      if (ts.isAwaitExpression(n) || ts.isNewExpression(n) || ts.isDeleteExpression(n) || ts.isYieldExpression(n) || ts.isTaggedTemplateExpression(n)) return true;
      if (ts.isBinaryExpression(n) && n.operatorToken.kind >= ts.SyntaxKind.FirstAssignment && n.operatorToken.kind <= ts.SyntaxKind.LastAssignment) return true;
      if ((ts.isPrefixUnaryExpression(n) || ts.isPostfixUnaryExpression(n)) && (n.operator === ts.SyntaxKind.PlusPlusToken || n.operator === ts.SyntaxKind.MinusMinusToken)) return true;
      return ts.forEachChild(n, acts) === true;
    };
    return parts.slice(first + 1).every((p) => !acts(p));
  };
  /** A target read twice by `a = a + b` without acting twice: a name, or `name.key` / `name[literal or name]`. */
  const plainTarget = (e: TS.Expression): boolean => {
    if (ts.isIdentifier(e)) return true;
    if (ts.isPropertyAccessExpression(e)) return ts.isIdentifier(e.expression) && ts.isIdentifier(e.name);
    if (ts.isElementAccessExpression(e)) return ts.isIdentifier(e.expression) && (ts.isIdentifier(e.argumentExpression) || ts.isStringLiteral(e.argumentExpression) || ts.isNumericLiteral(e.argumentExpression));
    return false;
  };
  /** `{ a, ...t, [k]: v }` with a traced spread as `G.obj([{ key: "a" }, { spread: true }, { computed: true }], a, t, k, v)`; `undefined` when it has a method, an accessor or `__proto__`. */
  const stagedObject = (n: TS.ObjectLiteralExpression): TS.Expression | undefined => {
    if (!n.properties.some((p) => ts.isSpreadAssignment(p) && isTraced(p.expression))) return undefined;
    if (!inertAfterSpread(n.properties.map((p) => p))) return undefined;
    const parts: TS.Expression[] = [];
    const values: TS.Expression[] = [];
    const part = (key: string, value: TS.Expression) => factory.createObjectLiteralExpression([factory.createPropertyAssignment(key, value)]);
    for (const p of n.properties) {
      if (ts.isSpreadAssignment(p)) {
        parts.push(part("spread", factory.createTrue()));
        values.push(p.expression);
      } else if (ts.isShorthandPropertyAssignment(p) && p.objectAssignmentInitializer === undefined) {
        parts.push(part("key", str(p.name.text)));
        values.push(factory.createIdentifier(p.name.text));
      } else if (ts.isPropertyAssignment(p)) {
        const name = p.name;
        if (ts.isComputedPropertyName(name)) {
          parts.push(part("computed", factory.createTrue()));
          values.push(name.expression, p.initializer);
          continue;
        }
        const key = ts.isIdentifier(name) || ts.isStringLiteral(name) || ts.isNumericLiteral(name) || ts.isNoSubstitutionTemplateLiteral(name) ? (ts.isNumericLiteral(name) ? String(Number(name.text)) : name.text) : undefined;
        // `__proto__: v` sets the prototype; it stays as written.
        if (key === undefined || key === "__proto__") return undefined;
        parts.push(part("key", str(key)));
        values.push(p.initializer);
      } else return undefined;
    }
    return call("obj", [factory.createArrayLiteralExpression(parts), ...values]);
  };
  /** True for a literal that is (part of) the target of an assignment or a for...of/in head: a pattern, not a value. */
  const isAssignmentTarget = (node: TS.Node): boolean => {
    let n = node;
    let p = n.parent as TS.Node | undefined;
    while (p !== undefined && (ts.isArrayLiteralExpression(p) || ts.isObjectLiteralExpression(p) || ts.isPropertyAssignment(p) || ts.isShorthandPropertyAssignment(p) || ts.isSpreadAssignment(p) || ts.isSpreadElement(p) || ts.isParenthesizedExpression(p))) {
      if (ts.isPropertyAssignment(p) && p.initializer !== n) return false;
      n = p;
      p = p.parent;
    }
    if (p === undefined) return false;
    if (ts.isBinaryExpression(p) && p.left === n && p.operatorToken.kind === ts.SyntaxKind.EqualsToken) return true;
    return (ts.isForOfStatement(p) || ts.isForInStatement(p)) && p.initializer === n;
  };

  /** `const { v = d } = r` becomes `const { v: t } = r, v = G.dflt(t, () => d)`, when `r` is traced. */
  const stageDestructuring = (list: TS.VariableDeclarationList): TS.VariableDeclarationList => {
    const staged = stageDeclarations(list);
    // An array a staged loop appends to is replaced by the loop's result: it must be `let`.
    if (staged.flags & ts.NodeFlags.Const && staged.declarations.some((d) => ts.isIdentifier(d.name) && collected.has(d.name.text))) {
      return factory.createVariableDeclarationList(staged.declarations, (staged.flags & ~ts.NodeFlags.Const) | ts.NodeFlags.Let);
    }
    return staged;
  };
  const stageDeclarations = (list: TS.VariableDeclarationList): TS.VariableDeclarationList => {
    const out: TS.VariableDeclaration[] = [];
    const queue = [...list.declarations];
    while (queue.length > 0) {
      const decl = queue.shift()!;
      const init = decl.initializer && (visit(decl.initializer) as TS.Expression);
      if (!init || ts.isIdentifier(decl.name) || !isTraced(decl.initializer)) {
        out.push(factory.updateVariableDeclaration(decl, decl.name, decl.exclamationToken, decl.type, init));
        continue;
      }
      const after: TS.VariableDeclaration[] = [];
      const defaulted = (name: TS.BindingName, value: TS.Expression) => {
        const t = fresh();
        after.push(factory.createVariableDeclaration(name, undefined, undefined, lazy("dflt", [t], [value])));
        return t;
      };
      let name: TS.BindingName;
      if (ts.isObjectBindingPattern(decl.name)) {
        name = factory.updateObjectBindingPattern(
          decl.name,
          decl.name.elements.map((e) => {
            if (!e.initializer || e.dotDotDotToken) return e;
            const key = e.propertyName ?? (ts.isIdentifier(e.name) ? factory.createIdentifier(e.name.text) : undefined);
            if (!key) return e;
            return factory.updateBindingElement(e, undefined, key, defaulted(e.name, e.initializer), undefined);
          }),
        );
      } else {
        name = factory.updateArrayBindingPattern(
          decl.name,
          decl.name.elements.map((e) => (ts.isOmittedExpression(e) || !e.initializer || e.dotDotDotToken ? e : factory.updateBindingElement(e, undefined, undefined, defaulted(e.name, e.initializer), undefined))),
        );
      }
      out.push(factory.updateVariableDeclaration(decl, name, decl.exclamationToken, decl.type, init));
      // Declarations made for defaults may hold patterns with defaults of their own.
      queue.unshift(...after);
    }
    return factory.updateVariableDeclarationList(list, out);
  };

  // Default parameters: `x = init` keeps the arity (`x = void 0`), and the body applies the default.
  const prologue: TS.Statement[] = [];
  const stageDefaults = defaultsStageable(ts, fn);
  const params = fn.parameters.map((p, i) => {
    if (!p.initializer || staticParams.includes(i) || !ts.isIdentifier(p.name) || p.dotDotDotToken || !stageDefaults) return p;
    const value = visit(p.initializer) as TS.Expression;
    prologue.push(factory.createExpressionStatement(factory.createAssignment(factory.createIdentifier(p.name.text), lazy("dflt", [factory.createIdentifier(p.name.text)], [value]))));
    return factory.updateParameterDeclaration(p, p.modifiers, p.dotDotDotToken, p.name, p.questionToken, p.type, factory.createVoidZero());
  });
  let body = fn.body && (visit(fn.body) as TS.ConciseBody);
  if (prologue.length > 0 && body) {
    body = ts.isBlock(body) ? factory.updateBlock(body, [...prologue, ...body.statements]) : factory.createBlock([...prologue, factory.createReturnStatement(body as TS.Expression)], true);
  }
  return update(ts, factory, fn, params, body) as F;
}

function update(ts: typeof TS, f: TS.NodeFactory, fn: TS.FunctionLikeDeclaration, params: readonly TS.ParameterDeclaration[], body: TS.ConciseBody | undefined): TS.Node {
  if (ts.isArrowFunction(fn)) return f.updateArrowFunction(fn, fn.modifiers, fn.typeParameters, params, fn.type, fn.equalsGreaterThanToken, body!);
  if (ts.isFunctionExpression(fn)) return f.updateFunctionExpression(fn, fn.modifiers, fn.asteriskToken, fn.name, fn.typeParameters, params, fn.type, body as TS.Block);
  if (ts.isFunctionDeclaration(fn)) return f.updateFunctionDeclaration(fn, fn.modifiers, fn.asteriskToken, fn.name, fn.typeParameters, params, fn.type, body as TS.Block | undefined);
  if (ts.isMethodDeclaration(fn)) return f.updateMethodDeclaration(fn, fn.modifiers, fn.asteriskToken, fn.name, fn.questionToken, fn.typeParameters, params, fn.type, body as TS.Block | undefined);
  return fn;
}

/** True when `node` awaits outside nested functions. */
function awaits(ts: typeof TS, node: TS.Node): boolean {
  let found = false;
  const look = (n: TS.Node): void => {
    if (found) return;
    if (ts.isAwaitExpression(n)) found = true;
    else if (!ts.isFunctionLike(n)) ts.forEachChild(n, look);
  };
  look(node);
  return found;
}

/**
 * The functions of `file` to stage, with their static parameters: each jitted function
 * written in this file, and the helpers in this file that such a function calls with
 * traced arguments (recursively). The jit check treats exactly these as staged.
 *
 * @example
 * ```ts
 * const plan = stagingPlan(ts, checker, file, sites.filter((s) => s.kind === "jit").map((s) => s.node));
 * ```
 */
export function stagingPlan(ts: typeof TS, checker: TS.TypeChecker, file: TS.SourceFile, sites: readonly (TS.CallExpression | TS.Decorator)[]): Map<TS.Node, readonly number[]> {
  const out = new Map<TS.Node, readonly number[]>();
  const add = (fn: TS.FunctionLikeDeclaration, staticParams: readonly number[]) => {
    if (fn.getSourceFile() !== file || out.has(fn)) return;
    out.set(fn, staticParams);
    const traced = tracedNames(ts, fn, staticParams);
    const visit = (node: TS.Node): void => {
      if (ts.isCallExpression(node) && node.arguments.some((a) => isTracedBy(ts, traced, a))) {
        const helper = functionOf(ts, checker, node.expression);
        if (helper && helper.getSourceFile() === file) add(helper, []);
      }
      ts.forEachChild(node, visit);
    };
    if (fn.body) visit(fn.body);
  };
  for (const site of sites) {
    const found = jitFunctionOf(ts, checker, site);
    if (found) add(found.fn, found.staticParams);
  }
  return out;
}

/** The function a jit site compiles, and its static parameter indices. */
export function jitFunctionOf(ts: typeof TS, checker: TS.TypeChecker, site: TS.CallExpression | TS.Decorator): { fn: TS.FunctionLikeDeclaration; staticParams: number[] } | undefined {
  let fn: TS.FunctionLikeDeclaration | undefined;
  let staticParams: number[] = [];
  if (ts.isCallExpression(site)) {
    for (const arg of site.arguments) {
      const found = functionOf(ts, checker, arg);
      if (found && !fn) fn = found;
      else if (ts.isObjectLiteralExpression(arg)) staticParams = staticOf(ts, arg);
    }
  } else {
    if (ts.isMethodDeclaration(site.parent)) fn = site.parent;
    if (ts.isCallExpression(site.expression) && site.expression.arguments[0] && ts.isObjectLiteralExpression(site.expression.arguments[0])) staticParams = staticOf(ts, site.expression.arguments[0]);
  }
  return fn ? { fn, staticParams } : undefined;
}

function functionOf(ts: typeof TS, checker: TS.TypeChecker, arg: TS.Expression): TS.FunctionLikeDeclaration | undefined {
  let inner = arg;
  while (ts.isParenthesizedExpression(inner) || ts.isAsExpression(inner) || ts.isSatisfiesExpression(inner) || ts.isNonNullExpression(inner)) inner = inner.expression;
  if (ts.isArrowFunction(inner) || ts.isFunctionExpression(inner)) return inner;
  if (!ts.isIdentifier(inner)) return undefined;
  let symbol = checker.getSymbolAtLocation(inner);
  if (symbol && symbol.flags & ts.SymbolFlags.Alias) symbol = checker.getAliasedSymbol(symbol);
  const decl = symbol?.valueDeclaration;
  if (!decl || decl.getSourceFile().isDeclarationFile) return undefined;
  if (ts.isFunctionDeclaration(decl)) return decl;
  if (ts.isVariableDeclaration(decl) && decl.initializer) {
    let init = decl.initializer;
    while (ts.isParenthesizedExpression(init) || ts.isAsExpression(init) || ts.isSatisfiesExpression(init)) init = init.expression;
    if (ts.isArrowFunction(init) || ts.isFunctionExpression(init)) return init;
  }
  return undefined;
}

function staticOf(ts: typeof TS, options: TS.ObjectLiteralExpression): number[] {
  for (const prop of options.properties) {
    if (ts.isPropertyAssignment(prop) && ts.isIdentifier(prop.name) && prop.name.text === "static" && ts.isArrayLiteralExpression(prop.initializer)) {
      return prop.initializer.elements.flatMap((e) => (ts.isNumericLiteral(e) ? [Number(e.text)] : []));
    }
  }
  return [];
}
