import { configDefaults, defineConfig } from "vitest/config";
import path from "node:path";
import { weft } from "./transformers/vite.js";

/**
 * The suites `npm test` runs. The benchmark quick-run (test/bench.test.ts) is left out, so
 * `npm test` stays quick: `npm run bench:smoke` runs it (vitest.bench.config.ts), and CI
 * runs that after the suites.
 */
export const SUITES = ["test/**/*.test.ts", "compiler/**/*.test.ts", "runtime/**/*.test.ts", "transformers/**/*.test.ts", "decorators/**/*.test.ts"];
export const BENCH_SMOKE = ["test/bench.test.ts"];

export function weftConfig(include: string[], exclude: string[]) {
  return defineConfig({
    plugins: [weft() as never],
    resolve: {
      alias: [
        { find: /^weft\/testing$/, replacement: path.resolve(import.meta.dirname, "testing/index.ts") },
        { find: /^weft$/, replacement: path.resolve(import.meta.dirname, "index.ts") },
      ],
    },
    test: {
      include,
      exclude: [...configDefaults.exclude, ...exclude],
      setupFiles: ["test/support/quiet-warnings.ts", "test/support/lazy-modules.ts"],
      // Type tests (`*.test-d.ts`, `expectTypeOf`) run through the compiler, with the suites.
      typecheck: { enabled: include !== BENCH_SMOKE, include: ["test/**/*.test-d.ts"], tsconfig: "./test/types/tsconfig.json" },
      testTimeout: 20_000,
      // Hooks start worker pools, Redis servers and child builds: under a loaded machine (the
      // no-eval suite reruns some files beside the main run) 10 s is too tight.
      hookTimeout: 60_000,
      pool: "forks",
    },
  });
}

export default weftConfig(SUITES, BENCH_SMOKE);
