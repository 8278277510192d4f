/**
 * The call log of the jit tests' op bodies, without vitest (the benchmark suite imports the
 * differential generator's ops, ./fuzz-ops.ts, outside a test run). ./harness.ts re-exports it.
 */
import type { OpKind } from "weft";

/** One op call as an op body saw it. */
export interface Call {
  readonly op: string;
  readonly kind: OpKind;
  /** The arguments, serialised when the call started (later mutation cannot change the record). */
  readonly args: string;
}

const calls: Call[] = [];

/** Op bodies call this first: records `op(args)` in the log. */
export function note(op: string, kind: OpKind, ...args: unknown[]): void {
  calls.push({ op, kind, args: JSON.stringify(args) });
}

/** The calls logged while `run` ran, with its outcome (a value or an error). */
export async function logged<T>(run: () => Promise<T>): Promise<{ outcome: Outcome<T>; calls: Call[] }> {
  const from = calls.length;
  let outcome: Outcome<T>;
  try {
    outcome = { ok: true, value: await run() };
  } catch (error) {
    outcome = { ok: false, error };
  }
  return { outcome, calls: calls.splice(from) };
}

export type Outcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: unknown };
