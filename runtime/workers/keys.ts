/**
 * Keys and memory layouts shared by the main thread and weft's worker threads. Both sides
 * import these constants and nothing else decides them, so a layout can only change in one
 * place (see protocol.ts for the messages and the code at each synchronisation point).
 */

/**
 * The `workerData` key that marks a thread as a weft pool worker. Nested ops called by a
 * body running in a worker stay inline there: a worker never starts a pool of its own.
 *
 * @example
 * ```ts
 * new Piscina({ filename, workerData: { [WORKER_MARK]: true, allowlist } });
 * ```
 */
export const WORKER_MARK = "weft.worker";

/**
 * Per-task abort cell: a 16-byte SharedArrayBuffer, one per task, written by the main
 * thread when the task's signal fires and read by the worker (by polling, so a synchronous
 * CPU loop sees it without yielding, and by `Atomics.waitAsync` for async bodies).
 *
 * | bytes | type    | meaning                                            |
 * |-------|---------|----------------------------------------------------|
 * | 0..3  | Int32   | state: one of the `ABORT_*` values below           |
 * | 8..15 | Float64 | budget in ms of the deadline that fired (DEADLINE) |
 *
 * @example
 * ```ts
 * const cell = new Int32Array(new SharedArrayBuffer(ABORT_CELL_BYTES));
 * Atomics.load(cell, ABORT_STATE) === ABORT_RUNNING; // true
 * ```
 */
export const ABORT_CELL_BYTES = 16;
/** Int32 index of the state word in an abort cell. @example `Atomics.load(cell, ABORT_STATE)` */
export const ABORT_STATE = 0;
/** Float64 index (in a Float64Array over the same buffer) of the budget. @example `new Float64Array(buf)[ABORT_BUDGET]` */
export const ABORT_BUDGET = 1;
/** The task runs (or waits); nothing fired. @example `Atomics.compareExchange(cell, ABORT_STATE, ABORT_RUNNING, ABORT_DONE)` */
export const ABORT_RUNNING = 0;
/** The caller cancelled. @example `Atomics.store(cell, ABORT_STATE, ABORT_CANCELLED)` */
export const ABORT_CANCELLED = 1;
/** A deadline passed; the budget slot says which budget. @example `Atomics.store(cell, ABORT_STATE, ABORT_DEADLINE)` */
export const ABORT_DEADLINE = 2;
/** The worker finished the task; later aborts are moot. @example `Atomics.store(cell, ABORT_STATE, ABORT_DONE)` */
export const ABORT_DONE = 3;

/**
 * The module allowlist: one growable SharedArrayBuffer per pool, handed to every worker in
 * `workerData`. Only the main thread writes it; workers read it before importing anything.
 *
 * | bytes      | type  | meaning                                                  |
 * |------------|-------|----------------------------------------------------------|
 * | 0..3       | Int32 | bytes of entries published so far (stored last: release) |
 * | 8..        | UTF-8 | module URLs, each followed by `\n`                       |
 *
 * File URLs percent-encode newlines, so `\n` can never occur inside an entry.
 *
 * @example
 * ```ts
 * const sab = new SharedArrayBuffer(ALLOWLIST_INITIAL_BYTES, { maxByteLength: ALLOWLIST_MAX_BYTES });
 * ```
 */
export const ALLOWLIST_HEADER_BYTES = 8;
/** Int32 index of the published length. @example `Atomics.load(header, ALLOWLIST_LENGTH)` */
export const ALLOWLIST_LENGTH = 0;
/** Initial allowlist size: room for about forty module URLs before the first grow. @example `new SharedArrayBuffer(ALLOWLIST_INITIAL_BYTES)` */
export const ALLOWLIST_INITIAL_BYTES = 4096;
/** Upper bound on the allowlist (about 100,000 module URLs). @example `{ maxByteLength: ALLOWLIST_MAX_BYTES }` */
export const ALLOWLIST_MAX_BYTES = 16 * 1024 * 1024;

/** The `_tag` of the error a worker answers a refused message with. @example `error._tag === REFUSED_TAG` */
export const REFUSED_TAG = "WorkerRefused";
