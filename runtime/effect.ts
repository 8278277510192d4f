/**
 * Effect, loaded when a call first needs it: a retry after a failed attempt, a concurrency
 * limit, or `.effect()`. Importing it costs about 60 ms and 4 MB of heap (the `effect`
 * barrel about 200 ms and 13 MB), which a program whose ops never retry should not pay
 * when it starts. The modules are `require`d (Node loads ES modules synchronously since
 * 22.12), so the kernel's call sites stay synchronous; they resolve to the same files as an
 * `import` of `effect`, so a user's Effect and weft's are one library.
 */
import { createRequire } from "node:module";
import type * as Cause from "effect/Cause";
import type * as Effect from "effect/Effect";
import type * as Exit from "effect/Exit";
import type * as Semaphore from "effect/Semaphore";

/** The parts of Effect the runtime uses. */
export interface EffectApi {
  readonly Effect: typeof Effect;
  readonly Exit: typeof Exit;
  readonly Cause: typeof Cause;
  readonly Semaphore: typeof Semaphore;
}

let api: EffectApi | undefined;

/** Effect's modules, loaded on first use. Internal. */
export function effectApi(): EffectApi {
  if (api === undefined) {
    const load = createRequire(import.meta.url);
    api = {
      Effect: load("effect/Effect") as typeof Effect,
      Exit: load("effect/Exit") as typeof Exit,
      Cause: load("effect/Cause") as typeof Cause,
      Semaphore: load("effect/Semaphore") as typeof Semaphore,
    };
  }
  return api;
}
