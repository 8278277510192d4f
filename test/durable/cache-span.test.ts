/**
 * A cache hit is visible on its span: `weft.cache = "hit"`, and no span of a body run.
 */
import { afterAll, expect, test } from "vitest";
import { configureDurable, MemoryStore, op } from "weft";
import { recordSpans } from "../support/spans.js";

const exporter = recordSpans();
configureDurable({ store: new MemoryStore() });
afterAll(() => configureDurable({ store: new MemoryStore() }));

test("a cache hit opens a span marked weft.cache = hit; the miss before it is a normal op span", async () => {
  const lookup = op({ name: "lookup", cache: { ttl: "1m" } }, async (id: number) => ({ id }));
  await lookup(1);
  await lookup(1);
  const spans = exporter.getFinishedSpans().filter((s) => s.name === "lookup");
  expect(spans.map((s) => [s.attributes["weft.cache"], s.attributes["weft.step"]])).toEqual([
    [undefined, expect.stringMatching(/^lookup#\d+$/)],
    ["hit", expect.stringMatching(/^lookup#\d+$/)],
  ]);
});
