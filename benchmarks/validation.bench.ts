/**
 * Validation throughput: weft's checks (generated at build time by the weft transformer
 * from the types of these ops, see transformers/checks.ts) against zod 4 `safeParse` on
 * the same shapes, valid inputs, in one run: a flat object, a nested object with arrays,
 * a discriminated union, and a chat-completion request (optional fields, JSDoc bounds, a
 * `Record`, a nested union). Only the check is measured: weft's `input(args)` against
 * zod's `safeParse(value)`, N values per iteration so timer resolution does not dominate.
 *
 * Also: `first_validated_call_ms`, the first validated call of an op in this process
 * (building its checks included: nothing is compiled), and `validation_invalid_us`, one
 * failing call with its `ValidationError` (path, expected, received) built.
 *
 * typia is not compared: its current release (14) is a Go plugin for the TypeScript 7
 * compiler, and the releases with a ts-patch transformer (12 and earlier) require
 * TypeScript < 5.10, which npm refuses beside this project's TypeScript 6.
 *
 * Run with the other suites (`npm run bench`), or alone after `npm run build:run`:
 * `node .build/benchmarks/validation.bench.js`.
 */
import { pathToFileURL } from "node:url";
import { z } from "zod";
import { describeOp, op } from "weft";
import { validatorsFor } from "../runtime/validate.js";
import type { ValidationError } from "weft";
import { interleaved, round, type Metric } from "./harness.js";

const N = 1000;
const INVALID_N = 1000;

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

interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string;
  name?: string;
}

interface ChatRequest {
  /** @minLength 1 */
  model: string;
  messages: ChatMessage[];
  /** @minimum 0 @maximum 2 */
  temperature?: number;
  /** @integer @minimum 1 */
  max_tokens?: number;
  stop?: string | string[];
  metadata?: Record<string, string>;
}

type Event =
  | { kind: "click"; x: number; y: number; target: string }
  | { kind: "view"; page: string; durationMs: number }
  | { kind: "purchase"; orderId: string; total: number; currency: "EUR" | "USD" };

// The ops are never called: they exist so the transformer derives their schemas.
const takeUser = op((user: User): number => user.age);
const takeOrder = op((order: Order): number => order.items.length);
const takeEvent = op((event: Event): string => event.kind);
const takeChat = op((request: ChatRequest): number => request.messages.length);
const takeChatCold = op((request: ChatRequest): number => request.messages.length);
// The failing calls get an op of their own: sharing takeOrder's check with the valid loop,
// the first failing task after it always paid for V8 re-optimising that check for throws
// (the rotation keeps task order cyclic), so one of the two failing tasks looked 2-3x slower.
const takeOrderInvalid = op((order: Order): number => order.items.length);

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

const zChat = z.object({
  model: z.string().min(1),
  messages: z.array(z.object({ role: z.enum(["system", "user", "assistant"]), content: z.string(), name: z.string().optional() })),
  temperature: z.number().min(0).max(2).optional(),
  max_tokens: z.number().int().min(1).optional(),
  stop: z.union([z.string(), z.array(z.string())]).optional(),
  metadata: z.record(z.string(), z.string()).optional(),
});

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

const chat: ChatRequest = {
  model: "gpt-4o-mini",
  messages: [
    { role: "system", content: "You are terse." },
    { role: "user", content: "Summarise the report in one line.", name: "ada" },
    { role: "assistant", content: "Revenue up 4%, costs flat." },
  ],
  temperature: 0.2,
  max_tokens: 256,
  stop: ["\n\n"],
  metadata: { team: "research", run: "42" },
};

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
  // Cold: the first validated call of an op in this process, its checks built on the way.
  const coldArgs = [chat] as const;
  const started = performance.now();
  inputCheck(takeChatCold)(coldArgs);
  const firstCallMs = performance.now() - started;

  const weft = { flat: inputCheck(takeUser), nested: inputCheck(takeOrder), union: inputCheck(takeEvent), chat: inputCheck(takeChat), invalid: inputCheck(takeOrderInvalid) };
  // Both sides must accept every sample, or the comparison means nothing.
  for (const [check, schema, values] of [
    [weft.flat, zUser, [user]],
    [weft.nested, zOrder, [order]],
    [weft.union, zEvent, events],
    [weft.chat, zChat, [chat]],
  ] as const) {
    for (const v of values) {
      check([v]);
      if (!schema.safeParse(v).success) throw new Error(`validation bench: zod rejects ${JSON.stringify(v)}`);
    }
  }
  const userArgs = [user] as const;
  const orderArgs = [order] as const;
  const chatArgs = [chat] as const;
  // The samples laid out in advance: an index, not a modulo, per iteration on both sides.
  const eventArgs = Array.from({ length: N }, (_, i) => [events[i % 3]!] as const);
  const eventValues = eventArgs.map(([e]) => e);
  const badOrder = [{ ...order, items: [...order.items.slice(0, 4), { ...order.items[4]!, price: "9.99" }] }] as const;
  let sink = 0;
  // Each task runs its check N times per call; `interleaved` takes one sample of every task
  // per round, in a rotated order, and reports medians of CPU time, so a burst of load from
  // other processes lands on both sides of a ratio instead of on whichever ran then.
  // One closure per task, so each call site sees one validator (as a real op's dispatch does).
  const tasks: Record<string, () => Promise<void>> = {
    "weft.flat": async () => {
      for (let i = 0; i < N; i++) weft.flat(userArgs);
    },
    "zod.flat": async () => {
      for (let i = 0; i < N; i++) sink += zUser.safeParse(user).success ? 1 : 0;
    },
    "weft.nested": async () => {
      for (let i = 0; i < N; i++) weft.nested(orderArgs);
    },
    "zod.nested": async () => {
      for (let i = 0; i < N; i++) sink += zOrder.safeParse(order).success ? 1 : 0;
    },
    "weft.union": async () => {
      for (let i = 0; i < N; i++) weft.union(eventArgs[i]!);
    },
    "zod.union": async () => {
      for (let i = 0; i < N; i++) sink += zEvent.safeParse(eventValues[i]).success ? 1 : 0;
    },
    "weft.chat": async () => {
      for (let i = 0; i < N; i++) weft.chat(chatArgs);
    },
    "zod.chat": async () => {
      for (let i = 0; i < N; i++) sink += zChat.safeParse(chat).success ? 1 : 0;
    },
    // A caller that catches a failed check and acts on its issues (a re-ask, a dead letter) never reads the message.
    "weft.invalid": async () => {
      for (let i = 0; i < INVALID_N; i++) {
        try {
          weft.invalid(badOrder);
        } catch (error) {
          sink += (error as ValidationError).issues[0]!.path.length;
        }
      }
    },
    // One that prints or logs it does: the message is built (and redacted) on that first read.
    "weft.invalidMessage": async () => {
      for (let i = 0; i < INVALID_N; i++) {
        try {
          weft.invalid(badOrder);
        } catch (error) {
          sink += (error as Error).message.length;
        }
      }
    },
  };
  // Warm-up long enough for every check and zod's parsers to reach their optimised tier.
  for (let pass = 0; pass < (options.quick ? 3 : 30); pass++) for (const task of Object.values(tasks)) await task();
  const cost = await interleaved(tasks, options.quick ? { rounds: 3, sampleMs: 10 } : { rounds: 15, sampleMs: 40 });
  const t: Record<string, number> = Object.fromEntries(Object.entries(cost).map(([name, c]) => [name, c.cpuUs]));
  const metrics: Metric[] = [];
  const ratios: number[] = [];
  for (const shape of ["flat", "nested", "union", "chat"] as const) {
    const weftOps = N / (t[`weft.${shape}`]! / 1e6);
    const zodOps = N / (t[`zod.${shape}`]! / 1e6);
    ratios.push(weftOps / zodOps);
    metrics.push({ name: `validation_${shape}_weft`, value: round(weftOps / 1e6), unit: "M checks/s", baseline: `zod 4 safeParse: ${round(zodOps / 1e6)} M checks/s`, ratio: round(weftOps / zodOps) });
  }
  const mean = Math.exp(ratios.reduce((a, r) => a + Math.log(r), 0) / ratios.length);
  metrics.push({ name: "validation_speedup_vs_zod", value: round(mean), unit: "× zod 4 (geometric mean)", baseline: "zod 4 safeParse, same shapes (flat, nested, union, chat request)", ratio: round(mean) });
  metrics.push({ name: "validation_invalid_us", value: round(t["weft.invalid"]! / INVALID_N), unit: "µs/failed call", baseline: "nested shape, error at $.items[4].price, ValidationError built, its issues read" });
  metrics.push({ name: "validation_invalid_message_us", value: round(t["weft.invalidMessage"]! / INVALID_N), unit: "µs/failed call", baseline: "the same, and its message read (built and redacted on first read)" });
  metrics.push({ name: "first_validated_call_ms", value: round(firstCallMs), unit: "ms", baseline: "first validated call of an op in the process, checks built (goal <= 2)" });
  return metrics;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const metrics = await run({ quick: process.argv.includes("--quick") });
  for (const m of metrics) console.log(`${m.name}: ${m.value} ${m.unit}${m.baseline ? ` (${m.baseline})` : ""}${m.ratio === undefined ? "" : `, ratio ${m.ratio}`}`);
}
