/**
 * The docs compile: every ```ts block of README.md and docs/*.md, and every JSDoc `@example`
 * of what index.ts exports, is type-checked against the package (`weft` resolves to
 * index.ts, as in tsconfig.json), each block as a module of its own.
 *
 * Names an example uses without defining (an op `slow`, an `answers` array, a `callModel`
 * client) are declared once in ./context.d.ts. A block that is deliberately a fragment is
 * marked, and shows up here as a skipped test naming it:
 *   - in markdown, by the info string ```ts partial, or by `<!-- docs: partial -->` on the
 *     line before the fence;
 *   - in JSDoc, by a first line `// partial` inside the example.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const root = path.resolve(import.meta.dirname, "../..");
const contextFile = path.join(root, "test/docs/context.d.ts");

interface Block {
  /** `README.md:42` or `runtime/errors.ts:DeadlineExceeded`. */
  readonly where: string;
  readonly code: string;
  readonly partial: boolean;
}

/** A closing fence: the opening one's characters, at least as many, and nothing else. */
const closes = (line: string, fence: string) => new RegExp(`^\\s*${fence[0]}{${fence.length},}\\s*$`).test(line);

/** The ```ts blocks of one markdown text, with the line each starts on. */
export function markdownBlocks(text: string, file: string): Block[] {
  const lines = text.split("\n");
  const out: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*(ts|typescript)\b(.*)$/.exec(lines[i]!);
    if (!open) {
      // Skip over fences of other languages, so their contents are never read as fences.
      const other = /^(\s*)(`{3,}|~{3,})/.exec(lines[i]!);
      if (other) {
        const fence = other[2]!;
        for (i++; i < lines.length && !closes(lines[i]!, fence); i++);
      }
      continue;
    }
    const [, indent, fence, , info] = open;
    const marked = /<!--\s*docs:\s*partial\s*-->/.test(lines[i - 1] ?? "") || /\bpartial\b/.test(info!);
    const start = i + 1; // the fence's own line, 1-based
    const body: string[] = [];
    for (i++; i < lines.length && !closes(lines[i]!, fence!); i++) body.push(lines[i]!.slice(indent!.length));
    out.push({ where: `${file}:${start}`, code: body.join("\n"), partial: marked });
  }
  return out;
}

/** The fenced (or bare) code of a JSDoc `@example` comment. */
function parsedConfig(): ts.ParsedCommandLine {
  const parsed = ts.getParsedCommandLineOfConfigFile(path.join(root, "tsconfig.json"), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => { throw new Error(ts.flattenDiagnosticMessageText(d.messageText, "\n")); } });
  if (!parsed) throw new Error("tsconfig.json did not parse");
  return parsed;
}

function jsdocBlocks(program: ts.Program): Block[] {
  const checker = program.getTypeChecker();
  const index = program.getSourceFile(path.join(root, "index.ts"))!;
  const out: Block[] = [];
  const seen = new Set<ts.Node>();
  const take = (node: ts.Node, name: string) => {
    if (seen.has(node)) return;
    seen.add(node);
    const file = path.relative(root, node.getSourceFile().fileName);
    let n = 0;
    // Read the comment's raw text: the JSDoc parser would end an example at a decorator
    // (`@op`) inside it, taking it for the next tag.
    for (const doc of ts.getJSDocCommentsAndTags(node)) {
      if (!ts.isJSDoc(doc)) continue;
      const text = doc.getText().split("\n").map((l) => l.replace(/^\s*\/?\*+\/?\s?/, "")).join("\n");
      for (const m of text.matchAll(/@example[^\n]*\n\s*```(?:ts|typescript)?[^\n]*\n([\s\S]*?)```/g)) {
        const code = m[1]!;
        out.push({ where: `${file}:${name}${n++ === 0 ? "" : `#${n}`}`, code, partial: /^\s*\/\/ partial\b/.test(code) });
      }
    }
  };
  // The entry's own doc comment.
  const first = index.statements[0];
  if (first) take(first, "index");
  for (const exported of checker.getExportsOfModule(checker.getSymbolAtLocation(index)!)) {
    const target = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
    const decls = [...(target.declarations ?? [])];
    // A front of runtime/deferred.ts (a value whose module loads at first use) is typed as
    // the real binding (`typeof Real`): the real declaration carries the docs and examples.
    for (const decl of target.declarations ?? []) {
      if (!ts.isVariableDeclaration(decl) || path.relative(root, decl.getSourceFile().fileName) !== "runtime/deferred.ts") continue;
      // `const f: typeof Module.f = ...`: the binding named; a class front: its type's class.
      const named = decl.type && ts.isTypeQueryNode(decl.type) ? checker.getSymbolAtLocation(decl.type.exprName) : undefined;
      const real = named ? (named.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(named) : named) : checker.getTypeAtLocation(decl.name).getSymbol();
      if (real?.valueDeclaration) decls.push(real.valueDeclaration);
    }
    for (const decl of decls) {
      take(decl, exported.name);
      // A `const x = ...` carries its JSDoc on the statement.
      if (ts.isVariableDeclaration(decl)) take(decl.parent.parent, exported.name);
      if (ts.isClassDeclaration(decl) || ts.isInterfaceDeclaration(decl)) {
        for (const member of decl.members) {
          const memberName = member.name && ts.isIdentifier(member.name) ? member.name.text : "member";
          take(member, `${exported.name}.${memberName}`);
        }
      }
    }
  }
  return out;
}

function collect(): { blocks: Block[]; check: (blocks: Block[]) => Map<Block, string[]> } {
  const config = parsedConfig();
  const options: ts.CompilerOptions = {
    ...config.options,
    noEmit: true,
    // The package's own subpath exports, as a user imports them.
    paths: { ...config.options.paths, "weft/vite": ["./transformers/vite.ts"], "weft/transformer": ["./transformers/transformer.ts"] },
    noUnusedLocals: false,
  };
  const base = ts.createProgram({ rootNames: [path.join(root, "index.ts")], options });
  const checker = base.getTypeChecker();
  const exports = checker.getExportsOfModule(checker.getSymbolAtLocation(base.getSourceFile(path.join(root, "index.ts"))!)!);
  // One line, so a diagnostic's line number is the block's own plus one.
  const preamble = `import { ${exports.map((e) => (((e.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(e) : e).flags & ts.SymbolFlags.Value) !== 0 ? e.name : `type ${e.name}`)).join(", ")} } from "weft";\n`;
  const md = [path.join(root, "README.md"), ...readdirSync(path.join(root, "docs")).filter((f) => f.endsWith(".md")).map((f) => path.join(root, "docs", f))];
  const blocks = [...md.flatMap((f) => markdownBlocks(readFileSync(f, "utf8"), path.relative(root, f))), ...jsdocBlocks(base)];

  const check = (toCheck: Block[]) => {
    const virtual = new Map<string, Block>();
    toCheck.forEach((b, i) => virtual.set(path.join(root, "test/docs/.blocks", `${i}.ts`), b));
    const host = ts.createCompilerHost(options);
    const { getSourceFile, fileExists, readFile } = host;
    host.fileExists = (f) => virtual.has(f) || fileExists.call(host, f);
    // Each block is a module of its own, so blocks never see each other's names. A block
    // that imports nothing from "weft" continues the prose around it: it sees every export.
    const source = (b: Block) => `${/from\s+["']weft["']/.test(b.code) ? "" : preamble}${b.code}\nexport {};\n`;
    host.readFile = (f) => (virtual.has(f) ? source(virtual.get(f)!) : readFile.call(host, f));
    host.getSourceFile = (f, lang, ...rest) => (virtual.has(f) ? ts.createSourceFile(f, source(virtual.get(f)!), lang, true) : getSourceFile.call(host, f, lang, ...rest));
    const program = ts.createProgram({ rootNames: [...virtual.keys(), contextFile], options, host, oldProgram: base });
    const out = new Map<Block, string[]>();
    for (const [file, block] of virtual) {
      const sf = program.getSourceFile(file)!;
      out.set(
        block,
        ts.getPreEmitDiagnostics(program, sf).map((d) => {
          const line = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line + 1 : 0;
          const offset = source(block).startsWith(preamble) ? 1 : 0;
          return `line ${line - offset} of the block: ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`;
        }),
      );
    }
    return out;
  };
  return { blocks, check };
}

const { blocks, check } = collect();
const results = check(blocks.filter((b) => !b.partial));

describe("docs compile against the package", () => {
  it("finds the README's, docs/' and the exports' examples", () => {
    expect(blocks.filter((b) => b.where.startsWith("README.md:")).length).toBeGreaterThan(3);
    expect(blocks.some((b) => b.where.startsWith("docs/"))).toBe(true);
    expect(blocks.some((b) => b.where.startsWith("runtime/errors.ts:"))).toBe(true);
  });

  for (const block of blocks) {
    if (block.partial) it.skip(`${block.where} (marked partial)`, () => undefined);
    else it(block.where, () => expect(results.get(block), `the block:\n${block.code}\n`).toEqual([]));
  }

  it("fails a block that does not compile, naming the line", () => {
    const broken: Block = { where: "test", code: `import { DeadlineExceeded } from "weft";\ndeclare const e: DeadlineExceeded;\ne.budget;`, partial: false };
    expect(check([broken]).get(broken)).toEqual([`line 3 of the block: Property 'budget' does not exist on type 'DeadlineExceeded'. Did you mean 'budgetMs'?`]);
  });

  it("reads fences and partial marks", () => {
    const text = ["```ts", "a;", "```", "```sh", "```ts", "```", "<!-- docs: partial -->", "```ts", "b;", "```", "```ts partial", "c;", "```"].join("\n");
    expect(markdownBlocks(text, "x.md")).toEqual([
      { where: "x.md:1", code: "a;", partial: false },
      { where: "x.md:8", code: "b;", partial: true },
      { where: "x.md:11", code: "c;", partial: true },
    ]);
  });
});
