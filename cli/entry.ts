/**
 * Loading a user's module for the verbs that drive or inspect their code (`runs resume`,
 * `dlq replay`, `inspect`): a path relative to the working directory, imported as a file URL.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { CliError, stringOption, type OptionSpec, type VerbInput } from "./command.js";

export const ENTRY_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  export: { type: "string", value: "<name>", description: "the module's export to call (default: main, else the default export)" },
};

/** Imports `module` (relative to the working directory); throws a CliError naming it when it cannot. */
export async function importModule(input: VerbInput, module: string): Promise<Record<string, unknown>> {
  const file = path.resolve(input.io.cwd, module);
  if (!existsSync(file)) throw new CliError(`no module at ${file}`, "pass the path of a built .js file");
  try {
    return (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (error) {
    throw new CliError(`importing ${file} failed: ${(error as Error).message}`, "build it first (weft loads JavaScript; TypeScript needs tsx or a build)");
  }
}

/** The entry function a verb drives: `--export <name>`, else `main`, else the default export. */
export async function loadEntry(input: VerbInput, module: string): Promise<() => unknown> {
  const exports = await importModule(input, module);
  const name = stringOption(input, "export");
  const fn = name !== undefined ? exports[name] : (exports.main ?? exports.default);
  if (typeof fn !== "function") {
    const callable = Object.keys(exports).filter((k) => typeof exports[k] === "function");
    throw new CliError(
      `${module} has no ${name !== undefined ? `export "${name}"` : "main or default export"} that is a function`,
      callable.length > 0 ? `pass --export with one of: ${callable.join(", ")}` : "export the function that drives the run",
    );
  }
  return fn as () => unknown;
}
