/**
 * A vite / vitest plugin that compiles TypeScript through the real TypeScript emitter with
 * the weft transformer, so code run by vite sees the same descriptors (and the same
 * TC39 or legacy decorator lowering) as code built with `tspc`.
 *
 * Each file is compiled by a language service for its nearest `tsconfig.json`, so a folder
 * with its own tsconfig (for example `experimentalDecorators: true`) is compiled in that mode.
 */
import { createRequire } from "node:module";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import type * as TS from "typescript";
import weftTransformer from "./transformer.js";

/** Options of the weft vite plugin. */
export interface WeftViteOptions {
  /** Which TypeScript to compile with: a module specifier resolved from the project root. Default `"typescript"`. */
  readonly typescript?: string;
  /** Files to compile; default every `.ts`/`.tsx`/`.mts`/`.cts` file outside node_modules. */
  readonly include?: (id: string) => boolean;
}

interface Project {
  readonly service: TS.LanguageService;
  readonly versions: Map<string, { version: number; text: string }>;
}

/** The subset of a vite plugin this needs; typed structurally so weft does not depend on vite. */
export interface VitePluginLike {
  name: string;
  enforce: "pre";
  config(): Record<string, unknown>;
  transform(code: string, id: string): { code: string; map: string | undefined } | undefined;
}

/**
 * The weft plugin for vite and vitest.
 *
 * @example
 * ```ts
 * // vitest.config.ts
 * import { defineConfig } from "vitest/config";
 * import { weft } from "weft/vite";
 * export default defineConfig({ plugins: [weft()] });
 * ```
 */
export function weft(options: WeftViteOptions = {}): VitePluginLike {
  const require = createRequire(path.join(process.cwd(), "package.json"));
  const ts = require(options.typescript ?? "typescript") as typeof TS;
  const include = options.include ?? ((id: string) => /\.[mc]?tsx?$/.test(id) && !id.includes("/node_modules/"));
  const projects = new Map<string, Project>();
  const configFor = new Map<string, string>();

  function nearestConfig(file: string): string {
    const dir = path.dirname(file);
    const cached = configFor.get(dir);
    if (cached !== undefined) return cached;
    let at = dir;
    for (;;) {
      const candidate = path.join(at, "tsconfig.json");
      if (existsSync(candidate)) break;
      const up = path.dirname(at);
      if (up === at) throw new Error(`weft/vite: no tsconfig.json above ${file}`);
      at = up;
    }
    const found = path.join(at, "tsconfig.json");
    configFor.set(dir, found);
    return found;
  }

  function projectFor(configPath: string): Project {
    const existing = projects.get(configPath);
    if (existing) return existing;
    const parsed = ts.getParsedCommandLineOfConfigFile(configPath, {}, {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, "\n"));
      },
    });
    if (!parsed) throw new Error(`weft/vite: cannot read ${configPath}`);
    const compilerOptions: TS.CompilerOptions = {
      ...parsed.options,
      noEmit: false,
      declaration: false,
      declarationMap: false,
      emitDeclarationOnly: false,
      sourceMap: false,
      inlineSourceMap: true,
      inlineSources: true,
      module: ts.ModuleKind.ESNext,
      moduleResolution: parsed.options.moduleResolution ?? ts.ModuleResolutionKind.Bundler,
    };
    const versions = new Map<string, { version: number; text: string }>();
    const roots = new Set(parsed.fileNames.map((f) => path.resolve(f)));
    const host: TS.LanguageServiceHost = {
      getCompilationSettings: () => compilerOptions,
      getScriptFileNames: () => [...roots],
      getScriptVersion: (f) => String(versions.get(path.resolve(f))?.version ?? 0),
      getScriptSnapshot: (f) => {
        const known = versions.get(path.resolve(f));
        if (known) return ts.ScriptSnapshot.fromString(known.text);
        if (!existsSync(f)) return undefined;
        return ts.ScriptSnapshot.fromString(readFileSync(f, "utf8"));
      },
      getCurrentDirectory: () => path.dirname(configPath),
      getDefaultLibFileName: (o) => ts.getDefaultLibFilePath(o),
      fileExists: ts.sys.fileExists,
      readFile: ts.sys.readFile,
      readDirectory: ts.sys.readDirectory,
      directoryExists: ts.sys.directoryExists,
      getDirectories: ts.sys.getDirectories,
    };
    const project: Project = { service: ts.createLanguageService(host, ts.createDocumentRegistry()), versions };
    // Files vite asks for that the tsconfig does not list still get compiled.
    (project as { roots?: Set<string> }).roots = roots;
    projects.set(configPath, project);
    return project;
  }

  return {
    name: "weft",
    enforce: "pre",
    config() {
      // TypeScript does the lowering (decorators included); vite's own transform must not run again.
      return { oxc: false, esbuild: false };
    },
    transform(code, id) {
      const file = id.split("?")[0]!;
      if (!include(file)) return undefined;
      const project = projectFor(nearestConfig(file));
      const roots = (project as { roots?: Set<string> }).roots!;
      roots.add(file);
      const prior = project.versions.get(file);
      if (!prior || prior.text !== code) project.versions.set(file, { version: (prior?.version ?? 0) + 1, text: code });
      const program = project.service.getProgram();
      if (!program) throw new Error(`weft/vite: no program for ${file}`);
      const source = program.getSourceFile(file);
      if (!source) throw new Error(`weft/vite: ${file} is not part of the program`);
      let output: string | undefined;
      const errors: string[] = [];
      const result = program.emit(
        source,
        (name, text) => {
          if (name.endsWith(".js") || name.endsWith(".mjs") || name.endsWith(".cjs") || name.endsWith(".jsx")) output = text;
        },
        undefined,
        false,
        { before: [weftTransformer(program, {}, { ts, addDiagnostic: (d: TS.Diagnostic) => void errors.push(formatDiagnostic(ts, d)) })] },
      );
      for (const d of result.diagnostics) errors.push(formatDiagnostic(ts, d));
      if (errors.length > 0) throw new Error(`weft: ${errors.join("\n")}`);
      if (output === undefined) throw new Error(`weft/vite: TypeScript emitted nothing for ${file}`);
      // Hand vite the inline source map as the transform's map, so stacks (and vitest's) name TypeScript lines.
      const inline = /\n\/\/# sourceMappingURL=data:application\/json;base64,([A-Za-z0-9+/=]+)\s*$/.exec(output);
      if (inline === null) return { code: output, map: undefined };
      return { code: output.slice(0, inline.index), map: Buffer.from(inline[1]!, "base64").toString("utf8") };
    },
  };
}

function formatDiagnostic(ts: typeof TS, d: TS.Diagnostic): string {
  const message = ts.flattenDiagnosticMessageText(d.messageText, "\n");
  if (!d.file || d.start === undefined) return message;
  const { line, character } = d.file.getLineAndCharacterOfPosition(d.start);
  return `${d.file.fileName}:${line + 1}:${character + 1}: ${message}`;
}
