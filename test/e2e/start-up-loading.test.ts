// What a start loads decides how fast it is (issue 9; figures in BENCHMARKS.md). This holds the built CLI to it:
// `--help` and `status` in a new folder load none of the heavy modules, and the commands that need them still do.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";

const scratch = mkdtempSync(join(tmpdir(), "akv-loading-"));
const tracer = join(scratch, "trace-loads.cjs");
// Preloaded with --require: records every module the process loads (files and Node built-ins) at exit.
writeFileSync(
  tracer,
  `const { registerHooks } = require("node:module");
const files = [];
registerHooks({ load(url, context, next) { files.push(url); return next(url, context); } });
process.on("exit", () => require("node:fs").writeFileSync(process.env.AKV_TRACE_OUT, JSON.stringify({ files, builtins: process.moduleLoadList })));
`,
);

async function loadsOf(args: string[], cwd: string, env: Record<string, string> = {}) {
  const out = join(scratch, `trace-${Math.random().toString(36).slice(2)}.json`);
  const r = await runCli(args, { cwd, env: { CI: "1", NODE_OPTIONS: `--require ${tracer}`, AKV_TRACE_OUT: out, ...env } });
  const trace = JSON.parse(readFileSync(out, "utf8")) as { files: string[]; builtins: string[] };
  const packages = new Set(trace.files.flatMap((url) => /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1] ?? []));
  const builtins = new Set(trace.builtins.filter((m) => m.startsWith("NativeModule ")).map((m) => m.slice("NativeModule ".length)));
  return { r, packages, builtins, files: trace.files };
}

const HEAVY_PACKAGES = ["zod", "node-forge", "chalk", "@inquirer/prompts", "@azure/identity", "@azure/arm-keyvault", "@microsoft/microsoft-graph-client"];
const HEAVY_BUILTINS = ["crypto", "child_process", "tty", "internal/fs/promises", "https", "http2"];

describe("what a start loads", () => {
  it.each([[["--help"]], [["status"]], [["status", "--json"]]])("`%s` in a new folder loads no SDK, schema, crypto or prompt library", async (args) => {
    const cwd = mkdtempSync(join(scratch, "empty-"));
    const { r, packages, builtins, files } = await loadsOf(args, cwd);
    expect(r.code).toBe(0);
    for (const name of HEAVY_PACKAGES) expect(packages.has(name), `${name} was loaded`).toBe(false);
    for (const name of HEAVY_BUILTINS) expect(builtins.has(name), `node:${name} was loaded`).toBe(false);
    // Commander is inside the bundle; the start reads a handful of files, not the ~40 modules of dist/.
    expect(packages.has("commander")).toBe(false);
    expect(files.filter((url) => url.includes("/dist/")).length).toBeLessThanOrEqual(4);
  });

  it("the commands that need them still load them: `cert generate` loads forge and crypto", async () => {
    const cwd = mkdtempSync(join(scratch, "cert-"));
    const { r, packages, builtins } = await loadsOf(["cert", "generate", "--key-size", "2048"], cwd);
    expect(r.code, r.stderr).toBe(0);
    expect(packages.has("node-forge")).toBe(true);
    expect(builtins.has("crypto")).toBe(true);
  });

  it("colour loads chalk only when colour is on", async () => {
    const cwd = mkdtempSync(join(scratch, "colour-"));
    const { packages } = await loadsOf(["status"], cwd, { FORCE_COLOR: "1", NO_COLOR: "" });
    expect(packages.has("chalk")).toBe(true);
  });
});
