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

/** The settings a `Runtime` owns. */
export interface Settings {
  concurrency: number;
  /** The one validation switch: the kernel, vmap and the validators themselves read it. */
  validate: boolean;
  random: () => number;
}

/** The defaults. Internal. */
export function newSettings(): Settings {
  return { concurrency: Infinity, validate: true, random: Math.random };
}

/** The settings in force. Internal: read by the runtime on each call. */
export let settings: Settings = newSettings();

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

/** Makes `next` the settings in force; returns the previous object. Internal: `Runtime` swaps it. */
export function installSettings(next: Settings): Settings {
  const previous = settings;
  settings = next;
  settingsVersion++;
  return previous;
}
