/**
 * A jitted plan as waves: the op calls of `inspect().json` grouped by how many calls stand
 * before them on their longest path from the inputs. Calls in one wave depend on none of
 * each other, so the plan starts them together: a compact reading of the graph that the
 * Mermaid and DOT printers draw in full.
 */

interface JsonNode {
  readonly id: number;
  readonly kind: string;
  readonly inputs: readonly number[];
  readonly op?: { readonly name: string } | string;
}

/**
 * The op calls of a printed graph (`JitInspection.json`), wave by wave.
 *
 * @example
 * ```ts
 * planWaves((await answer.inspect(question)).json!); // [["retrieve"], ["draft", "critique"], ["judge"]]
 * ```
 */
export function planWaves(json: string): string[][] {
  const nodes = (JSON.parse(json) as { nodes?: JsonNode[] }).nodes ?? [];
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const wave = new Map<number, number>();
  // Calls before a node: 0 for inputs and constants; an op call is one more than its inputs'.
  const depth = (id: number): number => {
    const known = wave.get(id);
    if (known !== undefined) return known;
    const node = byId.get(id);
    const before = Math.max(0, ...(node?.inputs ?? []).map(depth));
    const value = node?.kind === "op" ? before + 1 : before;
    wave.set(id, value);
    return value;
  };
  const waves: string[][] = [];
  for (const node of nodes) {
    if (node.kind !== "op" || typeof node.op !== "object") continue;
    const at = depth(node.id) - 1;
    (waves[at] ??= []).push(node.op.name);
  }
  return waves.filter((w) => w !== undefined);
}
