/**
 * `TraceError`, in a file of its own: the drivers that refuse to be traced (models.stream,
 * a durable run inside a jitted function) throw it without loading the tracer.
 */
import type { SourceLocation } from "../decorators/descriptor.js";

/** Why a function could not be traced, and where. */
export class TraceError extends Error {
  override readonly name = "TraceError";
  constructor(
    readonly reason: string,
    readonly loc: SourceLocation | undefined,
  ) {
    super(loc ? `${reason} (${loc.file}:${loc.line}:${loc.column})` : reason);
  }
}
