/**
 * Crash-and-resume helpers for test/reliability: run the built CLI's `setup --sandbox` (the sandbox lives inside the
 * CLI process, its data in <workdir>/sandbox), kill it (from inside with the sandbox's crashAfterRequest knob, or from
 * outside with SIGKILL), resume it, and check what the sandbox holds afterwards.
 *
 * Always async spawn: a synchronous child would block the worker that runs several pairs at once.
 */
import { spawn } from "node:child_process";
import { X509Certificate, createPrivateKey } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SandboxConfig, SandboxRequestLogEntry } from "../../src/sandbox/types.js";
import { BIN, cleanEnv, runCli, type CliResult } from "./cli.js";
import { SandboxServer } from "./sandbox-server.js";

export const CRASHPLAN_RULE = "203.0.113.0/24";
/** The sandbox's default `clientIp`: with --yes, validation adds it as a temporary rule and removes it afterwards. */
export const OPERATOR_TEMP_RULE = "198.51.100.23/32";
export const SECRETS_OFFICER = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7";
export const SETUP_INPUTS = ["--yes", "--location", "eastus", "--crashplan-ip", CRASHPLAN_RULE, "--crashplan-ips-source", "reliability test", "--key-size", "2048"];

export interface Workspace {
  /** The CLI's cwd; the workdir is <cwd>/akv-crashplan. */
  cwd: string;
  workdir: string;
  remove(): void;
}

export function newWorkspace(prefix = "akv-crash-"): Workspace {
  const cwd = mkdtempSync(join(tmpdir(), prefix));
  return { cwd, workdir: join(cwd, "akv-crashplan"), remove: () => rmSync(cwd, { recursive: true, force: true }) };
}

export interface SpawnedRun {
  pid: number;
  /** Resolves when the process has exited. */
  done: Promise<CliResult>;
  kill(signal?: NodeJS.Signals): void;
}

/** Starts the CLI (any arguments) without waiting for it. */
export function spawnCli(args: string[], cwd: string, options: { env?: Record<string, string>; timeoutMs?: number } = {}): SpawnedRun {
  const child = spawn(process.execPath, [BIN, ...args], { cwd, env: cleanEnv(options.env), stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c));
  child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
  child.stdin.end("");
  const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 60_000);
  const done = new Promise<CliResult>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
  return { pid: child.pid ?? -1, done, kill: (signal = "SIGKILL") => void child.kill(signal) };
}

/** `setup --sandbox` with all inputs on the command line, optionally with sandbox knobs. */
export function setupArgs(ws: Workspace, knobs?: SandboxConfig): string[] {
  const args = ["setup", "--sandbox", ...SETUP_INPUTS];
  if (knobs) {
    const file = join(ws.cwd, "knobs.json");
    writeFileSync(file, JSON.stringify(knobs));
    args.push("--sandbox-config", file);
  }
  return args;
}

export function runSetup(ws: Workspace, knobs?: SandboxConfig, timeoutMs = 60_000): Promise<CliResult> {
  return runCli(setupArgs(ws, knobs), { cwd: ws.cwd, timeoutMs });
}

/**
 * The request log of one full setup against a `sandbox start` server (same sandbox, same defaults): it numbers the
 * requests as the in-process sandbox's crashAfterRequest counts them.
 */
export async function fullRunRequestLog(): Promise<SandboxRequestLogEntry[]> {
  const server = await SandboxServer.start();
  const cwd = mkdtempSync(join(tmpdir(), "akv-crash-count-"));
  try {
    const result = await runCli(["setup", ...SETUP_INPUTS, ...server.cloudArgs()], { cwd, env: server.env() });
    if (result.code !== 0) throw new Error(describeRun("counting run", result));
    return await server.requests();
  } finally {
    await server.stop();
    rmSync(cwd, { recursive: true, force: true });
  }
}

function tail(text: string, chars = 1200): string {
  return text.length > chars ? `…${text.slice(-chars)}` : text;
}

export function describeRun(label: string, result: CliResult): string {
  return `${label}: exit ${String(result.code)} signal ${String(result.signal)}\n${tail(result.stderr)}`;
}

function derOfPem(pem: string): string {
  return pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, "").replace(/\s+/g, "");
}

/**
 * Every invariant a finished setup must hold, whatever happened before: returns the violations (empty when all hold),
 * so a loop can report every bad N at once.
 */
export function invariantViolations(workdir: string): string[] {
  const problems: string[] = [];
  const sandboxFile = join(workdir, "sandbox", "sandbox-state.json");
  let sb: any;
  try {
    sb = JSON.parse(readFileSync(sandboxFile, "utf8"));
  } catch (error) {
    return [`${sandboxFile} unreadable: ${(error as Error).message}`];
  }
  let state: any;
  try {
    state = JSON.parse(readFileSync(join(workdir, "state.json"), "utf8"));
  } catch (error) {
    problems.push(`state.json does not parse: ${(error as Error).message}`);
  }
  if (state) {
    const notDone = Object.entries(state.steps ?? {}).filter(([, r]) => (r as { status: string }).status !== "done").map(([id]) => id);
    if (notDone.length > 0) problems.push(`steps not done: ${notDone.join(", ")}`);
  }
  if (existsSync(join(workdir, "state.lock"))) problems.push("state.lock left behind by a finished run");
  const temps = leftoverTempFiles(workdir);
  if (temps.length > 0) problems.push(`temp files left in the workdir: ${temps.join(", ")}`);

  const vaults = sb.vaults as any[];
  if (vaults.length !== 1) problems.push(`${vaults.length} vaults: ${vaults.map((v) => v.name).join(", ")}`);
  if ((sb.deletedVaults as any[]).length !== 0) problems.push(`${sb.deletedVaults.length} deleted vaults`);
  const vault = vaults[0];
  if (vault) {
    const rules = (vault.properties.networkAcls?.ipRules ?? []).map((r: { value: string }) => r.value);
    if (rules.includes(OPERATOR_TEMP_RULE)) problems.push(`temporary firewall rule ${OPERATOR_TEMP_RULE} left on the vault`);
    if (JSON.stringify(rules) !== JSON.stringify([CRASHPLAN_RULE])) problems.push(`vault ip rules ${JSON.stringify(rules)}, expected [${CRASHPLAN_RULE}]`);
    if (vault.properties.networkAcls?.defaultAction !== "Deny") problems.push("vault firewall default action is not Deny");
    if (vault.properties.enableRbacAuthorization !== true) problems.push("vault not in RBAC mode");
    const live = ((sb.secrets?.[vault.name] ?? []) as any[]).filter((s) => !s.deleted);
    if (live.length > 0) problems.push(`live secrets left in the vault: ${live.map((s) => s.name).join(", ")}`);
  }

  const seeded = (name: unknown) => typeof name === "string" && name.startsWith("akv-crashplan sandbox");
  const apps = (sb.applications as any[]).filter((a) => !seeded(a.displayName));
  if (apps.length !== 1) problems.push(`${apps.length} applications of ours: ${apps.map((a) => `${a.displayName} ${a.appId}`).join(", ")}`);
  const sps = (sb.servicePrincipals as any[]).filter((s) => !seeded(s.displayName));
  if (sps.length !== 1) problems.push(`${sps.length} service principals of ours`);
  const app = apps[0];
  const sp = app ? sps.find((s) => s.appId === app.appId) : undefined;
  if (app && !sp) problems.push(`no service principal for app ${app.appId}`);

  const certPath = join(workdir, "service-principal.crt");
  const keyPath = join(workdir, "service-principal.key");
  if (!existsSync(certPath) || !existsSync(keyPath)) {
    problems.push("service-principal.crt or .key missing");
  } else {
    const certPem = readFileSync(certPath, "utf8");
    const keyPem = readFileSync(keyPath, "utf8");
    try {
      if (!new X509Certificate(certPem).checkPrivateKey(createPrivateKey(keyPem))) problems.push("service-principal.key does not match service-principal.crt");
    } catch (error) {
      problems.push(`key or certificate unreadable: ${(error as Error).message}`);
    }
    if (app) {
      const creds = (app.keyCredentials ?? []) as any[];
      const ours = creds.filter((c) => typeof c.key === "string" && c.key.replace(/\s+/g, "") === derOfPem(certPem));
      if (ours.length !== 1) problems.push(`${ours.length} keyCredentials on the app hold service-principal.crt`);
      if (creds.length !== 1) problems.push(`${creds.length} keyCredentials on the app in all (stale certificates uploaded?)`);
    }
  }

  if (sp) {
    const assignments = (sb.roleAssignments as any[]).filter((a) => a.principalId === sp.id);
    if (assignments.length !== 1) problems.push(`${assignments.length} role assignments for the service principal`);
    const a = assignments[0];
    if (a && vault && (a.scope !== vault.id || a.roleDefinitionGuid !== SECRETS_OFFICER)) problems.push(`role assignment ${a.roleDefinitionGuid} on ${a.scope}, not Secrets Officer on the vault`);
  }

  const groups = (sb.resourceGroups as any[]).filter((g) => g.name === "rg-crashplan-keystore");
  if (groups.length !== 1) problems.push(`${groups.length} resource groups rg-crashplan-keystore`);
  return problems;
}

/** Files a killed atomic write may leave behind (`.state.json.<pid>.<rand>.tmp`), for the report. */
export function leftoverTempFiles(workdir: string): string[] {
  return existsSync(workdir) ? readdirSync(workdir).filter((f) => f.endsWith(".tmp")) : [];
}

/** Runs `work` over `items` with at most `parallel` at a time, in order of start. */
export async function pool<T, R>(items: readonly T[], parallel: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, items.length) }, worker));
  return results;
}

/** A small seeded PRNG (mulberry32), so the random-kill trials are the same on every run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
