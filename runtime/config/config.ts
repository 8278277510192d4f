/**
 * Layered config. Five layers, lowest first:
 *
 *   default  < user file  < project file  < environment  < runtime
 *   (built in) ($XDG_CONFIG_HOME/weft/config.json, default ~/.config/weft/config.json)
 *                         (weft.config.json, found upwards from the working directory)
 *                                          (WEFT_*, plus OPENAI_BASE_URL / OPENAI_API_KEY / OPENAI_MODEL)
 *                                                          (setConfig, then withContext({ config }))
 *
 * Keys are dot paths into `WeftConfig` (`models.default`, `providers.openai.baseUrl`). Each
 * file is checked against the schema extracted from that type, and a bad value is a
 * `ConfigError` naming the file, the key and what was expected. Files are re-read when they
 * change (by mtime and size), so an edit or a rotated key takes effect without a restart.
 * Values at secret-named keys (`apiKey`, `token`, ...) are registered with the redactor
 * when read and come out of `getConfig` as `Secret`s.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { JsonSchema } from "../../decorators/descriptor.js";
import { nearestKey } from "../../decorators/options.js";
import { currentFrame } from "../context.js";
import { WeftError } from "../errors.js";
import { setLevelSource, type LogLevel } from "../log.js";
import { boundedText, registerSecret, secretName } from "../redact.js";
import { describeSchema, explain, preview } from "../validate.js";
import { CONFIG_DEFS, CONFIG_SCHEMA } from "./schema.generated.js";
import { Secret } from "./secret.js";
import type { WeftConfig } from "./types.js";

/** Where a value came from, lowest first. */
export type ConfigLayer = "default" | "user" | "project" | "env" | "runtime";
export const LAYERS: readonly ConfigLayer[] = ["default", "user", "project", "env", "runtime"];

/** The project config file's name, looked for in the working directory and its parents. */
export const PROJECT_FILE = "weft.config.json";

/** The built-in layer. */
export const DEFAULTS: WeftConfig = Object.freeze<WeftConfig>({
  models: { default: "local:chat" },
  log: { level: "warn" },
  metrics: { enabled: true },
  validate: true,
});

/** A config file or value that does not fit `WeftConfig`, or a credentials file weft refuses to read. */
export class ConfigError extends WeftError {
  readonly _tag = "ConfigError";
  constructor(
    message: string,
    /** The file at fault, when it is a file. */
    readonly file?: string,
    /** The dot path of the key at fault. */
    readonly key?: string,
  ) {
    super(boundedText(message));
  }
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Tree = { [key: string]: unknown };

// ---- paths and the schema --------------------------------------------------------------

/** The directory of the user's config and credentials files. */
export function userConfigDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CONFIG_HOME;
  return xdg && path.isAbsolute(xdg) ? path.join(xdg, "weft") : path.join(env.HOME || os.homedir(), ".config", "weft");
}

/** The user config file. */
export function userConfigFile(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(userConfigDir(env), "config.json");
}

// The search upwards is a stat per directory. A file found is remembered per working
// directory (and looked for again once it is gone); a miss is not, so a project file
// created later is seen at the next lookup.
const projectFiles = new Map<string, string>();

/** The project config file that applies in `cwd`: the nearest `weft.config.json` upwards, or undefined. */
export function projectConfigFile(cwd: string = process.cwd()): string | undefined {
  const start = path.resolve(cwd);
  const known = projectFiles.get(start);
  if (known !== undefined && existsSync(known)) return known;
  let found: string | undefined;
  for (let dir = start; ; dir = path.dirname(dir)) {
    const file = path.join(dir, PROJECT_FILE);
    if (existsSync(file)) {
      found = file;
      break;
    }
    if (path.dirname(dir) === dir) break;
  }
  if (found === undefined) projectFiles.delete(start);
  else projectFiles.set(start, found);
  return found;
}

function splitKey(key: string, where: string): string[] {
  if (typeof key !== "string" || key === "" || key.split(".").some((s) => s === "")) {
    throw new ConfigError(`${where}: a config key is a dot path such as "models.default", received ${JSON.stringify(key)}`);
  }
  return key.split(".");
}

function deref(schema: JsonSchema): JsonSchema {
  while (typeof schema === "object" && typeof schema.$ref === "string") schema = CONFIG_DEFS[schema.$ref.replace("#/$defs/", "")] ?? true;
  return schema;
}

/** The schema of the value at `segments`, or undefined when no such key exists (with the nearest valid one). */
function schemaAt(segments: readonly string[]): { schema: JsonSchema } | { unknown: string; near?: string } {
  let schema = deref(CONFIG_SCHEMA);
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!;
    const props = typeof schema === "object" ? (schema.properties as Record<string, JsonSchema> | undefined) : undefined;
    const additional = typeof schema === "object" ? (schema.additionalProperties as JsonSchema | undefined) : undefined;
    if (props && segment in props) schema = deref(props[segment]!);
    else if (additional !== undefined && additional !== false) schema = deref(additional);
    else {
      const near = props ? nearestKey(segment, Object.keys(props)) : undefined;
      return { unknown: segments.slice(0, i + 1).join("."), ...(near !== undefined && { near: [...segments.slice(0, i), near].join(".") }) };
    }
  }
  return { schema };
}

let leafKeys: readonly string[] | undefined;

/** Every leaf key the schema names (records' entries excluded), for `WEFT_*` names and listings. */
export function configKeys(): readonly string[] {
  if (leafKeys) return leafKeys;
  const out: string[] = [];
  const walk = (schema: JsonSchema, prefix: string[]) => {
    const s = deref(schema);
    const props = typeof s === "object" ? (s.properties as Record<string, JsonSchema> | undefined) : undefined;
    if (!props) {
      if (prefix.length > 0 && !(typeof s === "object" && s.additionalProperties)) out.push(prefix.join("."));
      return;
    }
    for (const [k, v] of Object.entries(props)) walk(v, [...prefix, k]);
  };
  walk(CONFIG_SCHEMA, []);
  leafKeys = out;
  return out;
}

/** The environment variable of a key: `models.default` → `WEFT_MODELS_DEFAULT`. */
export function envName(key: string): string {
  return `WEFT_${key.split(".").map((s) => s.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase()).join("_")}`;
}

/** Provider conventions: variables other tools already read, and the key each sets. */
export const CONVENTIONS: Readonly<Record<string, string>> = {
  OPENAI_BASE_URL: "providers.openai.baseUrl",
  OPENAI_API_KEY: "providers.openai.apiKey",
  OPENAI_MODEL: "providers.openai.model",
};

// ---- checking ---------------------------------------------------------------------------

function received(value: unknown, key: string): string {
  return preview(value, secretName(key.split(".").pop() ?? ""));
}

/** Throws a ConfigError naming `where`, the key and what was expected when `tree` does not fit the schema. */
function check(tree: unknown, where: string, file?: string): void {
  const miss = explain(CONFIG_SCHEMA, tree, CONFIG_DEFS);
  if (!miss) return;
  const segments = miss.segments.map(String);
  const key = segments.join(".");
  if (miss.keyword === "additionalProperties") {
    const found = schemaAt(segments);
    const near = "unknown" in found && found.near ? ` (did you mean "${found.near}"?)` : "";
    throw new ConfigError(`${where}: unknown key "${key}"${near}`, file, key);
  }
  // "expected ... at <key>", not "<key>: expected": `apiKey: ...` would read as a secret to the redactor.
  throw new ConfigError(`${where}: expected ${miss.expected} at ${key === "" ? "the top level" : key}, received ${received(miss.received, key)}`, file, key || undefined);
}

/** Throws unless `value` fits the schema at `key`. */
function checkValue(key: string, value: unknown, where: string): void {
  const found = schemaAt(splitKey(key, where));
  if ("unknown" in found) throw new ConfigError(`${where}: unknown key "${found.unknown}"${found.near ? ` (did you mean "${found.near}"?)` : ""}`, undefined, key);
  const miss = explain(found.schema, value, CONFIG_DEFS);
  if (!miss) return;
  const at = [key, ...miss.segments.map(String)].join(".");
  throw new ConfigError(`${where}: expected ${miss.expected} at ${at}, received ${received(miss.received, at)}`, undefined, at);
}

/** Registers every string at a secret-named key with the redactor. */
function registerSecrets(tree: unknown, key = ""): void {
  if (typeof tree === "string") {
    if (secretName(key) && tree.length >= 6) registerSecret(tree);
  } else if (tree !== null && typeof tree === "object") {
    for (const [k, v] of Object.entries(tree)) registerSecrets(v, k);
  }
}

// ---- the file layers ----------------------------------------------------------------------

const fileCache = new Map<string, { stamp: string; tree: Tree }>();

/**
 * The parsed, checked contents of a config file (`{}` when it does not exist). Cached until
 * the file's mtime or size changes.
 */
export function readConfigFile(file: string, options: { readonly schema?: boolean } = {}): Tree {
  // No exception for a missing file: this runs on every lookup.
  const stat = statSync(file, { throwIfNoEntry: false });
  if (!stat) {
    fileCache.delete(file);
    return {};
  }
  const stamp = `${stat.mtimeMs}:${stat.size}`;
  const cached = fileCache.get(file);
  if (cached?.stamp === stamp) return cached.tree;
  let tree: unknown;
  try {
    tree = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw new ConfigError(`config file ${file} is not valid JSON: ${(error as Error).message}`, file);
  }
  if (options.schema === false) {
    if (tree === null || typeof tree !== "object" || Array.isArray(tree)) throw new ConfigError(`${file}: expected an object, received ${preview(tree)}`, file);
  } else {
    check(tree, `config file ${file}`, file);
    registerSecrets(tree);
  }
  fileCache.set(file, { stamp, tree: tree as Tree });
  return tree as Tree;
}

// ---- the environment layer --------------------------------------------------------------------

function coerce(key: string, text: string, variable: string): unknown {
  const found = schemaAt(key.split("."));
  const schema = "schema" in found ? found.schema : true;
  const type = typeof schema === "object" ? schema.type : undefined;
  let value: unknown = text;
  if (type === "number" || type === "integer") value = text.trim() === "" ? text : Number(text);
  else if (type === "boolean") value = /^(true|1|yes|on)$/i.test(text) ? true : /^(false|0|no|off)$/i.test(text) ? false : text;
  const miss = explain(schema, value, CONFIG_DEFS);
  if (miss) throw new ConfigError(`environment variable ${variable}: expected ${miss.expected} at ${key}, received ${received(text, key)}`, undefined, key);
  if (typeof value === "string" && secretName(key.split(".").pop()!) && value.length >= 6) registerSecret(value);
  return value;
}

let envNames: readonly (readonly [variable: string, key: string])[] | undefined;

/**
 * The environment layer as a tree: every `WEFT_*` variable of a schema key, and the provider
 * conventions; with `under`, only the variables of keys at or below that dot path.
 */
export function envLayer(env: NodeJS.ProcessEnv = process.env, under?: string): Tree {
  envNames ??= [...Object.entries(CONVENTIONS), ...configKeys().map((key) => [envName(key), key] as const)];
  const tree: Tree = {};
  for (const [variable, key] of envNames) {
    if (under !== undefined && key !== under && !key.startsWith(`${under}.`) && !under.startsWith(`${key}.`)) continue;
    const text = env[variable];
    if (text === undefined || (text === "" && variable in CONVENTIONS)) continue;
    setIn(tree, key.split("."), coerce(key, text, variable));
  }
  return tree;
}

// ---- the runtime layer ----------------------------------------------------------------------------

const runtime: Tree = {};

/**
 * Sets a config value for this process (the runtime layer: above files and environment,
 * below `withContext`). The value is checked against the config type.
 *
 * @example
 * ```ts
 * setConfig("models.default", "openai:gpt-4o-mini");
 * ```
 */
export function setConfig(key: string, value: unknown): void {
  checkValue(key, value, `setConfig("${key}")`);
  registerSecrets(value, key.split(".").pop());
  setIn(runtime, splitKey(key, "setConfig"), value);
}

/**
 * Removes a runtime value set with `setConfig`, so the layers beneath show through again.
 *
 * @example
 * ```ts
 * unsetConfig("models.default");
 * ```
 */
export function unsetConfig(key: string): void {
  deleteIn(runtime, splitKey(key, "unsetConfig"));
}

// ---- reading ---------------------------------------------------------------------------------------

/** The value of every layer at `key` (undefined where a layer does not set it). */
export function configLayers(key: string, options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Record<ConfigLayer, unknown> & { files: { user: string; project: string | undefined } } {
  const segments = splitKey(key, "getConfig");
  const env = options.env ?? process.env;
  const user = userConfigFile(env);
  const project = projectConfigFile(options.cwd);
  const frame = currentFrame();
  const scoped = frame.overrides;
  let context = getIn(scoped, segments);
  if (context === undefined && key in scoped) context = scoped[key];
  const mergedRuntime = context === undefined ? getIn(runtime, segments) : isTree(context) && isTree(getIn(runtime, segments)) ? merge(getIn(runtime, segments) as Tree, context) : context;
  return {
    default: getIn(DEFAULTS as Tree, segments),
    user: getIn(readConfigFile(user), segments),
    project: project === undefined ? undefined : getIn(readConfigFile(project), segments),
    env: getIn(envLayer(env, key), segments),
    runtime: mergedRuntime,
    files: { user, project },
  };
}

/**
 * The config value at a dot path, from the highest layer that sets it (objects are merged
 * across layers, the higher layer winning key by key). Secret-named values are `Secret`s.
 *
 * @example
 * ```ts
 * const model = getConfig("models.default"); // "local:chat" unless a layer says otherwise
 * ```
 */
export function getConfig<K extends ConfigKey>(key: K): ConfigValue<K>;
export function getConfig(key: string): unknown;
export function getConfig(key: string): unknown {
  const layers = configLayers(key);
  let out: unknown;
  for (const layer of LAYERS) {
    const value = layers[layer];
    if (value === undefined) continue;
    out = isTree(value) && isTree(out) ? merge(out, value) : value;
  }
  return secretsWrapped(out, key.split(".").pop()!);
}

/** Where a key's value comes from: the winning layer (and file), for `weft configure list`. */
export interface ConfigEntry {
  readonly key: string;
  readonly value: unknown;
  readonly layer: ConfigLayer;
  readonly file?: string;
}

/**
 * Every leaf value set in any layer, with the layer that wins; secret values as `Secret`s.
 *
 * @example
 * ```ts
 * for (const e of listConfig()) console.log(e.key, String(e.value), e.layer);
 * ```
 */
export function listConfig(options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): ConfigEntry[] {
  const env = options.env ?? process.env;
  const user = userConfigFile(env);
  const project = projectConfigFile(options.cwd);
  const trees: [ConfigLayer, Tree, string | undefined][] = [
    ["default", DEFAULTS as Tree, undefined],
    ["user", readConfigFile(user), user],
    ["project", project === undefined ? {} : readConfigFile(project), project],
    ["env", envLayer(env), undefined],
    ["runtime", runtime, undefined],
  ];
  const winners = new Map<string, ConfigEntry>();
  for (const [layer, tree, file] of trees) {
    for (const [key, value] of leaves(tree)) winners.set(key, { key, value: secretsWrapped(value, key.split(".").pop()!), layer, ...(file !== undefined && { file }) });
  }
  return [...winners.values()].sort((a, b) => a.key.localeCompare(b.key));
}

// ---- writing files -----------------------------------------------------------------------------

/**
 * Sets (or, with `undefined`, removes) `key` in a config file, checked against the config
 * type before anything is written; the file is replaced atomically.
 *
 * @example
 * ```ts
 * writeConfigValue(userConfigFile(), "models.default", "openai:gpt-4o-mini");
 * ```
 */
export function writeConfigValue(file: string, key: string, value: unknown, mode?: number): void {
  const segments = splitKey(key, `config file ${file}`);
  if (value !== undefined) checkValue(key, value, `config file ${file}`);
  const tree = structuredClone(readConfigFile(file));
  if (value === undefined) deleteIn(tree, segments);
  else setIn(tree, segments, value);
  writeJsonFile(file, tree, mode);
}

/** Writes `tree` to `file` through a temporary file and a rename, with `mode` from the start. */
export function writeJsonFile(file: string, tree: unknown, mode = 0o644): void {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, `${JSON.stringify(tree, null, 2)}\n`, { mode });
  renameSync(temp, file);
  fileCache.delete(file);
  // A nearer project file may now exist than the one remembered.
  if (path.basename(file) === PROJECT_FILE) projectFiles.clear();
}

// ---- helpers ---------------------------------------------------------------------------------------

function isTree(value: unknown): value is Tree {
  return value !== null && typeof value === "object" && !Array.isArray(value) && !(value instanceof Secret);
}

function merge(low: Tree, high: Tree): Tree {
  const out: Tree = { ...low };
  for (const [k, v] of Object.entries(high)) out[k] = isTree(v) && isTree(out[k]) ? merge(out[k] as Tree, v) : v;
  return out;
}

function getIn(tree: Tree, segments: readonly string[]): unknown {
  let node: unknown = tree;
  for (const s of segments) {
    if (!isTree(node) || !Object.hasOwn(node, s)) return undefined;
    node = node[s];
  }
  return node;
}

function setIn(tree: Tree, segments: readonly string[], value: unknown): void {
  let node = tree;
  for (const s of segments.slice(0, -1)) {
    if (!isTree(node[s])) node[s] = {};
    node = node[s] as Tree;
  }
  node[segments[segments.length - 1]!] = value;
}

function deleteIn(tree: Tree, segments: readonly string[]): void {
  const parents: Tree[] = [];
  let node = tree;
  for (const s of segments.slice(0, -1)) {
    if (!isTree(node[s])) return;
    parents.push(node);
    node = node[s] as Tree;
  }
  delete node[segments[segments.length - 1]!];
  // Drop objects left empty, so `unset` leaves no `{}` behind.
  for (let i = segments.length - 2; i >= 0; i--) {
    const parent = parents[i]!;
    const child = parent[segments[i]!];
    if (isTree(child) && Object.keys(child).length === 0) delete parent[segments[i]!];
  }
}

function leaves(tree: Tree, prefix = ""): [string, unknown][] {
  const out: [string, unknown][] = [];
  for (const [k, v] of Object.entries(tree)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (isTree(v) && Object.keys(v).length > 0) out.push(...leaves(v, key));
    else out.push([key, v]);
  }
  return out;
}

function secretsWrapped(value: unknown, name: string): unknown {
  if (typeof value === "string") return secretName(name) ? new Secret(value, name) : value;
  if (isTree(value)) {
    const out: Tree = {};
    for (const [k, v] of Object.entries(value)) out[k] = secretsWrapped(v, k);
    return out;
  }
  return value;
}

/** The JSON kinds a config value has, for messages. */
export function describeKey(key: string): string | undefined {
  const found = schemaAt(key.split("."));
  return "schema" in found ? describeSchema(found.schema, CONFIG_DEFS) : undefined;
}

// The logger reads its level from here.
setLevelSource(() => getConfig("log.level") as LogLevel | "silent" | undefined);

// ---- dot-path types -----------------------------------------------------------------------------

type Leaf = string | number | boolean | null | undefined | readonly unknown[];
type Paths<T, Depth extends unknown[] = []> = Depth["length"] extends 4
  ? never
  : T extends Leaf
    ? never
    : {
        [K in keyof T & string]-?: K | (NonNullable<T[K]> extends Leaf ? never : `${K}.${Paths<NonNullable<T[K]>, [...Depth, 1]>}`);
      }[keyof T & string];

/** Every dot path into `WeftConfig`: `"models"`, `"models.default"`, `"providers.openai.baseUrl"`. */
export type ConfigKey = Paths<WeftConfig>;

type At<T, K extends string> = K extends `${infer Head}.${infer Rest}` ? (Head extends keyof T ? At<NonNullable<T[Head]>, Rest> : undefined) : K extends keyof T ? T[K] : undefined;
type Secreted<V, K extends string> = K extends `${string}apiKey` ? Secret | undefined : V;

/** The type of the value at a dot path (`Secret` for an API key). */
export type ConfigValue<K extends string> = Secreted<At<WeftConfig, K>, K>;

export type { Json };
