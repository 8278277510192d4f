/**
 * Second review probes of build-time staging, after 9c0b856. Same style as review.test.ts:
 * each probe compares `jit(f)` with an untransformed copy of its source (`src`, written
 * twice: the transformer rewrites the jitted one in place). Every test here failed when
 * written; all but three pass now (the construct is staged faithfully or left unstaged, so the
 * function falls back and runs as the source). The three `it.fails` are known limits (README):
 * staging cannot see what a function defined outside the jitted body, a getter or a
 * `toString` does when a branch or a literal runs it while tracing.
 *
 * Tried and passing (staged faithfully, or refused loudly and run as the source): `delete`
 * on a copied outer object; `const p = list.at(0)` and `const p = Object(o)` aliases; a
 * switch group whose second test reads `r["v"]` of null or awaits an op, an op call in a
 * later group's test, a default group before a case; an early return in a switch in an if;
 * `continue` in a for...of body; a labeled block broken from a traced if; a for...of body
 * with a try; an if with an early return inside a try; a staged if pushing in a for...of
 * body; for...of over a traced string; spreads, templates, `in` and Object.keys of traced
 * strings, arrays and null; `r?.v.length` on null; `s ||= await op()` in a branch on a
 * plain variable; a comma expression of two op calls; an assignment in an if's test;
 * nested and array destructuring defaults; a destructuring default reading a later
 * binding (TraceError in strict mode); switch fallthrough into the next group; concurrent
 * callbacks counting into an outer let in a staged if.
 */
import { describe, expect, it } from "vitest";
import { op, jit } from "weft";
import { expectLikeEager } from "./harness.js";
import { anything, echo, failing, maybe, score } from "./review-ops.js";


const setA = (o: { a: string }, v: string) => {
  o.a = v;
};
class Tally {
  n = 0;
  hit() {
    this.n++;
  }
}

describe("branches that change outer objects the alias and mutator rules miss (both branches run while tracing)", () => {
  it("a let declared in a branch, assigned an outer object later", async () => {
    const src = async (x: string) => {
      const o: Record<string, string> = { a: "0" };
      if ((await score(x)) > 1) {
        let p: Record<string, string>;
        p = o;
        p.a = "big";
      }
      return o;
    };
    const f = async (x: string) => {
      const o: Record<string, string> = { a: "0" };
      if ((await score(x)) > 1) {
        let p: Record<string, string>;
        p = o;
        p.a = "big";
      }
      return o;
    };
    await expectLikeEager(src, [["a"], ["abc"]], jit(f));
  });

  it("a let alias assigned in a switch case", async () => {
    const src = async (x: string) => {
      const o: Record<string, string> = { a: "0" };
      switch (await score(x)) {
        case 3: {
          let p: Record<string, string>;
          p = o;
          p.a = "three";
          break;
        }
        default:
          break;
      }
      return o;
    };
    const f = async (x: string) => {
      const o: Record<string, string> = { a: "0" };
      switch (await score(x)) {
        case 3: {
          let p: Record<string, string>;
          p = o;
          p.a = "three";
          break;
        }
        default:
          break;
      }
      return o;
    };
    await expectLikeEager(src, [["a"], ["abc"]], jit(f));
  });

  it("a for...of loop variable over an outer array, written in a branch", async () => {
    const src = async (x: string) => {
      const items = [{ done: "no" }];
      if ((await score(x)) > 1) {
        for (const it of items) it.done = "yes";
      }
      return items;
    };
    const f = async (x: string) => {
      const items = [{ done: "no" }];
      if ((await score(x)) > 1) {
        for (const it of items) it.done = "yes";
      }
      return items;
    };
    await expectLikeEager(src, [["a"], ["abc"]], jit(f));
  });

  it("a forEach callback parameter writing outer objects in a branch", async () => {
    const src = async (x: string) => {
      const items = [{ done: "no" }];
      if ((await score(x)) > 1) items.forEach((it) => void (it.done = "yes"));
      return items;
    };
    const f = async (x: string) => {
      const items = [{ done: "no" }];
      if ((await score(x)) > 1) items.forEach((it) => void (it.done = "yes"));
      return items;
    };
    await expectLikeEager(src, [["a"], ["abc"]], jit(f));
  });

  // Known limit (README, Known limits): staging cannot see what a function outside the jitted body, a getter or a toString does.
  it.fails("a module-level helper that writes its argument, called in a branch", async () => {
    const src = async (x: string) => {
      const o = { a: "0" };
      if ((await score(x)) > 1) setA(o, "big");
      return o;
    };
    const f = async (x: string) => {
      const o = { a: "0" };
      if ((await score(x)) > 1) setA(o, "big");
      return o;
    };
    await expectLikeEager(src, [["a"], ["abc"]], jit(f));
  });

  it("a method of a class instance that changes it, called in a branch", async () => {
    const src = async (x: string) => {
      const t = new Tally();
      if ((await score(x)) > 1) t.hit();
      return t.n;
    };
    const f = async (x: string) => {
      const t = new Tally();
      if ((await score(x)) > 1) t.hit();
      return t.n;
    };
    await expectLikeEager(src, [["a"], ["abc"]], jit(f));
  });

  it("Array.prototype.push.call on an outer array in a branch", async () => {
    const src = async (x: string) => {
      const log: string[] = [];
      if ((await score(x)) > 1) Array.prototype.push.call(log, "big");
      return log;
    };
    const f = async (x: string) => {
      const log: string[] = [];
      if ((await score(x)) > 1) Array.prototype.push.call(log, "big");
      return log;
    };
    await expectLikeEager(src, [["a"], ["abc"]], jit(f));
  });
});

describe("staged ?:, && and ?? (both arms run while tracing)", () => {
  it("a ?: whose arms push to an outer array", async () => {
    const src = async (x: string) => {
      const log: string[] = [];
      const r = (await score(x)) > 1 ? (log.push("big"), "big") : (log.push("small"), "small");
      return [r, log];
    };
    const f = async (x: string) => {
      const log: string[] = [];
      const r = (await score(x)) > 1 ? (log.push("big"), "big") : (log.push("small"), "small");
      return [r, log];
    };
    await expectLikeEager(src, [["a"], ["abc"]], jit(f));
  });

  it("&& whose right side pushes to an outer array", async () => {
    const src = async (x: string) => {
      const log: string[] = [];
      (await score(x)) > 1 && log.push("big");
      return log;
    };
    const f = async (x: string) => {
      const log: string[] = [];
      (await score(x)) > 1 && log.push("big");
      return log;
    };
    await expectLikeEager(src, [["a"], ["abc"]], jit(f));
  });

  it("?? whose right side writes an outer object", async () => {
    const src = async (x: string) => {
      const o = { used: "no" };
      const r = (await maybe(x)) ?? ((o.used = "yes"), { v: "d" });
      return [r.v, o.used];
    };
    const f = async (x: string) => {
      const o = { used: "no" };
      const r = (await maybe(x)) ?? ((o.used = "yes"), { v: "d" });
      return [r.v, o.used];
    };
    await expectLikeEager(src, [["a"], ["none"]], jit(f));
  });
});

describe("threading and copies", () => {
  it("a closure made in a branch over a variable assigned after the if", async () => {
    const src = async (x: string) => {
      let v = "0";
      let get = () => "none";
      if ((await score(x)) > 1) {
        v = "big";
        get = () => v;
      }
      v = "later";
      return get();
    };
    const f = async (x: string) => {
      let v = "0";
      let get = () => "none";
      if ((await score(x)) > 1) {
        v = "big";
        get = () => v;
      }
      v = "later";
      return get();
    };
    await expectLikeEager(src, [["a"], ["abc"]], jit(f));
  });

  it("an object whose prototype was set by a keyed write before the if", async () => {
    const src = async (x: string) => {
      // biome-ignore lint: probe
      const o: any = { a: "0" };
      o["__proto__"] = { hello: "hi" };
      if ((await score(x)) > 1) o.a = "big";
      return [o.a, o.hello];
    };
    const f = async (x: string) => {
      // biome-ignore lint: probe
      const o: any = { a: "0" };
      o["__proto__"] = { hello: "hi" };
      if ((await score(x)) > 1) o.a = "big";
      return [o.a, o.hello];
    };
    await expectLikeEager(src, [["a"], ["abc"]], jit(f));
  });
});

describe("try", () => {
  it("a destructuring assignment in the body before a failure", async () => {
    const src = async (x: string) => {
      let v = "init";
      try {
        [v] = ["early"];
        await failing(x);
      } catch {}
      return v;
    };
    const f = async (x: string) => {
      let v = "init";
      try {
        [v] = ["early"];
        await failing(x);
      } catch {}
      return v;
    };
    await expectLikeEager(src, [["bad1"], ["good"]], jit(f));
  });

  it("an inner try whose handler assigns and then fails, inside an outer try (non-strict: the eager fallback runs the staged form)", async () => {
    const src = async (x: string) => {
      let v = "init";
      try {
        try {
          await failing(x);
        } catch {
          v = "handler";
          await failing("bad2");
        }
      } catch {}
      return v;
    };
    const f = async (x: string) => {
      let v = "init";
      try {
        try {
          await failing(x);
        } catch {
          v = "handler";
          await failing("bad2");
        }
      } catch {}
      return v;
    };
    await expectLikeEager(src, [["bad1"], ["good"]], jit(f));
  });

  it("a for...of pushing op results, failing part way, inside a try (non-strict: the eager fallback runs the staged form)", async () => {
    const src = async (xs: string[]) => {
      const out: string[] = [];
      try {
        for (const y of xs) out.push(await failing(y));
      } catch {}
      return out;
    };
    const f = async (xs: string[]) => {
      const out: string[] = [];
      try {
        for (const y of xs) out.push(await failing(y));
      } catch {}
      return out;
    };
    await expectLikeEager(src, [[["good", "bad1"]], [["a", "b"]]], jit(f));
  });

  it("a staged if in a callback, assigning an outer let, failing, inside the outer function's try (non-strict: the eager fallback runs the staged form)", async () => {
    const src = async (x: string) => {
      let v = "init";
      try {
        await Promise.all([x].map(async (y) => {
          if ((await score(y)) > 1) {
            v = "assigned";
            await failing(y);
          }
        }));
      } catch {}
      return v;
    };
    const f = async (x: string) => {
      let v = "init";
      try {
        await Promise.all([x].map(async (y) => {
          if ((await score(y)) > 1) {
            v = "assigned";
            await failing(y);
          }
        }));
      } catch {}
      return v;
    };
    await expectLikeEager(src, [["bad1"], ["good"]], jit(f));
  });
});

describe("logical assignment on traced values (not staged, not flagged)", () => {
  it("||= on a traced falsy number", async () => {
    const src = async (x: string) => {
      let n = await score(x);
      n ||= 10;
      return n;
    };
    const f = async (x: string) => {
      let n = await score(x);
      n ||= 10;
      return n;
    };
    await expectLikeEager(src, [[""], ["ab"]], jit(f));
  });

  it("||= await op() on a traced falsy number", async () => {
    const src = async (x: string) => {
      let n = await score(x);
      n ||= await score("zz");
      return n;
    };
    const f = async (x: string) => {
      let n = await score(x);
      n ||= await score("zz");
      return n;
    };
    await expectLikeEager(src, [[""], ["ab"]], jit(f));
  });

  it("&&= on a traced falsy number", async () => {
    const src = async (x: string) => {
      let n = await score(x);
      n &&= n + 100;
      return n;
    };
    const f = async (x: string) => {
      let n = await score(x);
      n &&= n + 100;
      return n;
    };
    await expectLikeEager(src, [[""], ["ab"]], jit(f));
  });

  it("??= on a traced value", async () => {
    const src = async (x: string) => {
      let r = await maybe(x);
      r ??= { v: "d" };
      return r.v;
    };
    const f = async (x: string) => {
      let r = await maybe(x);
      r ??= { v: "d" };
      return r.v;
    };
    await expectLikeEager(src, [["a"], ["none"]], jit(f));
  });
});

describe("chains, spreads and defaults", () => {
  it("optional chaining with a call on a null result", async () => {
    const src = async (x: string) => {
      const r = await maybe(x);
      return r?.v.toUpperCase();
    };
    const f = async (x: string) => {
      const r = await maybe(x);
      return r?.v.toUpperCase();
    };
    await expectLikeEager(src, [["a"], ["none"]], jit(f));
  });

  // Known limit (README, Known limits): staging cannot see what a function outside the jitted body, a getter or a toString does.
  it.fails("a getter read after a traced spread and a plain spread", async () => {
    const src = async (x: string) => {
      const state = {
        n: 1,
        get next() {
          return ++this.n;
        },
      };
      const v = (await anything(x)) as object;
      return { ...v, ...state, after: state.next };
    };
    const f = async (x: string) => {
      const state = {
        n: 1,
        get next() {
          return ++this.n;
        },
      };
      const v = (await anything(x)) as object;
      return { ...v, ...state, after: state.next };
    };
    await expectLikeEager(src, [["obj"]], jit(f));
  });

  // Known limit (README, Known limits): staging cannot see what a function outside the jitted body, a getter or a toString does.
  it.fails("a template literal of an object with a toString that acts, after a spread", async () => {
    const src = async (x: string) => {
      const state = { n: 1 };
      const t = { toString: () => String(++state.n) };
      const v = (await echo(x)) as unknown as object;
      return { ...v, ...state, s: `${t}` };
    };
    const f = async (x: string) => {
      const state = { n: 1 };
      const t = { toString: () => String(++state.n) };
      const v = (await echo(x)) as unknown as object;
      return { ...v, ...state, s: `${t}` };
    };
    await expectLikeEager(src, [["a"]], jit(f));
  });

  it("a default parameter reading a later parameter (TDZ in the source)", async () => {
    // @ts-expect-error: TS2373, the read before the parameter is the point
    const src = async (a = b, b = "q") => echo(`${a}${b}`);
    // @ts-expect-error: TS2373, the read before the parameter is the point
    const f = async (a = b, b = "q") => echo(`${a}${b}`);
    await expectLikeEager(src, [[], ["x"]], jit(f));
  });

  it("a for...of binding with a destructuring default", async () => {
    const src = async (xs: Array<{ v?: string }>) => {
      const out: string[] = [];
      for (const { v = "d" } of xs) out.push(await echo(v));
      return out;
    };
    const f = async (xs: Array<{ v?: string }>) => {
      const out: string[] = [];
      for (const { v = "d" } of xs) out.push(await echo(v));
      return out;
    };
    await expectLikeEager(src, [[[{ v: "a" }, {}]]], jit(f));
  });
});
