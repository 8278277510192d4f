/**
 * Options are checked: an unknown key in any options object is a TypeError naming it and
 * the nearest valid key, at definition time where possible. And one parser of call forms,
 * which the runtime's front doors and the transformer's site finder both read.
 */
import { describe, expect, it } from "vitest";
import { Module, configure, jit, op, vmap, withContext } from "weft";
import { CALL_FORMS, callForm, type CallKind } from "../../decorators/options.js";
import { createProgram, ts6 } from "../schema/support.js";
import { WEFT_STUB, emit, runCommonJs } from "../transformer/support.js";

const fn = async (x: number) => x;

describe("unknown option keys", () => {
  it.each([
    ["op()", () => op({ timeuot: "1s" } as never, fn), /op\(fn\): unknown option "timeuot"; did you mean "timeout"\?/],
    ["op() retries", () => op({ retries: 3 } as never, fn), /unknown option "retries"; did you mean "retry"\?/],
    ["op() retry.tims", () => op({ retry: { tims: 3 } } as never, fn), /unknown option "tims" in retry; did you mean "times"\?/],
    ["op() retry.backoff.intial", () => op({ retry: { times: 1, backoff: { intial: 5 } } } as never, fn), /unknown option "intial" in retry\.backoff; did you mean "initial"\?/],
    ["@op()", () => op({ concurency: 2 } as never), /@op\(\): unknown option "concurency"; did you mean "concurrency"\?/],
    [".with()", () => op(fn).with({ punct: "!" } as never), /unknown option "punct"; config values go under config: \{ punct: \.\.\. \}/],
    [".with() timout", () => op(fn).with({ timout: 5 } as never), /unknown option "timout"; did you mean "timeout"\?/],
    ["jit()", () => jit(fn, { stirct: true } as never), /jit\(fn\): unknown option "stirct"; did you mean "strict"\?/],
    ["vmap()", () => vmap(fn, { onErorr: "collect" } as never), /vmap\(fn\): unknown option "onErorr"; did you mean "onError"\?/],
    ["configure()", () => configure({ concurrancy: 4 } as never), /configure: unknown option "concurrancy"; did you mean "concurrency"\?/],
    ["withContext()", () => withContext({ timeuot: 5 } as never, () => 1), /withContext: unknown option "timeuot"; did you mean "timeout"\?/],
  ])("%s throws a TypeError naming the key and the nearest valid one", (_, define, message) => {
    expect(define).toThrow(TypeError);
    expect(define).toThrow(message);
  });

  it("lists the valid keys when nothing is close", () => {
    expect(() => op({ zzz: 1 } as never, fn)).toThrow(/unknown option "zzz" \(valid: name, kind, config, retry, timeout, concurrency, validate, placement, batch, cache, risk\)/);
  });

  it("checks a Module handle's .with() too", () => {
    class Judge extends Module {
      @op
      async score(x: string): Promise<number> {
        return x.length;
      }
    }
    expect(() => new Judge().with({ cofig: { a: 1 } } as never)).toThrow(/Judge\.with\(\): unknown option "cofig"; did you mean "config"\?/);
  });

  it("accepts every documented key", () => {
    expect(() =>
      op({ name: "ok", kind: "io", config: {}, retry: { times: 1, backoff: { initial: 1, factor: 2, max: 3, jitter: 0 }, retryOn: () => true }, timeout: 5, concurrency: 1, validate: true, placement: "inline" }, fn),
    ).not.toThrow();
    expect(() => op(fn).with({ config: { a: 1 }, timeout: 5, retry: { times: 1 } })).not.toThrow();
    expect(() => vmap(fn, { inAxes: [0], concurrency: 2, chunkSize: 2, onError: "collect", onProgress: () => undefined })).not.toThrow();
    expect(() => jit(fn, { name: "j", strict: false, static: [], cacheSize: 2, concurrency: 2, onError: "settle" })).not.toThrow();
    expect(withContext({ config: {}, timeout: 5, tenant: "t", user: "u", values: {} }, () => 1)).toBe(1);
  });
});

/** Every shape the call forms describe, and some they reject, as source text with argument kinds. */
const SHAPES: ReadonlyArray<[kind: CallKind, args: ReadonlyArray<"fn" | "opts">]> = [
  ["op", ["fn"]],
  ["op", ["opts", "fn"]],
  ["op", ["fn", "opts"]],
  ["op", ["opts"]],
  ["jit", ["fn"]],
  ["jit", ["fn", "opts"]],
  ["jit", ["opts", "fn"]],
  ["jit", ["fn", "fn"]],
  ["vmap", ["fn"]],
  ["vmap", ["fn", "opts"]],
  ["vmap", ["opts", "fn"]],
];

describe("one parser of call forms, shared with the transformer", () => {
  it("covers each front door's forms", () => {
    expect(Object.keys(CALL_FORMS).sort()).toEqual(["jit", "op", "vmap"]);
  });

  it.each(SHAPES)("%s(%s): the transformer describes the function the runtime calls", (kind, shape) => {
    const form = callForm(kind, shape.length, (i) => shape[i] === "fn");
    const source = shape.map((a, i) => (a === "fn" ? `(x${i}: number) => x${i}` : "{}")).join(", ");
    const program = createProgram(ts6, {
      ...WEFT_STUB,
      "package.json": JSON.stringify({ type: "commonjs" }),
      "main.ts": `import { ${kind} } from "weft";\nexport const site = ${kind}(${source});\n`,
    }, { module: ts6.ModuleKind.NodeNext, moduleResolution: ts6.ModuleResolutionKind.NodeNext });
    const out = emit(ts6, program);
    const [call] = runCommonJs(out.js, "main.js");
    const meta = call!.args.find((a) => typeof a === "object" && a !== null && (a as { __weft?: unknown }).__weft === 1) as { params?: { name: string }[] } | undefined;
    if (form === undefined) {
      // Not a function form of this front door: the transformer describes nothing either.
      expect(meta?.params).toBeUndefined();
    } else {
      // The parameter the transformer described belongs to the function the runtime picks.
      expect(meta?.params?.map((p) => p.name)).toEqual([`x${form.fn}`]);
    }
  });
});
