/**
 * The realism knobs of a sandbox server against the built CLI: replication and RBAC propagation delays, a
 * firewalled operator address, bounded 429/503 faults, a permanent fault and its resumption, a limited operator,
 * and two setups racing for one workdir.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { hasStackTrace, runCli, type CliResult } from "../helpers/cli.js";
import { SandboxServer } from "../helpers/sandbox-server.js";
import type { SandboxConfig, SandboxSnapshot } from "../../src/sandbox/types.js";
import { expectNoSecrets } from "../helpers/secrets.js";

const inputs = ["--location", "eastus", "--crashplan-ip", "203.0.113.0/24", "--crashplan-ips-source", "e2e", "--key-size", "2048", "--wait", "2m"];

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function serverWith(config: SandboxConfig, root?: string): Promise<SandboxServer> {
  const server = await SandboxServer.start(config, root);
  cleanups.push(() => server.stop());
  return server;
}

function tempCwd(): string {
  const cwd = mkdtempSync(join(tmpdir(), "akv-e2e-pit-"));
  cleanups.push(async () => rmSync(cwd, { recursive: true, force: true }));
  return cwd;
}

async function setup(server: SandboxServer, cwd: string, extra: string[] = [], who: "operator" | "limitedOperator" = "operator"): Promise<CliResult> {
  return runCli(["setup", "--yes", ...inputs, ...extra, ...server.cloudArgs()], { cwd, env: server.env(who), timeoutMs: 90_000 });
}

/** One of everything setup creates, and no temporary rule left. */
function expectOneOfEverything(res: SandboxSnapshot): void {
  expect(res.vaults).toHaveLength(1);
  expect(res.vaults[0]!.properties.networkAcls?.ipRules.map((r) => r.value)).toEqual(["203.0.113.0/24"]);
  const apps = res.applications.filter((a) => a.displayName === "key-vault-crashplan");
  expect(apps).toHaveLength(1);
  expect(apps[0]!.keyCredentials).toHaveLength(1);
  expect(res.servicePrincipals.filter((sp) => sp.appId === apps[0]!.appId)).toHaveLength(1);
  expect(res.roleAssignments.filter((a) => a.scope === res.vaults[0]!.id)).toHaveLength(1);
}

describe("realism knobs", () => {
  it("replication 1500 ms and RBAC propagation 2000 ms: completes, nothing twice", async () => {
    const server = await serverWith({ replicationDelayMs: 1500, rbacPropagationDelayMs: 2000 });
    const cwd = tempCwd();
    const run = await setup(server, cwd);
    expect(run.code, run.stderr).toBe(0);
    expectOneOfEverything(await server.resources());
    expectNoSecrets(join(cwd, "akv-crashplan"), [run], [server.info.operator.clientSecret]);
  });

  it("the operator's address firewalled: learned from ForbiddenByFirewall, added with --yes, removed afterwards", async () => {
    const server = await serverWith({ clientIp: "192.0.2.77" });
    const cwd = tempCwd();
    const run = await setup(server, cwd);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain("192.0.2.77/32");
    const log = await server.requests();
    const patches = log.filter((e) => e.method === "PATCH" && e.path.includes("/vaults/") && e.write);
    expect(patches.length).toBe(3); // CrashPlan's rule, the temporary rule, its removal
    expectOneOfEverything(await server.resources());
  });

  it("bounded 429 (Retry-After) and 503 on each kind of write: completes, nothing twice", async () => {
    const server = await serverWith({
      faults: [
        { service: "arm", method: "PUT", pathPattern: "/vaults/[^/?]+\\?", status: 429, retryAfterSeconds: 1, times: 2 },
        // The Graph client backs off 3 s and more per retry: one fault each keeps the suite short.
        { service: "graph", method: "POST", pathPattern: "^/v1.0/applications$", status: 503, times: 1 },
        { service: "graph", method: "PATCH", pathPattern: "^/v1.0/applications/", status: 503, times: 1 },
        { service: "arm", method: "PUT", pathPattern: "roleAssignments", status: 503, times: 2 },
        { service: "keyvault", method: "PUT", status: 429, retryAfterSeconds: 1, times: 1 },
      ],
    });
    const cwd = tempCwd();
    const run = await setup(server, cwd);
    expect(run.code, run.stderr).toBe(0);
    expect((await server.requests()).filter((e) => e.status === 429 || e.status === 503).length).toBe(7);
    expectOneOfEverything(await server.resources());
  });

  it("a permanent 503 on the role assignment: exit 6 with a clear message; a rerun without it completes", async () => {
    const server = await serverWith({ faults: [{ service: "arm", method: "PUT", pathPattern: "roleAssignments", status: 503, times: 1000 }] });
    const cwd = tempCwd();
    const failed = await setup(server, cwd);
    expect(failed.code, failed.stderr).toBe(6);
    expect(failed.stderr).toMatch(/503|unavailable/i);
    expect(failed.stderr).toMatch(/role/i);
    expect(hasStackTrace(failed.stderr)).toBe(false);
    const state = JSON.parse(readFileSync(join(cwd, "akv-crashplan", "state.json"), "utf8"));
    expect(state.steps.grant.status).not.toBe("done");

    await server.stop({ keep: true });
    const healthy = await serverWith({}, server.root);
    const resumed = await setup(healthy, cwd);
    expect(resumed.code, resumed.stderr).toBe(0);
    expectOneOfEverything(await healthy.resources());
    expectNoSecrets(join(cwd, "akv-crashplan"), [failed, resumed], [server.info.operator.clientSecret]);
  });

  it("the limited operator: app registration refused (exit 5); grant refused (exit 5) naming the role needed", async () => {
    const server = await serverWith({});
    const refusedApp = await runCli(["app", "register", "--yes", ...server.cloudArgs()], { cwd: tempCwd(), env: server.env("limitedOperator") });
    expect(refusedApp.code, refusedApp.stderr).toBe(5);
    expect(hasStackTrace(refusedApp.stderr)).toBe(false);

    const cwd = tempCwd();
    const before = await setup(server, cwd, ["--only", "vault", "app", "cert", "upload"]);
    expect(before.code, before.stderr).toBe(0);
    const grant = await runCli(["grant", "--yes", ...server.cloudArgs()], { cwd, env: server.env("limitedOperator") });
    expect(grant.code, grant.stderr).toBe(5);
    expect(grant.stderr).toMatch(/User Access Administrator|Owner/);
    expect(hasStackTrace(grant.stderr)).toBe(false);
  });
});

describe("two setups on one workdir", () => {
  it("one proceeds, the other exits 7 naming the holder", async () => {
    const server = await serverWith({ latencyMs: 50 });
    const cwd = tempCwd();
    const [a, b] = await Promise.all([setup(server, cwd), setup(server, cwd)]);
    const codes = [a.code, b.code].sort();
    expect(codes, a.stderr + b.stderr).toEqual([0, 7]);
    const loser = a.code === 7 ? a : b;
    expect(loser.stderr).toMatch(/pid \d+/);
    expect(hasStackTrace(loser.stderr)).toBe(false);
    expectOneOfEverything(await server.resources());
    JSON.parse(readFileSync(join(cwd, "akv-crashplan", "state.json"), "utf8"));
  });
});
