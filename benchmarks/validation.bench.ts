/**
 * Validation throughput: weft's validators (ajv, compiled from the schemas the transformer
 * injects into these ops) against zod 4 on the same shapes, in one run: a flat object, a
 * nested object with arrays, and a discriminated union. Only the check is measured: weft's
 * `input(args)` against zod's `parse(value)`, N values per iteration so timer resolution
 * does not dominate sub-microsecond figures.
 *
 * Run with the other suites (`npm run bench`), or alone after `npm run build:run`:
 * `node .build/benchmarks/validation.bench.js`.
 *
 * Measured here (2 cores, Node 20, several runs): 2.0-2.7× zod 4 on the flat object,
 * 5.5-6.7× on the nested one, 2.1-2.5× on the union, 2.8-3.4× as a geometric mean: short
 * of the issue's 10× goal.
 * zod 4 compiles its object checks with `new Function` too, so the gap is ajv's generated
 * code (error bookkeeping, a destructured options argument per call) against zod's, not
 * interpretation against compilation; a hand-written check of the flat shape runs about
 * 2.5× faster than ajv's in the same loop, so even a custom code generator would land
 * well under 10× on the flat and union shapes.
 */
import { pathToFileURL } from "node:url";
import { z } from "zod";
import { describeOp, op } from "weft";
import { validatorsFor } from "../runtime/validate.js";
import { measure, round, type Metric } from "./harness.js";

const N = 1000;

interface User {
  id: string;
  name: string;
  email: string;
  age: number;
  active: boolean;
}

interface Address {
  street: string;
  city: string;
  zip: string;
}

interface LineItem {
  sku: string;
  quantity: number;
  price: number;
  tags: string[];
}

interface Order {
  id: string;
  customer: { name: string; address: Address };
  items: LineItem[];
  notes?: string;
}

type Event =
  | { kind: "click"; x: number; y: number; target: string }
  | { kind: "view"; page: string; durationMs: number }
  | { kind: "purchase"; orderId: string; total: number; currency: "EUR" | "USD" };

// The ops are never called: they exist so the transformer derives their schemas.
const takeUser = op((user: User): number => user.age);
const takeOrder = op((order: Order): number => order.items.length);
const takeEvent = op((event: Event): string => event.kind);

const zUser = z.object({ id: z.string(), name: z.string(), email: z.string(), age: z.number(), active: z.boolean() });
const zAddress = z.object({ street: z.string(), city: z.string(), zip: z.string() });
const zOrder = z.object({
  id: z.string(),
  customer: z.object({ name: z.string(), address: zAddress }),
  items: z.array(z.object({ sku: z.string(), quantity: z.number(), price: z.number(), tags: z.array(z.string()) })),
  notes: z.string().optional(),
});
const zEvent = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("click"), x: z.number(), y: z.number(), target: z.string() }),
  z.object({ kind: z.literal("view"), page: z.string(), durationMs: z.number() }),
  z.object({ kind: z.literal("purchase"), orderId: z.string(), total: z.number(), currency: z.enum(["EUR", "USD"]) }),
]);

const user: User = { id: "u-1", name: "Ada Lovelace", email: "ada@example.com", age: 36, active: true };
const order: Order = {
  id: "o-1",
  customer: { name: "Ada", address: { street: "1 Analytical Way", city: "London", zip: "N1" } },
  items: Array.from({ length: 5 }, (_, i) => ({ sku: `sku-${i}`, quantity: i + 1, price: 9.99 * (i + 1), tags: ["a", "b", "c"] })),
};
const events: Event[] = [
  { kind: "click", x: 1, y: 2, target: "button" },
  { kind: "view", page: "/home", durationMs: 1200 },
  { kind: "purchase", orderId: "o-1", total: 49.95, currency: "EUR" },
];

function inputCheck(fn: unknown): (args: readonly unknown[]) => void {
  const desc = describeOp(fn);
  const input = desc ? validatorsFor(desc).input : undefined;
  if (!desc?.typed || !input) throw new Error("validation bench: ops carry no schemas; build it with the weft transformer (npm run build:run)");
  return input;
}

/**
 * Runs the comparison and returns per-shape ratios plus `validation_speedup_vs_zod`, the
 * geometric mean of weft's throughput over zod's.
 *
 * @example
 * ```ts
 * const metrics = await run({ quick: true });
 * console.log(metrics.find((m) => m.name === "validation_speedup_vs_zod")?.value);
 * ```
 */
export async function run(options: { readonly quick?: boolean } = {}): Promise<Metric[]> {
  const weft = { flat: inputCheck(takeUser), nested: inputCheck(takeOrder), union: inputCheck(takeEvent) };
  // Both sides must accept every sample, or the comparison means nothing.
  for (const [check, schema, values] of [
    [weft.flat, zUser, [user]],
    [weft.nested, zOrder, [order]],
    [weft.union, zEvent, events],
  ] as const) {
    for (const v of values) (check([v]), schema.parse(v));
  }
  const userArgs = [user] as const;
  const orderArgs = [order] as const;
  const eventArgs = events.map((e) => [e] as const);
  let sink = 0;
  // One closure per task, so each call site sees one validator (as a real op's dispatch does).
  const t = await measure(
    {
      "weft.flat": () => {
        for (let i = 0; i < N; i++) weft.flat(userArgs);
      },
      "zod.flat": () => {
        for (let i = 0; i < N; i++) sink += zUser.parse(user).age;
      },
      "weft.nested": () => {
        for (let i = 0; i < N; i++) weft.nested(orderArgs);
      },
      "zod.nested": () => {
        for (let i = 0; i < N; i++) sink += zOrder.parse(order).items.length;
      },
      "weft.union": () => {
        for (let i = 0; i < N; i++) weft.union(eventArgs[i % 3]!);
      },
      "zod.union": () => {
        for (let i = 0; i < N; i++) sink += zEvent.parse(events[i % 3]).kind.length;
      },
    },
    options.quick ? { time: 50, iterations: 5 } : { time: 400, iterations: 20 },
  );
  if (sink < 0) console.log(sink);
  const metrics: Metric[] = [];
  const ratios: number[] = [];
  for (const shape of ["flat", "nested", "union"] as const) {
    const weftOps = N / (t[`weft.${shape}`]! / 1e6);
    const zodOps = N / (t[`zod.${shape}`]! / 1e6);
    ratios.push(weftOps / zodOps);
    metrics.push({ name: `validation_${shape}_weft`, value: round(weftOps / 1e6), unit: "M checks/s", baseline: `zod 4: ${round(zodOps / 1e6)} M checks/s`, ratio: round(weftOps / zodOps) });
  }
  const mean = Math.exp(ratios.reduce((a, r) => a + Math.log(r), 0) / ratios.length);
  metrics.push({ name: "validation_speedup_vs_zod", value: round(mean), unit: "× zod 4 (geometric mean)", baseline: "zod 4 parse, same shapes", ratio: round(mean) });
  return metrics;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const metrics = await run({ quick: process.argv.includes("--quick") });
  for (const m of metrics) console.log(`${m.name}: ${m.value} ${m.unit}${m.baseline ? ` (${m.baseline})` : ""}${m.ratio === undefined ? "" : `, ratio ${m.ratio}`}`);
}
