/**
 * The pymai quick-start, in weft: Tokenize -> Embed -> Similarity -> Humanize as ops on
 * Modules, composed with Sequential, configured with .with(), and run with a deadline.
 */
import { Module, Sequential, getContext, op, subscribe, withContext } from "weft";

/** Lower-cases and splits text into word tokens. */
export const tokenize = op({ kind: "cpu" }, function tokenize(pair: [string, string]): [string[], string[]] {
  const words = (text: string) => text.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter(Boolean);
  return [words(pair[0]), words(pair[1])];
});

/** Hashed bag-of-words embedding with `dims` buckets (the hashing trick). */
export class Embed extends Module {
  constructor(readonly dims = 1024) {
    super();
  }
  @op({ kind: "cpu" })
  async forward(tokens: [string[], string[]]): Promise<[Float64Array, Float64Array]> {
    return [this.embed(tokens[0]), this.embed(tokens[1])];
  }
  private embed(tokens: string[]): Float64Array {
    const v = new Float64Array(this.dims);
    for (const t of tokens) {
      let h = 2166136261;
      for (let i = 0; i < t.length; i++) h = Math.imul(h ^ t.charCodeAt(i), 16777619);
      v[(h >>> 0) % this.dims]! += 1;
    }
    return v;
  }
}

/** Cosine similarity of two vectors. */
export const cosine = op({ kind: "pure" }, function cosine(pair: [Float64Array, Float64Array]): number {
  const [a, b] = pair;
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
});

/** Turns a score into a sentence, using the `threshold` from the context's config. */
export class Humanize extends Module {
  @op
  async forward(score: number): Promise<string> {
    const threshold = (getContext().config.threshold as number | undefined) ?? 0.5;
    return `${score >= threshold ? "close" : "not close"} (score=${score.toFixed(3)}, threshold=${threshold})`;
  }
}

/** The whole pipeline, as one op. */
export const similarity = Sequential(tokenize, new Embed(), cosine, new Humanize()).with({ config: { threshold: 0.8 }, timeout: "1s" });

export async function main(): Promise<void> {
  let calls = 0;
  const stop = subscribe((e) => {
    if (e.type === "op:end") calls++;
  });
  const pairs: Array<[string, string]> = [
    ["hello world", "Hello, world!"],
    ["the cat sat on the mat", "a dog ran in the park"],
    ["weft composes operators", "weft composes AI operators"],
  ];
  for (const pair of pairs) console.log(`${JSON.stringify(pair)} -> ${await similarity(pair)}`);
  const strict = await withContext({ config: { threshold: 0.99 } }, () => similarity(pairs[2]!));
  console.log(`with threshold 0.99 for this call: ${strict}`);
  stop();
  console.log(`${calls} op calls, each with its own context, span and validation.`);
}
