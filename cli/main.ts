#!/usr/bin/env node
/** The `weft` bin: `weft <verb> [options]`. Verbs live in `cli/verbs/`, listed in `cli/verbs.ts`. */
import { dispatch, processIo } from "./command.js";
import { WEFT } from "./verbs.js";

// Node 22 calls node:sqlite experimental and prints a warning the first time the store
// loads it. That line is Node's, says nothing about the user's command, and breaks every
// line-oriented use of weft's output, so the command drops it; every other warning is
// printed as Node prints it.
const printWarning = process.listeners("warning");
process.removeAllListeners("warning");
process.on("warning", (warning) => {
  if (warning.name === "ExperimentalWarning" && warning.message.startsWith("SQLite")) return;
  for (const print of printWarning) print(warning);
});

process.exitCode = await dispatch(WEFT, process.argv.slice(2), processIo());
