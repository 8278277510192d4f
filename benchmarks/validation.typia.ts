/**
 * typia's `is` on the shapes of validation.bench.ts, for the ratio to typia in the same run.
 * typia generates these checks at build time with its own ts-patch transformer, which only
 * the benchmark build loads (benchmarks/tsconfig.json): a benchmark-only dev dependency.
 * Anywhere else (vitest, say) `createIs` is untransformed and throws at load; quick mode
 * (`npm run bench:smoke`) does not load this file.
 *
 * The types repeat the bench's, with the JSDoc constraints written as typia's type tags
 * (typia does not read `@integer`); the two lists must describe the same values.
 */
import typia, { type tags } from "typia";

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
  model: string & tags.MinLength<1>;
  messages: ChatMessage[];
  temperature?: number & tags.Minimum<0> & tags.Maximum<2>;
  max_tokens?: number & tags.Type<"int64"> & tags.Minimum<1>;
  stop?: string | string[];
  metadata?: Record<string, string>;
}

type Event =
  | { kind: "click"; x: number; y: number; target: string }
  | { kind: "view"; page: string; durationMs: number }
  | { kind: "purchase"; orderId: string; total: number; currency: "EUR" | "USD" };

/** typia's generated `is` per shape. */
export const typiaIs = {
  flat: typia.createIs<User>(),
  nested: typia.createIs<Order>(),
  union: typia.createIs<Event>(),
  chat: typia.createIs<ChatRequest>(),
};
