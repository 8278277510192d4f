/**
 * Child processes a test file starts (redis-server, `weft worker`), tracked so none outlives
 * the file: whatever is still running when the test process exits is killed then, and tests
 * can list this process's live children to check that a failed start left nothing behind.
 */
import { spawnSync, type ChildProcess } from "node:child_process";

const live = new Set<ChildProcess>();
let hooked = false;

/**
 * Tracks `child` until it exits; if the test process exits first, the child is killed.
 *
 * @example
 * ```ts
 * const child = track(spawn("/usr/bin/redis-server", args));
 * ```
 */
export function track<C extends ChildProcess>(child: C): C {
  if (!hooked) {
    hooked = true;
    // `exit` handlers run synchronously: SIGKILL is all there is time for.
    process.once("exit", () => {
      for (const c of live) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    });
  }
  live.add(child);
  child.once("exit", () => live.delete(child));
  return child;
}

/**
 * Kills `child` (SIGKILL unless told otherwise) and resolves once it has exited.
 *
 * @example
 * ```ts
 * await kill(child);
 * ```
 */
export async function kill(child: ChildProcess, signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill(signal);
  await exited;
}

/**
 * The live child processes of this process, as `pid program` lines (from `ps`), so a test
 * can check that nothing it started is left running.
 *
 * @example
 * ```ts
 * expect(childProcesses()).toEqual(before);
 * ```
 */
export function childProcesses(): string[] {
  // The program is the first word of the command line (a thread's name may stand in `comm`).
  const ps = spawnSync("ps", ["-o", "pid=,stat=,args=", "--ppid", String(process.pid)], { encoding: "utf8" });
  return ps.stdout
    .split("\n")
    .map((line) => line.trim().split(/\s+/))
    .map(([pid = "", stat = "", program = ""]) => ({ pid, stat, program: program.slice(program.lastIndexOf("/") + 1) }))
    // ps itself, and zombies about to be reaped, are not left running.
    .filter((p) => p.pid !== "" && p.program !== "ps" && !p.stat.startsWith("Z"))
    .map((p) => `${p.pid} ${p.program}`);
}
