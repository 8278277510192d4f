/**
 * The streaming form of a vmapped function: `vmap(f).stream(items)`.
 *
 * Where the batch engine has something better than one call per item (an op's native batch
 * implementation, worker or remote chunks for CPU ops and jitted plans), the stream feeds it
 * batches: whatever the source has ready, up to a batch size, at most two batches in flight,
 * and each item's result handed on as soon as the engine settles it. Otherwise (io ops,
 * plain functions, and inside a durable run, where order and per-offset journal keys matter)
 * each item is one call, up to the vmap's concurrency at once.
 */
import { runBatch, type BatchOptions, type BatchTarget, type ItemResult } from "../batch.js";
import { Cancelled } from "../errors.js";
import { linkSignals, store, type Frame } from "../context.js";
import { REMOTE } from "../../decorators/options.js";
import { type Chunk, type Exec, type Lineage, type Puller, type Pulled } from "./core.js";
import type { Source } from "./sources.js";
import { Gathering, MapStage, pullUp, type UpReader } from "./stages.js";
import { streamThrough, type Stream, type StreamOptions } from "./stream.js";
import type { BatchedInfo } from "./through.js";

/** Items per batch handed to the batch engine, unless the op's native batch or `chunkSize` wants more. */
const STREAM_BATCH = 256;
/** Batches in flight at once: the next one starts while the last items of the previous finish. */
const BATCHES_IN_FLIGHT = 2;

/**
 * `vmap(f).stream(items)`: every item a call of `f` (through the kernel when `f` is an op),
 * each result handed on as it finishes, with its index (its position in `items`). Failed
 * items are results too, never lost.
 */
export function streamBatched(target: BatchTarget, options: BatchedInfo["options"], items: Source<unknown>, streamOptions: StreamOptions = {}): Stream<ItemResult<unknown, unknown>> {
  const { onProgress, inAxes: _axes, ...policy } = options;
  const progress: StreamOptions = onProgress === undefined || streamOptions.onProgress !== undefined ? {} : { onProgress: (p) => onProgress({ done: p.emitted, failed: p.failed, total: p.total ?? p.pulled }) };
  const concurrency = options.concurrency ?? 16;
  const batchOptions: BatchOptions = { ...policy, onError: "collect" };
  const size = Math.max(STREAM_BATCH, target.entry?.batchMax ?? 0, options.chunkSize ?? 0);
  const run = (batch: readonly unknown[], onItem: (r: ItemResult<unknown>) => void) =>
    runBatch(
      target,
      batch.map((x) => [x]),
      batchOptions,
      onItem,
    );
  const call = (item: unknown) => target.call([item]);
  return streamThrough<unknown, unknown>(items, { name: `vmap(${target.name})`, ...progress, ...streamOptions }, (up, exec) =>
    usesBatches(target, exec.frame) ? new BatchedStage(up, run, size, exec) : new MapStage(up, call, { concurrency, ordered: false }, exec),
  ).results();
}

/**
 * True when the batch engine would run `target` better than item by item: a native batch,
 * or chunks on the worker pool or a remote executor. Inside a durable run, never: results
 * keep source order there and each item's calls are journaled by its offset.
 */
function usesBatches(target: BatchTarget, frame: Frame): boolean {
  if (frame.run !== undefined) return false;
  const entry = target.entry;
  if (entry === undefined) return target.jit !== undefined;
  if (entry.batchEntry !== undefined) return true;
  const placement = entry.pinned ?? frame.placement;
  if (placement === "inline") return false;
  if (placement === "worker" || placement?.startsWith(REMOTE)) return true;
  return entry.desc.kind !== "io" && !entry.desc.async;
}

/**
 * Runs items through the batch engine in batches, handing on each item's value (or its
 * failure) as the engine settles it. A batch is what the source has ready, up to `size`;
 * while two batches run, the next one gathers up to `size` items and no more is read.
 */
export class BatchedStage<A> extends Gathering<unknown> implements Puller<unknown>, UpReader<A> {
  readonly name: string;
  private waitingV: A[] = [];
  private waitingL: Lineage[] = [];
  private upDone = false;
  upPending = false;
  upError: { error: unknown } | undefined;
  private running = 0;
  private closed = false;
  /** Fires when the stream stops or this stage is closed (a later `take` had enough): in-flight batches stop. */
  private readonly controller = new AbortController();
  private readonly unlink: () => void;
  private readonly frame: Frame;

  constructor(
    private readonly up: Puller<A>,
    private readonly run: (batch: readonly A[], onItem: (r: ItemResult<unknown>) => void) => Promise<ItemResult<unknown>[]>,
    private readonly size: number,
    exec: Exec,
  ) {
    super();
    this.name = `vmap#${exec.nextStage()}`;
    this.unlink = linkSignals(this.controller, [exec.signal], this.name);
    this.frame = exec.frame.derive({ signal: this.controller.signal });
  }

  pull(): Pulled<unknown> {
    this.fill();
    if (this.hasOutput()) return this.take();
    if (this.upError) {
      const { error } = this.upError;
      this.upError = undefined;
      throw error;
    }
    if (this.closed || (this.upDone && this.running === 0 && this.waitingV.length === 0)) return null;
    return this.sleep().then(() => this.pull());
  }

  private fill(): void {
    while (!this.closed) {
      while (this.running < BATCHES_IN_FLIGHT && this.waitingV.length > 0) this.start();
      if (this.waitingV.length >= this.size || this.upDone || this.upPending || this.upError) return;
      // Hand on what is ready before reading further: the producer advances only when pulled.
      if (this.hasOutput()) return;
      if (!pullUp(this.up, this)) return;
    }
  }

  setInput(chunk: Chunk<A> | null): void {
    if (this.closed) return;
    if (chunk === null) {
      this.upDone = true;
      return;
    }
    if (chunk.failures !== undefined) (this.failures ??= []).push(...chunk.failures);
    for (let i = 0; i < chunk.values.length; i++) {
      this.waitingV.push(chunk.values[i]!);
      this.waitingL.push(chunk.lineage[i]!);
    }
  }

  private start(): void {
    const values = this.waitingV.splice(0, this.size);
    const lineage = this.waitingL.splice(0, this.size);
    const seen = new Array<boolean>(values.length).fill(false);
    const settle = (r: ItemResult<unknown>): void => {
      if (this.closed || seen[r.index]) return;
      seen[r.index] = true;
      if (r.ok) {
        this.outV.push(r.value);
        this.outL.push(lineage[r.index]!);
      } else (this.failures ??= []).push({ lineage: lineage[r.index]!, error: r.error, input: values[r.index], stage: this.name });
    };
    this.running++;
    store.run(this.frame, this.run, values, (r) => {
      settle(r);
      this.signal();
    }).then(
      // Items the engine settled only in its answer (cut short by a stop) are accounted for too.
      (results) => {
        this.running--;
        for (const r of results) settle(r);
        this.signal();
      },
      (error: unknown) => {
        this.running--;
        for (let i = 0; i < values.length; i++) settle({ ok: false, index: i, error });
        this.signal();
      },
    );
  }

  close(): void | Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.controller.abort(new Cancelled(this.name, "the stream stopped"));
    this.unlink();
    this.waitingV = [];
    this.waitingL = [];
    this.signal();
    return this.up.close();
  }
}
