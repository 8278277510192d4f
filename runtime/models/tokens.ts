/**
 * A simple tokenizer: words, numbers and single punctuation marks. Used for the local
 * provider's usage, for budget and rate-limit estimates before a request is sent, and by
 * the mock server. Within about 30% of BPE counts on English prose, which is what an
 * estimate needs.
 */
import type { Message } from "./provider.js";

const TOKEN = /[\p{L}\p{N}]+|[^\s\p{L}\p{N}]/gu;

/** The tokens of `text`. */
export function tokenize(text: string): string[] {
  return text.match(TOKEN) ?? [];
}

/** How many tokens `text` has. */
export function countTokens(text: string): number {
  let n = 0;
  TOKEN.lastIndex = 0;
  while (TOKEN.exec(text) !== null) n++;
  return n;
}

/** Tokens of a chat prompt: each message's content plus a few for its role and framing. */
export function countMessageTokens(messages: readonly Message[]): number {
  let n = 0;
  for (const m of messages) n += countTokens(m.content) + 3;
  return n;
}

/** FNV-1a, 32 bits: the seed of every deterministic choice the local provider makes. */
export function hash32(text: string, seed = 2166136261): number {
  let h = seed >>> 0;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

/**
 * mulberry32: a small deterministic PRNG, `[0, 1)`: the same seed, the same sequence, on
 * every machine. weft's one PRNG: the local provider's choices, the mock server's replies,
 * and (through `weft/testing`) generated test data and example corpora.
 *
 * @example
 * ```ts
 * const next = prng(42);
 * next(); // the same number on every run
 * ```
 */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
