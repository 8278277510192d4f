/**
 * LangGraph.js, as its documentation builds graphs: a `StateGraph` over an
 * `Annotation.Root` state, compiled with no checkpointer (so nothing is persisted), run with
 * `invoke`. The chain is ten nodes added with `addSequence` (which joins them by edges), each writing the state's `x`; the
 * fan-out is five nodes on edges from `START` (one superstep, run concurrently), each
 * writing its own key, and a join node on an edge from all five; the batch is the map-reduce
 * pattern: a conditional edge from `START` returns one `Send` per item to a fetch node, whose
 * outputs a reducer appends, with `maxConcurrency: 16` in the invoke config.
 *
 * Per superstep, LangGraph's Pregel loop plans the tasks from the channels' versions, runs
 * each node as a runnable with its own config and callback manager, and applies their
 * writes to the channels; the output is read back from the channels.
 */
import type { Peer } from "./peer.js";
import { disableLangSmith, installedVersion } from "./peer.js";
import { BATCH_CONCURRENCY, BRANCHES, CHAIN, fetchLike, join } from "./work.js";

/** Loads the LangGraph.js side. */
export async function load(): Promise<Peer> {
  disableLangSmith();
  const { Annotation, END, START, Send, StateGraph } = await import("@langchain/langgraph");

  const ChainState = Annotation.Root({ x: Annotation<number>() });
  // `addSequence` adds the ten nodes and the edges between them, in order.
  const chain = new StateGraph(ChainState)
    .addSequence(CHAIN.map((body, i): [string, (state: typeof ChainState.State) => Promise<{ x: number }>] => [`s${i}`, async (state) => ({ x: await body(state.x) })]))
    .addEdge(START, "s0")
    .addEdge(`s${CHAIN.length - 1}`, END)
    .compile();

  const FanState = Annotation.Root({
    x: Annotation<number>(),
    a: Annotation<number>(),
    b: Annotation<number>(),
    c: Annotation<number>(),
    d: Annotation<number>(),
    e: Annotation<number>(),
    out: Annotation<number>(),
  });
  // A node may not share its name with a state key: the branch writing `a` is node `branch_a`.
  const fanout = new StateGraph(FanState)
    .addNode("branch_a", async (s) => ({ a: await BRANCHES.a(s.x) }))
    .addNode("branch_b", async (s) => ({ b: await BRANCHES.b(s.x) }))
    .addNode("branch_c", async (s) => ({ c: await BRANCHES.c(s.x) }))
    .addNode("branch_d", async (s) => ({ d: await BRANCHES.d(s.x) }))
    .addNode("branch_e", async (s) => ({ e: await BRANCHES.e(s.x) }))
    .addNode("join", async (s) => ({ out: await join({ a: s.a, b: s.b, c: s.c, d: s.d, e: s.e }) }))
    .addEdge(START, "branch_a")
    .addEdge(START, "branch_b")
    .addEdge(START, "branch_c")
    .addEdge(START, "branch_d")
    .addEdge(START, "branch_e")
    .addEdge(["branch_a", "branch_b", "branch_c", "branch_d", "branch_e"], "join")
    .addEdge("join", END)
    .compile();

  const BatchState = Annotation.Root({
    items: Annotation<readonly number[]>(),
    // [index, value] pairs, appended as the fetch tasks finish.
    out: Annotation<Array<[number, number]>>({ reducer: (all, more) => all.concat(more), default: () => [] }),
  });
  const batch = new StateGraph(BatchState)
    .addNode("fetch", async (task: { index: number; item: number }) => ({ out: [[task.index, await fetchLike(task.item)] as [number, number]] }))
    .addConditionalEdges(START, (s) => s.items.map((item, index) => new Send("fetch", { index, item })), ["fetch"])
    .addEdge("fetch", END)
    .compile();

  return {
    id: "langgraph",
    label: "LangGraph.js",
    version: installedVersion("@langchain/langgraph"),
    api: {
      chain: "StateGraph(Annotation.Root).addSequence(10 nodes), compile() without checkpointer, invoke",
      fanout: "StateGraph: 5 nodes on edges from START, a join node on an edge from all five, invoke",
      batch: `conditional edge from START returning one Send per item, reducer appends; invoke with { maxConcurrency: ${BATCH_CONCURRENCY} }`,
    },
    chain: async (x) => (await chain.invoke({ x })).x,
    fanout: async (x) => (await fanout.invoke({ x })).out,
    batch: async (items) => {
      const { out } = await batch.invoke({ items }, { maxConcurrency: BATCH_CONCURRENCY });
      const results = new Array<number>(items.length);
      for (const [index, value] of out) results[index] = value;
      return results;
    },
  };
}
