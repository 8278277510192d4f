/**
 * Hand-built descriptors and a counting op table shared by the compiler tests.
 */
import type { OpDescriptor, OpKind, OpPolicy, ParamInfo } from "../../decorators/descriptor.js";
import type { CallOp } from "../../compiler/plan.js";

/**
 * A descriptor as the registry would make it; `id` defaults to `test#name`.
 *
 * @example
 * ```ts
 * const fetchText = desc("fetchText", "io");
 * ```
 */
export function desc(
  name: string,
  kind: OpKind,
  options: { policy?: OpPolicy; params?: readonly ParamInfo[]; typed?: boolean; async?: boolean; id?: string } = {},
): OpDescriptor {
  return {
    id: options.id ?? `test#${name}`,
    name,
    kind,
    async: options.async ?? kind === "io",
    params: options.params ?? [],
    policy: options.policy ?? {},
    config: {},
    typed: options.typed ?? false,
  };
}

/** Op bodies by descriptor id, plus how often each ran: the oracle's `callOp`. */
export function opTable(bodies: Readonly<Record<string, (...args: never[]) => unknown>>): { callOp: CallOp; calls: Map<string, number> } {
  const calls = new Map<string, number>();
  const callOp: CallOp = async (node, args, self) => {
    const body = bodies[node.desc.id];
    if (body === undefined) throw new Error(`no body for ${node.desc.id}`);
    calls.set(node.desc.id, (calls.get(node.desc.id) ?? 0) + 1);
    return body.apply(self, args as never[]);
  };
  return { callOp, calls };
}
