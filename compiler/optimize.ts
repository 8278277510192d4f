/**
 * The optimiser pipeline: named passes run in order, with the IR checker on the input and
 * after every pass that changed the graph.
 */
import { verify } from "./check.js";
import { unreachable, type Graph } from "./ir.js";
import { cse } from "./passes/cse.js";
import { dce } from "./passes/dce.js";
import { fold, type FoldOptions } from "./passes/fold.js";
import { fuse } from "./passes/fuse.js";
import { place, type PlaceOptions } from "./passes/place.js";

/**
 * The passes, by the name the pipeline and error messages use.
 *
 * @example
 * ```ts
 * optimize(g, { passes: ["cse", "dce"] satisfies PassName[] });
 * ```
 */
export type PassName =
  /** Constant folding (`passes/fold.ts`). */
  | "fold"
  /** Common-subexpression elimination of pure nodes (`passes/cse.ts`). */
  | "cse"
  /** Dead-code elimination of unused consts and packs (`passes/dce.ts`). */
  | "dce"
  /** CPU chains into fused nodes (`passes/fuse.ts`). */
  | "fuse"
  /** Placement tags from the cost model (`passes/place.ts`). */
  | "place";

/**
 * The default order: folding makes consts that CSE merges, both leave dead nodes for DCE,
 * fusion sees the final chains, and placement prices the fused groups.
 *
 * @example
 * ```ts
 * optimize(g, { passes: DEFAULT_PIPELINE.filter((p) => p !== "fuse") });
 * ```
 */
export const DEFAULT_PIPELINE: readonly PassName[] = ["fold", "cse", "dce", "fuse", "place"];

/**
 * Options of `optimize`; the fold and place options pass through to those passes.
 *
 * @example
 * ```ts
 * optimize(g, { check: false, cost: (d) => ({ meanMs: stats.mean(d.id) }), onPass: (name, _before, after) => log(name, printText(after)) });
 * ```
 */
export interface OptimizeOptions extends FoldOptions, PlaceOptions {
  /** Run the IR checker before the first and after each pass. Default true; production may turn it off. */
  readonly check?: boolean;
  /** Which passes run, in order. Default `DEFAULT_PIPELINE`. */
  readonly passes?: readonly PassName[];
  /** Called after each pass with the graph before and after it (the same object when the pass changed nothing). */
  readonly onPass?: (name: PassName, before: Graph, after: Graph) => void;
}

/**
 * Runs one pass by name.
 *
 * @example
 * ```ts
 * runPass("cse", g, {});
 * ```
 */
export function runPass(name: PassName, g: Graph, options: OptimizeOptions = {}): Graph {
  switch (name) {
    case "fold":
      return fold(g, options);
    case "cse":
      return cse(g);
    case "dce":
      return dce(g);
    case "fuse":
      return fuse(g);
    case "place":
      return place(g, options);
    default:
      return unreachable(name, "pass");
  }
}

/**
 * Optimises a traced graph. Throws an `IRError` naming the pass when a pass (or the input)
 * breaks an IR invariant.
 *
 * @example
 * ```ts
 * const g2 = optimize(traced, { cost: (d) => ({ meanMs: stats.mean(d.id) }), check: process.env.NODE_ENV !== "production" });
 * ```
 */
export function optimize(g: Graph, options: OptimizeOptions = {}): Graph {
  const checking = options.check ?? true;
  if (checking) verify(g);
  for (const name of options.passes ?? DEFAULT_PIPELINE) {
    const next = runPass(name, g, options);
    if (checking && next !== g) verify(next, name);
    options.onPass?.(name, g, next);
    g = next;
  }
  return g;
}
