// Names the documentation's examples use without defining them, as a reader would assume
// them from the surrounding prose. Declared once, here, for every example that
// test/docs/compiled.test.ts type-checks; a block that defines a name itself shadows these.
// Excluded from tsconfig.json, so no other test file sees these names.
type Op<F extends (...args: any[]) => any> = import("weft").Op<F>;
type Rubric = { criteria: { name: string; weight: number }[] };

declare const Effect: typeof import("effect").Effect;
declare function afterAll(fn: () => unknown): void;
declare function callModel(model: string, prompt: string, options?: { signal?: AbortSignal; temperature?: unknown }): Promise<number>;

/** The README's Module: a model-backed judge with one op method. */
declare const WeftModule: typeof import("weft").Module;
declare class Judge extends WeftModule {
  constructor(model: string);
  readonly model: string;
  score(answer: string, rubric?: Rubric): Promise<number>;
}
declare const judge: Judge;

declare const request: Request;
declare const question: string;
declare const questions: string[];
declare const answer: string;
declare const answers: string[];
declare const items: string[];
declare const rubric: Rubric;

declare const draft: Op<(question: string) => Promise<string>>;
declare const draftMany: Op<(question: string) => Promise<string[]>>;
declare const critique: Op<(question: string) => Promise<string>>;
declare const merge: Op<(a: string, b: string) => Promise<string>>;
declare const score: Op<(answer: string) => Promise<number>>;
declare const judgeOne: Op<(answer: string, rubric: Rubric) => Promise<number>>;
declare const classify: Op<(question: string) => Promise<{ isMath: boolean }>>;
declare const solve: Op<(question: string) => Promise<string>>;
declare const chat: Op<(question: string) => Promise<string>>;
declare const tokenize: Op<(text: string) => Promise<string[]>>;
declare const vectorize: Op<(tokens: string[]) => Promise<number[]>>;
declare const embed: Op<(text: string) => Promise<number[]>>;
declare const similarity: Op<(vector: number[]) => Promise<number>>;
declare const pipeline: Op<(input: string | string[]) => Promise<string>>;
declare const job: () => Promise<string>;
declare const wire: Op<(amount: number) => Promise<string>>;
declare function makeHandler(): () => void;
declare const slow: Op<() => Promise<string>>;
declare const flaky: Op<() => Promise<string>>;
declare const crashy: Op<() => Promise<string>>;
