/**
 * The typed errors of durable runs, caches and approvals. Messages name the run, node and
 * op concerned and pass through the redactor like every other weft error.
 */
import { WeftError } from "../errors.js";
import { redactText } from "../redact.js";

/**
 * A value could not be written to the store (a function, a symbol, a class the
 * serializer refuses). Raised when the node finishes, never silently dropped.
 *
 * @example
 * ```ts
 * await durable({ run: "r1" }, () => makeHandler()).catch((e) => e instanceof UnstorableValue); // true
 * ```
 */
export class UnstorableValue extends WeftError {
  readonly _tag = "UnstorableValue";
  constructor(
    /** What was being stored: `node <key>`, `cache of <op>`, `result of run <id>`. */
    readonly target: string,
    /** Where in the value the offending part is (`$`, `$.handler`, `$[2]`). */
    readonly path: string,
    /** What the offending part is, in words. */
    readonly received: string,
  ) {
    super(redactText(`${target}: cannot store the value: ${received} at ${path} (values are stored with the structured-clone algorithm; functions, symbols and class behaviour are not)`));
  }
}

/**
 * Another process holds the run's lease: two processes never drive one run at once.
 *
 * @example
 * ```ts
 * await durable({ run: "nightly" }, job).catch((e) => e instanceof RunLocked && e.until); // lease expiry, epoch ms
 * ```
 */
export class RunLocked extends WeftError {
  readonly _tag = "RunLocked";
  constructor(
    readonly run: string,
    readonly owner: string,
    /** When the holder's lease expires unless it renews it (epoch ms). */
    readonly until: number,
  ) {
    super(`run "${run}" is being driven by another process (${owner}); its lease expires at ${new Date(until).toISOString()} unless renewed`);
  }
}

/**
 * This process lost the run's lease (it stalled past expiry and another process took the run
 * over): it stops journaling and its remaining work is cancelled.
 *
 * @example
 * ```ts
 * await durable({ run: "nightly" }, job).catch((e) => e instanceof LeaseLost);
 * ```
 */
export class LeaseLost extends WeftError {
  readonly _tag = "LeaseLost";
  constructor(readonly run: string) {
    super(`run "${run}": this process lost its lease (another process took the run over after it expired); nothing more is journaled here`);
  }
}

/**
 * A run was resumed with different code than it started with: an op's body, schemas,
 * policy or config, or a jitted function's plan, changed. Resume with `force: true` to
 * accept the change (journaled values are then re-checked against the current schemas).
 *
 * @example
 * ```ts
 * await durable({ run: "nightly" }, job).catch((e) => e instanceof RunVersionMismatch && e.changes);
 * ```
 */
export class RunVersionMismatch extends WeftError {
  readonly _tag = "RunVersionMismatch";
  constructor(
    readonly run: string,
    /** One line per change, e.g. `op score: body, schema`. */
    readonly changes: readonly string[],
  ) {
    super(`run "${run}" was started with other code; refusing to resume (pass force: true to resume anyway): ${changes.join("; ")}`);
  }
}

/**
 * The approval policy denied a risky op call, or a person denied the request. The body never ran.
 *
 * @example
 * ```ts
 * await durable({ run: "r", approvals: () => "deny" }, () => wire(100)).catch((e) => e instanceof ApprovalDenied); // true
 * ```
 */
export class ApprovalDenied extends WeftError {
  readonly _tag = "ApprovalDenied";
  constructor(
    readonly op: string,
    /** Who denied it: `policy`, or the name given to `decide`. */
    readonly by: string,
    readonly reason: string | undefined,
  ) {
    super(redactText(`${op}: denied by ${by}${reason ? `: ${reason}` : ""}`));
  }
}

/**
 * A risky op needs a person's approval, which can only be waited for inside a durable run
 * (the request is journaled under the run, so another process can answer it).
 *
 * @example
 * ```ts
 * await wire(100).catch((e) => e instanceof ApprovalRequired);
 * ```
 */
export class ApprovalRequired extends WeftError {
  readonly _tag = "ApprovalRequired";
  constructor(
    readonly op: string,
    readonly reason: string,
  ) {
    super(redactText(`${op}: needs approval (${reason}), which can only be requested inside durable({ run }): outside a run there is nowhere to wait for it`));
  }
}
