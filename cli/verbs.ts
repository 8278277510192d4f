/**
 * Every verb of the `weft` command, one file each under `cli/verbs/`. Adding a verb is one
 * file and one line here (in the order `weft --help` lists them).
 */
import type { Verb } from "./command.js";
import { gen } from "./verbs/gen.js";

export const VERBS: readonly Verb[] = [gen];

/** The root of the verb tree: `weft --help` prints its summary and the verbs. */
export const WEFT: Verb = {
  name: "weft",
  summary: "the command line of weft: config, models, plans, runs, health",
  subcommands: VERBS,
};
