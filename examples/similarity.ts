/**
 * The pymai quick-start at scale: Tokenize -> Embed -> Similarity -> Humanize over a few
 * thousand generated text pairs, with real CPU work: a Unicode word tokeniser, hashed
 * TF-IDF embeddings of 4,096 dimensions, cosine similarity. Run eagerly, jitted, and
 * jitted + vmapped, and timed.
 */
import { getContext, jit, op, vmap } from "weft";

/** Embedding width: large enough that embedding is real work, as a model's would be. */
export const DIMS = 4096;

/** A small deterministic PRNG (mulberry32), so the corpus is the same on every machine. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SYLLABLES = "ka lo mi re su ta ne vo pi ru za de fo gi la mo ni se tu ve".split(" ");

/** 3,000 pronounceable synthetic words: two to four syllables each, from a fixed seed. */
const VOCABULARY: readonly string[] = (() => {
  const next = rng(1);
  const words = new Set<string>();
  while (words.size < 3000) {
    const n = 2 + Math.floor(next() * 3);
    words.add(Array.from({ length: n }, () => SYLLABLES[Math.floor(next() * SYLLABLES.length)]).join(""));
  }
  return [...words];
})();

/** One pair of texts to compare. */
export interface TextPair {
  readonly a: string;
  readonly b: string;
}

/** `count` pairs: half paraphrases (shared words, shuffled), half unrelated. */
export function generatePairs(count: number, seed = 7): TextPair[] {
  const next = rng(seed);
  const pick = () => VOCABULARY[Math.floor(next() * VOCABULARY.length)]!;
  const sentence = (n: number) => Array.from({ length: n }, pick);
  return Array.from({ length: count }, (_, i) => {
    const words = sentence(40 + Math.floor(next() * 40));
    const a = words.join(" ");
    if (i % 2 === 0) {
      const shuffled = words.map((w) => (next() < 0.2 ? pick() : w)).sort(() => next() - 0.5);
      return { a, b: `${shuffled.join(", ")}.` };
    }
    return { a, b: sentence(40 + Math.floor(next() * 40)).join(" ") };
  });
}

/** Inverse document frequency per hashed bucket, from a fixed reference corpus. */
const IDF: Float64Array = (() => {
  const docs = generatePairs(200, 99).flatMap((p) => [p.a, p.b]);
  const df = new Float64Array(DIMS);
  for (const doc of docs) {
    const seen = new Set<number>();
    for (const t of words(doc)) seen.add(bucket(t));
    for (const b of seen) df[b]! += 1;
  }
  return df.map((n) => Math.log((1 + docs.length) / (1 + n)) + 1);
})();

function words(text: string): string[] {
  return text.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter(Boolean);
}

function bucket(token: string): number {
  let h = 2166136261;
  for (let i = 0; i < token.length; i++) h = Math.imul(h ^ token.charCodeAt(i), 16777619);
  return (h >>> 0) % DIMS;
}

/** Lower-cases and splits text into Unicode word tokens. */
export const tokenize = op({ kind: "cpu" }, (text: string): string[] => words(text));

/** Hashed TF-IDF embedding (the hashing trick), L2-normalised. */
export const embed = op({ kind: "cpu" }, (tokens: string[]): Float64Array => {
  const v = new Float64Array(DIMS);
  for (const t of tokens) v[bucket(t)]! += 1;
  let norm = 0;
  for (let i = 0; i < DIMS; i++) {
    // Sub-linear tf, then idf: the classic weighting, computed densely as a model would.
    const w = v[i]! > 0 ? (1 + Math.log(v[i]!)) * IDF[i]! : 0;
    v[i] = w;
    norm += w * w;
  }
  norm = Math.sqrt(norm) || 1;
  for (let i = 0; i < DIMS; i++) v[i]! /= norm;
  return v;
});

/** Cosine similarity of two L2-normalised vectors. */
export const cosine = op({ kind: "pure" }, (a: Float64Array, b: Float64Array): number => {
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += a[i]! * b[i]!;
  return dot;
});

/** A sentence for a score, with the `threshold` from the context's config. */
export const humanize = op({ kind: "pure" }, (score: number): string => {
  const threshold = (getContext().config.threshold as number | undefined) ?? 0.5;
  return `${score >= threshold ? "close" : "not close"} (${score.toFixed(3)})`;
});

/** The pipeline for one pair, written as plain sequential code. */
export async function compare(pair: TextPair): Promise<string> {
  const ta = await tokenize(pair.a);
  const tb = await tokenize(pair.b);
  const ea = await embed(ta);
  const eb = await embed(tb);
  return humanize(await cosine(ea, eb));
}

/** The same pipeline, jitted: the two tokenize -> embed chains are independent. */
export const compareJit = jit(compare);

/** The jitted pipeline mapped over a batch. */
export const compareAll = vmap(compareJit, { concurrency: 64 });
