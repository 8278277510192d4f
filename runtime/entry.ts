/**
 * An op as the runtime runs it: its descriptor, its body and the per-op state the kernel
 * (runtime/invoke.ts) and placement keep. Its own file so the Executor seam
 * (runtime/executor.ts) can name it without importing the kernel.
 */
import { Semaphore } from "effect";
import type { OpDescriptor } from "../decorators/descriptor.js";
import type { Frame } from "./context.js";
import { toMillis } from "./duration.js";
import { backoffOf } from "./retry.js";
import type { Validators } from "./validate.js";

type Body = (...args: never[]) => unknown;

/** An op as the runtime runs it: its descriptor, its body and per-op state. Internal. */
export class OpEntry {
  readonly timeoutMs: number | undefined;
  /** True when some policy needs the policy path on every call. */
  readonly hasPolicy: boolean;
  /** Per-op concurrency limit, shared by every caller. */
  readonly semaphore: Semaphore.Semaphore | undefined;
  readonly hasConfig: boolean;
  /** True when calls go through the durable interceptor even outside a run (cache, risk, pure). */
  readonly intercepted: boolean;
  validators: Validators | undefined;
  /**
   * Replaces where the body runs (for example a worker pool for `cpu` ops). It receives the
   * frame the body must run in, and enters it itself. Set by the executors; inline when undefined.
   */
  runBody: ((entry: OpEntry, frame: Frame, thisArg: unknown, args: readonly unknown[]) => unknown) | undefined;
  /**
   * The op's own placement when it pins one (`"inline"`, `"worker"`, `"remote:NAME"`): it
   * wins over a block's `withContext({ placement })`. Set by placement
   * (runtime/workers/placement.ts) on the main thread; inside a worker nothing is pinned.
   */
  pinned: string | undefined;
  /** The op's native batch implementation, run as an op of its own (`name[batch]`) so policy applies. */
  batchEntry: OpEntry | undefined;
  /** Largest chunk the native batch accepts. */
  batchMax: number | undefined;
  /** Inline runs so far, for sampling the placement timer. */
  calls = 0;

  constructor(
    readonly desc: OpDescriptor,
    readonly impl: Body,
  ) {
    this.timeoutMs = desc.policy.timeout === undefined ? undefined : toMillis(desc.policy.timeout, `${desc.name}: timeout`);
    const limit = desc.policy.concurrency;
    if (limit !== undefined && !(Number.isInteger(limit) && limit >= 1)) {
      throw new RangeError(`${desc.name}: concurrency must be a whole number >= 1, received ${limit}`);
    }
    this.semaphore = limit === undefined ? undefined : Semaphore.makeUnsafe(limit);
    this.hasPolicy = this.timeoutMs !== undefined || desc.policy.retry !== undefined || this.semaphore !== undefined;
    this.hasConfig = Object.keys(desc.config).length > 0;
    // Resolved now, so a bad backoff fails at definition rather than on the first retry.
    if (desc.policy.retry !== undefined) backoffOf(desc.policy.retry, desc.name);
    const cache = desc.policy.cache;
    this.intercepted = (cache !== undefined && cache !== false) || desc.policy.risk === "high" || (desc.kind === "pure" && cache === undefined);
  }
}

