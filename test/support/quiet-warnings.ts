/**
 * Setup file (vitest.config.ts `setupFiles`): weft's own warnings stay off the terminal.
 *
 * The tests that expect a warning (a jit fallback, an inline fallback, an untyped op) listen
 * for `process` "warning" events and assert on them; those events still fire. Only Node's
 * printer is kept from writing weft's warnings to stderr, so `npm test` prints what fails and
 * nothing a test already checked. Any other warning (a deprecation, a leak warning from Node)
 * still prints, as does a weft warning whose code is not one of the known ones below.
 */
const EXPECTED = new Set(["WEFT_JIT_FALLBACK", "WEFT_INLINE_FALLBACK", "WEFT_UNTYPED_OP"]);
const installed = Symbol.for("weft.test.quietWarnings");

const registry = process as unknown as Record<symbol, boolean>;
if (!registry[installed]) {
  registry[installed] = true;
  const printers = process.listeners("warning");
  for (const printer of printers) process.off("warning", printer);
  process.on("warning", (warning: Error & { code?: string }) => {
    if (warning.code !== undefined && EXPECTED.has(warning.code)) return;
    for (const printer of printers) printer.call(process, warning);
  });
}
