/**
 * The durable peer: DBOS (`@dbos-inc/dbos-sdk`) on PostgreSQL, the engine issue 14's "Why"
 * measures weft against (about 13 ms per step there). Benchmark-only, run by
 * durable.bench.ts in full runs (never in `--quick`, so neither `npm test` nor
 * `bench:smoke` starts a database).
 *
 * A throwaway cluster: `initdb` into a temporary directory, `postgres` on 127.0.0.1 on a
 * free port with its socket in that directory and PostgreSQL's default durability
 * (`fsync` and `synchronous_commit` on), stopped and removed afterwards. PostgreSQL refuses
 * to run as root, so as root the cluster runs as `nobody`. Without PostgreSQL's binaries
 * (`initdb`, `pg_ctl` on PATH, in /usr/local/bin or /usr/lib/postgresql/<v>/bin) the
 * figure is not measured, with the reason; nothing fails.
 */
import { spawnSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";

/** A running throwaway cluster. */
export interface Cluster {
  readonly url: string;
  stop(): Promise<void>;
}

/** Where PostgreSQL's `initdb` and `pg_ctl` are, or why they are not. */
function findBinaries(): { readonly bin: string } | { readonly missing: string } {
  const candidates = [
    ...(process.env.PATH ?? "").split(path.delimiter).filter(Boolean),
    "/usr/local/bin",
    ...(existsSync("/usr/lib/postgresql") ? readdirSync("/usr/lib/postgresql").map((v) => `/usr/lib/postgresql/${v}/bin`) : []),
  ];
  for (const dir of candidates) if (existsSync(path.join(dir, "initdb")) && existsSync(path.join(dir, "pg_ctl"))) return { bin: dir };
  return { missing: "PostgreSQL (initdb, pg_ctl) is not installed here" };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

/** The last line of a command's output, for a reason. */
function lastLine(result: { stderr?: string; stdout?: string; error?: Error }): string {
  return `${result.stderr ?? ""}${result.stdout ?? ""}${result.error?.message ?? ""}`.trim().split("\n").pop() ?? "";
}

/** Starts a cluster (`pg_ctl start -w` returns once it accepts connections), or says why it cannot. */
export async function startCluster(): Promise<Cluster | { readonly missing: string }> {
  const found = findBinaries();
  if ("missing" in found) return found;
  const dir = mkdtempSync(path.join(tmpdir(), "weft-pg-"));
  // PostgreSQL will not run as root: the cluster belongs to nobody then.
  const ids = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
  if (ids.uid !== undefined) chownSync(dir, ids.uid, ids.gid);
  const data = path.join(dir, "data");
  const run = (bin: string, args: string[]) => spawnSync(path.join(found.bin, bin), args, { ...ids, encoding: "utf8", timeout: 120_000 });
  const init = run("initdb", ["-D", data, "-A", "trust", "-U", "postgres", "--no-instructions"]);
  if (init.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    return { missing: `initdb failed: ${lastLine(init)}` };
  }
  const port = await freePort();
  const started = run("pg_ctl", ["-D", data, "-l", path.join(dir, "log"), "-o", `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1`, "-w", "start"]);
  const stop = async () => {
    run("pg_ctl", ["-D", data, "-m", "fast", "-w", "stop"]);
    rmSync(dir, { recursive: true, force: true });
  };
  if (started.status !== 0) {
    await stop();
    return { missing: `postgres did not start: ${lastLine(started)}` };
  }
  return { url: `postgresql://postgres@127.0.0.1:${port}/dbos_bench`, stop };
}

/** DBOS, launched on a cluster, with a workflow of `n` sequential steps. */
export interface DbosSide {
  /** Runs a new workflow of `steps` steps (each returns its input plus one). */
  workflow(steps: number): Promise<number>;
  shutdown(): Promise<void>;
}

export async function launchDbos(url: string): Promise<DbosSide> {
  const { DBOS } = await import("@dbos-inc/dbos-sdk");
  DBOS.setConfig({ name: "weft-bench", systemDatabaseUrl: url, logLevel: "error", applicationVersion: "bench" });
  const chain = DBOS.registerWorkflow(
    async (steps: number) => {
      let y = 0;
      for (let i = 0; i < steps; i++) {
        const x = y;
        y = await DBOS.runStep(async () => x + 1, { name: "step" });
      }
      return y;
    },
    { name: "chain" },
  );
  await DBOS.launch();
  return { workflow: (steps) => chain(steps), shutdown: () => DBOS.shutdown() };
}
