/**
 * The CLI reference (docs/cli.md, and the verb list in the README) is what `--help` prints:
 * every verb and command of the tree in cli/verbs.ts is run as `weft <path> --help`, and
 * the documents must contain exactly that. `WEFT_WRITE_CLI_REFERENCE=1` rewrites them.
 */
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { expect, test } from "vitest";
import type { Verb } from "../../cli/command.js";
import { WEFT } from "../../cli/verbs.js";
import { sandbox } from "./run.js";

const ROOT = path.resolve(import.meta.dirname, "../..");
const cli = sandbox();

function paths(verb: Verb, prefix: string[] = []): string[][] {
  const here = prefix.length === 0 ? [] : [prefix];
  return [...here, ...(verb.subcommands ?? []).flatMap((sub) => paths(sub, [...prefix, sub.name]))];
}

function between(text: string, name: string): string {
  const open = `<!-- ${name} -->\n`;
  const close = `<!-- /${name} -->`;
  const start = text.indexOf(open);
  const end = text.indexOf(close);
  if (start < 0 || end < start) throw new Error(`no ${open.trim()} ... ${close} block`);
  return text.slice(start + open.length, end);
}

function replaceBetween(text: string, name: string, body: string): string {
  const open = `<!-- ${name} -->\n`;
  const start = text.indexOf(open) + open.length;
  return text.slice(0, start) + body + text.slice(text.indexOf(`<!-- /${name} -->`));
}

test("docs/cli.md and the README's verb list are what --help prints, for every verb", async () => {
  const all = paths(WEFT);
  const helps = await Promise.all([[] as string[], ...all].map(async (p) => {
    const r = await cli.run([...p, "--help"]);
    expect(r, `weft ${p.join(" ")} --help`).toMatchObject({ code: 0, stderr: "" });
    return { path: p, text: r.stdout.trimEnd() };
  }));
  const reference = helps.map((h) => `### weft${h.path.length ? ` ${h.path.join(" ")}` : ""}\n\n\`\`\`text\n${h.text}\n\`\`\`\n`).join("\n");
  const readmeBlock = `\`\`\`text\n${helps[0]!.text}\n\`\`\`\n`;
  const docsFile = path.join(ROOT, "docs/cli.md");
  const readmeFile = path.join(ROOT, "README.md");
  if (process.env.WEFT_WRITE_CLI_REFERENCE === "1") {
    writeFileSync(docsFile, replaceBetween(readFileSync(docsFile, "utf8"), "cli-reference", reference));
    writeFileSync(readmeFile, replaceBetween(readFileSync(readmeFile, "utf8"), "cli-verbs", readmeBlock));
  }
  expect(between(readFileSync(docsFile, "utf8"), "cli-reference"), "docs/cli.md is stale: run `npm run cli-reference`").toBe(reference);
  expect(between(readFileSync(readmeFile, "utf8"), "cli-verbs"), "README.md's verb list is stale: run `npm run cli-reference`").toBe(readmeBlock);
}, 120_000);
