/**
 * The CPU ops the workers benchmark runs. A module of its own, with nothing else in it:
 * worker threads import it by the locator the weft transformer injects, and importing it
 * must not start a benchmark.
 */
import { op } from "weft";

/**
 * `rounds` rounds of an xorshift mix: real, pure-JS CPU work whose cost is linear in
 * `rounds` and which no optimiser can skip (the result depends on every round).
 *
 * Every value stays a signed 32-bit integer, on purpose: returning `x >>> 0` (an unsigned
 * value above 2^31 is a heap number) made V8 deoptimise the caller's loop over and over,
 * tripling the single-threaded baseline's time after a dozen runs and flattering the pool.
 *
 * @example
 * ```ts
 * spin(1, 1_000_000); // about a millisecond or two
 * ```
 */
export function spin(seed: number, rounds: number): number {
  let x = seed | 0 || 0x2545f491;
  for (let i = 0; i < rounds; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
  }
  return x;
}

/**
 * `spin` as a cpu op.
 *
 * @example
 * ```ts
 * await spinOp(1, 1000);
 * ```
 */
export const spinOp = op({ kind: "cpu", name: "spin" }, spin);

/**
 * What flows through the 8-stage pipeline: a value, the work per stage, and a trail that
 * proves every stage ran in order.
 *
 * @example
 * ```ts
 * const r: Rec = { v: 1, rounds: 2000, trail: 0 };
 * ```
 */
export interface Rec {
  readonly v: number;
  readonly rounds: number;
  readonly trail: number;
}

function stage(r: Rec, k: number): Rec {
  return { v: spin(r.v + k, r.rounds), rounds: r.rounds, trail: r.trail * 10 + k };
}

/** Pipeline stage 1 of 8. @example `await stage1({ v: 1, rounds: 2000, trail: 0 })` */
export const stage1 = op({ kind: "cpu" }, function stage1(r: Rec): Rec {
  return stage(r, 1);
});
/** Pipeline stage 2 of 8. @example `await stage2(await stage1(r))` */
export const stage2 = op({ kind: "cpu" }, function stage2(r: Rec): Rec {
  return stage(r, 2);
});
/** Pipeline stage 3 of 8. @example `await stage3(r)` */
export const stage3 = op({ kind: "cpu" }, function stage3(r: Rec): Rec {
  return stage(r, 3);
});
/** Pipeline stage 4 of 8. @example `await stage4(r)` */
export const stage4 = op({ kind: "cpu" }, function stage4(r: Rec): Rec {
  return stage(r, 4);
});
/** Pipeline stage 5 of 8. @example `await stage5(r)` */
export const stage5 = op({ kind: "cpu" }, function stage5(r: Rec): Rec {
  return stage(r, 5);
});
/** Pipeline stage 6 of 8. @example `await stage6(r)` */
export const stage6 = op({ kind: "cpu" }, function stage6(r: Rec): Rec {
  return stage(r, 6);
});
/** Pipeline stage 7 of 8. @example `await stage7(r)` */
export const stage7 = op({ kind: "cpu" }, function stage7(r: Rec): Rec {
  return stage(r, 7);
});
/** Pipeline stage 8 of 8. @example `await stage8(r)` */
export const stage8 = op({ kind: "cpu" }, function stage8(r: Rec): Rec {
  return stage(r, 8);
});

/**
 * The eight stages in pipeline order.
 *
 * @example
 * ```ts
 * const chain = stages.map((s) => ({ opId: s.descriptor.id }));
 * ```
 */
export const stages = [stage1, stage2, stage3, stage4, stage5, stage6, stage7, stage8] as const;

/**
 * A no-op body, for timing a bare round trip.
 *
 * @example
 * ```ts
 * await nothing(1);
 * ```
 */
export const nothing = op({ kind: "cpu" }, function nothing(x: number): number {
  return x;
});
