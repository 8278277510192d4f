/**
 * What a framework brings to the side-by-side: the three workloads of `work.ts` built the
 * way its documentation builds them, over the very same step bodies.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** One framework's implementation of the workloads. */
export interface Peer {
  /** Prefix of its metric names in results.json: `langgraph` gives `langgraph_step_overhead_ratio`. */
  readonly id: string;
  /** Its name in tables and the chart. */
  readonly label: string;
  /** The package measured and its installed version, such as `@langchain/langgraph 1.7.3`. */
  readonly version: string;
  /** The API each workload uses, printed with the results so the comparison can be checked. */
  readonly api: { readonly chain: string; readonly fanout: string; readonly batch?: string };
  /** The 10-step chain on one input. */
  chain(x: number): Promise<number>;
  /** The 5-way fan-out and join on one input. */
  fanout(x: number): Promise<number>;
  /** The batch, results in input order; absent when the framework has no fitting construct. */
  batch?(items: readonly number[]): Promise<number[]>;
}

/**
 * `pkg` and its installed version, read from the package.json above the file `pkg`
 * resolves to (packages' `exports` maps do not all expose their package.json).
 *
 * @example
 * ```ts
 * installedVersion("@langchain/core"); // "@langchain/core 1.4.0"
 * ```
 */
export function installedVersion(pkg: string): string {
  let dir = path.dirname(fileURLToPath(import.meta.resolve(pkg)));
  for (;;) {
    try {
      const json = JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8")) as { name?: string; version?: string };
      if (json.name === pkg && json.version) return `${pkg} ${json.version}`;
    } catch {
      // no package.json at this level: keep walking up
    }
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`cannot find the package.json of ${pkg}`);
    dir = up;
  }
}

// LangSmith tracing is switched on by environment variables; a developer who has them set
// would otherwise benchmark (and send) LangSmith traces. No side gets a tracer here.
export function disableLangSmith(): void {
  for (const key of ["LANGCHAIN_TRACING_V2", "LANGCHAIN_TRACING", "LANGSMITH_TRACING", "LANGSMITH_TRACING_V2"]) process.env[key] = "false";
}
