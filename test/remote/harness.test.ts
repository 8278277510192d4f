/**
 * The cluster harness itself: a start that fails, or one still running when the file ends
 * (a `beforeAll` that timed out under load), leaves no `weft worker` and no redis-server
 * behind. Checked against this process's real children (`ps`), not the harness's own books.
 */
import { describe, expect, it } from "vitest";
import { childProcesses } from "../support/children.js";
import { redisSkip } from "../support/redis.js";
import { disposeClusters, startCluster } from "./cluster.js";

describe.skipIf(redisSkip !== undefined)("the cluster harness cleans up after a start that did not finish", () => {
  it("a worker that exits before serving: the start rejects, and its Redis is stopped", async () => {
    const before = childProcesses();
    const start = startCluster({ workers: 1, queue: "harness-fails", workerArgs: ["--ops", "fixtures/no-such-module.js"] });
    await expect(start).rejects.toThrow(/exited \(\d+\) before serving/);
    expect(childProcesses()).toEqual(before);
  });

  it("a start still waiting when the file ends: disposeClusters stops its worker and Redis", async () => {
    const before = childProcesses();
    // A worker pointed at a port nothing listens on retries its connection forever, so it
    // never serves: the start hangs, as one does past a `beforeAll` timeout under load.
    const start = startCluster({ workers: 1, queue: "harness-hangs", workerArgs: ["--redis", "redis://127.0.0.1:1"] });
    const settled = start.then(
      () => "started",
      (error: unknown) => (error as Error).message,
    );
    // Both children are up: redis-server and the worker that will not serve.
    while (childProcesses().length < before.length + 2) await new Promise((r) => setTimeout(r, 20));
    const during = childProcesses().filter((p) => !before.includes(p));
    expect(during.map((p) => p.split(" ")[1]).sort()).toEqual(["node", "redis-server"]);
    await disposeClusters();
    expect(await settled).toMatch(/stopped while starting/);
    expect(childProcesses()).toEqual(before);
  });
});
