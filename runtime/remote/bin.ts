#!/usr/bin/env node
/**
 * A process entry for `weft worker` (the same command the `weft` bin dispatches):
 * `node dist/runtime/remote/bin.js --ops dist/ops.js`.
 */
import { workerCommand } from "./command.js";

const code = await workerCommand(process.argv.slice(2));
process.exit(code);
