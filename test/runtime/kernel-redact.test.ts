/**
 * One redactor for everything that leaves the process: error messages, span status,
 * attributes and exception events, runtime events; a wider list of secret key names;
 * capped messages; a span for a call that fails validation.
 */
import { describe, expect, it } from "vitest";
import { SpanStatusCode } from "@opentelemetry/api";
import { BatchItemError, OpError, ValidationError, op, registerSecret, subscribe, vmap, type RuntimeEvent } from "weft";
import { boundedText, secretName } from "../../runtime/redact.js";
import { preview } from "../../runtime/validate.js";
import { recordSpans } from "../support/spans.js";

const exporter = recordSpans();

const KEY = "sk-live0123456789abcdefXYZ";

function record() {
  const events: RuntimeEvent[] = [];
  const stop = subscribe((e) => events.push(e));
  return { events, stop };
}

describe("a body error that quotes a secret", () => {
  it("is redacted in the OpError message, the span status and exception event, and op:retry / op:end events", async () => {
    const charge = op({ name: "charge", retry: { times: 1, backoff: { initial: 0 }, retryOn: () => true } }, async () => {
      throw new Error(`rejected key ${KEY}`);
    });
    const { events, stop } = record();
    const error = (await charge().catch((e: unknown) => e)) as OpError;
    stop();
    expect(error).toBeInstanceOf(OpError);
    expect(error.message).toBe("charge failed after 2 attempts: rejected key [redacted] (test/runtime/kernel-redact.test.ts:25)");
    // The original stays in the process, as the cause.
    expect((error.cause as Error).message).toContain(KEY);

    const [span] = exporter.getFinishedSpans();
    expect(span!.status).toEqual({ code: SpanStatusCode.ERROR, message: error.message });
    const exception = span!.events.find((e) => e.name === "exception")!;
    expect(JSON.stringify(exception.attributes)).not.toContain(KEY);
    expect(exception.attributes?.["exception.message"]).toBe(error.message);

    const serialized = JSON.stringify(events, (_, v: unknown) => (v instanceof Error ? { name: v.name, message: v.message, stack: v.stack } : v));
    expect(serialized).not.toContain(KEY);
    expect(events.find((e) => e.type === "op:retry")).toMatchObject({ error: { message: "rejected key [redacted]" } });
  });

  it("is redacted in a vmap's BatchItemError message", async () => {
    const item = op({ name: "item" }, async (x: number) => {
      if (x === 2) throw new Error(`token=${"abcdef".repeat(3)} for item ${x}`);
      return x;
    });
    const error = (await vmap(item)([1, 2, 3]).catch((e: unknown) => e)) as BatchItemError;
    expect(error).toBeInstanceOf(BatchItemError);
    expect(error.message).toMatch(/^vmap\(item\): item 1 failed: item failed after 1 attempt: token=\[redacted\] for item 2/);
  });

  it("redacts a registered credential that has no recognisable shape", async () => {
    const secret = "plain-looking-credential-42";
    registerSecret(secret);
    const leak = op({ name: "leak" }, async () => {
      throw new Error(`auth failed with ${secret}`);
    });
    const error = (await leak().catch((e: unknown) => e)) as OpError;
    expect(error.message).toContain("auth failed with [redacted]");
    expect(JSON.stringify(exporter.getFinishedSpans()[0]!.status)).not.toContain(secret);
  });

  it.each([
    ["a bearer token", "Authorization: Bearer abcdefghijklmnopqrstuvwx"],
    ["a JWT", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"],
    ["an AWS access key id", "AKIAIOSFODNN7EXAMPLE"],
    ["a password in a URL", "postgres://app:hunter2hunter2@db.internal:5432/app"],
    ["a password pair", "login failed: password=hunter2"],
  ])("redacts %s", (_, text) => {
    const out = boundedText(`context: ${text}`);
    expect(out).toContain("[redacted]");
    for (const secret of ["abcdefghijklmnopqrstuvwx", "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", "AKIAIOSFODNN7EXAMPLE", "hunter2hunter2", "hunter2"]) {
      if (text.includes(secret)) expect(out).not.toContain(secret);
    }
  });
});

describe("secret key names", () => {
  it.each(["secretKey", "accessKey", "pwd", "pass", "bearer", "session", "apiKeys", "signingKey", "passcode", "password", "api_key", "X-Api-Key", "aws_secret_access_key"])(
    "treats %s as secret, in names and in validation previews",
    (name) => {
      expect(secretName(name)).toBe(true);
      expect(preview({ user: "ada", [name]: "s3cr3t-value" })).not.toContain("s3cr3t-value");
    },
  );

  it.each(["maxTokens", "user", "passage", "sessions_count", "bypassCache"])("leaves %s alone", (name) => {
    expect(secretName(name)).toBe(false);
  });
});

describe("bounded messages", () => {
  it("caps an error message, a long path included", async () => {
    const long = op({ name: "long" }, async () => {
      throw new Error(`failed at ${"/very/long/path".repeat(1000)}`);
    });
    const error = (await long().catch((e: unknown) => e)) as OpError;
    expect(error.message.length).toBeLessThan(2100);
    expect(error.message).toMatch(/… \(\d+ more characters\)$/);
  });
});

describe("a call that fails validation", () => {
  it("gets a span with the validation error", async () => {
    // The transformer injects `x`'s schema: a string fails the input check before the body runs.
    const typed = op({ name: "typed" }, async (x: number) => x);
    const error = await (typed as (x: unknown) => Promise<number>)("nope").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    const spans = exporter.getFinishedSpans();
    expect(spans).toHaveLength(1);
    expect(spans[0]!.name).toBe("typed");
    expect(spans[0]!.attributes["weft.outcome"]).toBe("ValidationError");
    expect(spans[0]!.status.code).toBe(SpanStatusCode.ERROR);
  });
});
