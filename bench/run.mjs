// `npm run bench`: the performance report of issue 9, side by side in one run, printed and written to BENCHMARKS.md.
// A report, not a gate: it exits 0 whatever the figures are; only a broken script exits non-zero.
// Runs the BUILT CLI (npm run bench builds first). Budget: well under two minutes on two cores.
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { formatCertBench, runCertBench } from "./cert.mjs";
import { median, run, runMeasuringRss, startSandboxServer } from "./lib/proc.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const bin = path.join(root, "bin", "akv-crashplan.js");
const node = process.execPath;
const STARTUP_RUNS = 31; // interleaved rounds; start-up medians move by a few percent with fewer
const CERT_RUNS = 7; // in-process (bench/cert.mjs)
const CLI_CERT_RUNS = 5; // as processes: slower, so fewer to stay inside the two-minute budget
const RBAC_DELAY_MS = 20_000;
const REPLICATION_DELAY_MS = 5_000;

if (!existsSync(path.join(root, "dist", "bundle", "akv-crashplan.cjs"))) {
  console.error("dist/ is missing: run `npm run bench` (builds first) or `npm run build`.");
  process.exit(1);
}

// The product's own defaults only: nothing from the caller's shell may shorten polls or point elsewhere.
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("AKV_CRASHPLAN_") && !k.startsWith("AZURE_")));
cleanEnv.NO_COLOR = "1";
cleanEnv.CI = "1";

const scratch = mkdtempSync(path.join(os.tmpdir(), "akv-bench-"));
const tmp = (name) => mkdtempSync(path.join(scratch, `${name}-`));
const rows = []; // { group, figure, value, goal, met }
const notes = [];
const standing = []; // where each goal stands, in words, for BENCHMARKS.md
const row = (group, figure, value, goal, met) => rows.push({ group, figure, value, goal, met });
const fmtMs = (ms) => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`);
const setupArgs = ["setup", "--yes", "--location", "eastus", "--crashplan-ip", "203.0.113.0/24", "--crashplan-ips-source", "bench", "--key-size", "4096"];

function check(r, what) {
  if (r.code !== 0) {
    // The CLI's own error line (✖ …) and its hint say why; the rest of stderr is the step-by-step narration.
    const lines = r.stderr.split("\n");
    const at = lines.findLastIndex((l) => l.startsWith("✖"));
    const why = at >= 0 ? lines.slice(at, at + 2).map((l) => l.trim()).join(" ") : r.stderr.slice(-500);
    throw new Error(`${what} exited with ${r.code}: ${why}`);
  }
  return r;
}

async function startup() {
  const empty = tmp("status");
  // Output to /dev/null, as hyperfine measures by default: the figure is the program's own start, not the cost of
  // the pipe a parent reads it through. The piped figures follow as information.
  const cases = [
    { name: "node -e 0 (floor)", args: ["-e", "0"] },
    { name: "--help", args: [bin, "--help"] },
    { name: "status, empty folder", args: [bin, "status"] },
  ];
  const rounds = async (discardOutput) => {
    const times = cases.map(() => []);
    for (let i = 0; i < STARTUP_RUNS + 1; i++) {
      for (const [j, c] of cases.entries()) {
        const r = await run(node, c.args, { cwd: empty, env: cleanEnv, discardOutput });
        if (j > 0) check(r, c.name);
        if (i > 0) times[j].push(r.ms); // the first round warms the file and compile caches
      }
    }
    return times.map(median);
  };
  const [floor, help, status] = await rounds(true);
  row("start-up", `node -e 0 (floor), median of ${STARTUP_RUNS}, output to /dev/null`, fmtMs(floor), "—", null);
  row("start-up", "--help", `${fmtMs(help)} (${(help / floor).toFixed(2)}x)`, "≤ 1.5x floor", help / floor <= 1.5);
  row("start-up", "status, empty folder", `${fmtMs(status)} (${(status / floor).toFixed(2)}x)`, "≤ 1.5x floor", status / floor <= 1.5);
  const [pipedFloor, pipedHelp, pipedStatus] = await rounds(false);
  row("start-up", "the same with output read through pipes: floor / --help / status", `${fmtMs(pipedFloor)} / ${fmtMs(pipedHelp)} (${(pipedHelp / pipedFloor).toFixed(2)}x) / ${fmtMs(pipedStatus)} (${(pipedStatus / pipedFloor).toFixed(2)}x)`, "—", null);
  standing.push(
    "- **Start-up.** The CLI runs from a bundle (scripts/bundle.mjs): one CommonJS start chunk holding commander, the command",
    "  tree, the runtime and `status`; every other command's code, forge, the prompt library and the Azure SDKs load when a",
    "  command needs them, and the standard streams, node:tty, node:crypto and node:fs/promises on first use",
    "  (test/e2e/start-up-loading.test.ts holds the start to that). The launcher loads the chunks with V8 code caches taken",
    "  after a run (bin/code-cache.js), so commander's functions are not compiled again on every start. What remains above",
    "  the floor is commander's own load and Node's stdout stream. Through a pipe, writing anything at all costs Node another",
    "  ~2.5 ms (a net.Socket and the stream stack) that `node -e 0` never pays: hence the piped row, for information.",
  );
}

async function certs() {
  // In-process figures from bench/cert.mjs (no Node start-up on our side).
  const result = await runCertBench({ runs: CERT_RUNS, distDir: path.join(root, "dist", "cert") });
  notes.push("```\n" + formatCertBench(result) + "\n```");
  for (const r of result.rows) {
    row("certificates (in-process)", r.name, `${fmtMs(r.oursMs)} vs ${fmtMs(r.opensslMs)} (${r.ratio.toFixed(2)}x)`, "≤ 1.0x openssl", r.met);
  }
  // The real commands as processes, Node start-up and state included, against openssl's processes.
  const work = tmp("cli-cert");
  const pw = path.join(work, "pw");
  writeFileSync(pw, "bench-" + "x".repeat(26) + "\n", { mode: 0o600 });
  const template = path.join(work, "template");
  check(await run(node, [bin, "--workdir", template, "cert", "generate", "--key-size", "4096"], { cwd: work, env: cleanEnv }), "cert generate");
  const key = path.join(template, "service-principal.key");
  const crt = path.join(template, "service-principal.crt");
  const gen = { ours: [], theirs: [] };
  const pfx = { ours: [], theirs: [] };
  for (let i = 0; i < CLI_CERT_RUNS; i++) {
    const wd = path.join(work, `g${i}`);
    const ours = () => run(node, [bin, "--workdir", wd, "cert", "generate", "--key-size", "4096"], { cwd: work, env: cleanEnv });
    const theirs = () => run("openssl", ["req", "-x509", "-newkey", "rsa:4096", "-keyout", path.join(work, `s${i}.key`), "-out", path.join(work, `s${i}.crt`),
      "-days", "365", "-nodes", "-subj", "/CN=key-vault-crashplan"], { cwd: work, env: cleanEnv });
    const pd = path.join(work, `p${i}`);
    cpSync(template, pd, { recursive: true });
    const oursPfx = () => run(node, [bin, "--workdir", pd, "pfx", "export", "--password-file", pw], { cwd: work, env: cleanEnv });
    const theirsPfx = () => run("openssl", ["pkcs12", "-export", "-inkey", key, "-in", crt, "-out", path.join(work, `s${i}.pfx`), "-passout", `file:${pw}`,
      "-keypbe", "PBE-SHA1-3DES", "-certpbe", "PBE-SHA1-3DES", "-macalg", "sha1"], { cwd: work, env: cleanEnv });
    // Alternate who goes first so drift hits both sides alike.
    const pairs = i % 2 ? [[theirs, gen.theirs], [ours, gen.ours], [theirsPfx, pfx.theirs], [oursPfx, pfx.ours]]
      : [[ours, gen.ours], [theirs, gen.theirs], [oursPfx, pfx.ours], [theirsPfx, pfx.theirs]];
    for (const [fn, into] of pairs) into.push(check(await fn(), "cert command").ms);
  }
  for (const [name, t] of [["`cert generate` RSA-4096 (process)", gen], ["`pfx export --password-file` 3des (process)", pfx]]) {
    const o = median(t.ours);
    const s = median(t.theirs);
    row("certificates (CLI)", name, `${fmtMs(o)} vs ${fmtMs(s)} (${(o / s).toFixed(2)}x)`, "≤ 1.0x openssl", o / s <= 1.0);
  }
  standing.push(
    "- **`pfx export` as a process against `openssl pkcs12`.** Not reachable: Node's bare start (the start-up floor above)",
    "  is longer than openssl's whole run, so the process row compares a Node start plus reading and writing the state",
    `  against a C program's run (${fmtMs(median(pfx.theirs))}). The export itself is measured in-process against openssl in the`,
    "  rows above and is as fast; the `+ read-back` row adds the verification openssl does not do (it reads the PFX back,",
    "  deriving every key a second time), so it sits at about 1.0x and moves either side of it between runs. Bundling zod",
    "  and the code caches took the process from ~165 ms (first session) to under 100 ms; most of what is left is loading",
    "  node-forge (bundling it was measured slower), zod and Node itself.",
  );
  const spread = (xs) => `${fmtMs(Math.min(...xs))}–${fmtMs(Math.max(...xs))}`;
  notes.push(`Key generation spread over ${CLI_CERT_RUNS} runs (process): ours ${spread(gen.ours)}, openssl ${spread(gen.theirs)}.`);
}

function byService(entries) {
  const counts = {};
  for (const e of entries) counts[e.service] = (counts[e.service] ?? 0) + 1;
  return Object.entries(counts).sort(([a], [b]) => a.localeCompare(b)).map(([s, n]) => `${s} ${n}`).join(", ");
}

async function roundTrips() {
  const dir = tmp("rt");
  const sb = await startSandboxServer({ bin, dataDir: path.join(dir, "sandbox"), cwd: dir });
  try {
    const wd = path.join(dir, "work");
    const first = check(await runMeasuringRss(node, [bin, "--workdir", wd, ...sb.cloudArgs, ...setupArgs], { cwd: dir, env: { ...cleanEnv, ...sb.env } }), "setup (first)");
    const log1 = await sb.requests();
    const second = check(await run(node, [bin, "--workdir", wd, ...sb.cloudArgs, ...setupArgs], { cwd: dir, env: { ...cleanEnv, ...sb.env } }), "setup (second)");
    const log2 = (await sb.requests()).slice(log1.length);
    const writes1 = log1.filter((e) => e.write).length;
    const writes2 = log2.filter((e) => e.write);
    row("round trips", "full `setup --yes`, requests", `${log1.length} (${writes1} writes; ${byService(log1)})`, "≤ 40", log1.length <= 40);
    row("round trips", "full `setup --yes`, wall (no injected delays)", fmtMs(first.ms), "—", null);
    row("round trips", "second (no-op) run, writes", `${writes2.length} of ${log2.length} requests (${byService(log2) || "none"})`, "0", writes2.length === 0);
    row("round trips", "second (no-op) run, wall", fmtMs(second.ms), "≤ 1 s", second.ms <= 1000);
    // Reading a real state file loads and runs its zod schema, which an empty folder does not: for information.
    const offline = [];
    for (let i = 0; i < 11; i++) offline.push(check(await run(node, [bin, "--workdir", wd, "status", "--offline"], { cwd: dir, env: cleanEnv, discardOutput: true }), "status --offline").ms);
    row("start-up", "status --offline on the finished setup (reads and validates the state), median of 11", fmtMs(median(offline)), "—", null);
    if (writes2.length) notes.push("Writes in the no-op run:\n" + writes2.map((e) => `- ${e.service} ${e.method} ${e.path} → ${e.status}`).join("\n"));
    notes.push("Requests of the full run, in order:\n\n```\n" + log1.map((e) => `${e.service.padEnd(9)} ${e.method.padEnd(6)} ${String(e.status).padEnd(4)}${e.write ? "W" : " "} ${e.path}`).join("\n") + "\n```");
    row("memory", `peak RSS, full \`setup --yes\` (CLI process; ${first.rssSource})`, `${first.rssMiB.toFixed(0)} MiB`, "—", null);
  } finally {
    await sb.stop();
  }
}

async function waiting() {
  const dir = tmp("wait");
  const knobs = path.join(dir, "knobs.json");
  writeFileSync(knobs, JSON.stringify({ rbacPropagationDelayMs: RBAC_DELAY_MS, replicationDelayMs: REPLICATION_DELAY_MS }));
  const sb = await startSandboxServer({ bin, dataDir: path.join(dir, "sandbox"), configFile: knobs, cwd: dir });
  try {
    const injected = RBAC_DELAY_MS + REPLICATION_DELAY_MS;
    const r = check(await run(node, [bin, "--workdir", path.join(dir, "work"), ...sb.cloudArgs, ...setupArgs], { cwd: dir, env: { ...cleanEnv, ...sb.env } }), "setup (delays)");
    const log = await sb.requests();
    row("waiting", `setup with RBAC ${RBAC_DELAY_MS / 1000} s + replication ${REPLICATION_DELAY_MS / 1000} s, minus ${injected / 1000} s`,
      `${fmtMs(r.ms - injected)} (wall ${fmtMs(r.ms)}, ${log.length} requests)`, "≤ 2 s", r.ms - injected <= 2000);
    const failed = log.filter((e) => e.status >= 400);
    notes.push(`Waiting run: ${log.length} requests, ${failed.length} answered ≥ 400 while waiting (${byService(failed) || "none"}).`);
  } finally {
    await sb.stop();
  }
}

async function memoryInProcessSandbox() {
  const dir = tmp("rss");
  const r = check(await runMeasuringRss(node, [bin, "--sandbox", ...setupArgs], { cwd: dir, env: cleanEnv }), "setup --sandbox");
  row("memory", "peak RSS, full `setup --sandbox --yes` (CLI + in-process sandbox)", `${r.rssMiB.toFixed(0)} MiB (wall ${fmtMs(r.ms)})`, "—", null);
}

function machine() {
  const openssl = (() => {
    try {
      return execFileSync("openssl", ["version"]).toString().trim();
    } catch {
      return "not found";
    }
  })();
  return { date: new Date().toISOString().replace(/\.\d+Z$/, "Z"), cpus: os.availableParallelism(), cpu: os.cpus()[0]?.model ?? "?", node: process.version, openssl, load: os.loadavg().map((l) => l.toFixed(2)).join(" ") };
}

function table() {
  const mark = (m) => (m === null ? "—" : m ? "met" : "NOT MET");
  const head = ["", "figure", "value", "goal", "status"];
  const body = rows.map((r) => [r.group, r.figure, r.value, r.goal, mark(r.met)]);
  return { head, body };
}

function printTable({ head, body }) {
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells) => cells.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd();
  return [line(head), line(widths.map((w) => "-".repeat(w))), ...body.map(line)].join("\n");
}

const started = Date.now();
const errors = [];
for (const [name, fn] of [["start-up", startup], ["certificates", certs], ["round trips", roundTrips], ["waiting", waiting], ["memory", memoryInProcessSandbox]]) {
  const t = Date.now();
  process.stderr.write(`bench: ${name}…\n`);
  try {
    await fn();
  } catch (e) {
    // A failed measurement is a finding, not a crash of the report.
    errors.push(`${name}: ${e.message}`);
    row(name, "measurement failed", e.message.split("\n")[0].slice(0, 160), "—", false);
  }
  process.stderr.write(`bench: ${name} took ${((Date.now() - t) / 1000).toFixed(1)} s\n`);
}
rmSync(scratch, { recursive: true, force: true });

const m = machine();
const t = table();
const elapsed = ((Date.now() - started) / 1000).toFixed(0);
console.log(printTable(t));
console.log(`\n${m.date} · ${m.cpus} CPUs (${m.cpu}) · node ${m.node} · ${m.openssl} · load ${m.load} · bench took ${elapsed} s`);
if (errors.length) console.log("\nErrors:\n" + errors.join("\n"));

const esc = (s) => s.replace(/\|/g, "\\|");
const md = [
  "# Benchmarks",
  "",
  "Written by `npm run bench` (bench/run.mjs); the goals are those of issue 9. A report, not a gate.",
  "",
  `- Date: ${m.date}`,
  `- Machine: ${m.cpus} CPUs (nproc), ${m.cpu}, ${os.platform()} ${os.release()}`,
  `- Load average at the end (1/5/15 min): ${m.load} (other work on the machine inflates every figure)`,
  `- Node: ${m.node}`,
  `- OpenSSL: ${m.openssl}`,
  `- The script took ${elapsed} s.`,
  "",
  `| ${t.head.map(esc).join(" | ")} |`,
  `|${t.head.map(() => "---").join("|")}|`,
  ...t.body.map((b) => `| ${b.map(esc).join(" | ")} |`),
  "",
  "How: start-up figures are medians of interleaved process wall times (first round discarded), output to /dev/null as",
  "hyperfine does, `status` in an empty folder. Round",
  "trips come from the request log of `sandbox start` (a separate process), so the CLI's peak RSS excludes the emulator.",
  "The waiting run uses the product's own poll intervals (AKV_CRASHPLAN_POLL_MS unset).",
  "",
  "## Where the goals stand",
  "",
  ...standing,
  "",
  "## Details",
  "",
  ...notes.flatMap((n) => [n, ""]),
  ...(errors.length ? ["## Errors", "", ...errors.map((e) => "```\n" + e + "\n```"), ""] : []),
].join("\n");
writeFileSync(path.join(root, "BENCHMARKS.md"), md);
process.exitCode = 0;
