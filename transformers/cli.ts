#!/usr/bin/env node
/**
 * The `weft` command line (the package's `bin`). One command today: `weft gen`, which
 * writes the op manifest for builds that run no transformer (see `gen.ts`).
 */
import { runGen } from "./gen.js";

const [command, ...rest] = process.argv.slice(2);
if (command === "gen") {
  process.exitCode = runGen(rest);
} else {
  const usage = "usage: weft gen [-p tsconfig.json] [-o weft.manifest.json] [--typescript <module>] [--check]";
  if (command === undefined || command === "-h" || command === "--help") {
    console.log(usage);
  } else {
    console.error(`weft: unknown command ${command}\n${usage}`);
    process.exitCode = 2;
  }
}
