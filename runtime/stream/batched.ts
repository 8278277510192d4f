/**
 * The mark `vmap` leaves on a batched function, in a file of its own so that defining a
 * vmap loads neither streams nor the batch engine.
 */
import type { BatchOptions, BatchTarget } from "../batch.js";

/** What `vmap` leaves on a batched function, so a stream can run its batches itself. Internal. */
export interface BatchedInfo {
  readonly target: BatchTarget;
  readonly options: BatchOptions & { readonly inAxes?: readonly (0 | null)[] };
}

/** The key of `BatchedInfo` on a vmapped function. Internal. */
export const BATCHED: unique symbol = Symbol("weft.vmap.batched");
