/**
 * The remote benchmark's op, in a module of its own: a `weft worker` (here one started in
 * the benchmark's process) loads it with `ops: [this module]`, as an app's worker would.
 */
import { op } from "weft";

/** A trivial io step: what a remote job costs beyond its body. */
export const echo = op({ kind: "io" }, async (x: number): Promise<number> => x);

/** This module, as the worker's `ops` names it (`.ts` under vitest, `.js` in the build). */
export const OPS_MODULE = import.meta.url;
