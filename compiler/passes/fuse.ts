/**
 * Fusion: chains of CPU work become one `fused` node, which the executor runs as one task
 * (one worker round trip instead of one per op).
 *
 * A group grows backwards from a node through producers that have exactly one consumer,
 * that consumer being in the group. So only the group's last node (its tail) is read from
 * outside, and nothing outside sits between two members: the group can run start to end
 * on its own. Members are sync cpu/pure ops not pinned inline, plus get/call/pack glue
 * whose inputs are all members (see `unfusable`): glue reading an outside value stays
 * outside, so a task never receives a whole object to read one field of it. A group needs
 * at least two ops to be worth a node.
 * Chains may branch inwards (a tree feeding the tail), never outwards.
 */
import { unfusable } from "../check.js";
import { distinct, IdMap, make, mapSubgraphs, maxId, type Graph, type Node, type NodeId } from "../ir.js";
import { renameInputs } from "./rewrite.js";

/**
 * Fuses CPU chains in `g`, and in `cond` branches and `map` bodies. Linear apart from
 * sorting each group's members. Returns `g` when there was nothing to fuse.
 *
 * @example
 * ```ts
 * fuse(g); // tokenize -> count -> normalise becomes one fused node
 * ```
 */
export function fuse(g: Graph): Graph {
  return fuseIn(g, { next: maxId(g) + 1 });
}

/**
 * Whether a node may join a fused group (the body's own input and output nodes aside).
 *
 * @example
 * ```ts
 * fusable(make.get(4, 3, "text")); // true
 * ```
 */
export function fusable(n: Node): boolean {
  return n.kind !== "input" && n.kind !== "output" && unfusable(n) === undefined;
}

function fuseIn(g: Graph, ids: { next: NodeId }): Graph {
  const groups = findGroups(g);
  const tails = new Map<number, readonly number[]>();
  const grouped = new Uint8Array(g.nodes.length);
  for (const members of groups) {
    tails.set(members.at(-1)!, members);
    for (const m of members) grouped[m] = 1;
  }
  const renamed = new IdMap<NodeId>();
  const nodes: Node[] = [];
  let changed = groups.length > 0;
  g.nodes.forEach((n, i) => {
    const members = tails.get(i);
    if (members !== undefined) {
      const fused = fusedNode(members.map((m) => g.nodes[m]!), ids);
      renamed.set(n.id, fused.id);
      nodes.push(renameInputs(fused, renamed));
      return;
    }
    if (grouped[i] === 1) return;
    const renamedInputs = renameInputs(n, renamed);
    // Fused bodies are not fused again: their members already form one task.
    const m = n.kind === "fused" ? renamedInputs : mapSubgraphs(renamedInputs, (s) => fuseIn(s, ids));
    if (m !== n) changed = true;
    nodes.push(m);
  });
  return changed ? { nodes, output: g.output, arity: g.arity } : g;
}

/** Each group worth fusing, as member positions in graph order (the tail last). */
function findGroups(g: Graph): number[][] {
  const position = new IdMap<number>();
  const consumers = new Uint32Array(g.nodes.length);
  g.nodes.forEach((n, i) => {
    position.set(n.id, i);
    for (const x of distinct(n.inputs)) consumers[position.get(x)!]!++;
  });
  const groupOf: (number[] | undefined)[] = new Array<number[] | undefined>(g.nodes.length);
  g.nodes.forEach((n, i) => {
    if (!fusable(n)) return;
    let joining: number[][] | undefined;
    let allMembers = true;
    for (const x of distinct(n.inputs)) {
      const p = position.get(x)!;
      const group = consumers[p] === 1 ? groupOf[p] : undefined;
      if (group === undefined) allMembers = false;
      else (joining ??= []).push(group);
    }
    // Glue must not pull more values into the task than its ops need: it joins only when
    // every input is a member (so `page.text` of an io result is read before, not inside).
    if (n.kind !== "op" && (!allMembers || joining === undefined)) return;
    // Appending the smaller groups to the largest keeps merging n log n overall.
    joining?.sort((a, b) => b.length - a.length);
    const group = joining?.[0] ?? [];
    for (const other of joining?.slice(1) ?? []) {
      for (const m of other) {
        group.push(m);
        groupOf[m] = group;
      }
    }
    group.push(i);
    groupOf[i] = group;
  });
  const groups: number[][] = [];
  for (const [i, group] of groupOf.entries()) {
    // A group is listed once, at its tail; it needs two ops to be worth a task.
    if (group === undefined || group.at(-1) !== i) continue;
    if (group.filter((m) => g.nodes[m]!.kind === "op").length >= 2) groups.push(group.sort((a, b) => a - b));
  }
  return groups;
}

function fusedNode(members: readonly Node[], ids: { next: NodeId }): Node {
  const inside = new Set(members.map((m) => m.id));
  const external: NodeId[] = [];
  const local = new IdMap<NodeId>();
  const inputs: Node[] = [];
  for (const m of members) {
    for (const x of m.inputs) {
      if (inside.has(x) || local.has(x)) continue;
      const input = make.input(ids.next++, external.push(x) - 1);
      local.set(x, input.id);
      inputs.push(input);
    }
  }
  const tail = members.at(-1)!;
  const body = [...inputs, ...members.map((m) => renameInputs(m, local)), make.output(ids.next++, tail.id)];
  return make.fused(ids.next++, external, { nodes: body, output: body.at(-1)!.id, arity: external.length }, tail.loc);
}
