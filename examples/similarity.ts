/**
 * The pymai quick-start at scale: Tokenize -> Embed -> Similarity -> Humanize over a few
 * thousand generated text pairs, with real CPU work: a Unicode word tokeniser, hashed
 * TF-IDF embeddings of 4,096 dimensions (`hashedEmbedding`, what `local:embed` computes),
 * cosine similarity. Run eagerly, jitted, and jitted + vmapped, and timed. The corpus comes
 * from weft's seeded PRNG, so it is the same on every machine.
 */
import { getContext, hashedEmbedding, jit, op, vmap } from "weft";
import { prng } from "weft/testing";

/** Embedding width: large enough that embedding is real work, as a model's would be. */
export const DIMS = 4096;

const SYLLABLES = "ka lo mi re su ta ne vo pi ru za de fo gi la mo ni se tu ve".split(" ");

/** 3,000 pronounceable synthetic words: two to four syllables each, from a fixed seed. */
const VOCABULARY: readonly string[] = (() => {
  const next = prng(1);
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
  const next = prng(seed);
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
  // The buckets a document fills are the non-zero entries of its (unweighted) embedding.
  for (const doc of docs) hashedEmbedding(words(doc), DIMS).forEach((x, b) => (df[b]! += x > 0 ? 1 : 0));
  return df.map((n) => Math.log((1 + docs.length) / (1 + n)) + 1);
})();

function words(text: string): string[] {
  return text.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter(Boolean);
}

/** Lower-cases and splits text into Unicode word tokens. */
export const tokenize = op({ kind: "cpu" }, (text: string): string[] => words(text));

/** Hashed TF-IDF embedding (the hashing trick), L2-normalised: the embedder of `local:embed`, with this corpus's IDF. */
export const embed = op({ kind: "cpu" }, (tokens: string[]): Float64Array => hashedEmbedding(tokens, DIMS, IDF));

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
