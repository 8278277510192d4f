/**
 * weft's typed errors. Each is `instanceof`-checkable, carries a `_tag` for Effect users,
 * and reads well when printed. Every message passes through the redactor and is capped
 * (runtime/redact.ts), whatever the body put in it: a secret quoted by a body stays in
 * `cause`, inside the process, and never reaches a message, a span or a log line.
 */
import type { SourceLocation } from "../decorators/descriptor.js";
import { boundedText, messageOf } from "./redact.js";

/** Base class of every error weft raises. */
export abstract class WeftError extends Error {
  abstract readonly _tag: string;
  override get name(): string {
    return this._tag;
  }
}

/** One failed check inside a `ValidationError`. */
export interface ValidationIssue {
  /** `"input"` for a parameter, `"output"` for the return value. */
  readonly direction: "input" | "output";
  /** Parameter name, or `"return"`. */
  readonly parameter: string;
  /** JSON path inside the value, such as `$.items[2].score`. */
  readonly path: string;
  /** What the schema expected, in words (`"number"`, `"one of \"a\" | \"b\""`, `">= 0"`). */
  readonly expected: string;
  /** The value found, truncated and with secrets redacted. */
  readonly received: string;
  /** The JSON Schema keyword that failed. */
  readonly keyword: string;
}

/**
 * An op was called with, or returned, a value that does not match its declared types.
 * Never retried: the same input fails the same way.
 *
 * @example
 * ```ts
 * try { await judge.score(42 as never, rubric); }
 * catch (e) { if (e instanceof ValidationError) console.log(e.issues[0]?.path); }
 * ```
 */
export class ValidationError extends WeftError {
  readonly _tag = "ValidationError";
  constructor(
    readonly op: string,
    readonly issues: readonly ValidationIssue[],
  ) {
    // No message yet: it is built (and redacted) on first read, see below. A failed check is
    // an expected outcome that callers often catch and drop; they should not pay for text.
    super();
  }
}

/** `ValidationError`'s message from its op and issues, redacted and capped: what the constructor used to build. */
function validationMessage(error: ValidationError): string {
  const issues = error.issues;
  return boundedText(
    `${error.op}: invalid ${issues[0]?.direction ?? "input"}: ` +
      issues.map((i) => `${i.parameter}${i.path === "$" ? "" : ` at ${i.path}`}: expected ${i.expected}, received ${i.received}`).join("; "),
  );
}

// The lazy message: the first read builds it and stores it as an own property, so from then
// on the error is exactly what an eagerly built one is (the stack, formatted on first read
// too, reads it through here). Assigning a message replaces it, as on any error.
Object.defineProperty(ValidationError.prototype, "message", {
  configurable: true,
  enumerable: false,
  get(this: ValidationError): string {
    const message = validationMessage(this);
    Object.defineProperty(this, "message", { value: message, writable: true, enumerable: false, configurable: true });
    return message;
  },
  set(this: ValidationError, value: string) {
    Object.defineProperty(this, "message", { value, writable: true, enumerable: false, configurable: true });
  },
});

/**
 * A call ran out of time: its own `timeout`, or an enclosing op's deadline.
 *
 * @example
 * ```ts
 * await slow.with({ timeout: "50ms" })().catch((e) => e instanceof DeadlineExceeded); // true
 * ```
 */
export class DeadlineExceeded extends WeftError {
  readonly _tag = "DeadlineExceeded";
  constructor(
    /** The op whose budget ran out. */
    readonly op: string,
    /** That budget, in milliseconds. */
    readonly budgetMs: number,
  ) {
    super(boundedText(`${op}: deadline exceeded after ${formatMs(budgetMs)}`));
  }
}

/**
 * A call was cancelled by its caller's AbortSignal (or a failing sibling in a jitted plan).
 * Never retried.
 *
 * @example
 * ```ts
 * const ac = new AbortController();
 * const p = withContext({ signal: ac.signal }, () => slow());
 * ac.abort();
 * await p.catch((e) => e instanceof Cancelled); // true
 * ```
 */
export class Cancelled extends WeftError {
  readonly _tag = "Cancelled";
  constructor(
    readonly op: string,
    readonly reason?: unknown,
  ) {
    super(boundedText(`${op}: cancelled${reason === undefined ? "" : `: ${messageOf(reason)}`}`), { cause: reason });
  }
}

/**
 * A worker thread died while running a task. Retryable by the op's retry policy.
 *
 * @example
 * ```ts
 * await crashy().catch((e) => e instanceof WorkerCrashed && e.exitCode); // 1
 * ```
 */
export class WorkerCrashed extends WeftError {
  readonly _tag = "WorkerCrashed";
  constructor(
    readonly op: string,
    readonly exitCode: number | undefined,
    cause?: unknown,
  ) {
    super(boundedText(`${op}: worker thread crashed${exitCode === undefined ? "" : ` (exit code ${exitCode})`}`), { cause });
  }
}

/**
 * An op body failed (after any retries). `cause` is the last error the body raised.
 *
 * @example
 * ```ts
 * try { await flaky(); }
 * catch (e) { if (e instanceof OpError) console.log(e.op, e.attempts, e.cause); }
 * ```
 */
export class OpError extends WeftError {
  readonly _tag = "OpError";
  constructor(
    readonly op: string,
    /** How many attempts ran. */
    readonly attempts: number,
    cause: unknown,
    /** Where the op was declared (or, when jitted, where it was called). */
    readonly source?: SourceLocation,
    /** The IR node id when the op ran inside a jitted plan. */
    readonly node?: string,
  ) {
    super(
      boundedText(
        `${op} failed after ${attempts} attempt${attempts === 1 ? "" : "s"}: ${messageOf(cause)}` +
          (source ? ` (${source.file}:${source.line})` : "") +
          (node ? ` [node ${node}]` : ""),
      ),
      { cause },
    );
  }
}

function formatMs(ms: number): string {
  return ms >= 1000 && ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/**
 * One item of a `vmap` batch failed. `index` is the item's position in the input batch;
 * `cause` is the typed error the item failed with.
 *
 * @example
 * ```ts
 * try { await vmap(score)(answers); }
 * catch (e) { if (e instanceof BatchItemError) console.log(`item ${e.index}:`, e.cause); }
 * ```
 */
export class BatchItemError extends WeftError {
  readonly _tag = "BatchItemError";
  constructor(
    readonly op: string,
    readonly index: number,
    cause: unknown,
  ) {
    super(boundedText(`vmap(${op}): item ${index} failed: ${messageOf(cause)}`), { cause });
  }
}
