/** Process-wide runtime settings. */
import { checkOptions } from "../decorators/options.js";

/** What `configure` can set. */
export interface RuntimeSettings {
  /**
   * Maximum concurrent top-level op calls. Nested calls run under their caller's permit,
   * so a limit can never deadlock a call tree. Default: unlimited.
   */
  readonly concurrency?: number;
  /** Validate op inputs and outputs against their schemas. Default true. */
  readonly validate?: boolean;
  /** Source of randomness for retry jitter, `[0, 1)`. Default `Math.random`. */
  readonly random?: () => number;
}

/** The settings in force. Internal: read by the runtime on each call. */
export const settings: { concurrency: number; validate: boolean; random: () => number } = {
  concurrency: Infinity,
  validate: true,
  random: Math.random,
};

/** Bumped on every change, so per-op caches derived from settings know to refresh. */
export let settingsVersion = 0;

/**
 * Sets process-wide runtime settings; returns the previous ones, to restore later.
 *
 * @example
 * ```ts
 * const previous = configure({ concurrency: 8 });
 * try { await Promise.all(questions.map((q) => pipeline(q))); }
 * finally { configure(previous); }
 * ```
 */
export function configure(next: RuntimeSettings): Required<RuntimeSettings> {
  checkOptions("configure", "configure", next);
  const previous = { ...settings };
  if (next.concurrency !== undefined) {
    if (!(next.concurrency >= 1)) throw new RangeError(`configure: concurrency must be >= 1, received ${next.concurrency}`);
    settings.concurrency = next.concurrency;
  }
  if (next.validate !== undefined) settings.validate = next.validate;
  if (next.random !== undefined) settings.random = next.random;
  settingsVersion++;
  return previous;
}
