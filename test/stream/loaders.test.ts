/** The file loaders on real files: records, malformed lines named by file and line, the registry. */
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { data, MalformedRecord, StreamItemError } from "weft";

const dir = mkdtempSync(path.join(tmpdir(), "weft-loaders-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const p = path.join(dir, name);
  mkdirSync(path.dirname(p), { recursive: true });
  writeFileSync(p, text);
  return p;
};

describe("jsonl", () => {
  it("reads one value per line, skips blank lines, and dead-letters a malformed line naming file and line", async () => {
    const p = file("q.jsonl", ['{"id":1}', '{"id":2}', "", '{"id":3', '{"id":4}\r', "not json", '{"id":5}'].join("\n"));
    const summary = await data.stream(data.jsonl<{ id: number }>(p)).lineage().run();
    expect(summary.emitted).toBe(4);
    const letters = summary.deadLetters;
    expect(letters.map((d) => d.offset)).toEqual([3, 5]);
    const errors = letters.map((d) => d.error as MalformedRecord);
    expect(errors[0]).toBeInstanceOf(MalformedRecord);
    expect(errors.map((e) => [e.file, e.line, e.format])).toEqual([
      [p, 4, "jsonl"],
      [p, 6, "jsonl"],
    ]);
    expect(errors[0]!.message).toContain(`${p}:4: malformed jsonl record`);
    expect(letters[1]!.input).toBe("not json");
    const ids = await data.stream(data.jsonl<{ id: number }>(p)).map((r) => r.id).collect();
    expect(ids).toEqual([1, 2, 4, 5]);
  });

  it("keeps lines whole across 64 KiB reads and multi-byte characters", async () => {
    const rows = Array.from({ length: 3000 }, (_, i) => JSON.stringify({ i, text: `é—${"x".repeat(i % 97)}🙂` }));
    const p = file("big.jsonl", `${rows.join("\n")}\n`);
    const got = await data.stream(data.jsonl<{ i: number; text: string }>(p)).collect();
    expect(got).toHaveLength(3000);
    expect(got.every((r, i) => r.i === i && r.text.endsWith("🙂"))).toBe(true);
  });

  it("stops with the malformed line under onError: fail", async () => {
    const p = file("bad.jsonl", '{"a":1}\n{oops}\n{"a":2}\n');
    const error = await data.stream(data.jsonl(p), { onError: "fail" }).collect().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StreamItemError);
    expect((error as StreamItemError).offset).toBe(1);
    expect((error as StreamItemError).cause).toBeInstanceOf(MalformedRecord);
  });

  it("fails the stream (not an item) when the file cannot be opened", async () => {
    await expect(data.stream(data.jsonl(path.join(dir, "missing.jsonl"))).collect()).rejects.toThrow(/ENOENT/);
  });
});

describe("csv", () => {
  it("reads quoted fields with delimiters, quotes and line breaks, and dead-letters malformed rows by line", async () => {
    const text = [
      "name,age,note",
      "ada,36,plain",
      '"lovelace, ada",36,"said ""hi"""',
      'bob,40,"two',
      'lines"',
      "carl,50", // too few fields
      'dan,"5"0,x', // text after a closing quote
      'eve,2"2,y', // a quote inside an unquoted field
      "",
      "fay,61,last",
    ].join("\r\n");
    const p = file("people.csv", text);
    const summary = await data.stream(data.csv(p)).run();
    const got = await data.stream(data.csv(p)).collect();
    expect(got).toEqual([
      { name: "ada", age: "36", note: "plain" },
      { name: "lovelace, ada", age: "36", note: 'said "hi"' },
      { name: "bob", age: "40", note: "two\r\nlines" },
      { name: "fay", age: "61", note: "last" },
    ]);
    expect(summary.deadLetters.map((d) => (d.error as MalformedRecord).line)).toEqual([6, 7, 8]);
    expect(summary.deadLetters.map((d) => (d.error as MalformedRecord).reason)).toEqual([
      "expected 3 fields (as the header), found 2",
      "text after a closing quote (column 2)",
      "a quote inside an unquoted field (column 2)",
    ]);
    const lineage = await data.stream(data.csv(p)).lineage().collect();
    expect(lineage.map((t) => t.sources[0])).toEqual([1, 2, 3, 9]);
  });

  it("reports an unclosed quote at the end of the file, and reads without a header as arrays", async () => {
    const p = file("open.csv", 'a;b\n1;"never closed\n2;3\n');
    const summary = await data.stream(data.csv(p, { header: false, delimiter: ";" })).run();
    expect(summary.emitted).toBe(1);
    expect((summary.deadLetters[0]!.error as MalformedRecord).reason).toMatch(/not closed before the end of the file/);
    expect((summary.deadLetters[0]!.error as MalformedRecord).line).toBe(2);
    expect(await data.stream(data.csv(file("plain.csv", "x;y\n1;2\n"), { header: false, delimiter: ";" })).collect()).toEqual([
      ["x", "y"],
      ["1", "2"],
    ]);
  });
});

describe("lines, files and the registry", () => {
  it("reads lines, and a directory's files in name order, flat-mapped through a loader", async () => {
    file("shards/b.jsonl", '{"n":3}\n{"n":4}\n');
    file("shards/a.jsonl", '{"n":1}\nbroken\n{"n":2}\n');
    file("shards/skip.txt", "not a shard\n");
    expect(await data.stream(data.lines(file("l.txt", "one\n\nthree"))).collect()).toEqual(["one", "", "three"]);
    const found = await data.stream(data.files(path.join(dir, "shards"), { match: /\.jsonl$/ })).map((f) => f.name).collect();
    expect(found).toEqual(["a.jsonl", "b.jsonl"]);
    const summary = await data
      .stream(data.files(path.join(dir, "shards"), { match: /\.jsonl$/ }))
      .flatMap((f) => data.jsonl<{ n: number }>(f.path))
      .map((r) => r.n)
      .run();
    expect(summary.emitted).toBe(4);
    // The malformed line inside shard a is a dead letter of the outer item (file 0).
    expect(summary.deadLetters).toHaveLength(1);
    expect(summary.deadLetters[0]!.offset).toBe(0);
    expect((summary.deadLetters[0]!.error as MalformedRecord).line).toBe(2);
  });

  it("opens registered loaders by name, afresh per run, and refuses unknown names and duplicates", async () => {
    data.register("countTo", (n: number) => (function* () {
      for (let i = 1; i <= n; i++) yield i;
    })());
    const s = data.stream(data.load<number>("countTo", 3));
    expect(await s.collect()).toEqual([1, 2, 3]);
    expect(await s.collect()).toEqual([1, 2, 3]);
    expect(() => data.load("nope")).toThrow(/no loader named "nope" \(registered: countTo\)/);
    expect(() => data.register("countTo", () => [])).toThrow(/already registered/);
  });
});
