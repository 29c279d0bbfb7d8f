/**
 * What is already there when the operator arrives: a vault name held by a soft-deleted vault, an old
 * access-policy vault, a name taken elsewhere in Azure, and an unrelated app with the same display name.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hasStackTrace, runCli, type CliResult } from "../helpers/cli.js";
import { SandboxServer, writes } from "../helpers/sandbox-server.js";

let server: SandboxServer;
const dirs: string[] = [];
beforeAll(async () => {
  server = await SandboxServer.start({});
});
afterAll(async () => {
  await server.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function cwd(): string {
  const dir = mkdtempSync(join(tmpdir(), "akv-e2e-adopt-"));
  dirs.push(dir);
  return dir;
}

function cli(args: string[], dir: string): Promise<CliResult> {
  return runCli([...args, "--non-interactive", ...server.cloudArgs()], { cwd: dir, env: server.env(), timeoutMs: 60_000 });
}

const rg = "rg-crashplan";
const vaultPath = (name: string) => `/subscriptions/${server.info.subscriptionId}/resourceGroups/${rg}/providers/Microsoft.KeyVault/vaults/${name}?api-version=2026-02-01`;

describe("what is already in the tenant", () => {
  it("a name held by a soft-deleted vault is explained with its dates, never purged, and recovered only when asked", async () => {
    const name = "kv-soft-deleted-01";
    const first = await cli(["vault", "create", "--resource-group", rg, "--location", "eastus", "--vault-name", name], cwd());
    expect(first.code, first.stderr).toBe(0);
    expect((await server.arm("DELETE", vaultPath(name))).status).toBeLessThan(300);

    const dir = cwd();
    const before = await server.requestCount();
    const refused = await cli(["vault", "create", "--resource-group", rg, "--location", "eastus", "--vault-name", name], dir);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(new RegExp(`"${name}" is held by a soft-deleted vault`));
    expect(refused.stderr).toMatch(/deleted \d{4}-\d{2}-\d{2}, scheduled for purge \d{4}-\d{2}-\d{2}/);
    expect(refused.stderr).toMatch(/--recover-deleted/);
    expect(hasStackTrace(refused.stderr)).toBe(false);
    expect(writes(await server.requestsSince(before))).toEqual([]);
    const stillDeleted = await server.resources();
    expect(stillDeleted.deletedVaults.some((v) => v.vault.name === name)).toBe(true);

    const recovered = await cli(["vault", "create", "--resource-group", rg, "--location", "eastus", "--vault-name", name, "--recover-deleted"], dir);
    expect(recovered.code, recovered.stderr).toBe(0);
    const after = await server.resources();
    expect(after.vaults.filter((v) => v.name === name)).toHaveLength(1);
    expect(after.deletedVaults.some((v) => v.vault.name === name)).toBe(false);
  });

  it("an existing access-policy vault stops the step before anything changes, and switches only with --switch-to-rbac", async () => {
    const name = "kv-access-policies-01";
    const put = await server.arm("PUT", vaultPath(name), {
      location: "eastus",
      properties: { tenantId: server.info.tenantId, sku: { family: "A", name: "standard" }, enableRbacAuthorization: false, accessPolicies: [] },
    });
    expect(put.status).toBeLessThan(300);
    const dir = cwd();
    const before = await server.requestCount();
    const stopped = await cli(["vault", "create", "--resource-group", rg, "--location", "eastus", "--vault-name", name], dir);
    expect(stopped.code).toBe(3);
    expect(stopped.stderr).toMatch(/uses access policies, not RBAC/);
    expect(stopped.stderr).toMatch(/--switch-to-rbac/);
    expect(writes(await server.requestsSince(before))).toEqual([]);

    const switched = await cli(["vault", "create", "--resource-group", rg, "--location", "eastus", "--vault-name", name, "--switch-to-rbac", "--yes"], dir);
    expect(switched.code, switched.stderr).toBe(0);
    const vault = (await server.resources()).vaults.find((v) => v.name === name)!;
    expect(vault.properties.enableRbacAuthorization).toBe(true);
  });

  it("a vault name taken elsewhere in Azure is refused before any resource is created", async () => {
    const before = await server.requestCount();
    const taken = await cli(["vault", "create", "--resource-group", "rg-new-for-taken", "--location", "eastus", "--vault-name", "contoso-taken-kv"], cwd());
    expect(taken.code).toBe(2);
    expect(taken.stderr).toMatch(/"contoso-taken-kv" is not available/);
    expect(writes(await server.requestsSince(before))).toEqual([]);
    expect((await server.resources()).resourceGroups.some((g) => g.name === "rg-new-for-taken")).toBe(false);
  });

  it("an unrelated app with the same display name is never adopted silently; --adopt-app-id keeps its credentials", async () => {
    const created = await server.graph("POST", "/v1.0/applications", { displayName: "kv-crashplan-shared-name", signInAudience: "AzureADMyOrg" });
    expect(created.status).toBe(201);
    const foreign = created.body as { id: string; appId: string };
    const dir = cwd();
    const before = await server.requestCount();
    const refused = await cli(["app", "register", "--app-name", "kv-crashplan-shared-name"], dir);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`application id ${foreign.appId}`);
    expect(refused.stderr).toMatch(/--adopt-app-id/);
    expect(writes(await server.requestsSince(before))).toEqual([]);

    const adopted = await cli(["app", "register", "--app-name", "kv-crashplan-shared-name", "--adopt-app-id", foreign.appId], dir);
    expect(adopted.code, adopted.stderr).toBe(0);
    const apps = (await server.resources()).applications.filter((a) => a.displayName === "kv-crashplan-shared-name");
    expect(apps).toHaveLength(1);
    expect((await server.resources()).servicePrincipals.filter((sp) => sp.appId === foreign.appId)).toHaveLength(1);
  });

  it("--create-vnet makes a virtual network and subnet with the Key Vault endpoint, or adds the subnet beside the others", async () => {
    const networks = `/subscriptions/${server.info.subscriptionId}/resourceGroups/${rg}/providers/Microsoft.Network/virtualNetworks`;
    const shared = await server.arm("PUT", `${networks}/vnet-shared?api-version=2026-01-01`, {
      location: "eastus",
      properties: { addressSpace: { addressPrefixes: ["10.50.0.0/16"] }, subnets: [{ name: "app", properties: { addressPrefix: "10.50.1.0/24" } }] },
    });
    expect(shared.status).toBeLessThan(300);

    for (const [vnet, vault] of [["vnet-crashplan", "kv-vnet-new-01"], ["vnet-shared", "kv-vnet-shared-01"]] as const) {
      const dir = cwd();
      const extra = vnet === "vnet-shared" ? ["--subnet-prefix", "10.50.9.0/24"] : [];
      const run = await cli(["vault", "create", "--resource-group", rg, "--location", "eastus", "--vault-name", vault, "--create-vnet", vnet, ...extra], dir);
      expect(run.code, run.stderr).toBe(0);
      const res = await server.resources();
      const network = res.virtualNetworks.find((v) => v.name === vnet)!;
      const subnet = network.subnets.find((s) => s.name === "snet-keyvault")!;
      const endpoints = (subnet.properties.serviceEndpoints as Array<{ service: string }> | undefined) ?? [];
      expect(endpoints.map((e) => e.service)).toContain("Microsoft.KeyVault");
      const kv = res.vaults.find((v) => v.name === vault)!;
      expect(kv.properties.networkAcls?.virtualNetworkRules.map((r) => r.id)).toEqual([subnet.id.toLowerCase()]);
      if (vnet === "vnet-shared") expect(network.subnets.map((s) => s.name).sort()).toEqual(["app", "snet-keyvault"]);
      const before = await server.requestCount();
      const again = await cli(["vault", "create", "--create-vnet", vnet], dir);
      expect(again.code, again.stderr).toBe(0);
      expect(writes(await server.requestsSince(before))).toEqual([]);
    }
  });

  it("a vault made without a network rule gets one later from vault create --create-vnet, beside nothing else changed", async () => {
    const dir = cwd();
    const first = await cli(["vault", "create", "--resource-group", rg, "--location", "eastus", "--vault-name", "kv-vnet-later-01"], dir);
    expect(first.code, first.stderr).toBe(0);
    const later = await cli(["vault", "create", "--create-vnet", "vnet-later", "--vnet-address-prefix", "10.60.0.0/16", "--subnet-prefix", "10.60.0.0/24"], dir);
    expect(later.code, later.stderr).toBe(0);
    const res = await server.resources();
    const kv = res.vaults.find((v) => v.name === "kv-vnet-later-01")!;
    const subnet = res.virtualNetworks.find((v) => v.name === "vnet-later")!.subnets[0]!;
    expect(kv.properties.networkAcls?.virtualNetworkRules.map((r) => r.id)).toEqual([subnet.id.toLowerCase()]);
    expect(kv.properties.networkAcls?.defaultAction).toBe("Deny");
  });
});
