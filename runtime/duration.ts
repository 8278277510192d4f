import type { DurationInput } from "../decorators/descriptor.js";

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

/**
 * Milliseconds from a `DurationInput` (`250`, `"250ms"`, `"20s"`, `"2m"`, `"1h"`).
 * Throws on anything else, naming the bad value, so a typo never becomes "no timeout".
 */
export function toMillis(input: DurationInput, what = "duration"): number {
  if (typeof input === "number") {
    if (!Number.isFinite(input) || input < 0) throw new RangeError(`${what}: expected a non-negative number of milliseconds, received ${input}`);
    return input;
  }
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(input);
  if (!match) throw new RangeError(`${what}: expected a duration such as "250ms", "20s" or "2m", received ${JSON.stringify(input)}`);
  return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
}
