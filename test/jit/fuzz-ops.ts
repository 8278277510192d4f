/**
 * The op library of the differential generator (fuzz.test.ts): io, cpu and pure ops whose
 * bodies log every call (harness `note`), with typed parameters (so the tracer knows which
 * arguments an op may mutate), edge-case results (null, empty arrays, -0, NaN, "") and a
 * failing input (a string holding "!").
 */
import { op, jit } from "weft";
import { note } from "./calls.js";

/** The one argument of every generated program. */
export interface In {
  s: string;
  n: number;
  xs: string[];
  o: { k: string; m?: string | null };
}

export interface Obj {
  v: string;
  w: number;
}

export const fetchA = op({ kind: "io" }, async (s: string) => (note("fetchA", "io", s), `a(${s})`));
export const fetchB = op({ kind: "io" }, async (s: string, t: string) => (note("fetchB", "io", s, t), `b(${s},${t})`));
export const fail = op({ kind: "io" }, async (s: string) => {
  note("fail", "io", s);
  if (s.includes("!")) throw new Error(`fail cannot take ${s.slice(0, 20)}`);
  return `f(${s})`;
});
export const maybeObj = op({ kind: "io" }, async (s: string): Promise<Obj | null> => (note("maybeObj", "io", s), s.length % 3 === 0 ? null : { v: `v${s.length}`, w: s.length }));
export const obj = op({ kind: "io" }, async (s: string): Promise<Obj> => (note("obj", "io", s), { v: s.slice(0, 4), w: 0 }));
export const mutate = op({ kind: "io" }, async (o: Obj) => {
  note("mutate", "io", o);
  o.w += 1;
  o.v = `${o.v}+`;
  return o.w;
});
export const list = op({ kind: "io" }, async (s: string, n: number): Promise<string[]> => {
  note("list", "io", s, n);
  const count = Number.isFinite(n) ? Math.abs(Math.trunc(n)) % 4 : 0;
  return Array.from({ length: count }, (_, i) => `${s.slice(0, 3)}${i}`);
});
export const join = op({ kind: "io" }, async (xs: string[]) => (note("join", "io", xs), xs.join("|")));
export const num = op({ kind: "io" }, async (n: number) => (note("num", "io", n), n));
export const len = op({ kind: "cpu" }, (s: string) => (note("len", "cpu", s), s.length));
export const upper = op({ kind: "pure" }, (s: string) => (note("upper", "pure", s), s.toUpperCase()));
export const half = op({ kind: "pure" }, (n: number) => (note("half", "pure", n), n / 2));

/** A nested jit the programs call. */
export const inner = jit(async (s: string) => fetchB(await fetchA(s), s));
/** A nested jit with a staged switch on an optional read (its cases return). */
export const innerBranchy = jit(async (s: string) => {
  const r = await maybeObj(s);
  switch (r?.w) {
    case 1:
      return "one";
    default:
      return r ? r.v : "none";
  }
});
