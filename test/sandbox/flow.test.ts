/** The whole flow of AZURE-PROTOCOLS.md §7 with the real SDKs over HTTPS. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { authz, certificateCredential, graph, kvArm, makeCert, secretCredential, secrets, startTestSandbox, type TestSandbox } from "./helpers.js";

const SECRETS_OFFICER = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7";

describe("sandbox: full setup flow with the real SDKs", () => {
  let t: TestSandbox;
  beforeAll(async () => {
    t = await startTestSandbox();
  });
  afterAll(async () => {
    await t.dispose();
  });

  it("runs §7 end to end: login, tenant, vault, app, SP, firewall, cert, role, cert login, secrets", async () => {
    const { sb } = t;
    const cred = secretCredential(sb);
    const token = await cred.getToken(`${sb.cloud.armEndpoint}/.default`);
    const claims = JSON.parse(Buffer.from(token.token.split(".")[1] ?? "", "base64url").toString()) as Record<string, unknown>;
    expect(claims).toMatchObject({ aud: sb.cloud.armEndpoint, tid: sb.tenantId, oid: sb.operator.objectId, appid: sb.operator.clientId, idtyp: "app" });

    const g = graph(sb);
    const org = (await g.api("/organization").select("id,displayName").get()) as { value: { id: string }[] };
    expect(org.value[0]?.id).toBe(sb.tenantId);

    const arm = kvArm(sb);
    expect(await arm.vaults.checkNameAvailability({ name: "kv-flow-1", type: "Microsoft.KeyVault/vaults" })).toEqual({ nameAvailable: true });
    const vault = await arm.vaults.beginCreateOrUpdateAndWait(
      sb.resourceGroup,
      "kv-flow-1",
      { location: sb.location, properties: { tenantId: sb.tenantId, sku: { family: "A", name: "standard" }, softDeleteRetentionInDays: 7 } },
      { updateIntervalInMs: 10 },
    );
    expect(vault.properties.enableRbacAuthorization).toBe(true);
    expect(vault.properties.provisioningState).toBe("Succeeded");
    const vaultUri = vault.properties.vaultUri ?? "";
    expect(vaultUri).toMatch(/^https:\/\/localhost:\d+\/$/);

    const found = (await g.api("/applications").filter("displayName eq 'crashplan-flow'").get()) as { value: unknown[] };
    expect(found.value).toEqual([]);
    const app = (await g.api("/applications").post({ displayName: "crashplan-flow", signInAudience: "AzureADMyOrg", tags: ["akv-crashplan"] })) as { id: string; appId: string };
    const sp = (await g.api("/servicePrincipals").post({ appId: app.appId })) as { id: string; appId: string };
    expect(sp.appId).toBe(app.appId);

    const updated = await arm.vaults.update(sb.resourceGroup, "kv-flow-1", {
      properties: { networkAcls: { bypass: "AzureServices", defaultAction: "Deny", ipRules: [{ value: "198.51.100.23" }, { value: "203.0.113.0/24" }], virtualNetworkRules: [] } },
    });
    expect(updated.properties?.networkAcls?.ipRules?.map((r) => r.value)).toEqual(["198.51.100.23/32", "203.0.113.0/24"]);

    const cert = makeCert("CN=crashplan-flow");
    const patched = await g.api(`/applications/${app.id}`).patch({ keyCredentials: [{ type: "AsymmetricX509Cert", usage: "Verify", key: cert.derBase64, displayName: "CN=crashplan-flow" }] });
    expect(patched).toBeUndefined();
    const withKeys = (await g.api(`/applications/${app.id}`).select("keyCredentials").get()) as { keyCredentials: { key: string }[] };
    expect(withKeys.keyCredentials[0]?.key).toBe(cert.derBase64);
    const plain = (await g.api(`/applications/${app.id}`).get()) as { keyCredentials: { key: string | null }[] };
    expect(plain.keyCredentials[0]?.key).toBeNull();

    const auth = authz(sb);
    const defs = [];
    for await (const d of auth.roleDefinitions.list(vault.id ?? "", { filter: "roleName eq 'Key Vault Secrets Officer'" })) defs.push(d);
    expect(defs.map((d) => d.name)).toEqual([SECRETS_OFFICER]);
    const ra = await auth.roleAssignments.create(vault.id ?? "", "7f1c9a43-1b2c-4d5e-8f90-123456789abc", {
      roleDefinitionId: defs[0]?.id ?? "",
      principalId: sp.id,
      principalType: "ServicePrincipal",
    });
    expect(ra.scope).toBe(vault.id);
    const listed = [];
    for await (const a of auth.roleAssignments.listForScope(vault.id ?? "", { filter: `principalId eq '${sp.id}'` })) listed.push(a);
    expect(listed).toHaveLength(1);

    const spCred = certificateCredential(sb, app.appId, cert.pem);
    const kv = secrets(vaultUri, spCred);
    const set = await kv.setSecret("crashplan-keystore", "s3cret", { contentType: "text/plain", tags: { a: "b" } });
    expect(set.properties.version).toMatch(/^[0-9a-f]{32}$/);
    expect((await kv.getSecret("crashplan-keystore")).value).toBe("s3cret");
    expect((await kv.getSecret("crashplan-keystore", { version: set.properties.version ?? "" })).value).toBe("s3cret");
    const names = [];
    for await (const p of kv.listPropertiesOfSecrets()) names.push(p.name);
    expect(names).toEqual(["crashplan-keystore"]);
    const poller = await kv.beginDeleteSecret("crashplan-keystore", { intervalInMs: 20 });
    const deleted = await poller.pollUntilDone();
    expect(deleted.recoveryId).toBe(`${vaultUri}deletedsecrets/crashplan-keystore`);
    await expect(kv.setSecret("crashplan-keystore", "again")).rejects.toMatchObject({ statusCode: 409 });
    await kv.purgeDeletedSecret("crashplan-keystore");
    expect(t.sb.snapshot().secrets["kv-flow-1"]).toEqual([]);

    // The operator is Owner, which has no data actions: an RBAC vault refuses it.
    await expect(secrets(vaultUri, cred).getSecret("anything")).rejects.toMatchObject({ statusCode: 403, code: "Forbidden" });

    await arm.vaults.delete(sb.resourceGroup, "kv-flow-1");
    const gone = await arm.vaults.getDeleted("kv-flow-1", sb.location);
    expect(gone.properties?.vaultId).toBe(vault.id);
    await arm.vaults.beginPurgeDeletedAndWait("kv-flow-1", sb.location, { updateIntervalInMs: 10 });
    expect(t.sb.snapshot().deletedVaults).toEqual([]);
  });
});
