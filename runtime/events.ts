/**
 * Runtime events: a deterministic window on what the runtime does (calls, attempts, retries
 * with their scheduled delays, outcomes), for tests, progress bars and logs.
 */
import { log } from "./log.js";

/** Something the runtime did. */
export type RuntimeEvent =
  | { readonly type: "op:start"; readonly op: string; readonly stepId: string }
  | { readonly type: "op:attempt"; readonly op: string; readonly stepId: string; readonly attempt: number }
  | { readonly type: "op:retry"; readonly op: string; readonly stepId: string; readonly attempt: number; readonly delayMs: number; readonly error: unknown }
  | { readonly type: "op:end"; readonly op: string; readonly stepId: string; readonly attempts: number; readonly error?: unknown }
  | { readonly type: "vmap:progress"; readonly op: string; readonly done: number; readonly failed: number; readonly total: number };

/** Receives runtime events. */
export type Listener = (event: RuntimeEvent) => void;

let listeners = new Set<Listener>();

/** True while anyone listens: the hot path checks this before building an event. */
export let observed = false;

/**
 * Listens to runtime events; returns a function that stops listening.
 *
 * @example
 * ```ts
 * const stop = subscribe((e) => { if (e.type === "op:retry") console.log(e.op, e.delayMs); });
 * await flaky();
 * stop();
 * ```
 */
export function subscribe(listener: Listener): () => void {
  listeners.add(listener);
  observed = true;
  const own = listeners;
  return () => {
    own.delete(listener);
    observed = listeners.size > 0;
  };
}

/** Sends an event to every listener. A throwing listener never breaks a call. */
export function emit(event: RuntimeEvent): void {
  for (const listener of listeners) {
    try {
      listener(event);
    } catch (error) {
      log.warn(`weft: an event listener threw: ${error instanceof Error ? error.message : String(error)}`, { code: "WEFT_LISTENER_THREW" });
    }
  }
}

/** Makes `next` the set of listeners in force; returns the previous one. Internal: `Runtime` swaps it. */
export function installListeners(next: Set<Listener>): Set<Listener> {
  const previous = listeners;
  listeners = next;
  observed = next.size > 0;
  return previous;
}
