/**
 * Credentials: API keys and tokens, looked up by name (`openai.apiKey`) in a fixed order,
 * highest first:
 *
 *   1. runtime        `setCredential(name, value)`
 *   2. environment    the provider's own variable (`OPENAI_API_KEY`), then `WEFT_CREDENTIAL_<NAME>`
 *   3. config         the config layers' `providers.<provider>.<field>` (a config file, say)
 *   4. credentials    `credentials.json` beside the user config, `{ "<provider>": { "<field>": "..." } }`
 *
 * The credentials file is written with mode 0600 and refused (a `ConfigError` saying to
 * `chmod 600` it) when its group or others have any access. It is re-read when it changes,
 * so rotating a key is editing the file (or the variable) and needs no code change. Every
 * credential comes back as a `Secret`.
 */
import { statSync } from "node:fs";
import path from "node:path";
import { ConfigError, CONVENTIONS, getConfig, readConfigFile, userConfigDir, writeJsonFile } from "./config.js";
import { Secret } from "./secret.js";

/** Where a credential came from. */
export type CredentialSource = "runtime" | "env" | "config" | "credentials";

const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*\.[A-Za-z][A-Za-z0-9_]*$/;
const runtime = new Map<string, Secret>();

/** The credentials file: `credentials.json` beside the user config file. */
export function credentialsFile(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(userConfigDir(env), "credentials.json");
}

function checkName(name: string, where: string): [provider: string, field: string] {
  if (typeof name !== "string" || !NAME.test(name)) {
    throw new ConfigError(`${where}: a credential name is "<provider>.<field>", such as "openai.apiKey", received ${JSON.stringify(String(name)).slice(0, 60)}`);
  }
  const dot = name.indexOf(".");
  return [name.slice(0, dot), name.slice(dot + 1)];
}

/** The environment variable of a credential: `openai.apiKey` → `WEFT_CREDENTIAL_OPENAI_API_KEY`. */
export function credentialEnvName(name: string): string {
  return `WEFT_CREDENTIAL_${name.split(".").map((s) => s.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase()).join("_")}`;
}

/**
 * The credentials file's entries, checked: refused when others can read it, and when it is
 * not an object of objects of strings (the error names the key, never the value).
 */
export function readCredentialsFile(file: string = credentialsFile()): Record<string, Record<string, string>> {
  const stat = statSync(file, { throwIfNoEntry: false });
  if (!stat) return {};
  const mode = stat.mode;
  // POSIX permissions: on Windows the mode bits say nothing about other users.
  if (process.platform !== "win32" && (mode & 0o077) !== 0) {
    throw new ConfigError(
      `credentials file ${file} is open to group or others (mode ${(mode & 0o777).toString(8).padStart(3, "0")}); weft will not read it. Run \`chmod 600 ${file}\``,
      file,
    );
  }
  // Parsed as JSON only; the config schema does not apply (any provider name may appear).
  const tree = readConfigFile(file, { schema: false }) as Record<string, unknown>;
  for (const [provider, fields] of Object.entries(tree)) {
    if (fields === null || typeof fields !== "object" || Array.isArray(fields)) {
      throw new ConfigError(`credentials file ${file}: expected an object of credentials at ${provider}, received ${Array.isArray(fields) ? "an array" : typeof fields}`, file, provider);
    }
    for (const [field, value] of Object.entries(fields)) {
      if (typeof value !== "string") throw new ConfigError(`credentials file ${file}: expected string at ${provider}.${field}, received ${typeof value}`, file, `${provider}.${field}`);
      if (value.length >= 6) new Secret(value, `${provider}.${field}`);
    }
  }
  return tree as Record<string, Record<string, string>>;
}

/**
 * Writes (or, with `undefined`, removes) a credential in the credentials file, mode 0600.
 *
 * @example
 * ```ts
 * writeCredential("openai.apiKey", process.env.NEW_KEY!);
 * ```
 */
export function writeCredential(name: string, value: string | undefined, file: string = credentialsFile()): void {
  const [provider, field] = checkName(name, "writeCredential");
  const tree = structuredClone(readCredentialsFile(file));
  if (value === undefined) {
    if (tree[provider]) delete tree[provider][field];
    if (tree[provider] && Object.keys(tree[provider]).length === 0) delete tree[provider];
  } else {
    (tree[provider] ??= {})[field] = value;
    new Secret(value, name);
  }
  writeJsonFile(file, tree, 0o600);
}

/**
 * Sets a credential for this process (the highest source); `undefined` removes it.
 *
 * @example
 * ```ts
 * setCredential("openai.apiKey", process.env.ROTATED_OPENAI_KEY);
 * ```
 */
export function setCredential(name: string, value: string | undefined): void {
  checkName(name, "setCredential");
  if (value === undefined) runtime.delete(name);
  else runtime.set(name, new Secret(value, name));
}

/**
 * The credential `name` (`openai.apiKey`) from the first source that has it, as a `Secret`,
 * or `undefined`. Reads the environment and the files on every call (files only when they
 * changed), so a rotated key is seen at once.
 *
 * @example
 * ```ts
 * const key = credential("openai.apiKey");
 * if (!key) throw new Error("set OPENAI_API_KEY or run `weft configure set --credential openai.apiKey <key>`");
 * ```
 */
export function credential(name: string, options: { env?: NodeJS.ProcessEnv } = {}): Secret | undefined {
  return findCredential(name, options)?.secret;
}

/** `credential`, with the source it came from. */
export function findCredential(name: string, options: { env?: NodeJS.ProcessEnv } = {}): { secret: Secret; source: CredentialSource } | undefined {
  const [provider, field] = checkName(name, "credential");
  const env = options.env ?? process.env;
  const set = runtime.get(name);
  if (set) return { secret: set, source: "runtime" };
  const key = `providers.${provider}.${field}`;
  for (const [variable, target] of Object.entries(CONVENTIONS)) {
    const text = env[variable];
    if (target === key && text) return { secret: new Secret(text, name), source: "env" };
  }
  const own = env[credentialEnvName(name)];
  if (own) return { secret: new Secret(own, name), source: "env" };
  const configured = getConfig(key);
  if (configured instanceof Secret) return { secret: configured, source: "config" };
  if (typeof configured === "string" && configured !== "") return { secret: new Secret(configured, name), source: "config" };
  const stored = readCredentialsFile(credentialsFile(env))[provider]?.[field];
  if (stored) return { secret: new Secret(stored, name), source: "credentials" };
  return undefined;
}

/** Every credential the credentials file holds, by name (values as `Secret`s), for listings. */
export function listCredentials(env: NodeJS.ProcessEnv = process.env): { name: string; secret: Secret }[] {
  const out: { name: string; secret: Secret }[] = [];
  for (const [provider, fields] of Object.entries(readCredentialsFile(credentialsFile(env)))) {
    for (const [field, value] of Object.entries(fields)) out.push({ name: `${provider}.${field}`, secret: new Secret(value, `${provider}.${field}`) });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}
