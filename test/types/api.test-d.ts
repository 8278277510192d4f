/**
 * The public type-level API, checked by the compiler (vitest typecheck, run by `npm test`):
 * what a caller's editor infers for ops, Modules, Sequential, vmap, jit, `.with()` and the
 * errors. Each `expectTypeOf` fails the run when the type it pins changes.
 */
import { describe, expectTypeOf, it } from "vitest";
import type { Effect } from "effect";
import {
  op,
  jit,
  vmap,
  Module,
  Sequential,
  OpError,
  ValidationError,
  DeadlineExceeded,
  Cancelled,
  WorkerCrashed,
  BatchItemError,
  WeftError,
  type Op,
  type OpFailure,
  type OpMethods,
  type WithOptions,
  type Jitted,
  type JitInspection,
  type VmappedFn,
  type Batched,
  type VmapResult,
  type ItemResult,
  type ValidationIssue,
  type OpDescriptor,
} from "weft";

const tokenize = op({ kind: "cpu" }, (text: string): string[] => text.split(" "));
const count = op(async (tokens: string[]) => tokens.length);

class Judge extends Module {
  constructor(readonly model: string) {
    super();
  }
  @op({ retry: { times: 2 } })
  async score(answer: string, weight: number): Promise<number> {
    return answer.length * weight;
  }
  helper(): string {
    return this.model;
  }
}

describe("Op<F>", () => {
  it("calls like F, always returning a promise of its awaited result", () => {
    expectTypeOf(tokenize).toEqualTypeOf<Op<(text: string) => string[]>>();
    expectTypeOf(tokenize).parameters.toEqualTypeOf<[text: string]>();
    expectTypeOf(tokenize).returns.toEqualTypeOf<Promise<string[]>>();
    expectTypeOf(count).returns.toEqualTypeOf<Promise<number>>();
    // @ts-expect-error: a number is not a string
    void tokenize(42);
  });

  it("keeps its type through .with(), and carries a descriptor", () => {
    expectTypeOf(tokenize.with({ timeout: "1s" })).toEqualTypeOf(tokenize);
    expectTypeOf(tokenize.descriptor).toEqualTypeOf<OpDescriptor>();
  });

  it("has an Effect entry failing with OpFailure", () => {
    expectTypeOf(tokenize.effect("a b")).toEqualTypeOf<Effect.Effect<string[], OpFailure>>();
    expectTypeOf<OpFailure>().toEqualTypeOf<OpError | ValidationError | DeadlineExceeded | Cancelled | WorkerCrashed>();
  });
});

describe(".with() options", () => {
  it("takes config, a duration and a retry policy, and nothing else", () => {
    expectTypeOf<WithOptions>().toHaveProperty("config");
    expectTypeOf<WithOptions["timeout"]>().toExtend<string | number | undefined>();
    expectTypeOf({ timeout: "250ms", retry: { times: 3, backoff: { initial: "100ms", factor: 2 } } } as const).toExtend<WithOptions>();
    // @ts-expect-error: not a duration
    tokenize.with({ timeout: "soon" });
    // @ts-expect-error: unknown option
    tokenize.with({ retries: 3 });
  });
});

describe("Module and OpMethods", () => {
  it("names the promise-returning methods, not Module's own members or sync methods", () => {
    expectTypeOf<OpMethods<Judge>>().toEqualTypeOf<"score">();
  });

  it("keeps the class type through .with() and types .effect() by method name", () => {
    const judge = new Judge("small");
    expectTypeOf(judge.with({ config: { temperature: 0 } })).toEqualTypeOf<Judge>();
    expectTypeOf(judge.effect("score", "answer", 2)).toEqualTypeOf<Effect.Effect<number, OpFailure>>();
    // @ts-expect-error: helper is not an op method
    judge.effect("helper");
    // @ts-expect-error: wrong argument type for score
    judge.effect("score", "answer", "heavy");
  });
});

describe("Sequential", () => {
  it("pipes each step's output type into the next, and is an op", () => {
    const one = Sequential(tokenize);
    expectTypeOf(one).toEqualTypeOf<Op<(text: string) => Promise<string[]>>>();
    const two = Sequential(tokenize, count);
    expectTypeOf(two).toEqualTypeOf<Op<(text: string) => Promise<number>>>();
    const three = Sequential(tokenize, count, async (n: number) => n > 3);
    expectTypeOf(three).returns.toEqualTypeOf<Promise<boolean>>();
    const withModule = Sequential(tokenize, { forward: async (tokens: string[]) => tokens.join("-") });
    expectTypeOf(withModule).returns.toEqualTypeOf<Promise<string>>();
  });

  it("rejects a step whose input does not match the previous output", () => {
    // @ts-expect-error: count takes string[], not the number the second step returns
    Sequential(tokenize, count, count);
  });
});

describe("vmap", () => {
  it("batches every mapped parameter and keeps null axes as they are", () => {
    expectTypeOf<Batched<[string, number]>>().toEqualTypeOf<[readonly string[], readonly number[]]>();
    expectTypeOf<Batched<[string, number], [0, null]>>().toEqualTypeOf<[readonly string[], number]>();
    const shared = vmap(op(async (a: string, n: number) => a.repeat(n)), { inAxes: [0, null] });
    expectTypeOf(shared).parameters.toEqualTypeOf<[readonly string[], number]>();
  });

  it("resolves to values under throw, and to item results under collect", () => {
    const scores = vmap(count);
    expectTypeOf(scores).toEqualTypeOf<VmappedFn<typeof count>>();
    expectTypeOf(scores).returns.toEqualTypeOf<Promise<number[]>>();
    const collected = vmap(count, { onError: "collect" });
    expectTypeOf(collected).returns.toEqualTypeOf<Promise<ItemResult<number, WeftError>[]>>();
    expectTypeOf<VmapResult<Promise<number>, "throw">>().toEqualTypeOf<number[]>();
  });

  it("gives a failed item of an op a typed error, and narrows on ok", () => {
    type R = ItemResult<number, WeftError>;
    expectTypeOf<Extract<R, { ok: false }>["error"]>().toEqualTypeOf<WeftError>();
    expectTypeOf<Extract<R, { ok: true }>["value"]>().toEqualTypeOf<number>();
    expectTypeOf<Extract<R, { ok: false }>["index"]>().toEqualTypeOf<number>();
    // A plain function may throw anything.
    const plain = vmap(async (x: number) => x * 2, { onError: "collect" });
    expectTypeOf(plain).returns.toEqualTypeOf<Promise<ItemResult<number, unknown>[]>>();
  });
});

describe("jit", () => {
  it("calls like F and inspects and explains with F's parameters", () => {
    const pipeline = jit(async (text: string) => count(await tokenize(text)));
    expectTypeOf(pipeline).toEqualTypeOf<Jitted<(text: string) => Promise<number>>>();
    expectTypeOf(pipeline).returns.toEqualTypeOf<Promise<number>>();
    expectTypeOf(pipeline.inspect).returns.toEqualTypeOf<Promise<JitInspection>>();
    expectTypeOf(pipeline.explain).parameters.toEqualTypeOf<[text: string]>();
    expectTypeOf(pipeline.explain).returns.toEqualTypeOf<string>();
    expectTypeOf(jit({ strict: true }, async (n: number) => n)).returns.toEqualTypeOf<Promise<number>>();
    // @ts-expect-error: unknown jit option
    jit(async (n: number) => n, { strictt: true });
  });
});

describe("errors", () => {
  it("are WeftErrors with a literal _tag and the fields the README lists", () => {
    expectTypeOf<OpError>().toExtend<WeftError>();
    expectTypeOf<OpError["_tag"]>().toEqualTypeOf<"OpError">();
    expectTypeOf<OpError>().toHaveProperty("op").toEqualTypeOf<string>();
    expectTypeOf<OpError>().toHaveProperty("attempts").toEqualTypeOf<number>();
    expectTypeOf<ValidationError["_tag"]>().toEqualTypeOf<"ValidationError">();
    expectTypeOf<ValidationError["issues"]>().toEqualTypeOf<readonly ValidationIssue[]>();
    expectTypeOf<ValidationIssue["direction"]>().toEqualTypeOf<"input" | "output">();
    expectTypeOf<ValidationIssue>().toHaveProperty("path").toEqualTypeOf<string>();
    expectTypeOf<ValidationIssue>().toHaveProperty("expected").toEqualTypeOf<string>();
    expectTypeOf<ValidationIssue>().toHaveProperty("received").toEqualTypeOf<string>();
    expectTypeOf<DeadlineExceeded["_tag"]>().toEqualTypeOf<"DeadlineExceeded">();
    expectTypeOf<DeadlineExceeded>().toHaveProperty("budgetMs").toEqualTypeOf<number>();
    expectTypeOf<DeadlineExceeded>().not.toHaveProperty("budget");
    expectTypeOf<Cancelled["_tag"]>().toEqualTypeOf<"Cancelled">();
    expectTypeOf<Cancelled["reason"]>().toEqualTypeOf<unknown>();
    expectTypeOf<WorkerCrashed["exitCode"]>().toEqualTypeOf<number | undefined>();
    expectTypeOf<BatchItemError>().toHaveProperty("index").toEqualTypeOf<number>();
  });

  it("narrow a union on _tag", () => {
    const describe = (e: OpFailure) => {
      if (e._tag === "DeadlineExceeded") return expectTypeOf(e).toEqualTypeOf<DeadlineExceeded>();
      if (e._tag === "ValidationError") return expectTypeOf(e).toEqualTypeOf<ValidationError>();
      return undefined;
    };
    void describe;
  });
});
