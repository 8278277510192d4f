/**
 * Fused chains as plain data: the steps of a group of ops that runs as one unit (one worker
 * task), with each argument's wiring resolved when the group is built. The planner lowers
 * fused groups into this shape; executors run it without knowing how it was made.
 */

/**
 * Where one argument of a fused-chain step comes from: a task input, an earlier step's
 * output (optionally a property path into it), or a constant known when the chain was
 * built. Static wiring: the JIT resolves it when it fuses, never at run time.
 *
 * @example
 * ```ts
 * const wiring: ArgSource[] = [{ from: "step", index: 0, path: ["tokens"] }, { from: "const", value: 3 }];
 * ```
 */
export type ArgSource =
  | { readonly from: "input"; readonly index: number; readonly path?: readonly (string | number)[] }
  | { readonly from: "step"; readonly index: number; readonly path?: readonly (string | number)[] }
  | { readonly from: "const"; readonly value: unknown };

/**
 * One step of a fused chain: a registered op id, and its argument wiring. Without
 * `argsFrom` the first step takes the task inputs and every later step the previous output.
 *
 * @example
 * ```ts
 * const step: ChainStep = { opId: describeOp(normalise)!.id };
 * ```
 */
export interface ChainStep {
  readonly opId: string;
  readonly argsFrom?: readonly ArgSource[];
}

/**
 * A fused group of ops run as one unit (one worker task): its steps in order; the result
 * is the last step's output.
 *
 * @example
 * ```ts
 * const chain: FusedChain = [tokenize, count, normalise].map((f) => ({ opId: describeOp(f)!.id }));
 * ```
 */
export type FusedChain = readonly ChainStep[];
