#!/usr/bin/env node
/** The `weft` bin: `weft <verb> [options]`. Verbs live in `cli/verbs/`, listed in `cli/verbs.ts`. */
import { dispatch, processIo } from "./command.js";
import { WEFT } from "./verbs.js";

process.exitCode = await dispatch(WEFT, process.argv.slice(2), processIo());
