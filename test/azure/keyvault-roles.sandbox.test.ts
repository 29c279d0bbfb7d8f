/** KeyVaultManagement and RoleManagement against the in-process sandbox, real SDKs over HTTPS. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ExitCode } from "../../src/errors.js";
import type { NetworkRules } from "../../src/azure/services.js";
import { type AzureTestBed, startAzureTestBed, rejection } from "./helpers/sandbox.js";

const SECRETS_OFFICER = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7";
const ACLS: NetworkRules = { defaultAction: "Deny", bypass: "AzureServices", ipRules: ["203.0.113.0/24", "198.51.100.7"], virtualNetworkRules: [] };

describe("Key Vault management against the sandbox", () => {
  let t: AzureTestBed;
  beforeAll(async () => {
    t = await startAzureTestBed();
  });
  afterAll(async () => {
    await t?.dispose();
  });

  it("checks names, creates an RBAC vault with purge protection and the firewall, finds and reads it", async () => {
    const { keyVault } = t.services;
    const id = await t.services.identity();
    expect(await keyVault.checkNameAvailability("kv-adapter-1")).toEqual({ available: true });
    const taken = await keyVault.checkNameAvailability("contoso-taken-kv");
    expect(taken.available).toBe(false);
    expect(taken.reason).toBe("AlreadyExists");

    const vault = await keyVault.createVault({
      resourceGroup: t.sb.resourceGroup,
      name: "kv-adapter-1",
      location: t.sb.location,
      tenantId: id.tenantId,
      purgeProtection: true,
      networkAcls: ACLS,
      tags: { "managed-by": "akv-crashplan" },
    });
    expect(vault).toMatchObject({
      name: "kv-adapter-1",
      resourceGroup: t.sb.resourceGroup,
      location: t.sb.location,
      tenantId: id.tenantId,
      enableRbacAuthorization: true,
      enableSoftDelete: true,
      enablePurgeProtection: true,
      publicNetworkAccess: "Enabled",
      provisioningState: "Succeeded",
      tags: { "managed-by": "akv-crashplan" },
      networkAcls: { defaultAction: "Deny", bypass: "AzureServices", ipRules: ["203.0.113.0/24", "198.51.100.7/32"], virtualNetworkRules: [] },
    });
    expect(vault.vaultUri).toMatch(/^https:\/\/localhost:\d+\/$/); // as ARM returns it, slash kept
    expect(vault.id).toBe(`/subscriptions/${id.subscriptionId}/resourceGroups/${t.sb.resourceGroup}/providers/Microsoft.KeyVault/vaults/kv-adapter-1`);

    expect(await keyVault.getVault(t.sb.resourceGroup, "kv-adapter-1")).toEqual(vault);
    expect(await keyVault.findVault("KV-ADAPTER-1")).toEqual(vault);
    expect(await keyVault.getVault(t.sb.resourceGroup, "kv-nope")).toBeUndefined();
    expect(await keyVault.findVault("kv-nope")).toBeUndefined();
    expect((await keyVault.checkNameAvailability("kv-adapter-1")).available).toBe(false);
  });

  it("updates the network rules", async () => {
    const updated = await t.services.keyVault.updateVault(t.sb.resourceGroup, "kv-adapter-1", {
      networkAcls: { ...ACLS, ipRules: [...ACLS.ipRules, "192.0.2.1"] },
    });
    expect(updated.networkAcls.ipRules).toEqual(["203.0.113.0/24", "198.51.100.7/32", "192.0.2.1/32"]);
  });

  it("a name taken elsewhere: VaultAlreadyExists (exit 6); a bad name: VaultNameNotValid (exit 2)", async () => {
    const { keyVault } = t.services;
    const id = await t.services.identity();
    const base = { resourceGroup: t.sb.resourceGroup, location: t.sb.location, tenantId: id.tenantId, purgeProtection: true, networkAcls: ACLS, tags: {} };
    expect(await rejection(keyVault.createVault({ ...base, name: "contoso-taken-kv" }))).toMatchObject({ code: "VaultAlreadyExists", exitCode: ExitCode.azure });
    expect(await rejection(keyVault.createVault({ ...base, name: "1-bad--name" }))).toMatchObject({ code: "VaultNameNotValid", exitCode: ExitCode.usage });
  });

  it("delete → soft-deleted (found, in this subscription) → ConflictError → recover → delete and purge", async () => {
    const { keyVault } = t.services;
    const id = await t.services.identity();
    const params = {
      resourceGroup: t.sb.resourceGroup,
      name: "kv-adapter-2",
      location: t.sb.location,
      tenantId: id.tenantId,
      purgeProtection: false,
      networkAcls: ACLS,
      tags: {},
    };
    await keyVault.createVault(params);
    await keyVault.deleteVault(t.sb.resourceGroup, "kv-adapter-2");
    expect(await keyVault.getVault(t.sb.resourceGroup, "kv-adapter-2")).toBeUndefined();

    const deleted = await keyVault.findDeletedVault("kv-adapter-2");
    expect(deleted).toMatchObject({ name: "kv-adapter-2", location: t.sb.location, purgeProtectionEnabled: false, inThisSubscription: true });
    expect(deleted?.vaultId).toContain("/vaults/kv-adapter-2");
    expect(Date.parse(deleted?.scheduledPurgeDate ?? "")).toBeGreaterThan(Date.parse(deleted?.deletionDate ?? ""));
    expect(await keyVault.findDeletedVault("kv-never-existed")).toBeUndefined();

    const conflict = await rejection(keyVault.createVault(params));
    expect(conflict).toMatchObject({ code: "ConflictError", exitCode: ExitCode.azure });
    expect(conflict.hint).toMatch(/recover/);

    const recovered = await keyVault.createVault({ ...params, recover: true });
    expect(recovered.name).toBe("kv-adapter-2");
    expect(await keyVault.findDeletedVault("kv-adapter-2")).toBeUndefined();

    await keyVault.deleteVault(t.sb.resourceGroup, "kv-adapter-2");
    await keyVault.purgeDeletedVault("kv-adapter-2", t.sb.location);
    expect(await keyVault.findDeletedVault("kv-adapter-2")).toBeUndefined();
    expect(await keyVault.checkNameAvailability("kv-adapter-2")).toEqual({ available: true });
  });
});

describe("role management against the sandbox", () => {
  let t: AzureTestBed;
  let vaultId: string;
  beforeAll(async () => {
    t = await startAzureTestBed();
    const id = await t.services.identity();
    const vault = await t.services.keyVault.createVault({
      resourceGroup: t.sb.resourceGroup,
      name: "kv-roles-1",
      location: t.sb.location,
      tenantId: id.tenantId,
      purgeProtection: true,
      networkAcls: ACLS,
      tags: {},
    });
    vaultId = vault.id;
  });
  afterAll(async () => {
    await t?.dispose();
  });

  it("reads role definitions by id and by name at the vault scope (leading slash handled)", async () => {
    const byId = await t.services.roles.getRoleDefinition(vaultId, SECRETS_OFFICER);
    expect(byId).toMatchObject({ name: SECRETS_OFFICER, roleName: "Key Vault Secrets Officer" });
    expect(byId?.dataActions).toContain("Microsoft.KeyVault/vaults/secrets/*");
    expect(byId?.id).toMatch(new RegExp(`/roleDefinitions/${SECRETS_OFFICER}$`));
    const byName = await t.services.roles.findRoleDefinitionByName(vaultId, "Key Vault Secrets Officer");
    expect(byName?.name).toBe(SECRETS_OFFICER);
    expect(await t.services.roles.findRoleDefinitionByName(vaultId, "No Such Role")).toBeUndefined();
    expect(await t.services.roles.getRoleDefinition(vaultId, "00000000-0000-0000-0000-00000000dead")).toBeUndefined();
  });

  it("creates, reads, lists and deletes a role assignment; the same triple again is RoleAssignmentExists", async () => {
    const { roles, directory } = t.services;
    const app = await directory.createApplication({ displayName: "roles-test", tags: [] });
    const sp = await directory.createServicePrincipal(app.appId, []);
    const definition = await roles.getRoleDefinition(vaultId, SECRETS_OFFICER);
    const name = "6f1c3a52-0d7e-4a8a-9b8e-0c7d9f3e2a11";
    const created = await roles.createRoleAssignment({
      scope: vaultId,
      name,
      roleDefinitionId: definition?.id ?? "",
      principalId: sp.id,
      principalType: "ServicePrincipal",
      description: "akv-crashplan test",
    });
    expect(created).toMatchObject({ name, principalId: sp.id, principalType: "ServicePrincipal" });
    expect(created.scope.toLowerCase()).toBe(vaultId.toLowerCase());
    expect(created.id).toBe(`${vaultId}/providers/Microsoft.Authorization/roleAssignments/${name}`);
    expect(await roles.getRoleAssignment(vaultId, name)).toMatchObject({ name, principalId: sp.id });
    expect(await roles.getRoleAssignment(vaultId, "11111111-2222-3333-4444-555555555555")).toBeUndefined();
    expect((await roles.listRoleAssignments(vaultId, sp.id)).map((a) => a.name)).toEqual([name]);
    expect((await roles.listRoleAssignments(vaultId)).map((a) => a.name)).toContain(name);

    const again = await rejection(
      roles.createRoleAssignment({ scope: vaultId, name: "0a0a0a0a-0d7e-4a8a-9b8e-0c7d9f3e2a11", roleDefinitionId: definition?.id ?? "", principalId: sp.id, principalType: "ServicePrincipal" }),
    );
    expect(again).toMatchObject({ code: "RoleAssignmentExists", exitCode: ExitCode.azure });

    await roles.deleteRoleAssignment(created.id);
    expect(await roles.getRoleAssignment(vaultId, name)).toBeUndefined();
    await roles.deleteRoleAssignment(created.id); // already gone: fine
  });

  it("permissionsAt reads the caller's effective permissions at vault, group and subscription scope", async () => {
    const id = await t.services.identity();
    for (const scope of [vaultId, `/subscriptions/${id.subscriptionId}/resourceGroups/${t.sb.resourceGroup}`, `/subscriptions/${id.subscriptionId}`]) {
      const sets = await t.services.roles.permissionsAt(scope);
      expect(sets.flatMap((s) => s.actions)).toContain("*");
    }
  });

  it("a limited operator gets exit 5 with the role to ask for", async () => {
    const limited = t.servicesAs(t.sb.limitedOperator);
    const error = await rejection(
      limited.roles.createRoleAssignment({
        scope: vaultId,
        name: "7e1c3a52-0d7e-4a8a-9b8e-0c7d9f3e2a11",
        roleDefinitionId: `/providers/Microsoft.Authorization/roleDefinitions/${SECRETS_OFFICER}`,
        principalId: t.sb.limitedOperator.objectId,
        principalType: "ServicePrincipal",
      }),
    );
    expect(error).toMatchObject({ code: "AuthorizationFailed", exitCode: ExitCode.permission });
    expect(error.hint).toContain("'User Access Administrator' or 'Owner'");
    const perms = await limited.roles.permissionsAt(vaultId);
    expect(perms.flatMap((p) => p.actions)).not.toContain("*");
  });
});
