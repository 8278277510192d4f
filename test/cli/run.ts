/**
 * Runs the `weft` bin as a real process, from weft's JavaScript build (test/workers/build.ts,
 * which includes cli/): `node lib/cli/main.js <args>`, with an isolated HOME and config dir.
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { buildForWorkers } from "../workers/build.js";

/** What one `weft` run printed, and its exit code. */
export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** A private working directory and home for CLI runs (config, credentials, durable store). */
export interface CliSandbox {
  readonly home: string;
  readonly cwd: string;
  readonly configHome: string;
  run(args: readonly string[], options?: { env?: Record<string, string | undefined>; cwd?: string }): Promise<CliResult>;
}

/** The path of the built `weft` bin. */
export function cliPath(): string {
  return path.join(buildForWorkers().root, "lib/cli/main.js");
}

/**
 * A sandbox: every run gets HOME, XDG_CONFIG_HOME and the working directory inside a fresh
 * temporary directory, and an environment with no `WEFT_*` or provider variables of the
 * machine's own.
 *
 * @example
 * ```ts
 * const cli = sandbox();
 * const { code, stdout } = await cli.run(["--help"]);
 * ```
 */
export function sandbox(): CliSandbox {
  const base = mkdtempSync(path.join(tmpdir(), "weft-cli-"));
  const home = path.join(base, "home");
  const cwd = path.join(base, "project");
  const configHome = path.join(home, ".config");
  mkdirSync(cwd, { recursive: true });
  mkdirSync(configHome, { recursive: true });
  const main = cliPath();
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !/^(WEFT_|OPENAI_|ANTHROPIC_|XDG_)/.test(k)) clean[k] = v;
  }
  return {
    home,
    cwd,
    configHome,
    run(args, options = {}) {
      const env: Record<string, string> = { ...clean, HOME: home, XDG_CONFIG_HOME: configHome };
      for (const [k, v] of Object.entries(options.env ?? {})) {
        if (v === undefined) delete env[k];
        else env[k] = v;
      }
      return new Promise((resolve) => {
        execFile(process.execPath, [main, ...args], { cwd: options.cwd ?? cwd, env, timeout: 30_000 }, (error, stdout, stderr) => {
          const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
          resolve({ code, stdout, stderr });
        });
      });
    },
  };
}
