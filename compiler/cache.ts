/**
 * The plan cache and the input signatures it is keyed by.
 *
 * A signature is the structure and types of a call's arguments: what a trace depends on.
 * Two calls with the same signature can share a plan; any difference retraces. So the key
 * must tell apart everything tracing may have baked in: array lengths (indexing unrolls),
 * object key sets, typed array lengths, class identity (two classes named `Judge` get
 * `<Judge>` and `<Judge#2>`), function identity, and static arguments by value.
 */
import { isPlainObject, unreachable } from "./ir.js";

/**
 * The signature of one value.
 *
 * @example
 * ```ts
 * signatureOf([{ a: 1 }]).args[0]; // { kind: "object", entries: [["a", { kind: "prim", type: "number" }]] }
 * ```
 */
export type Sig =
  /** A primitive (or null), by its type only. */
  | { readonly kind: "prim"; readonly type: "string" | "number" | "boolean" | "undefined" | "bigint" | "symbol" | "null" }
  /** A static argument, by value (plain data) or identity (anything else). */
  | { readonly kind: "static"; readonly repr: string }
  /** An array: its length and each item's signature. */
  | { readonly kind: "array"; readonly items: readonly Sig[] }
  /** A plain object: its keys, sorted, and each value's signature. */
  | { readonly kind: "object"; readonly entries: readonly (readonly [key: string, value: Sig])[] }
  /** A typed array or DataView: constructor and length. */
  | { readonly kind: "typed"; readonly ctor: string; readonly length: number }
  /** A class instance: its constructor, by identity. */
  | { readonly kind: "instance"; readonly ctor: string }
  /** A function, by identity: tracing may have called it. */
  | { readonly kind: "function"; readonly name: string }
  /** A reference back to the enclosing value `up` levels out. */
  | { readonly kind: "cycle"; readonly up: number };

type PrimType = Extract<Sig, { readonly kind: "prim" }>["type"];

/**
 * A call's signature: `key` is what the cache compares; `args` explain a difference.
 *
 * @example
 * ```ts
 * const sig: Signature = signatureOf(args, [1]);
 * cache.get(sig);
 * ```
 */
export interface Signature {
  readonly key: string;
  readonly args: readonly Sig[];
}

// Identity tags: the first object with a name keeps it, the next distinct one gets `name#2`.
const tags = new WeakMap<object, string>();
const symbolTags = new Map<symbol, string>();
const nameCounts = new Map<string, number>();

function identityTag(name: string): string {
  const count = (nameCounts.get(name) ?? 0) + 1;
  nameCounts.set(name, count);
  return count === 1 ? name : `${name}#${count}`;
}

function tagOf(target: object, name: string): string {
  let tag = tags.get(target);
  if (tag === undefined) tags.set(target, (tag = identityTag(name)));
  return tag;
}

function symbolTag(s: symbol): string {
  let tag = symbolTags.get(s);
  if (tag === undefined) symbolTags.set(s, (tag = identityTag(s.toString())));
  return tag;
}

/**
 * The signature of a call's arguments; arguments at `staticArgnums` count by value.
 *
 * @example
 * ```ts
 * signatureOf(["q", { a: 1, b: ["x", "y"] }]).key; // "[string, {a: number, b: [string, string]}]"
 * signatureOf(["q", "gpt-4"], [1]).key;             // '[string, static "gpt-4"]'
 * ```
 */
export function signatureOf(args: readonly unknown[], staticArgnums: readonly number[] = []): Signature {
  if (staticArgnums.length === 0) {
    const prims = primitiveSignature(args);
    if (prims !== undefined) return prims;
  }
  const statics = new Set(staticArgnums);
  const sigs = args.map((a, i) => (statics.has(i) ? { kind: "static" as const, repr: staticRepr(a) } : sigOf(a, [])));
  return { key: showArgs(sigs), args: sigs };
}

/** One shared signature per primitive type. */
const PRIM_SIGS = new Map<string, Sig>();

function primSig(type: PrimType): Sig {
  let sig = PRIM_SIGS.get(type);
  if (sig === undefined) PRIM_SIGS.set(type, (sig = Object.freeze({ kind: "prim", type })));
  return sig;
}

/**
 * The signature of arguments that are all primitives (most calls), built without the
 * general walk: the same key and signatures `sigOf` gives; `undefined` otherwise.
 */
function primitiveSignature(args: readonly unknown[]): Signature | undefined {
  const sigs: Sig[] = [];
  let key = "[";
  for (let i = 0; i < args.length; i++) {
    const v = args[i];
    const type = v === null ? "null" : typeof v;
    if (type === "object" || type === "function") return undefined;
    sigs.push(primSig(type as PrimType));
    key += i === 0 ? type : `, ${type}`;
  }
  return { key: `${key}]`, args: sigs };
}

function sigOf(v: unknown, open: unknown[]): Sig {
  if (typeof v === "function") return { kind: "function", name: tagOf(v, v.name || "anonymous") };
  if (typeof v !== "object") return { kind: "prim", type: typeof v as PrimType };
  if (v === null) return { kind: "prim", type: "null" };
  const back = open.lastIndexOf(v);
  if (back >= 0) return { kind: "cycle", up: open.length - back };
  if (ArrayBuffer.isView(v)) return { kind: "typed", ctor: tagOf(v.constructor, v.constructor.name), length: "length" in v ? Number(v.length) : v.byteLength };
  if (!Array.isArray(v) && !isPlainObject(v)) return { kind: "instance", ctor: tagOf(v.constructor ?? Object, v.constructor?.name ?? "Object") };
  open.push(v);
  const sig: Sig = Array.isArray(v)
    ? { kind: "array", items: v.map((x: unknown) => sigOf(x, open)) }
    : { kind: "object", entries: Object.keys(v).sort().map((k) => [k, sigOf(v[k], open)] as const) };
  open.pop();
  return sig;
}

function staticRepr(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "number") return Object.is(v, -0) ? "-0" : String(v);
  if (typeof v === "bigint") return `${v}n`;
  if (typeof v === "symbol") return symbolTag(v);
  if (typeof v === "function") return `function ${tagOf(v, v.name || "anonymous")}`;
  if (typeof v !== "object" || v === null) return String(v);
  return plainData(v, 0) ? stableJSON(v) : `<${tagOf(v, `${v.constructor?.name ?? "Object"} ref`)}>`;
}

// Depth-bounded so a cyclic static argument falls back to identity.
function plainData(v: unknown, depth: number): boolean {
  if (v === null || ["string", "boolean"].includes(typeof v)) return true;
  if (typeof v === "number") return Number.isFinite(v) && !Object.is(v, -0);
  if (typeof v !== "object" || depth > 32) return false;
  return (Array.isArray(v) || isPlainObject(v)) && Object.values(v).every((x) => plainData(x, depth + 1));
}

function stableJSON(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJSON).join(",")}]`;
  if (typeof v === "object" && v !== null) {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o).sort().map((k) => `${JSON.stringify(k)}:${stableJSON(o[k])}`).join(",")}}`;
  }
  return JSON.stringify(v);
}

// Homogeneous arrays longer than this print as `T[n]`; shorter ones as tuples.
const TUPLE_MAX = 4;
const showKey = (k: string) => (/^[A-Za-z_$][\w$]*$/.test(k) ? k : JSON.stringify(k));
const showArgs = (sigs: readonly Sig[]) => `[${sigs.map(showSig).join(", ")}]`;

/**
 * How a signature prints: also its cache key, so distinct structures print differently.
 *
 * @example
 * ```ts
 * showSig({ kind: "array", items: [str, str, str, str, str] }); // "string[5]"
 * ```
 */
export function showSig(s: Sig): string {
  switch (s.kind) {
    case "prim":
      return s.type;
    case "static":
      return `static ${s.repr}`;
    case "array": {
      const items = s.items.map(showSig);
      return items.length > TUPLE_MAX && items.every((x) => x === items[0]) ? `${items[0]}[${items.length}]` : `[${items.join(", ")}]`;
    }
    case "object":
      return `{${s.entries.map(([k, v]) => `${showKey(k)}: ${showSig(v)}`).join(", ")}}`;
    case "typed":
      return `${s.ctor}(${s.length})`;
    case "instance":
      return `<${s.ctor}>`;
    case "function":
      return `function ${s.name}`;
    case "cycle":
      return `^${s.up}`;
    default:
      return unreachable(s, "signature kind");
  }
}

/**
 * Where two signatures differ, as `path: cached X, got Y` lines (empty when equal).
 *
 * @example
 * ```ts
 * diffSignatures(signatureOf([{ a: "x" }]), signatureOf([{ a: 1 }])); // ["argument 0.a: cached string, got number"]
 * ```
 */
export function diffSignatures(cached: Signature, got: Signature): readonly string[] {
  const out: string[] = [];
  if (cached.args.length !== got.args.length) out.push(`arguments: cached ${cached.args.length}, got ${got.args.length}`);
  const n = Math.min(cached.args.length, got.args.length);
  for (let i = 0; i < n; i++) diffSig(cached.args[i]!, got.args[i]!, `argument ${i}`, out);
  return out;
}

function diffSig(a: Sig, b: Sig, path: string, out: string[]): void {
  if (a.kind === "array" && b.kind === "array") {
    if (a.items.length !== b.items.length) out.push(`${path}: cached ${a.items.length} items, got ${b.items.length}`);
    else a.items.forEach((x, i) => diffSig(x, b.items[i]!, `${path}[${i}]`, out));
    return;
  }
  if (a.kind === "object" && b.kind === "object") {
    const left = new Map(a.entries);
    const right = new Map(b.entries);
    for (const k of [...new Set([...left.keys(), ...right.keys()])].sort()) {
      const at = /^[A-Za-z_$][\w$]*$/.test(k) ? `${path}.${k}` : `${path}[${JSON.stringify(k)}]`;
      const x = left.get(k);
      const y = right.get(k);
      if (x === undefined || y === undefined) out.push(`${at}: cached ${x === undefined ? "nothing" : showSig(x)}, got ${y === undefined ? "nothing" : showSig(y)}`);
      else diffSig(x, y, at, out);
    }
    return;
  }
  const x = showSig(a);
  const y = showSig(b);
  if (x !== y) out.push(`${path}: cached ${x}, got ${y}`);
}

/**
 * Options of a `PlanCache`.
 *
 * @example
 * ```ts
 * new PlanCache<Plan>({ max: 16 });
 * ```
 */
export interface PlanCacheOptions {
  /** Most entries kept; the least recently used goes first. Default 64. */
  readonly max?: number;
}

/**
 * Counters since the cache was made (or cleared).
 *
 * @example
 * ```ts
 * const { hits, misses } = cache.stats;
 * ```
 */
export interface CacheStats {
  readonly hits: number;
  readonly misses: number;
  readonly evictions: number;
}

const MAX_DIFFS_SHOWN = 3;

/**
 * A bounded LRU map from signatures to compiled values (plans), which can say why a
 * lookup missed.
 *
 * @example
 * ```ts
 * const cache = new PlanCache<Plan>({ max: 32 });
 * const sig = signatureOf(args);
 * const hit = cache.get(sig) ?? (console.debug(cache.explain(sig)), cache.set(sig, compile(args)));
 * ```
 */
export class PlanCache<V> {
  readonly max: number;
  readonly #entries = new Map<string, { readonly sig: Signature; readonly value: V }>();
  // Remembers what was evicted (bounded too), so a miss can say "evicted" rather than "never seen".
  readonly #evicted = new Set<string>();
  /** The most recently used key: a hit on it needs no reordering. */
  #newest: string | undefined;
  #hits = 0;
  #misses = 0;
  #evictions = 0;

  constructor(options: PlanCacheOptions = {}) {
    const max = options.max ?? 64;
    if (!Number.isSafeInteger(max) || max < 1) throw new RangeError(`PlanCache: max must be a positive integer, got ${String(max)}`);
    this.max = max;
  }

  /** The value cached for `sig` without touching recency or the hit counts. */
  peek(sig: Signature): V | undefined {
    return this.#entries.get(sig.key)?.value;
  }

  /** The value cached for `sig`, marking it most recently used; `undefined` on a miss. */
  get(sig: Signature): V | undefined {
    const entry = this.#entries.get(sig.key);
    if (entry === undefined) {
      this.#misses++;
      return undefined;
    }
    this.#hits++;
    if (this.#newest !== sig.key) {
      this.#entries.delete(sig.key);
      this.#entries.set(sig.key, entry);
      this.#newest = sig.key;
    }
    return entry.value;
  }

  /** Caches `value` for `sig` (evicting the least recently used entry when full) and returns it. */
  set(sig: Signature, value: V): V {
    this.#entries.delete(sig.key);
    this.#entries.set(sig.key, { sig, value });
    this.#newest = sig.key;
    this.#evicted.delete(sig.key);
    while (this.#entries.size > this.max) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
      this.#evictions++;
      this.#evicted.add(oldest);
      if (this.#evicted.size > this.max * 4) this.#evicted.delete(this.#evicted.values().next().value as string);
    }
    return value;
  }

  /** True when `sig` has an entry (without touching recency or counters). */
  has(sig: Signature): boolean {
    return this.#entries.has(sig.key);
  }

  /** Number of entries. */
  get size(): number {
    return this.#entries.size;
  }

  /** Hit, miss and eviction counts. */
  get stats(): CacheStats {
    return { hits: this.#hits, misses: this.#misses, evictions: this.#evictions };
  }

  /** Drops every entry and resets the counters. */
  clear(): void {
    this.#entries.clear();
    this.#newest = undefined;
    this.#evicted.clear();
    this.#hits = this.#misses = this.#evictions = 0;
  }

  /**
   * Why `sig` would hit or miss: cached; evicted; nothing cached; or where it differs from
   * the nearest cached signature (fewest differences, most recently used on a tie).
   */
  explain(sig: Signature): string {
    if (this.#entries.has(sig.key)) return `hit: a plan is cached for ${sig.key}`;
    if (this.#evicted.has(sig.key)) return `miss: the plan for ${sig.key} was evicted (least recently used; the cache holds ${this.max})`;
    let nearest: { readonly sig: Signature; readonly diffs: readonly string[] } | undefined;
    for (const entry of [...this.#entries.values()].reverse()) {
      const diffs = diffSignatures(entry.sig, sig);
      if (nearest === undefined || diffs.length < nearest.diffs.length) nearest = { sig: entry.sig, diffs };
    }
    if (nearest === undefined) return `miss: nothing is cached yet; first call for ${sig.key}`;
    const shown = nearest.diffs.slice(0, MAX_DIFFS_SHOWN).join("; ");
    const more = nearest.diffs.length > MAX_DIFFS_SHOWN ? `; and ${nearest.diffs.length - MAX_DIFFS_SHOWN} more` : "";
    return `miss: no plan for ${sig.key}; nearest cached ${nearest.sig.key} differs at ${shown}${more}`;
  }
}
