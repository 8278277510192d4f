/**
 * Every verb of the `weft` command, one file each under `cli/verbs/`. Adding a verb is one
 * file and one line here (in the order `weft --help` lists them).
 */
import type { Verb } from "./command.js";
import { cache } from "./verbs/cache.js";
import { clean } from "./verbs/clean.js";
import { configure } from "./verbs/configure.js";
import { approve, deny } from "./verbs/decide.js";
import { dlq } from "./verbs/dlq.js";
import { gen } from "./verbs/gen.js";
import { health } from "./verbs/health.js";
import { inspect } from "./verbs/inspect.js";
import { models } from "./verbs/models.js";
import { runs } from "./verbs/runs.js";
import { trace } from "./verbs/trace.js";
import { worker } from "./verbs/worker.js";

export const VERBS: readonly Verb[] = [configure, models, inspect, gen, clean, runs, approve, deny, dlq, cache, trace, health, worker];

/** The root of the verb tree: `weft --help` prints its summary and the verbs. */
export const WEFT: Verb = {
  name: "weft",
  summary: "the command line of weft: config, models, plans, runs, health",
  subcommands: VERBS,
};
