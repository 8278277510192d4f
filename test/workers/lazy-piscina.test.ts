/**
 * piscina is loaded when the first worker pool starts, not when weft is imported: a program
 * whose ops never move to worker threads never loads it (faster start-up), and an esbuild
 * bundle of such a program runs with piscina inside or left out. The worker suites show the
 * pool still starts (it loads piscina then).
 */
import { createRequire } from "node:module";
import { sep } from "node:path";
import { expect, it } from "vitest";
import { jit, models, op, vmap } from "weft";

const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((file) => file.includes(`${sep}node_modules${sep}piscina${sep}`));

it("importing weft and running ops, jitted and vmapped, loads no piscina", async () => {
  expect(loaded()).toBe(false);
  const double = op((x: number): number => x * 2);
  const twice = jit(async (x: number) => double(await double(x)));
  expect(await twice(5)).toBe(20);
  expect(await vmap(double)([1, 2, 3])).toEqual([2, 4, 6]);
  expect(await models("local:chat", "hi")).toEqual(expect.any(String));
  expect(loaded()).toBe(false);
  // The check itself can see piscina once something loads it.
  createRequire(import.meta.url)("piscina");
  expect(loaded()).toBe(true);
});
