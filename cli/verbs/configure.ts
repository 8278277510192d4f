/**
 * `weft configure get|set|unset|list`: the layered config and the credentials file. Writes
 * go to the user config file, or with `--project` to the project's `weft.config.json`, or
 * with `--credential` to the credentials file (mode 0600). Secrets print as `[redacted]`.
 */
import path from "node:path";
import { CliError, UsageError, table, type Verb, type VerbInput } from "../command.js";
import { configLayers, describeKey, LAYERS, listConfig, PROJECT_FILE, projectConfigFile, userConfigFile, writeConfigValue } from "../../runtime/config/config.js";
import { credentialsFile, findCredential, listCredentials, writeCredential } from "../../runtime/config/credentials.js";
import { Secret } from "../../runtime/config/secret.js";
import { secretName } from "../../runtime/redact.js";

const json = { type: "boolean", description: "print JSON" } as const;
const credentialFlag = { type: "boolean", description: "a credential (<provider>.<field>, such as openai.apiKey) in the credentials file" } as const;
const project = { type: "boolean", description: `the project's ${PROJECT_FILE} (found upwards, or created here) instead of the user config` } as const;

/** A value as the terminal shows it: secrets redacted, objects as JSON. */
function shown(value: unknown): string {
  if (value instanceof Secret) return String(value);
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** `text` parsed as JSON when it is JSON (numbers, booleans, objects), else the text itself. */
function parseValue(text: string, key: string): unknown {
  const kind = describeKey(key);
  if (kind === "string" || (kind !== undefined && /^"/.test(kind))) return text;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function targetFile(input: VerbInput): string {
  if (!input.values.project) return userConfigFile(input.io.env);
  return projectConfigFile(input.io.cwd) ?? path.join(input.io.cwd, PROJECT_FILE);
}

const get: Verb = {
  name: "get",
  summary: "print a config value (or a credential) and the layer it comes from",
  usage: ["<key> [--json]", "--credential <provider.field> [--json]"],
  options: { json, credential: credentialFlag },
  positionals: { min: 1, max: 1, names: "<key>" },
  run({ positionals, values, io }) {
    const key = positionals[0]!;
    if (values.credential) {
      const found = findCredential(key, { env: io.env });
      if (!found) throw new CliError(`no credential "${key}"`, `set it with \`weft configure set --credential ${key} <value>\``);
      io.out(values.json ? JSON.stringify({ key, value: found.secret, source: found.source }) : `${String(found.secret)}  (${found.source})`);
      return 0;
    }
    const layers = configLayers(key, { env: io.env, cwd: io.cwd });
    let value: unknown;
    let source: string | undefined;
    for (const layer of LAYERS) if (layers[layer] !== undefined) [value, source] = [layers[layer], layer];
    if (source === undefined) {
      if (describeKey(key) === undefined) throw new UsageError(`unknown config key "${key}"`);
      throw new CliError(`"${key}" is not set in any layer`, `set it with \`weft configure set ${key} <value>\``);
    }
    const out = secretName(key.split(".").pop()!) && typeof value === "string" ? new Secret(value, key) : value;
    io.out(values.json ? JSON.stringify({ key, value: out, source }) : `${shown(out)}  (${source})`);
    return 0;
  },
};

const set: Verb = {
  name: "set",
  summary: "set a value in the user (or project) config file, or a credential",
  usage: ["<key> <value> [--project]", "--credential <provider.field> <value>"],
  description: "A value is read as JSON when it parses (numbers, booleans, objects), else as text. It is checked\nagainst the config type before anything is written.",
  options: { project, credential: credentialFlag },
  positionals: { min: 2, max: 2, names: "<key> <value>" },
  run({ positionals, values, io, ...rest }) {
    const [key, text] = positionals as [string, string];
    if (values.credential) {
      const file = credentialsFile(io.env);
      writeCredential(key, text, file);
      io.out(`${key} = [redacted] → ${file} (mode 600)`);
      return 0;
    }
    if (describeKey(key) === undefined) throw new UsageError(`unknown config key "${key}"`);
    const file = targetFile({ positionals, values, io, ...rest });
    const value = parseValue(text, key);
    writeConfigValue(file, key, value);
    io.out(`${key} = ${shown(secretName(key.split(".").pop()!) && typeof value === "string" ? new Secret(value, key) : value)} → ${file}`);
    return 0;
  },
};

const unset: Verb = {
  name: "unset",
  summary: "remove a value from the user (or project) config file, or a credential",
  usage: ["<key> [--project]", "--credential <provider.field>"],
  options: { project, credential: credentialFlag },
  positionals: { min: 1, max: 1, names: "<key>" },
  run(input) {
    const key = input.positionals[0]!;
    if (input.values.credential) {
      const file = credentialsFile(input.io.env);
      writeCredential(key, undefined, file);
      input.io.out(`${key} removed from ${file}`);
      return 0;
    }
    if (describeKey(key) === undefined) throw new UsageError(`unknown config key "${key}"`);
    const file = targetFile(input);
    writeConfigValue(file, key, undefined);
    input.io.out(`${key} removed from ${file}`);
    return 0;
  },
};

const list: Verb = {
  name: "list",
  summary: "list every value set in any layer, the layer it comes from, and the credentials",
  usage: ["[--json]"],
  options: { json },
  run({ values, io }) {
    const entries = listConfig({ env: io.env, cwd: io.cwd });
    const credentials = listCredentials(io.env);
    if (values.json) {
      io.out(JSON.stringify({ config: entries, credentials: credentials.map((c) => ({ key: c.name, value: c.secret, source: "credentials", file: credentialsFile(io.env) })) }, null, 2));
      return 0;
    }
    const rows = entries.map((e) => [e.key, shown(e.value), e.file ? `${e.layer} (${e.file})` : e.layer]);
    for (const c of credentials) rows.push([`credential ${c.name}`, String(c.secret), `credentials (${credentialsFile(io.env)})`]);
    io.out(table(["key", "value", "from"], rows));
    return 0;
  },
};

export const configure: Verb = {
  name: "configure",
  summary: "read and write the layered config and the credentials file",
  description:
    "Layers, lowest first: defaults < user file < project file < environment (WEFT_*, OPENAI_*) < runtime.\n" +
    `The user file is $XDG_CONFIG_HOME/weft/config.json (default ~/.config/weft/config.json); the project\n` +
    `file is the nearest ${PROJECT_FILE} upwards; credentials.json (mode 600) sits beside the user file.`,
  subcommands: [get, set, unset, list],
};

