/**
 * File loaders and the loader registry. A loader is a source that opens its file when a run
 * first pulls and closes it when the run ends or stops; it reads 64 KiB at a time and hands
 * on every record of a block as one chunk. A record's source offset is its 0-based line
 * (the line it starts on), so lineage and dead letters name the line, and a resumed durable
 * run skips committed lines without parsing them.
 *
 * A record that cannot be read (a JSONL line that is not JSON, a CSV row with an open quote
 * or the wrong number of fields) is a `MalformedRecord` naming file and line: it fails that
 * record alone and the stream goes on.
 */
import { open, readdir, type FileHandle } from "node:fs/promises";
import path from "node:path";
import { StringDecoder } from "node:string_decoder";
import { checkOptions } from "../../decorators/options.js";
import { redactText } from "../redact.js";
import type { Build, Chunk, Exec, Failure, Lineage, Puller } from "./core.js";
import { MalformedRecord } from "./errors.js";
import { OPEN, buildOf, type Openable, type Source } from "./sources.js";

const BLOCK = 64 * 1024;
/** How much of a malformed record a dead letter keeps. */
const PREVIEW = 200;

/** A named source: what `data.jsonl()`, `data.csv()`, `data.lines()`, `data.files()` and registered loaders return. */
export class Loader<T> implements Openable<T> {
  /** @internal */
  constructor(
    /** What it reads, for messages (`jsonl(questions.jsonl)`). */
    readonly description: string,
    private readonly build: Build<T>,
  ) {}
  /** @internal */
  get [OPEN](): Build<T> {
    return this.build;
  }
}

/** Reads a text file block by block. */
class Blocks {
  private fh: FileHandle | undefined;
  private readonly decoder = new StringDecoder("utf8");
  private readonly buffer = Buffer.allocUnsafe(BLOCK);
  eof = false;
  private closed = false;
  constructor(readonly file: string) {}
  /** The next block of text ("" at the end). */
  async read(): Promise<string> {
    if (this.closed) return "";
    this.fh ??= await open(this.file, "r");
    if (this.closed) {
      await this.close();
      return "";
    }
    const { bytesRead } = await this.fh.read(this.buffer, 0, BLOCK, null);
    if (bytesRead === 0) {
      this.eof = true;
      const tail = this.decoder.end();
      await this.close();
      return tail;
    }
    return this.decoder.write(this.buffer.subarray(0, bytesRead));
  }
  async close(): Promise<void> {
    this.closed = true;
    const fh = this.fh;
    this.fh = undefined;
    await fh?.close();
  }
}

/** One record found in the text: where it starts, its text, or why it is malformed. */
type Parse<T> = (text: string, line: number) => T;

/** A line-per-record file (`lines`, `jsonl`). */
class LineSource<T> implements Puller<T> {
  private readonly blocks: Blocks;
  private rest = "";
  private line = 0;
  private done = false;

  constructor(
    file: string,
    private readonly exec: Exec,
    private readonly parse: Parse<T>,
    private readonly stage: string,
    private readonly skipBlank: boolean,
  ) {
    this.blocks = new Blocks(file);
  }

  async pull(): Promise<Chunk<T> | null> {
    const values: T[] = [];
    const lineage: Lineage[] = [];
    let failures: Failure[] | undefined;
    while (values.length === 0 && failures === undefined) {
      if (this.done || this.exec.signal.aborted) return null;
      const text = this.rest + (await this.blocks.read());
      const last = this.blocks.eof;
      let start = 0;
      for (;;) {
        const nl = text.indexOf("\n", start);
        if (nl === -1) break;
        failures = this.take(text, start, nl, values, lineage, failures);
        start = nl + 1;
      }
      this.rest = text.slice(start);
      if (last) {
        if (this.rest !== "") failures = this.take(this.rest, 0, this.rest.length, values, lineage, failures);
        this.rest = "";
        this.done = true;
      }
    }
    return { values, lineage, failures };
  }

  private take(text: string, start: number, end: number, values: T[], lineage: Lineage[], failures: Failure[] | undefined): Failure[] | undefined {
    const offset = this.line++;
    if (offset < this.exec.resumeAt) {
      this.exec.counters.skipped++;
      return failures;
    }
    let s = text.slice(start, end);
    if (s.endsWith("\r")) s = s.slice(0, -1);
    if (this.skipBlank && s.trim() === "") return failures;
    this.exec.counters.pulled++;
    try {
      values.push(this.parse(s, offset + 1));
      lineage.push(offset);
    } catch (error) {
      (failures ??= []).push({ lineage: offset, error, input: preview(s), stage: this.stage });
    }
    return failures;
  }

  close(): Promise<void> {
    this.done = true;
    return this.blocks.close();
  }
}

function preview(text: string): string {
  const t = text.length > PREVIEW ? `${text.slice(0, PREVIEW)}…` : text;
  return redactText(t);
}

function fileArg(where: string, file: unknown): string {
  if (typeof file !== "string" || file === "") throw new TypeError(`${where}: expected a file path, received ${JSON.stringify(file)}`);
  return file;
}

/**
 * The lines of a text file (without their line ends), one item per line.
 *
 * @example
 * ```ts
 * import { data } from "weft";
 * const n = (await data.stream(data.lines("notes.txt")).run()).emitted;
 * ```
 */
export function lines(file: string): Loader<string> {
  fileArg("data.lines", file);
  return new Loader(`lines(${file})`, (exec) => new LineSource(file, exec, (s) => s, "lines", false));
}

/**
 * One JSON value per line. Blank lines are skipped; a line that is not JSON is a
 * `MalformedRecord` (file and line) and the stream goes on. `T` is what you expect each
 * line to be: check it with a typed op in a later stage.
 *
 * @example
 * ```ts
 * import { data } from "weft";
 * interface Question { readonly id: string; readonly text: string }
 * const questions = await data.stream(data.jsonl<Question>("questions.jsonl")).take(10).collect();
 * ```
 */
export function jsonl<T = unknown>(file: string): Loader<T> {
  fileArg("data.jsonl", file);
  return new Loader(
    `jsonl(${file})`,
    (exec) =>
      new LineSource<T>(
        file,
        exec,
        (s, line) => {
          try {
            return JSON.parse(s) as T;
          } catch (error) {
            throw new MalformedRecord(file, line, "jsonl", (error as Error).message);
          }
        },
        "jsonl",
        true,
      ),
  );
}

/** `data.csv` options. */
export interface CsvOptions {
  /** The first row names the fields and records are objects (default); `false`: records are arrays of fields. */
  readonly header?: boolean;
  /** Field separator. Default `","`. */
  readonly delimiter?: string;
}

/**
 * CSV records (RFC 4180: quoted fields may hold the delimiter, `""` and line breaks). With
 * a header row (default) each record is an object keyed by it. A record with an unclosed
 * quote, text after a closing quote, a quote inside an unquoted field, or a field count
 * other than the header's is a `MalformedRecord` naming file and line; the stream goes on.
 *
 * @example
 * ```ts
 * import { data } from "weft";
 * const rows = await data.stream(data.csv("people.csv")).map((r) => r.name).collect();
 * ```
 */
export function csv(file: string, options?: CsvOptions & { readonly header?: true }): Loader<Record<string, string>>;
export function csv(file: string, options: CsvOptions & { readonly header: false }): Loader<string[]>;
export function csv(file: string, options: CsvOptions = {}): Loader<Record<string, string> | string[]> {
  fileArg("data.csv", file);
  checkOptions("data.csv", "csv", options);
  const delimiter = options.delimiter ?? ",";
  if (delimiter.length !== 1 || delimiter === '"' || delimiter === "\n" || delimiter === "\r") throw new TypeError(`data.csv: delimiter must be one character other than a quote or a line break, received ${JSON.stringify(delimiter)}`);
  return new Loader(`csv(${file})`, (exec) => new CsvSource(file, exec, delimiter, options.header !== false));
}

type CsvRecord = { readonly fields: string[]; readonly line: number; readonly raw: string } | { readonly error: string; readonly line: number; readonly raw: string };

class CsvSource implements Puller<Record<string, string> | string[]> {
  private readonly blocks: Blocks;
  private text = "";
  private pos = 0;
  /** 0-based line of `pos`. */
  private line = 0;
  private header: string[] | undefined;
  private done = false;

  constructor(
    private readonly file: string,
    private readonly exec: Exec,
    private readonly delimiter: string,
    private readonly hasHeader: boolean,
  ) {
    this.blocks = new Blocks(file);
  }

  async pull(): Promise<Chunk<Record<string, string> | string[]> | null> {
    const values: (Record<string, string> | string[])[] = [];
    const lineage: Lineage[] = [];
    let failures: Failure[] | undefined;
    while (values.length === 0 && failures === undefined) {
      if (this.done || this.exec.signal.aborted) return null;
      const more = await this.blocks.read();
      this.text = this.text.slice(this.pos) + more;
      this.pos = 0;
      const eof = this.blocks.eof;
      for (let r = this.record(eof); r !== undefined; r = this.record(eof)) {
        if ("fields" in r && r.fields.length === 1 && r.fields[0] === "" && r.raw.trim() === "") continue; // a blank line
        if (this.hasHeader && this.header === undefined) {
          if ("error" in r) (failures ??= []).push(this.failure(r.line, r.error, r.raw));
          else this.header = r.fields;
          continue;
        }
        const offset = r.line;
        if (offset < this.exec.resumeAt) {
          this.exec.counters.skipped++;
          continue;
        }
        this.exec.counters.pulled++;
        if ("error" in r) {
          (failures ??= []).push(this.failure(r.line, r.error, r.raw));
          continue;
        }
        const header = this.header;
        if (header === undefined) values.push(r.fields);
        else if (r.fields.length !== header.length) {
          (failures ??= []).push(this.failure(r.line, `expected ${header.length} fields (as the header), found ${r.fields.length}`, r.raw));
          continue;
        } else {
          const obj: Record<string, string> = {};
          for (let i = 0; i < header.length; i++) obj[header[i]!] = r.fields[i]!;
          values.push(obj);
        }
        lineage.push(offset);
      }
      if (eof) this.done = true;
    }
    return { values, lineage, failures };
  }

  private failure(line: number, reason: string, raw: string): Failure {
    return { lineage: line, error: new MalformedRecord(this.file, line + 1, "csv", reason), input: preview(raw), stage: "csv" };
  }

  /** The next complete record from `pos`, or undefined when the text ends inside one (unless at the end of the file). */
  private record(eof: boolean): CsvRecord | undefined {
    const text = this.text;
    const d = this.delimiter;
    const begin = this.pos;
    if (begin >= text.length) return undefined;
    const startLine = this.line;
    let i = begin;
    let lines = 0;
    const fields: string[] = [];
    let error: string | undefined;
    for (;;) {
      // One field from i.
      if (text[i] === '"') {
        let value = "";
        let j = i + 1;
        for (;;) {
          const q = text.indexOf('"', j);
          if (q === -1) {
            if (!eof) return undefined;
            lines += count(text, "\n", j, text.length);
            return this.end(text.length, startLine, lines, { error: "a quoted field is not closed before the end of the file", line: startLine, raw: text.slice(begin) });
          }
          lines += count(text, "\n", j, q);
          value += text.slice(j, q);
          if (text[q + 1] === '"') {
            value += '"';
            j = q + 2;
            continue;
          }
          if (q + 1 >= text.length && !eof) return undefined;
          i = q + 1;
          break;
        }
        fields.push(value);
        const c = text[i];
        if (c !== undefined && c !== d && c !== "\n" && !(c === "\r" && (text[i + 1] === "\n" || i + 1 >= text.length))) {
          error ??= `text after a closing quote (column ${fields.length})`;
          // Skip to the end of this line.
          const nl = text.indexOf("\n", i);
          if (nl === -1 && !eof) return undefined;
          i = nl === -1 ? text.length : nl;
        }
      } else {
        let j = i;
        while (j < text.length && text[j] !== d && text[j] !== "\n") j++;
        if (j >= text.length && !eof) return undefined;
        let value = text.slice(i, j);
        if (text[j] === "\n" && value.endsWith("\r")) value = value.slice(0, -1);
        if (value.includes('"')) error ??= `a quote inside an unquoted field (column ${fields.length + 1})`;
        fields.push(value);
        i = j;
      }
      const c = text[i];
      if (c === d) {
        i++;
        continue;
      }
      if (c === "\r") i++;
      if (text[i] === "\n") {
        lines++;
        i++;
      }
      const raw = text.slice(begin, i);
      return this.end(i, startLine, lines, error === undefined ? { fields, line: startLine, raw } : { error, line: startLine, raw });
    }
  }

  private end(pos: number, startLine: number, lines: number, r: CsvRecord): CsvRecord {
    this.pos = pos;
    this.line = startLine + lines;
    return r;
  }

  close(): Promise<void> {
    this.done = true;
    return this.blocks.close();
  }
}

function count(text: string, ch: string, from: number, to: number): number {
  let n = 0;
  for (let i = text.indexOf(ch, from); i !== -1 && i < to; i = text.indexOf(ch, i + 1)) n++;
  return n;
}

/** A file found by `data.files`. */
export interface FileEntry {
  /** The path, the directory joined with the file's path inside it. */
  readonly path: string;
  /** The path inside the directory. */
  readonly name: string;
}

/** `data.files` options. */
export interface FilesOptions {
  /** Keep files whose name (the path inside the directory) matches. */
  readonly match?: RegExp;
  /** Look in sub-directories too. Default false. */
  readonly recursive?: boolean;
}

/**
 * The files of a directory, sorted by name, one item per file; `flatMap` a loader over
 * them to read their records.
 *
 * @example
 * ```ts
 * import { data } from "weft";
 * const records = data.stream(data.files("shards", { match: /\.jsonl$/ })).flatMap((f) => data.jsonl(f.path));
 * ```
 */
export function files(dir: string, options: FilesOptions = {}): Loader<FileEntry> {
  fileArg("data.files", dir);
  checkOptions("data.files", "files", options);
  return new Loader(`files(${dir})`, (exec) => {
    let list: FileEntry[] | undefined;
    let next = 0;
    return {
      async pull(): Promise<Chunk<FileEntry> | null> {
        if (list === undefined) {
          const entries = await readdir(dir, { withFileTypes: true, recursive: options.recursive === true });
          list = entries
            .filter((e) => e.isFile())
            .map((e) => {
              const full = path.join(e.parentPath, e.name);
              return { path: full, name: path.relative(dir, full) };
            })
            .filter((e) => options.match === undefined || options.match.test(e.name))
            .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
          next = Math.min(exec.resumeAt, list.length);
          exec.counters.skipped += next;
        }
        if (next >= list.length || exec.signal.aborted) return null;
        const end = Math.min(list.length, next + exec.chunk);
        const values = list.slice(next, end);
        const lineage: Lineage[] = [];
        for (let i = next; i < end; i++) lineage.push(i);
        exec.counters.pulled += end - next;
        next = end;
        return { values, lineage, failures: undefined };
      },
      close(): void {
        list = [];
      },
    };
  });
}

const registry = new Map<string, (...args: never[]) => Source<unknown>>();

/**
 * Registers a loader under a name, for `data.load(name, ...args)`. A second registration
 * under the same name is an error (say `{ replace: true }` to replace it).
 *
 * @example
 * ```ts
 * import { data } from "weft";
 * data.register("numbers", (n: number) => Array.from({ length: n }, (_, i) => i));
 * const total = (await data.stream(data.load("numbers", 100)).collect()).length; // 100
 * ```
 */
export function register<A extends unknown[], T>(name: string, loader: (...args: A) => Source<T>, options: { readonly replace?: boolean } = {}): void {
  if (typeof name !== "string" || name === "") throw new TypeError(`data.register: expected a loader name, received ${JSON.stringify(name)}`);
  if (typeof loader !== "function") throw new TypeError(`data.register("${name}"): expected a function returning a source, received ${typeof loader}`);
  checkOptions(`data.register("${name}")`, "register", options);
  if (registry.has(name) && options.replace !== true) throw new TypeError(`data.register: a loader named "${name}" is already registered (pass { replace: true } to replace it)`);
  registry.set(name, loader as unknown as (...args: never[]) => Source<unknown>);
}

/** The source a registered loader makes for `args`. */
export function load<T = unknown>(name: string, ...args: unknown[]): Loader<T> {
  const loader = registry.get(name);
  if (loader === undefined) {
    const known = [...registry.keys()];
    throw new TypeError(`data.load: no loader named "${name}" (${known.length === 0 ? "none is registered; add one with data.register" : `registered: ${known.join(", ")}`})`);
  }
  // Opened per run: a loader that returns an iterator gets a fresh one each time.
  return new Loader<T>(`${name}(…)`, (exec) => buildOf((loader as (...a: unknown[]) => Source<T>)(...args), `data.load("${name}")`)(exec));
}
