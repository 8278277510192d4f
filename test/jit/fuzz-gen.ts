/**
 * The differential generator's program writer: from a seed, TypeScript source for `count`
 * random jitted programs over the ops of ./fuzz-ops.ts. Each program is a function of one
 * `In` argument with a random DAG of op calls wired through its variables, using property
 * reads, indexing, destructuring (with defaults), literals, spreads, nested jits, map and
 * cond, Promise.all, awaits in different orders, templates, `?.`, `??`, ternaries, `if`/`else`
 * (assigning, counting, early returns), `switch` (case groups, returns), `try`/`catch`
 * (assigning, returning), `for...of` (collecting with push), object and array spreads,
 * `Object.keys/values/entries`, `in`, mutation and default parameters. The source is compiled by the real transformer
 * (the test imports it through vite, the benchmark through the TypeScript API), so the
 * staged constructs are staged as in a user's build.
 */
import { prng } from "../compiler/random-graph.js";

/** The suite's one seedable PRNG (mulberry32), shared with the random-graph tests. */
export const rng = prng;

type Ty = "S" | "N" | "MO" | "O" | "L";

interface Gen {
  readonly r: () => number;
  readonly vars: Map<Ty, string[]>;
  readonly lines: string[];
  next: number;
}

const pick = <T>(g: Gen, xs: readonly T[]): T => xs[Math.floor(g.r() * xs.length)]!;

function have(g: Gen, t: Ty): string {
  const list = g.vars.get(t)!;
  return list.length > 0 ? pick(g, list) : fallbackOf(t);
}

function fallbackOf(t: Ty): string {
  switch (t) {
    case "S":
      return "x.s";
    case "N":
      return "x.n";
    case "L":
      return "x.xs";
    case "MO":
      return "null";
    case "O":
      return `{ v: "lit", w: 1 }`;
  }
}

function bind(g: Gen, t: Ty, expr: string): void {
  const name = `v${g.next++}`;
  g.lines.push(`  const ${name} = ${expr};`);
  g.vars.get(t)!.push(name);
}

/** One statement, by weight: most are plain op wiring, some stage a construct, a few must fall back. */
function statement(g: Gen): void {
  const S = () => have(g, "S");
  const N = () => have(g, "N");
  const L = () => have(g, "L");
  const roll = g.r();
  const choices: (() => void)[] = [
    () => bind(g, "S", `await fetchA(${S()})`),
    () => bind(g, "S", `await fetchB(${S()}, ${S()})`),
    () => bind(g, "S", `await upper(${S()})`),
    () => bind(g, "S", `\`${pick(g, ["Critique: ", "q=", ""])}\${${S()}}/\${${N()}}\``),
    () => bind(g, "S", `${S()} + "-" + ${N()}`),
    () => bind(g, "S", `(await maybeObj(${S()}))?.v ?? "none"`),
    () => bind(g, "S", `${N()} > 2 ? await fetchA(${S()}) : await upper(${S()})`),
    () => bind(g, "S", `x.o.m ?? "nom"`),
    () => bind(g, "S", `x.o?.k`),
    () => bind(g, "S", `await inner(${S()})`),
    () => bind(g, "S", `await join(${L()})`),
    () => bind(g, "S", `${L()}[0] ?? "empty"`),
    () => bind(g, "S", `await fail(${S()})`),
    () => bind(g, "S", `await cond(${N()} > 1, () => fetchA(${S()}), () => upper(${S()}))`),
    () => bind(g, "S", `typeof ${N()} === "number" && ${N()} === ${N()} ? "num" : "nan"`),
    () => bind(g, "N", `await len(${S()})`),
    () => bind(g, "N", `await num(${N()})`),
    () => bind(g, "N", `${N()} * 2 + 1`),
    () => bind(g, "N", `await half(${N()})`),
    () => bind(g, "N", `${L()}.length`),
    () => bind(g, "N", `Number.isNaN(${N()}) ? -1 : Object.is(${N()}, -0) ? 0 : ${N()}`),
    () => bind(g, "MO", `await maybeObj(${S()})`),
    () => bind(g, "S", `${have(g, "MO")} ? ${have(g, "MO")}?.v ?? "w" : "empty"`),
    () => bind(g, "O", `await obj(${S()})`),
    () => {
      const o = g.vars.get("O")!.length > 0 ? pick(g, g.vars.get("O")!) : undefined;
      if (!o) return bind(g, "O", `await obj(${S()})`);
      bind(g, "N", `await mutate(${o})`);
      bind(g, "S", `${o}.v + ":" + ${o}.w`);
    },
    () => {
      const name = `v${g.next++}`;
      g.lines.push(`  const { v: ${name} = "dv", w: w${name} = 0 } = (await maybeObj(${S()})) ?? {};`);
      g.vars.get("S")!.push(name);
      g.vars.get("N")!.push(`w${name}`);
    },
    () => bind(g, "L", `await list(${S()}, ${N()})`),
    () => bind(g, "L", `await map(${L()}, (it) => fetchA(it))`),
    () => bind(g, "L", `await Promise.all([fetchA(${S()}), upper(${S()})])`),
    () => bind(g, "L", `[${S()}, ${S()}]`),
    () => bind(g, "L", `Array.isArray(${L()}) ? ${L()} : []`),
    () => {
      // Awaits in an order other than the calls'.
      const a = `p${g.next++}`;
      const b = `p${g.next++}`;
      g.lines.push(`  const ${a} = fetchA(${S()});`, `  const ${b} = len(${S()});`);
      bind(g, "N", `await ${b}`);
      bind(g, "S", `await ${a}`);
    },
    () => {
      // Staged for...of: items one at a time, collected with push (a failing item stops the loop).
      const name = `v${g.next++}`;
      g.lines.push(`  const ${name}: string[] = [];`, `  for (const it of ${L()}) {`, `    ${name}.push(await fetchA(it));`, `    ${name}.push(it.length > 1 ? await upper(it) : it);`, `  }`);
      g.vars.get("L")!.push(name);
    },
    () => {
      // Staged try/catch: a failing call, later calls skipped, the handler's calls made.
      const name = `v${g.next++}`;
      g.lines.push(`  let ${name} = "init";`, `  try {`, `    const t${name} = await fail(${S()});`, `    ${name} = await fetchA(t${name});`, `  } catch (e) {`, `    ${name} = await upper(\`n\${(e as Error).message.length}\`);`, `  }`);
      g.vars.get("S")!.push(name);
    },
    () => {
      // Staged try with returns in the body and handler, inside a nested function of the program.
      const name = `v${g.next++}`;
      g.lines.push(`  const ${name} = await (async () => {`, `    try {`, `      return \`\${await fetchB(${S()}, ${S()})}:\${await len(${S()})}\`;`, `    } catch {`, `      return "caught";`, `    }`, `  })();`);
      g.vars.get("S")!.push(name);
    },
    () => {
      // Staged if/else: a variable assigned in the branches, an else-if chain.
      const name = `v${g.next++}`;
      g.lines.push(`  let ${name} = "no";`, `  if (${N()} > 1) ${name} = await fetchA(${S()});`, `  else if (${S()}.length > 2) ${name} = await upper(${S()});`);
      g.vars.get("S")!.push(name);
    },
    () => {
      // Staged if with a counter and a branch-local declaration.
      const name = `v${g.next++}`;
      g.lines.push(`  let ${name} = 0;`, `  if (typeof ${S()} === "string" && ${N()} < 3) {`, `    const t${name} = await len(${S()});`, `    ${name} += t${name};`, `    ${name}++;`, `  }`);
      g.vars.get("N")!.push(name);
    },
    () => {
      // An early return: the rest of the program moves into the else branch.
      g.lines.push(`  if (${N()} > 4 || ${S()} === "") return { early: ${S()}, n: await num(${N()}) };`);
    },
    () => {
      const [p, q] = [`v${g.next++}`, `v${g.next++}`];
      g.lines.push(`  const [${p}, ${q}] = await Promise.all([fetchA(${S()}), len(${S()})]);`);
      g.vars.get("S")!.push(p);
      g.vars.get("N")!.push(q);
    },
    // A nested jit with a staged switch (and a cond on its result).
    () => bind(g, "S", `await innerBranchy(${S()})`),
    // Key listings, spreads and `in` on traced values.
    () => bind(g, "L", `Object.keys({ ...x.o })`),
    () => bind(g, "N", `Object.entries({ ...(await maybeObj(${S()})), s: ${S()} }).length`),
    () => bind(g, "L", `[${S()}, ...${L()}, ...Object.keys(x.o)]`),
    () => bind(g, "S", `"m" in x.o ? "has-m" : "no-m"`),
    () => bind(g, "S", `"v" in ((await maybeObj(${S()})) ?? {}) ? "has-v" : "no-v"`),
    () => {
      // Staged switch: case groups sharing a body, default, a variable assigned.
      const name = `v${g.next++}`;
      g.lines.push(`  let ${name} = "none";`, `  switch (${N()} % 3) {`, `    case 0:`, `      ${name} = await fetchA(${S()});`, `      break;`, `    case 1:`, `    case 2:`, `      ${name} = await upper(${S()});`, `      break;`, `    default:`, `      ${name} = "nan";`, `  }`);
      g.vars.get("S")!.push(name);
    },
    () => {
      // An if writing a property of an outer object literal: each branch writes its own copy.
      const name = `v${g.next++}`;
      g.lines.push(`  const ${name}o: { v?: string; n: number } = { n: 0 };`, `  if (${N()} > 1) ${name}o.v = await fetchA(${S()});`, `  else ${name}o.n += 1;`, `  const ${name} = ${name}o.v ?? \`unset\${${name}o.n}\`;`);
      g.vars.get("S")!.push(name);
    },
    () => {
      // A switch whose case returns: the rest of the program moves into the other branches.
      g.lines.push(`  switch (${S()}.length) {`, `    case 0:`, `      return { empty: await num(${N()}) };`, `    case 7:`, `      return "seven";`, `  }`);
    },
  ];
  // Staged try/catch with an inert finally (it runs after the try, as glue).
  const finallyTry = () => {
    const name = `v${g.next++}`;
    g.lines.push(`  let ${name} = "caught";`, `  try {`, `    ${name} = await fail(${S()});`, `  } catch {`, `    ${name} = "caught";`, `  } finally {`, `    ${name} += "";`, `  }`);
    g.vars.get("S")!.push(name);
  };
  // Constructs that cannot be staged (the program must fall back and still match eager).
  const fallbacks: (() => void)[] = [
    () => {
      // An if the staging refuses: it writes an outer object two levels deep (a copy would share the inner one).
      const name = `v${g.next++}`;
      g.lines.push(`  const ${name}o = { in: { v: "unset" } };`, `  if (${N()} > 1) ${name}o.in.v = await fetchA(${S()});`, `  const ${name} = ${name}o.in.v;`);
      g.vars.get("S")!.push(name);
    },
    () => {
      // A loop whose condition reads a traced value: its trip count is known only at run time.
      const name = `v${g.next++}`;
      g.lines.push(`  let ${name} = ${S()};`, `  for (let i${name} = 0; i${name} < ${N()} && i${name} < 3; i${name}++) ${name} = await upper(${name});`);
      g.vars.get("S")!.push(name);
    },
  ];
  // Each fallback construct is picked for 0.75% of statements (a nested switch, a key
  // listing and an if writing an outer object were more until they were staged; they moved
  // to the staged choices).
  if (roll < 0.0075 * fallbacks.length) pick(g, fallbacks)();
  else if (roll < 0.03) finallyTry();
  else pick(g, choices)();
}

/** The source of one program: `async (x: In, tag = "t") => { ...; return {...} }`. */
function program(r: () => number, index: number): string {
  const g: Gen = { r, vars: new Map<Ty, string[]>([["S", ["x.s", "tag"]], ["N", ["x.n"]], ["MO", []], ["O", []], ["L", ["x.xs"]]]), lines: [], next: 0 };
  const count = 2 + Math.floor(r() * 6);
  for (let i = 0; i < count; i++) statement(g);
  const outs = [...g.vars.values()].flat().filter((v) => /^w?v\d+$/.test(v));
  const chosen = outs.length === 0 ? ["x.s"] : outs.filter(() => r() < 0.6);
  const result = r() < 0.5 ? `{ ${(chosen.length ? chosen : outs.slice(-1)).map((v, i) => `r${i}: ${v}`).join(", ")} }` : `[${(chosen.length ? chosen : outs.slice(-1)).join(", ")}]`;
  const body = [...g.lines, `  return ${result};`, `};`];
  // `e` is the same source, never staged (nothing jits it): the eager reference. The
  // transformer rewrites `f` in place, so calling `f` runs its staged form, which must
  // itself match `e`.
  return [`const f${index} = async (x: any, tag: string = "t"): Promise<unknown> => {`, ...body, `const j${index} = jit(f${index});`, `const e${index} = async (x: any, tag: string = "t"): Promise<unknown> => {`, ...body].join("\n");
}

/**
 * TypeScript source for `count` programs from `seed`, exporting `programs: [eager, jitted,
 * staged][]` (the eager one an unstaged copy of the source; the staged one the jitted
 * function's own body, which the transformer rewrote) and each program's source text.
 *
 * @example
 * ```ts
 * writeFileSync(file, generate(42, 1000, "./fuzz-ops.js"));
 * ```
 */
export function generate(seed: number, count: number, opsModule: string, weftModule = "weft"): string {
  const r = rng(seed);
  const bodies = Array.from({ length: count }, (_, i) => program(r, i));
  return [
    `// Generated by test/jit/fuzz-gen.ts (seed ${seed}, ${count} programs). Do not edit.`,
    `import { jit, cond, map } from ${JSON.stringify(weftModule)};`,
    `import { fetchA, fetchB, fail, maybeObj, obj, mutate, list, join, num, len, upper, half, inner, innerBranchy, type In } from ${JSON.stringify(opsModule)};`,
    ...bodies,
    `export const programs: [(x: In, tag?: string) => Promise<unknown>, (x: In, tag?: string) => Promise<unknown>, (x: In, tag?: string) => Promise<unknown>][] = [${bodies.map((_, i) => `[e${i}, j${i}, f${i}]`).join(", ")}];`,
    `export const sources: string[] = ${JSON.stringify(bodies)};`,
  ].join("\n");
}

/** The inputs every program runs on: a repeat, changed array lengths and keys, a failing input, -0, NaN, "". */
export function inputs(): { s: string; n: number; xs: string[]; o: { k: string; m?: string | null } }[] {
  return [
    { s: "ab", n: 2, xs: ["p", "q"], o: { k: "k", m: "m" } },
    { s: "ab", n: 2, xs: ["p", "q"], o: { k: "k", m: "m" } },
    { s: "abcd", n: 3, xs: ["p"], o: { k: "k2", m: null } },
    { s: "xy", n: 5, xs: [], o: { k: "k3" } },
    { s: "a!", n: 1, xs: ["r", "s", "t"], o: { k: "k", m: "m" } },
    { s: "zz", n: -0, xs: ["p", "q"], o: { k: "k", m: "m" } },
    { s: "nan", n: Number.NaN, xs: ["p", "q"], o: { k: "k", m: "m" } },
    { s: "", n: 0, xs: ["p", "q"], o: { k: "", m: "" } },
  ];
}
