/**
 * `weft inspect <module>`: a built module's ops (name, kind, parameters and their schemas,
 * return schema, policy) and its jitted functions; with `--args`, a jitted function's
 * optimised plan for those arguments, as text or Mermaid.
 */
import type { OpDescriptor } from "../../decorators/descriptor.js";
import { describeSchema } from "../../runtime/validate.js";
import { CliError, stringOption, UsageError, type Verb } from "../command.js";
import { importModule } from "../entry.js";

interface Inspectable {
  inspect(...args: unknown[]): Promise<{ signature: string; fallback?: string; text?: string; mermaid?: string; json?: string }>;
}

function isJitted(value: unknown): value is Inspectable {
  return typeof value === "function" && typeof (value as Partial<Inspectable>).inspect === "function" && typeof (value as { explain?: unknown }).explain === "function";
}

/** Every op an export holds: a function op, or the `@op` methods of a class. */
function opsOf(describeOp: (fn: unknown) => OpDescriptor | undefined, name: string, value: unknown): { path: string; desc: OpDescriptor }[] {
  const own = describeOp(value);
  if (own) return [{ path: name, desc: own }];
  if (typeof value !== "function" || !value.prototype) return [];
  const out: { path: string; desc: OpDescriptor }[] = [];
  for (let proto = value.prototype as object | null; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto) as object | null) {
    for (const key of Object.getOwnPropertyNames(proto)) {
      if (key === "constructor") continue;
      const method = Object.getOwnPropertyDescriptor(proto, key)?.value;
      const desc = describeOp(method);
      if (desc && !out.some((o) => o.path === `${name}.${key}`)) out.push({ path: `${name}.${key}`, desc });
    }
  }
  return out;
}

function summary(desc: OpDescriptor): Record<string, unknown> {
  const defs = (desc as { defs?: Record<string, never> }).defs ?? {};
  return {
    name: desc.name,
    kind: desc.kind,
    params: desc.params.map((p) => ({ name: p.name, type: p.schema === undefined ? "unknown" : describeSchema(p.schema, defs), ...(p.optional && { optional: true }), schema: p.schema })),
    ...(desc.returns !== undefined && { returns: { type: describeSchema(desc.returns, defs), schema: desc.returns } }),
    policy: desc.policy,
  };
}

export const inspect: Verb = {
  name: "inspect",
  summary: "list a module's ops and their schemas, and print a jitted function's plan",
  usage: ["<module> [--json]", "<module> --jit <export> --args <json-array> [--mermaid]"],
  description: "<module> is a built .js file. A plan depends on its input signature, so --args gives the\narguments to trace with (a JSON array); the plan is printed as text, or as Mermaid with --mermaid.",
  options: {
    jit: { type: "string", value: "<export>", description: "the jitted export whose plan to print" },
    args: { type: "string", value: "<json-array>", description: "arguments to trace the jitted function with" },
    mermaid: { type: "boolean", description: "print the plan as a Mermaid flowchart" },
    json: { type: "boolean", description: "print JSON" },
  },
  positionals: { min: 1, max: 1, names: "<module>" },
  async run(input) {
    const module = input.positionals[0]!;
    const exports = await importModule(input, module);
    const target = stringOption(input, "jit");
    if (target !== undefined) {
      const fn = exports[target];
      if (!isJitted(fn)) throw new CliError(`${module}: export "${target}" is not a jitted function`, `jitted exports: ${Object.keys(exports).filter((k) => isJitted(exports[k])).join(", ") || "none"}`);
      const text = stringOption(input, "args");
      if (text === undefined) throw new UsageError("--jit needs --args: the plan depends on the arguments' signature");
      let args: unknown;
      try {
        args = JSON.parse(text);
      } catch {
        throw new UsageError(`--args: expected a JSON array, received ${text.slice(0, 60)}`);
      }
      if (!Array.isArray(args)) throw new UsageError("--args: expected a JSON array of arguments");
      const plan = await fn.inspect(...args);
      if (plan.fallback) {
        input.io.out(`${target} runs eagerly for ${plan.signature}: ${plan.fallback}`);
        return 0;
      }
      input.io.out((input.values.mermaid ? plan.mermaid : plan.text) ?? "");
      return 0;
    }
    // The registry loads the op-call kernel: imported here, so `--help` stays quick.
    const { describeOp } = await import("../../runtime/registry.js");
    const ops = Object.entries(exports).flatMap(([name, value]) => opsOf(describeOp, name, value));
    const jits = Object.keys(exports).filter((k) => isJitted(exports[k]));
    if (input.values.json) {
      input.io.out(JSON.stringify({ ops: ops.map((o) => ({ export: o.path, ...summary(o.desc) })), jit: jits }, null, 2));
      return 0;
    }
    const lines: string[] = [];
    for (const { path, desc } of ops) {
      const s = summary(desc) as { params: { name: string; type: string; optional?: boolean }[]; returns?: { type: string } };
      const params = s.params.map((p) => `${p.name}${p.optional ? "?" : ""}: ${p.type}`).join(", ");
      lines.push(`op ${path} (${desc.kind}): (${params}) => ${s.returns?.type ?? "void"}`);
      const policy = Object.entries(desc.policy ?? {}).filter(([, v]) => v !== undefined);
      if (policy.length > 0) lines.push(`  policy: ${policy.map(([k, v]) => `${k} ${JSON.stringify(v)}`).join(", ")}`);
    }
    for (const name of jits) lines.push(`jit ${name}: \`weft inspect ${module} --jit ${name} --args '[...]'\` prints its plan`);
    input.io.out(lines.length > 0 ? lines.join("\n") : `${module}: no ops or jitted functions exported`);
    return 0;
  },
};
