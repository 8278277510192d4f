/**
 * The SQLite store's per-run node log: where a driven run's journal appends go first.
 *
 * An append to a log is one `write(2)` of length-and-checksum framed records to a file
 * opened with O_APPEND: about a tenth of the CPU time of a SQLite transaction (locks, WAL
 * frame, B-tree), and like a WAL commit under `synchronous=NORMAL` it survives a crash of the
 * process (the bytes are in the OS's page cache) but not necessarily of the OS; under `FULL`
 * each append is also `fdatasync`ed. The log is folded into the `nodes` table in one
 * transaction when the run settles, when another owner takes the run's lease (the log of the
 * dead process), and when it grows past a bound. Readers (`journal`, `countNodes`) read
 * table and log together, so nothing is invisible in between.
 *
 *   frame    u32 length of the rest | u32 CRC-32 of the rest | u32 key bytes | key | u32 hash bytes | hash | value
 *
 * A frame cut short or failing its checksum (an OS crash mid-write) ends the log: what
 * follows it was never acknowledged.
 */
import { closeSync, fdatasyncSync, fstatSync, ftruncateSync, openSync, readdirSync, readFileSync, readSync, renameSync, statSync, unlinkSync, writeSync } from "node:fs";
import path from "node:path";
import type { JournalRecord } from "./store.js";

// node:crypto and node:zlib load with the first log, not with weft.
let zlib: typeof import("node:zlib") | undefined;
const crc32 = (bytes: Uint8Array): number => (zlib ??= process.getBuiltinModule("node:zlib") as typeof import("node:zlib")).crc32(bytes);
const crypto = () => process.getBuiltinModule("node:crypto") as typeof import("node:crypto");

const HEADER = 8;

/** The log file of `run` in `dir`. */
export function logPath(dir: string, run: string): string {
  return path.join(dir, `${crypto().hash("sha256", run, "hex").slice(0, 32)}.log`);
}

/** `records` as one buffer of frames. */
export function frame(records: readonly JournalRecord[]): Buffer {
  let size = 0;
  for (const r of records) size += HEADER + 8 + Buffer.byteLength(r.key) + Buffer.byteLength(r.inputHash) + r.value.byteLength;
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (const r of records) {
    const start = at;
    at += HEADER;
    at = writeString(out, at, r.key);
    at = writeString(out, at, r.inputHash);
    out.set(r.value, at);
    at += r.value.byteLength;
    out.writeUInt32LE(at - start - HEADER, start);
    out.writeUInt32LE(crc32(out.subarray(start + HEADER, at)), start + 4);
  }
  return out;
}

function writeString(out: Buffer, at: number, text: string): number {
  const n = out.write(text, at + 4, "utf8");
  out.writeUInt32LE(n, at);
  return at + 4 + n;
}

/** The records of a log's bytes, in order, up to the first frame that is cut short or damaged. */
export function parse(bytes: Buffer): JournalRecord[] {
  const out: JournalRecord[] = [];
  let at = 0;
  while (at + HEADER <= bytes.length) {
    const length = bytes.readUInt32LE(at);
    const end = at + HEADER + length;
    if (end > bytes.length || length < 8) break;
    const body = bytes.subarray(at + HEADER, end);
    if (crc32(body) !== bytes.readUInt32LE(at + 4)) break;
    const keyLength = body.readUInt32LE(0);
    const key = body.toString("utf8", 4, 4 + keyLength);
    const hashAt = 4 + keyLength;
    const hashLength = body.readUInt32LE(hashAt);
    const inputHash = body.toString("utf8", hashAt + 4, hashAt + 4 + hashLength);
    // A copy: `bytes` is one buffer for the whole file.
    out.push({ key, inputHash, value: new Uint8Array(body.subarray(hashAt + 4 + hashLength)) });
    at = end;
  }
  return out;
}

/** The records of the log at `file` (none when there is no log). */
export function readLog(file: string): JournalRecord[] {
  try {
    return parse(readFileSync(file));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
}

/**
 * Takes the log of `run` away from whoever writes it, to store its records: renamed first
 * (a process still holding it open, one whose lease expired, now writes to a file nobody
 * reads), then read. Logs taken before but never stored (a crash in between) come first.
 * Returns the records, oldest first, and a function that deletes the taken files, to call
 * once the records are stored.
 */
export function takeLogs(dir: string, run: string): { readonly records: JournalRecord[]; readonly remove: () => void } | undefined {
  const file = logPath(dir, run);
  const base = path.basename(file);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  const earlier = names
    .filter((n) => n.startsWith(`${base}.`) && n.endsWith(".taken"))
    .map((n) => path.join(dir, n))
    .map((f) => ({ f, t: statSync(f).mtimeMs }))
    .sort((x, y) => x.t - y.t || x.f.localeCompare(y.f))
    .map((x) => x.f);
  const taken = [...earlier];
  if (names.includes(base)) {
    const target = `${file}.${Date.now().toString(36)}${crypto().randomBytes(4).toString("hex")}.taken`;
    renameSync(file, target);
    taken.push(target);
  }
  if (taken.length === 0) return undefined;
  return { records: taken.flatMap(readLog), remove: () => taken.forEach((f) => unlinkSync(f)) };
}

/** One open log, written by the process driving its run. */
export class NodeLog {
  private fd: number;
  /** Bytes written since the log was last emptied. */
  size: number;
  /** What this log holds, when it was empty as it opened (reading it back costs as much as writing). */
  private held: JournalRecord[] | undefined;

  constructor(
    readonly file: string,
    private readonly sync: boolean,
  ) {
    this.fd = openSync(file, "a+");
    this.size = fstatSync(this.fd).size;
    this.held = this.size === 0 ? [] : undefined;
  }

  /** Appends the records; stored (as far as the sync mode promises) when it returns. */
  append(records: readonly JournalRecord[]): void {
    const bytes = frame(records);
    let done = 0;
    while (done < bytes.length) done += writeSync(this.fd, bytes, done);
    if (this.sync) fdatasyncSync(this.fd);
    this.size += bytes.length;
    if (this.held) for (const r of records) this.held.push(r);
  }

  /** What this log holds, read through its own descriptor (the file this process writes). */
  records(): JournalRecord[] {
    if (this.held) return this.held;
    const bytes = Buffer.allocUnsafe(fstatSync(this.fd).size);
    let done = 0;
    while (done < bytes.length) {
      const n = readSync(this.fd, bytes, done, bytes.length - done, done);
      if (n === 0) break;
      done += n;
    }
    return parse(bytes.subarray(0, done));
  }

  /** Empties the log (its records are stored in the table now). */
  clear(): void {
    ftruncateSync(this.fd, 0);
    this.size = 0;
    this.held = [];
  }

  close(): void {
    closeSync(this.fd);
    this.fd = -1;
  }
}
