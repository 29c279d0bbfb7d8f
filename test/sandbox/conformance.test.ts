/**
 * Conformance: replay the request of each azure-examples file against the sandbox and check the status code and
 * that every field of the example's body exists with the same JSON type (error files: the same `code`s).
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NetworkManagementClient } from "@azure/arm-network";
import { call, certificateCredential, createVault, registerAppWithCert, assignRole, secretCredential, sleep, startTestSandbox, tokenFor, SECRETS_OFFICER, type AppWithCert, type TestSandbox } from "./helpers.js";

const EXAMPLES = "/work/shared/azure-examples";
const example = (p: string): any => JSON.parse(readFileSync(`${EXAMPLES}/${p}`, "utf8"));
const ZERO = "00000000-0000-0000-0000-000000000000";
/** Fields present in the spec examples only as artefacts of their sample data (HSM-backed vault). */
const IGNORED = new Set(["hsmPoolResourceId"]);

function shapeDiff(expected: unknown, actual: unknown, path = "$"): string[] {
  if (expected === null) return [];
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return [`${path}: expected an array, got ${JSON.stringify(actual)?.slice(0, 40)}`];
    if (expected.length === 0) return [];
    return actual.flatMap((a, i) => shapeDiff(expected[0], a, `${path}[${i}]`));
  }
  if (typeof expected === "object") {
    if (typeof actual !== "object" || actual === null || Array.isArray(actual)) return [`${path}: expected an object`];
    return Object.keys(expected)
      .filter((k) => !IGNORED.has(k) && !k.startsWith("_"))
      .flatMap((k) => (k in actual ? shapeDiff((expected as any)[k], (actual as any)[k], `${path}.${k}`) : [`${path}.${k}: missing`]));
  }
  // A null value is allowed for a scalar: Graph and ARM scalars are nullable (e.g. Graph's samlMetadataUrl).
  return typeof actual === typeof expected || actual === null ? [] : [`${path}: expected ${typeof expected}, got ${typeof actual}`];
}

function expectConforms(res: { status: number; body: unknown }, responses: Record<string, { body?: unknown }>): void {
  expect(Object.keys(responses)).toContain(String(res.status));
  const body = responses[String(res.status)]?.body;
  if (body !== undefined) expect(shapeDiff(body, res.body)).toEqual([]);
}

describe("conformance with azure-examples", () => {
  let t: TestSandbox;
  let arm: string;
  let armToken: string;
  let sub: string;
  let rgPath: string;
  beforeAll(async () => {
    t = await startTestSandbox();
    arm = t.sb.cloud.armEndpoint;
    armToken = await tokenFor(t.sb, arm);
    sub = `/subscriptions/${t.sb.subscriptionId}`;
    rgPath = `${sub}/resourceGroups/${t.sb.resourceGroup}`;
  });
  afterAll(async () => t.dispose());

  describe("network + keyvault-arm", () => {
    const vaultPath = () => `${rgPath}/providers/Microsoft.KeyVault/vaults/sample-vault`;
    let subnetId = "";

    it("network/SubnetCreateServiceEndpoint + SubnetGet (through @azure/arm-network)", async () => {
      const net = new NetworkManagementClient(secretCredential(t.sb), t.sb.subscriptionId, { endpoint: arm });
      await net.virtualNetworks.createOrUpdate(t.sb.resourceGroup, "test-vnet", { location: t.sb.location, addressSpace: { addressPrefixes: ["10.0.0.0/16"] } }, { updateIntervalInMs: 10 }).pollUntilDone();
      const ex = example("network/SubnetCreateServiceEndpoint.json");
      const put = await call("PUT", `${arm}${rgPath}/providers/Microsoft.Network/virtualNetworks/test-vnet/subnets/subnet1?api-version=2026-01-01`, {
        token: armToken,
        body: { properties: { ...ex.parameters.subnetParameters.properties, serviceEndpoints: [{ service: "Microsoft.KeyVault" }] } },
      });
      expectConforms(put, ex.responses);
      expect(put.headers.get("azure-asyncoperation")).toMatch(/^https:\/\/localhost:\d+\/.+operations\//);
      const got = await net.subnets.get(t.sb.resourceGroup, "test-vnet", "subnet1");
      expect(got.serviceEndpoints?.map((e) => e.service)).toEqual(["Microsoft.KeyVault"]);
      subnetId = got.id ?? "";
      const raw = await call("GET", `${arm}${subnetId}?api-version=2026-01-01`, { token: armToken });
      expectConforms(raw, example("network/SubnetGet.json").responses);
    });

    it("checkVaultNameAvailability", async () => {
      const ex = example("keyvault-arm/checkVaultNameAvailability.json");
      const res = await call("POST", `${arm}${sub}/providers/Microsoft.KeyVault/checkNameAvailability?api-version=2026-02-01`, { token: armToken, body: ex.parameters.vaultName });
      expectConforms(res, ex.responses);
    });

    it("createVaultWithNetworkAcls (IP normalised to /32, subnet id lower-cased)", async () => {
      const ex = example("keyvault-arm/createVaultWithNetworkAcls.json");
      const body = structuredClone(ex.parameters.parameters);
      body.location = t.sb.location;
      body.properties.tenantId = t.sb.tenantId;
      body.properties.networkAcls.virtualNetworkRules = [{ id: subnetId }];
      const res = await call("PUT", `${arm}${vaultPath()}?api-version=2026-02-01`, { token: armToken, body });
      expectConforms(res, ex.responses);
      expect(res.body.properties.networkAcls.ipRules).toEqual(ex.responses["200"].body.properties.networkAcls.ipRules);
      expect(res.body.properties.networkAcls.virtualNetworkRules[0].id).toBe(subnetId.toLowerCase());
    });

    it("updateVault (PATCH)", async () => {
      const ex = example("keyvault-arm/updateVault.json");
      const body = JSON.parse(JSON.stringify(ex.parameters.parameters).replaceAll(ZERO, t.sb.tenantId));
      const res = await call("PATCH", `${arm}${vaultPath()}?api-version=2026-02-01`, { token: armToken, body });
      expectConforms(res, ex.responses);
    });

    it("getVault", async () => {
      const res = await call("GET", `${arm}${vaultPath()}?api-version=2026-02-01`, { token: armToken });
      expectConforms(res, example("keyvault-arm/getVault.json").responses);
      expect(res.body.properties.vaultUri).toMatch(/^https:\/\/localhost:\d+\/$/);
    });

    it("errors.reported: VaultAlreadyExists, ConflictError, VaultNameNotValid", async () => {
      const cases = example("keyvault-arm/errors.reported.json").cases as { status: number; body: { error: { code: string } } }[];
      const body = { location: t.sb.location, properties: { tenantId: t.sb.tenantId, sku: { family: "A", name: "standard" } } };
      const taken = await call("PUT", `${arm}${rgPath}/providers/Microsoft.KeyVault/vaults/contoso-taken-kv?api-version=2026-02-01`, { token: armToken, body });
      const invalid = await call("PUT", `${arm}${rgPath}/providers/Microsoft.KeyVault/vaults/6e49f4337c8b?api-version=2026-02-01`, { token: armToken, body });
      await createVault(t.sb, "kv-conflict-1");
      await call("DELETE", `${arm}${rgPath}/providers/Microsoft.KeyVault/vaults/kv-conflict-1?api-version=2026-02-01`, { token: armToken });
      const conflict = await call("PUT", `${arm}${rgPath}/providers/Microsoft.KeyVault/vaults/kv-conflict-1?api-version=2026-02-01`, { token: armToken, body });
      for (const [res, c] of [[taken, cases[0]], [conflict, cases[1]], [invalid, cases[2]]] as const) {
        expect(res.status).toBe(c?.status);
        expect(res.body.error.code).toBe(c?.body.error.code);
        expect(shapeDiff(c?.body, res.body)).toEqual([]);
      }
      expect(invalid.body.error.message).toBe("The vault name '6e49f4337c8b' is invalid.");
    });

    it("deleteVault, getDeletedVault, listDeletedVaults (paged), purgeDeletedVault", async () => {
      const del = await call("DELETE", `${arm}${vaultPath()}?api-version=2026-02-01`, { token: armToken });
      expectConforms(del, example("keyvault-arm/deleteVault.json").responses);
      const got = await call("GET", `${arm}${sub}/providers/Microsoft.KeyVault/locations/${t.sb.location}/deletedVaults/sample-vault?api-version=2026-02-01`, { token: armToken });
      expectConforms(got, example("keyvault-arm/getDeletedVault.json").responses);
      const listed = await call("GET", `${arm}${sub}/providers/Microsoft.KeyVault/deletedVaults?api-version=2026-02-01&$top=1`, { token: armToken });
      expectConforms(listed, example("keyvault-arm/listDeletedVaults.json").responses);
      const next = await call("GET", listed.body.nextLink, { token: armToken });
      expect(next.body.value).toHaveLength(1);
      const purge = await call("POST", `${arm}${sub}/providers/Microsoft.KeyVault/locations/${t.sb.location}/deletedVaults/sample-vault/purge?api-version=2026-02-01`, { token: armToken });
      expectConforms(purge, example("keyvault-arm/purgeDeletedVault.json").responses);
      expect(purge.headers.get("location")).toMatch(/operationResults/);
      expect((await call("GET", purge.headers.get("location") ?? "", { token: armToken })).status).toBe(200);
    });
  });

  describe("authorization", () => {
    let app: AppWithCert;
    let vaultId = "";
    beforeAll(async () => {
      app = await registerAppWithCert(t.sb, "conformance-authz");
      vaultId = (await createVault(t.sb, "kv-authz-1")).id;
    });

    it("RoleAssignments_CreateForResource, ListForScope, RoleAssignmentExists", async () => {
      const ex = example("authorization/RoleAssignments_CreateForResource.json");
      const url = `${arm}/${vaultId.slice(1)}/providers/Microsoft.Authorization/roleAssignments/${ex.parameters.roleAssignmentName}?api-version=2022-04-01`;
      const body = { properties: { roleDefinitionId: `${sub}/providers/Microsoft.Authorization/roleDefinitions/${SECRETS_OFFICER}`, principalId: app.spId, principalType: "ServicePrincipal" } };
      const res = await call("PUT", url, { token: armToken, body });
      expectConforms(res, ex.responses);
      const list = await call("GET", `${arm}/${vaultId.slice(1)}/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01`, { token: armToken });
      expectConforms(list, example("authorization/RoleAssignments_ListForScope.json").responses);
      const errors = example("authorization/errors.reported.json").cases;
      const again = await call("PUT", url.replace(ex.parameters.roleAssignmentName, crypto.randomUUID()), { token: armToken, body });
      expect([again.status, again.body.error.code]).toEqual([errors[0].status, errors[0].body.error.code]);
      expect(again.body.error.message).toBe(errors[0].body.error.message);
    });

    it("PrincipalNotFound and AuthorizationFailed (x-ms-failure-cause: gateway)", async () => {
      const errors = example("authorization/errors.reported.json").cases;
      const url = `${arm}//${vaultId.slice(1)}/providers/Microsoft.Authorization/roleAssignments/${crypto.randomUUID()}?api-version=2022-04-01`;
      const body = { properties: { roleDefinitionId: `/providers/Microsoft.Authorization/roleDefinitions/${SECRETS_OFFICER}`, principalId: crypto.randomUUID() } };
      const missing = await call("PUT", url, { token: armToken, body });
      expect([missing.status, missing.body.error.code]).toEqual([errors[1].status, errors[1].body.error.code]);
      const limitedToken = await tokenFor(t.sb, arm, t.sb.limitedOperator);
      const denied = await call("PUT", url, { token: limitedToken, body: { properties: { ...body.properties, principalId: app.spId, principalType: "ServicePrincipal" } } });
      expect([denied.status, denied.body.error.code]).toEqual([errors[2].status, errors[2].body.error.code]);
      expect(denied.headers.get("x-ms-failure-cause")).toBe("gateway");
      expect(denied.body.error.message).toContain(`over scope '${vaultId}/providers/Microsoft.Authorization/roleAssignments/`);
    });

    it("GetRoleDefinitionByName and the built-in Key Vault Secrets Officer", async () => {
      const res = await call("GET", `${arm}${sub}/providers/Microsoft.Authorization/roleDefinitions/${SECRETS_OFFICER}?api-version=2022-04-01`, { token: armToken });
      expectConforms(res, example("authorization/GetRoleDefinitionByName.json").responses);
      const builtin = example("authorization/builtin-role-KeyVaultSecretsOfficer.json");
      expect(res.body.properties.permissions).toEqual(builtin.permissions);
      expect(res.body.properties.roleName).toBe(builtin.roleName);
      expect(res.body.properties.description).toBe(builtin.description);
    });
  });

  describe("entra", () => {
    it("instance discovery, OpenID configuration, token, AADSTS7000215, AADSTS700016", async () => {
      const a = t.sb.cloud.authorityHost;
      const disc = await call("GET", `${a}/common/discovery/instance?api-version=1.1&authorization_endpoint=${a}/${t.sb.tenantId}/oauth2/v2.0/authorize`);
      expect(disc.status).toBe(200);
      expect(shapeDiff(example("entra/instance-discovery.recorded.json").body, disc.body)).toEqual([]);
      const oidc = await call("GET", `${a}/${t.sb.tenantId}/v2.0/.well-known/openid-configuration`);
      expect(shapeDiff(example("entra/openid-configuration.recorded.json").body, oidc.body)).toEqual([]);
      expect(new URL(oidc.body.issuer).origin).toBe(a);
      const form = (fields: Record<string, string>) => ({ body: new URLSearchParams(fields).toString(), headers: { "content-type": "application/x-www-form-urlencoded;charset=utf-8" } });
      const url = `${a}/${t.sb.tenantId}/oauth2/v2.0/token`;
      const ok = await call("POST", url, form({ grant_type: "client_credentials", client_id: t.sb.operator.clientId, client_secret: t.sb.operator.clientSecret, scope: "https://vault.azure.net/.default" }));
      const tokenEx = example("entra/token-client-credentials.recorded.json");
      expect(ok.status).toBe(tokenEx.status);
      expect(shapeDiff(tokenEx.body, ok.body)).toEqual([]);
      expect(ok.body.expires_in).toBeGreaterThanOrEqual(3600);
      for (const [file, fields] of [
        ["entra/error-AADSTS7000215.reported.json", { client_id: t.sb.operator.clientId, client_secret: "wrong" }],
        ["entra/error-AADSTS700016.reported.json", { client_id: crypto.randomUUID(), client_secret: "x" }],
      ] as const) {
        const ex = example(file);
        const res = await call("POST", url, form({ grant_type: "client_credentials", scope: "https://vault.azure.net/.default", ...fields }));
        expect(res.status).toBe(ex.status);
        expect(res.body.error).toBe(ex.body.error);
        expect(res.body.error_codes).toEqual(ex.body.error_codes);
        expect(shapeDiff(ex.body, res.body)).toEqual([]);
        expect(res.body.error_description).toMatch(/\r\nTrace ID: .+\r\nCorrelation ID: .+\r\nTimestamp: \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/);
      }
    });
  });

  describe("graph", () => {
    it("POST applications, POST servicePrincipals, PATCH keyCredentials (204)", async () => {
      const g = t.sb.cloud.graphEndpoint;
      const token = await tokenFor(t.sb, g);
      const appEx = example("graph/application-post-applications.json");
      const app = await call("POST", `${g}/v1.0/applications`, { token, body: appEx.request.body });
      expect(app.status).toBe(appEx.response.status);
      expect(shapeDiff(appEx.response.body, app.body)).toEqual([]);
      const spEx = example("graph/serviceprincipal-post-serviceprincipals.json");
      const sp = await call("POST", `${g}/v1.0/servicePrincipals`, { token, body: { appId: app.body.appId } });
      expect(sp.status).toBe(spEx.response.status);
      expect(shapeDiff(spEx.response.body, sp.body)).toEqual([]);
      const patchEx = example("graph/application-patch-keyCredentials.json");
      const patch = await call("PATCH", `${g}/v1.0/applications/${app.body.id}`, { token, body: patchEx.request.body });
      expect(patch.status).toBe(patchEx.response.status);
      const read = await call("GET", `${g}/v1.0/applications/${app.body.id}?$select=keyCredentials`, { token });
      expect(read.body.keyCredentials.map((k: { key: string }) => k.key)).toEqual([patchEx.request.body.keyCredentials[0].key]);
      expect(shapeDiff(patchEx.request.body.keyCredentials[0], read.body.keyCredentials[0])).toEqual([]);
      // PATCH replaces the whole collection.
      expect((await call("PATCH", `${g}/v1.0/applications/${app.body.id}`, { token, body: { keyCredentials: [] } })).status).toBe(204);
      expect((await call("GET", `${g}/v1.0/applications/${app.body.id}?$select=keyCredentials`, { token })).body.keyCredentials).toEqual([]);
    });

    it("errors.reported: replication-delay codes", async () => {
      const slow = await startTestSandbox({ replicationDelayMs: 5000 });
      try {
        const g = slow.sb.cloud.graphEndpoint;
        const token = await tokenFor(slow.sb, g);
        const app = await call("POST", `${g}/v1.0/applications`, { token, body: { displayName: "slow" } });
        const cases = example("graph/errors.reported.json").cases;
        const patch = await call("PATCH", `${g}/v1.0/applications/${app.body.id}`, { token, body: { notes: "x" } });
        const sp = await call("POST", `${g}/v1.0/servicePrincipals`, { token, body: { appId: app.body.appId } });
        for (const [res, c] of [[patch, cases[0]], [sp, cases[1]]]) {
          expect([res.status, res.body.error.code]).toEqual([c.status, c.body.error.code]);
          expect(shapeDiff(c.body, res.body)).toEqual([]);
        }
      } finally {
        await slow.dispose();
      }
    });
  });

  describe("keyvault-data", () => {
    let vault = { id: "", uri: "" };
    let token = "";
    beforeAll(async () => {
      const app = await registerAppWithCert(t.sb, "conformance-kv");
      vault = await createVault(t.sb, "kv-data-1", { softDeleteRetentionInDays: 7 });
      await assignRole(t.sb, vault.id, SECRETS_OFFICER, app.spId);
      token = (await certificateCredential(t.sb, app.appId, app.cert.pem).getToken("https://vault.azure.net/.default")).token;
    });
    const kv = (path: string) => `${vault.uri}${path}${path.includes("?") ? "&" : "?"}api%2Dversion=2026-04-01`;

    it("challenge-401 on the first, unauthenticated request (before the body is read)", async () => {
      const ex = example("keyvault-data/challenge-401.recorded.json");
      const res = await call("PUT", kv("secrets/x"), { headers: { "content-type": "application/json" } });
      expect(res.status).toBe(ex.status);
      expect(res.body.error.code).toBe(ex.body.error.code);
      expect(res.headers.get("www-authenticate")).toBe(`Bearer authorization="${t.sb.cloud.authorityHost}/${t.sb.tenantId}", resource="https://vault.azure.net"`);
    });

    it("SetSecret, GetSecret, GetSecrets (paged), secret-not-found-404", async () => {
      const set = await call("PUT", kv("secrets/crpsecret"), { token, body: { ...example("keyvault-data/SetSecret-example.json").parameters.parameters, contentType: "plainText" } });
      expectConforms(set, example("keyvault-data/SetSecret-example.json").responses);
      const version = set.body.id.split("/").pop();
      const get = await call("GET", kv(`secrets/crpsecret/${version}`), { token });
      expectConforms(get, example("keyvault-data/GetSecret-example.json").responses);
      await call("PUT", kv("secrets/crpsecret2"), { token, body: { value: "v2", contentType: "plainText" } });
      const list = await call("GET", kv("secrets?maxresults=1"), { token });
      expectConforms(list, example("keyvault-data/GetSecrets-example.json").responses);
      const page2 = await call("GET", list.body.nextLink, { token });
      expect(page2.body.value.map((s: { id: string }) => s.id)).toEqual([`${vault.uri}secrets/crpsecret2`]);
      const missing = await call("GET", kv("secrets/nope/"), { token });
      const ex = example("keyvault-data/secret-not-found-404.recorded.json");
      expect([missing.status, missing.body.error.code]).toEqual([ex.status, ex.body.error.code]);
    });

    it("DeleteSecret, deleted-secret-pending-404, GetDeletedSecret, PurgeDeletedSecret, ObjectIsDeletedButRecoverable", async () => {
      const del = await call("DELETE", kv("secrets/crpsecret"), { token });
      expectConforms(del, example("keyvault-data/DeleteSecret-example.json").responses);
      const pending = await call("GET", kv("deletedsecrets/crpsecret"), { token });
      const pendingEx = example("keyvault-data/deleted-secret-pending-404.recorded.json");
      expect([pending.status, pending.body.error.code]).toEqual([pendingEx.status, pendingEx.body.error.code]);
      const reuse = await call("PUT", kv("secrets/crpsecret"), { token, body: { value: "again" } });
      expect([reuse.status, reuse.body.error.innererror.code]).toEqual([409, "ObjectIsDeletedButRecoverable"]);
      await sleep(200);
      const got = await call("GET", kv("deletedsecrets/crpsecret"), { token });
      expectConforms(got, example("keyvault-data/GetDeletedSecret-example.json").responses);
      const purge = await call("DELETE", kv("deletedsecrets/crpsecret"), { token });
      expectConforms(purge, example("keyvault-data/PurgeDeletedSecret-example.json").responses);
    });

    it("errors-403: ForbiddenByFirewall, ForbiddenByConnection, ForbiddenByRbac", async () => {
      const cases = example("keyvault-data/errors-403.reported.json").cases as { case: string; status: number; body: any }[];
      const byCase = (name: string) => cases.find((c) => c.case.startsWith(name));
      const rbac = await call("GET", kv("secrets/crpsecret2/"), { token: await tokenFor(t.sb, "https://vault.azure.net") });
      const armUrl = `${arm}${vault.id}?api-version=2026-02-01`;
      await call("PATCH", armUrl, { token: armToken, body: { properties: { networkAcls: { defaultAction: "Deny", ipRules: [] } } } });
      const fw = await call("GET", kv("secrets/crpsecret2/"), { token });
      await call("PATCH", armUrl, { token: armToken, body: { properties: { publicNetworkAccess: "Disabled" } } });
      const conn = await call("GET", kv("secrets/crpsecret2/"), { token });
      for (const [res, c] of [[fw, byCase("ForbiddenByFirewall")], [conn, byCase("ForbiddenByConnection")], [rbac, byCase("ForbiddenByRbac")]] as const) {
        expect([res.status, res.body.error.code, res.body.error.innererror.code]).toEqual([c?.status, c?.body.error.code, c?.body.error.innererror.code]);
      }
      expect(fw.body.error.message).toMatch(/^Client address is not authorized and caller is not a trusted service\.\r\nClient address: 198\.51\.100\.23\r\nCaller: appid=.+;oid=.+;iss=https:\/\/sts\.windows\.net\/.+\/\r\nVault: kv-data-1;location=eastus$/);
      expect(rbac.body.error.message).toContain(`Resource: '${vault.id.toLowerCase()}/secrets/crpsecret2'`);
    });
  });
});
