/**
 * How values reach the store and how inputs are identified.
 *
 * Values are written with V8's structured-clone serializer (`node:v8`): it keeps what op
 * schemas admit and JSON loses (Dates, typed arrays, Map, Set, bigint, `undefined`, NaN,
 * shared references and cycles) and is about as fast as JSON. What it refuses (functions,
 * symbols, Promises, WeakMaps) fails at journal time with `UnstorableValue` naming the path.
 *
 * Inputs are identified by a canonical hash: object keys sorted, types tagged, so `{a, b}`
 * and `{b, a}` hash alike and `1` and `"1"` do not.
 */
import { deserialize, serialize } from "node:v8";
import { UnstorableValue } from "./errors.js";

// Primitives, the commonest node values, skip the serializer (a native object per call).
// V8's format starts with 0xFF, so a first byte below it marks one of these.
const NUMBER = 1;
const STRING = 2;
const TRUE = 3;
const FALSE = 4;
const NULL = 5;
const UNDEFINED = 6;

/** Serialises `value` for the store; `target` names it in the error when it cannot be stored. */
export function encode(value: unknown, target: string): Uint8Array {
  switch (typeof value) {
    case "number": {
      const out = new Uint8Array(9);
      out[0] = NUMBER;
      new DataView(out.buffer).setFloat64(1, value);
      return out;
    }
    case "string": {
      const out = Buffer.allocUnsafe(1 + Buffer.byteLength(value));
      out[0] = STRING;
      out.write(value, 1, "utf8");
      return out;
    }
    case "boolean":
      return Uint8Array.of(value ? TRUE : FALSE);
    case "undefined":
      return Uint8Array.of(UNDEFINED);
    default:
      if (value === null) return Uint8Array.of(NULL);
  }
  try {
    return serialize(value);
  } catch {
    const bad = findUnstorable(value, "$", new Set());
    throw new UnstorableValue(target, bad?.path ?? "$", bad?.what ?? "a value the serializer refused");
  }
}

/** The value `encode` wrote. */
export function decode(bytes: Uint8Array): unknown {
  switch (bytes[0]) {
    case NUMBER:
      return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getFloat64(1);
    case STRING:
      return Buffer.from(bytes.buffer, bytes.byteOffset + 1, bytes.byteLength - 1).toString("utf8");
    case TRUE:
      return true;
    case FALSE:
      return false;
    case NULL:
      return null;
    case UNDEFINED:
      return undefined;
    default:
      return deserialize(bytes);
  }
}

/** The first part of `value` structured clone refuses, with its path. */
function findUnstorable(value: unknown, path: string, seen: Set<object>): { path: string; what: string } | undefined {
  if (typeof value === "function") return { path, what: `a function (${value.name || "anonymous"})` };
  if (typeof value === "symbol") return { path, what: `a symbol (${value.toString()})` };
  if (typeof value !== "object" || value === null || seen.has(value)) return undefined;
  seen.add(value);
  if (value instanceof Promise) return { path, what: "a Promise (await it before returning)" };
  if (value instanceof WeakMap || value instanceof WeakSet) return { path, what: `a ${value.constructor.name}` };
  if (ArrayBuffer.isView(value) || value instanceof Date || value instanceof RegExp) return undefined;
  if (value instanceof Map) {
    let i = 0;
    for (const [k, v] of value) {
      const bad = findUnstorable(k, `${path}.keys[${i}]`, seen) ?? findUnstorable(v, `${path}.get(${i})`, seen);
      if (bad) return bad;
      i++;
    }
    return undefined;
  }
  if (value instanceof Set) {
    let i = 0;
    for (const v of value) {
      const bad = findUnstorable(v, `${path}.values[${i++}]`, seen);
      if (bad) return bad;
    }
    return undefined;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const bad = findUnstorable(value[i], `${path}[${i}]`, seen);
      if (bad) return bad;
    }
    return undefined;
  }
  for (const key of Object.keys(value)) {
    const bad = findUnstorable((value as Record<string, unknown>)[key], `${path}.${key}`, seen);
    if (bad) return bad;
  }
  return undefined;
}

/**
 * A canonical text of `value`: equal for values a schema cannot tell apart (key order aside),
 * different for different types. Functions count by name (an input hash is a guard, not storage).
 */
export function canonical(value: unknown): string {
  const out: string[] = [];
  write(value, out, new Map(), { n: 0 });
  return out.join("");
}

function write(v: unknown, out: string[], seen: Map<object, number>, counter: { n: number }): void {
  switch (typeof v) {
    case "string":
      out.push(JSON.stringify(v));
      return;
    case "number":
      out.push(Object.is(v, -0) ? "-0" : String(v));
      return;
    case "boolean":
      out.push(v ? "T" : "F");
      return;
    case "undefined":
      out.push("U");
      return;
    case "bigint":
      out.push(`${v}n`);
      return;
    case "symbol":
      out.push(`S(${v.description ?? ""})`);
      return;
    case "function":
      out.push(`f(${v.name})`);
      return;
    default:
  }
  if (v === null) {
    out.push("N");
    return;
  }
  const obj = v as object;
  const ref = seen.get(obj);
  if (ref !== undefined) {
    out.push(`@${ref}`);
    return;
  }
  seen.set(obj, counter.n++);
  if (Array.isArray(obj)) {
    out.push("[");
    for (let i = 0; i < obj.length; i++) {
      if (i > 0) out.push(",");
      write(obj[i], out, seen, counter);
    }
    out.push("]");
    return;
  }
  if (obj instanceof Date) {
    out.push(`D(${obj.getTime()})`);
    return;
  }
  if (ArrayBuffer.isView(obj)) {
    out.push(`${obj.constructor.name}(${Buffer.from(obj.buffer, obj.byteOffset, obj.byteLength).toString("base64")})`);
    return;
  }
  if (obj instanceof ArrayBuffer) {
    out.push(`AB(${Buffer.from(obj).toString("base64")})`);
    return;
  }
  if (obj instanceof Map) {
    out.push("M{");
    for (const [k, val] of obj) {
      write(k, out, seen, counter);
      out.push("=>");
      write(val, out, seen, counter);
      out.push(",");
    }
    out.push("}");
    return;
  }
  if (obj instanceof Set) {
    out.push("S{");
    for (const val of obj) {
      write(val, out, seen, counter);
      out.push(",");
    }
    out.push("}");
    return;
  }
  if (obj instanceof RegExp) {
    out.push(`R(${obj.toString()})`);
    return;
  }
  out.push("{");
  const keys = Object.keys(obj).sort();
  for (let i = 0; i < keys.length; i++) {
    if (i > 0) out.push(",");
    out.push(JSON.stringify(keys[i]), ":");
    write((obj as Record<string, unknown>)[keys[i]!], out, seen, counter);
  }
  out.push("}");
}

/** A short stable digest of `text` (SHA-256, base64url, 22 characters: 132 bits). */
export function digest(text: string | Uint8Array): string {
  // The one-shot `hash` is about three times faster than createHash for short inputs.
  return (sha256 ??= crypto().hash)("sha256", text, "base64url").slice(0, 22);
}

let sha256: typeof import("node:crypto").hash | undefined;

/** node:crypto, loaded at the first digest rather than with weft (about 10 ms at start-up). */
function crypto(): typeof import("node:crypto") {
  return process.getBuiltinModule("node:crypto") as typeof import("node:crypto");
}

/** The hash of a node's inputs, as journaled beside its value. */
export function inputHash(args: readonly unknown[]): string {
  return digest(canonical(args));
}
