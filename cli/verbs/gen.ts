/**
 * `weft gen`: the op manifest for builds that run no transformer. The work is the build-time
 * world's (`transformers/gen.ts`), loaded only when this verb runs, so the other verbs never
 * load TypeScript; the options are declared here so `--help` and unknown-option errors look
 * like every other verb's.
 */
import type { Verb } from "../command.js";

export const gen: Verb = {
  name: "gen",
  summary: "write the op manifest (weft.manifest.json) for builds that run no weft transformer",
  usage: ["[-p <tsconfig>] [-o <manifest>] [--typescript <module>] [--check | --watch]"],
  description:
    "For esbuild, tsx and TypeScript 7 builds: writes each op's schemas, checks and locator beside the\n" +
    "tsconfig. The runtime loads the manifest and refuses it when a source file changed.",
  options: {
    project: { type: "string", short: "p", value: "<tsconfig>", description: "the tsconfig.json to analyse (default: ./tsconfig.json)" },
    out: { type: "string", short: "o", value: "<manifest>", description: "where to write the manifest (default: weft.manifest.json beside the tsconfig)" },
    typescript: { type: "string", value: "<module>", description: "the TypeScript package to analyse with (default: typescript)" },
    check: { type: "boolean", description: "write nothing; exit 1 when the manifest is missing or out of date" },
    watch: { type: "boolean", description: "write it, then again whenever a source file changes (until interrupted)" },
  },
  async run({ argv, io }) {
    const { runGen } = await import("../../transformers/gen.js");
    return runGen(argv, { log: io.out, error: io.err });
  },
};
