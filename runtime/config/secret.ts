/**
 * A credential held so that printing it cannot leak it: `String`, template literals,
 * `JSON.stringify`, `util.inspect` and `console.log` all show `[redacted]`, and the value is
 * registered with the one redactor, so an error message, span, event or log line that quotes
 * it shows `[redacted]` too. `reveal()` is the one way to the text, for the request header
 * that needs it.
 */
import { REDACTED, registerSecret } from "../redact.js";

const INSPECT = Symbol.for("nodejs.util.inspect.custom");

export class Secret {
  readonly #value: string;
  /** What the secret is (`openai.apiKey`): safe to print. */
  readonly name: string;

  constructor(value: string, name = "secret") {
    if (typeof value !== "string") throw new TypeError(`Secret(${name}): expected a string, received ${typeof value}`);
    this.#value = value;
    this.name = name;
    if (value.length >= 6) registerSecret(value);
  }

  /**
   * The credential's text. Pass it straight to where it is needed; never log it.
   *
   * @example
   * ```ts
   * const key = credential("openai.apiKey");
   * const headers = key ? { authorization: `Bearer ${key.reveal()}` } : {};
   * ```
   */
  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [Symbol.toPrimitive](): string {
    return REDACTED;
  }

  [INSPECT](): string {
    return `Secret(${this.name}: ${REDACTED})`;
  }
}
