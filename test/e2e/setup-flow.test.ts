/**
 * The built CLI as a separate process against `sandbox start`: a full non-interactive setup beside a pre-existing
 * credential, CrashPlan's migration, verify and status; then a second setup and --plan runs that write nothing.
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, type CliResult } from "../helpers/cli.js";
import { SandboxServer, writes } from "../helpers/sandbox-server.js";
import { selfSignedCertificate } from "../helpers/cert-fixtures.js";
import { expectNoSecrets, expectPrivateFiles } from "../helpers/secrets.js";

const SECRETS_OFFICER = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7";
const inputs = ["--location", "eastus", "--crashplan-ip", "203.0.113.0/24", "--crashplan-ips-source", "e2e test", "--key-size", "2048"];

function foreignCertificateDer(): string {
  return selfSignedCertificate({ commonName: "someone-elses-tool" }).der.toString("base64");
}

describe("setup against a sandbox server", () => {
  let server: SandboxServer;
  let cwd: string;
  let workdir: string;
  const runs: CliResult[] = [];
  const cli = async (args: string[], umask?: string): Promise<CliResult> => {
    const result = await runCli([...args, ...server.cloudArgs()], { cwd, env: server.env(), ...(umask ? { umask } : {}) });
    runs.push(result);
    return result;
  };
  const state = (): any => JSON.parse(readFileSync(join(workdir, "state.json"), "utf8"));

  beforeAll(async () => {
    server = await SandboxServer.start();
    cwd = mkdtempSync(join(tmpdir(), "akv-e2e-cwd-"));
    workdir = join(cwd, "akv-crashplan");
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(cwd, { recursive: true, force: true });
  });

  it("registers the app, then setup --yes keeps a foreign credential and creates exactly one of everything", async () => {
    const register = await cli(["app", "register", "--yes"], "000");
    expect(register.code, register.stderr).toBe(0);
    const appObjectId = state().steps.app.outputs.appObjectId as string;
    const foreignKeyId = randomUUID();
    const patched = await server.graph("PATCH", `/v1.0/applications/${appObjectId}`, {
      keyCredentials: [{ keyId: foreignKeyId, type: "AsymmetricX509Cert", usage: "Verify", key: foreignCertificateDer(), displayName: "another tool's certificate" }],
    });
    expect(patched.status, JSON.stringify(patched.body)).toBe(204);

    const setup = await cli(["setup", "--yes", "--json", ...inputs], "000");
    expect(setup.code, setup.stderr).toBe(0);
    const doc = JSON.parse(setup.stdout);
    expect(doc.ok).toBe(true);
    expect(doc.steps.map((s: { result: string }) => s.result).every((r: string) => r === "done" || r === "already done")).toBe(true);

    const res = await server.resources();
    expect(res.vaults).toHaveLength(1);
    const vault = res.vaults[0]!;
    expect(vault.properties.enableRbacAuthorization).toBe(true);
    expect(vault.properties.networkAcls?.defaultAction).toBe("Deny");
    // Exactly the CrashPlan rule: the temporary rule for this machine is gone after validation.
    expect(vault.properties.networkAcls?.ipRules.map((r) => r.value)).toEqual(["203.0.113.0/24"]);

    const ours = res.applications.filter((a) => a.id === appObjectId);
    expect(ours).toHaveLength(1);
    expect(res.applications.filter((a) => a.displayName === "key-vault-crashplan")).toHaveLength(1);
    const creds = ours[0]!.keyCredentials;
    expect(creds).toHaveLength(2);
    expect(creds.filter((c) => c.keyId === foreignKeyId)).toHaveLength(1);
    const sha1 = state().steps.cert.outputs.sha1 as string;
    expect(creds.filter((c) => c.sha1 === sha1.toUpperCase())).toHaveLength(1);

    const sps = res.servicePrincipals.filter((sp) => sp.appId === ours[0]!.appId);
    expect(sps).toHaveLength(1);
    const onVault = res.roleAssignments.filter((a) => a.scope.toLowerCase().includes("/providers/microsoft.keyvault/vaults/"));
    expect(onVault).toHaveLength(1);
    expect(onVault[0]).toMatchObject({ roleDefinitionGuid: SECRETS_OFFICER, scope: vault.id, principalId: sps[0]!.id, principalType: "ServicePrincipal" });

    expectPrivateFiles(workdir);
  });

  it("CrashPlan migrates with the PFX, migrate --verify reports the entries, status --check exits 0", async () => {
    const s = state();
    const migrate = await cli([
      "sandbox", "crashplan-migrate",
      "--vault-url", s.steps.vault.outputs.vaultUrl,
      "--client-id", s.steps.app.outputs.clientId,
      "--pfx", join(workdir, "service-principal.pfx"),
      "--password-file", join(workdir, "service-principal.pfx.password"),
    ]);
    expect(migrate.code, migrate.stderr).toBe(0);

    // Validation closed the firewall again: with --yes, verify opens it for this machine and closes it afterwards.
    const verify = await cli(["migrate", "--verify", "--yes", "--json"]);
    expect(verify.code, verify.stderr).toBe(0);
    const rules = (await server.resources()).vaults[0]!.properties.networkAcls?.ipRules.map((r) => r.value);
    expect(rules).toEqual(["203.0.113.0/24"]);
    expect(verify.stdout).toMatch(/crashplan-keystore|keystoreEntries/);
    const doc = JSON.parse(verify.stdout);
    expect(JSON.stringify(doc)).toMatch(/"keystoreEntries":\s*3/);

    const status = await cli(["status", "--check", "--json"]);
    expect(status.code, status.stderr + status.stdout).toBe(0);
  });

  it("a second setup --yes makes no write request and exits 0", async () => {
    const before = await server.requestCount();
    const again = await cli(["setup", "--yes", ...inputs]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/already done/);
    expect(writes(await server.requestsSince(before))).toEqual([]);
  });

  it("setup --plan and --plan --json make no write", async () => {
    const before = await server.requestCount();
    const plan = await cli(["setup", "--plan", ...inputs]);
    expect(plan.code, plan.stderr).toBe(0);
    const planJson = await cli(["setup", "--plan", "--json", ...inputs]);
    expect(planJson.code, planJson.stderr).toBe(0);
    expect(() => JSON.parse(planJson.stdout)).not.toThrow();
    expect(writes(await server.requestsSince(before))).toEqual([]);
  });

  it("--plan on a fresh workdir lists what would be created and writes nothing", async () => {
    const fresh = mkdtempSync(join(tmpdir(), "akv-e2e-plan-"));
    try {
      const before = await server.requestCount();
      const plan = await runCli(["setup", "--plan", "--json", "--vault-name", "kv-e2e-plan-only", ...inputs, ...server.cloudArgs()], { cwd: fresh, env: server.env() });
      runs.push(plan);
      expect(plan.code, plan.stderr).toBe(0);
      expect(plan.stdout).toMatch(/Key Vault/);
      expect(writes(await server.requestsSince(before))).toEqual([]);
    } finally {
      rmSync(fresh, { recursive: true, force: true });
    }
  });

  it("no secret appears in any output, state, hand-off or log", () => {
    expectNoSecrets(workdir, runs, [server.info.operator.clientSecret]);
  });
});
