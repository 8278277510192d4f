import { defineConfig } from "vitest/config";
import path from "node:path";
import { weft } from "./transformers/vite.js";

export default defineConfig({
  plugins: [weft() as never],
  resolve: {
    alias: [
      { find: /^weft\/testing$/, replacement: path.resolve(import.meta.dirname, "testing/index.ts") },
      { find: /^weft$/, replacement: path.resolve(import.meta.dirname, "index.ts") },
    ],
  },
  test: {
    include: ["test/**/*.test.ts", "compiler/**/*.test.ts", "runtime/**/*.test.ts", "transformers/**/*.test.ts", "decorators/**/*.test.ts"],
    testTimeout: 20_000,
    pool: "forks",
  },
});
