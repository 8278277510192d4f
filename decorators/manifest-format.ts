/**
 * The `weft gen` manifest format, version 1: plain data shared by the generator
 * (`transformers/gen.ts`, which writes it) and the runtime's loader (`runtime/manifest.ts`,
 * which reads it). Types only, so both sides depend on the format and neither on the other.
 */
import type { InjectedMeta, JsonSchema, ParamInfo, SourceLocation } from "./descriptor.js";

/** Which weft entry point a site calls. `object` is a `models.object<T>()` call: it gets `T`'s schema. */
export type SiteKind = "op" | "jit" | "vmap" | "object";

/** The injected metadata with the locator's module left out (the transformer or the loader adds it). */
export interface SiteMeta {
  readonly __weft: 1;
  readonly name?: string;
  readonly params: readonly ParamInfo[];
  readonly returns?: JsonSchema;
  /** The op returns an `AsyncIterable`; `returns` describes each item. */
  readonly stream?: true;
  readonly defs?: Readonly<Record<string, JsonSchema>>;
  readonly doc?: string;
  readonly locator?: { readonly export: string; readonly member?: string };
  readonly hash: string;
  readonly source: SourceLocation;
  /** For a jit site: what the jit check found (transformers/jit-check.ts). */
  readonly untraceable?: InjectedMeta["untraceable"];
}

/** The manifest format, version 1. Paths are `/`-separated and relative to `root`. */
export interface Manifest {
  readonly weft: 1;
  /** The project root (the tsconfig's directory), relative to the manifest file. */
  readonly root: string;
  /** `rootDir` and `outDir` of the build, relative to `root`: maps emitted files back to sources. */
  readonly rootDir?: string;
  readonly outDir?: string;
  /** Content hash (sha256, 16 hex digits) of every file an entry depends on. */
  readonly files: Readonly<Record<string, string>>;
  readonly entries: readonly ManifestEntry[];
}

/** One op site. `meta` is the injected metadata minus the locator's module URL. */
export interface ManifestEntry {
  readonly kind: SiteKind;
  /** The source file of the site, relative to `root`. */
  readonly file: string;
  /** First and last line of the site (1-based): the call, or the decorator through the method. */
  readonly span: readonly [number, number];
  /** For a method site: its class (name and lines) and the method's name. */
  readonly owner?: { readonly name?: string; readonly member?: string; readonly span: readonly [number, number] };
  readonly meta: SiteMeta;
  /** Files (keys of `files`) whose declarations shaped this entry's schemas. */
  readonly deps: readonly string[];
}
