/**
 * The placement cost figures, in a file of their own: the runtime's cost model reads them
 * at every op definition, and should not load the place pass (and the IR) to do so.
 */
import type { OpDescriptor } from "../decorators/descriptor.js";

/**
 * What the runtime measured about an op: its mean duration, when it has run.
 *
 * @example
 * ```ts
 * const cost: CostModel = (desc) => ({ meanMs: durations.get(desc.id)?.mean });
 * ```
 */
export type CostModel = (desc: OpDescriptor) => { readonly meanMs?: number | undefined };

/**
 * A worker round trip (post, clone, wake, reply) measured on this machine, in ms.
 *
 * @example
 * ```ts
 * place(g, { roundTripMs: ROUND_TRIP_MS * 2 }); // a slower machine
 * ```
 */
export const ROUND_TRIP_MS = 0.15;
/**
 * How many round trips work must cost before it moves: moving pays off once the thread it
 * frees clearly outweighs the latency it adds. The runtime's cost model uses the same.
 *
 * @example
 * ```ts
 * ROUND_TRIP_MS * WORKER_FACTOR; // 0.3: an op must average 300 µs to move
 * ```
 */
export const WORKER_FACTOR = 2;
