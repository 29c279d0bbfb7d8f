/** Directory (Graph) and SecretsAccess (Key Vault data plane as the service principal) against the sandbox. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ExitCode } from "../../src/errors.js";
import type { ApplicationInfo, KeyCredentialInfo, ServicePrincipalInfo, VaultInfo } from "../../src/azure/services.js";
import { type AzureTestBed, makeCertificate, startAzureTestBed, type TestCertificate, rejection } from "./helpers/sandbox.js";

const SECRETS_OFFICER = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7";
const CLIENT_IP = "198.51.100.23";

function ours(cert: TestCertificate): KeyCredentialInfo {
  return {
    type: "AsymmetricX509Cert",
    usage: "Verify",
    key: cert.derBase64,
    displayName: "CN=akv-crashplan test",
    startDateTime: cert.notBefore.toISOString(),
    endDateTime: cert.notAfter.toISOString(),
    customKeyIdentifier: cert.sha1Base64,
  };
}

describe("directory and secrets against the sandbox", () => {
  let t: AzureTestBed;
  let app: ApplicationInfo;
  let sp: ServicePrincipalInfo;
  let vault: VaultInfo;
  const cert = makeCertificate("akv-crashplan test");
  const other = makeCertificate("someone else");

  beforeAll(async () => {
    t = await startAzureTestBed({ clientIp: CLIENT_IP });
  });
  afterAll(async () => {
    await t?.dispose();
  });

  it("organization() is the sandbox tenant", async () => {
    expect(await t.services.directory.organization()).toEqual({ id: t.sb.tenantId, displayName: t.sb.tenantDisplayName });
  });

  it("creates an application and finds it by display name, tag and app id", async () => {
    const { directory } = t.services;
    app = await directory.createApplication({ displayName: "key-vault-crashplan", tags: ["akv-crashplan:run-1"], notes: "made by a test" });
    expect(app).toMatchObject({ displayName: "key-vault-crashplan", signInAudience: "AzureADMyOrg", tags: ["akv-crashplan:run-1"], notes: "made by a test", keyCredentials: [] });
    expect((await directory.findApplicationsByDisplayName("key-vault-crashplan")).map((a) => a.id)).toEqual([app.id]);
    expect((await directory.findApplicationsByDisplayName("it's not there")).length).toBe(0);
    expect((await directory.findApplicationsByTag("akv-crashplan:run-1")).map((a) => a.id)).toEqual([app.id]);
    expect((await directory.getApplicationByAppId(app.appId))?.id).toBe(app.id);
    expect(await directory.getApplicationByAppId("00000000-0000-0000-0000-000000000000")).toBeUndefined();
    expect(await directory.getApplication("00000000-0000-0000-0000-000000000000")).toBeUndefined();
  });

  it("setKeyCredentials replaces the whole collection; getApplication returns the keys", async () => {
    const { directory } = t.services;
    await directory.setKeyCredentials(app.id, [ours(other)]);
    const first = await directory.getApplication(app.id);
    expect(first?.keyCredentials).toHaveLength(1);
    const existing = first?.keyCredentials ?? [];
    expect(existing[0]?.key).toBe(other.derBase64);
    expect(existing[0]?.keyId).toMatch(/^[0-9a-f-]{36}$/);

    await directory.setKeyCredentials(app.id, [...existing, ours(cert)]);
    const both = await directory.getApplication(app.id);
    expect(both?.keyCredentials.map((k) => k.key)).toEqual([other.derBase64, cert.derBase64]);
    expect(both?.keyCredentials[0]?.keyId).toBe(existing[0]?.keyId);
    expect(both?.keyCredentials[1]).toMatchObject({ type: "AsymmetricX509Cert", usage: "Verify", customKeyIdentifier: cert.sha1Base64 });
  });

  it("creates and finds the service principal", async () => {
    const { directory } = t.services;
    expect(await directory.findServicePrincipal(app.appId)).toBeUndefined();
    sp = await directory.createServicePrincipal(app.appId, ["akv-crashplan:run-1"]);
    expect(sp).toMatchObject({ appId: app.appId, displayName: "key-vault-crashplan" });
    expect(await directory.findServicePrincipal(app.appId)).toEqual(sp);
  });

  it("signs in as the service principal with its certificate; an unknown certificate is AADSTS700027 (exit 4)", async () => {
    const signIn = { tenantId: t.sb.tenantId, clientId: app.appId, certificatePem: cert.pem };
    expect(await t.services.secrets.signInAsServicePrincipal(signIn)).toEqual({ oid: sp.id, appid: app.appId, tid: t.sb.tenantId });
    const stranger = makeCertificate("not registered");
    const error = await rejection(t.services.secrets.signInAsServicePrincipal({ ...signIn, certificatePem: stranger.pem }));
    expect(error).toMatchObject({ code: "AADSTS700027", exitCode: ExitCode.auth });
    expect(`${error.message}${JSON.stringify(error.details)}`).not.toContain("PRIVATE KEY");
  });

  it("the data plane: firewall first (ForbiddenByFirewall names our address), then RBAC, then secrets", async () => {
    const id = await t.services.identity();
    vault = await t.services.keyVault.createVault({
      resourceGroup: t.sb.resourceGroup,
      name: "kv-secrets-1",
      location: t.sb.location,
      tenantId: id.tenantId,
      purgeProtection: false,
      networkAcls: { defaultAction: "Deny", bypass: "AzureServices", ipRules: ["203.0.113.0/24"], virtualNetworkRules: [] },
      tags: {},
    });
    const secrets = t.services.secrets.asServicePrincipal({ vaultUrl: vault.vaultUri, tenantId: id.tenantId, clientId: app.appId, certificatePem: cert.pem });

    const blocked = await rejection(secrets.setSecret("probe", "value-1"));
    expect(blocked).toMatchObject({ code: "ForbiddenByFirewall", exitCode: ExitCode.permission });
    expect(blocked.details).toMatchObject({ status: 403, clientAddress: CLIENT_IP });

    await t.services.keyVault.updateVault(t.sb.resourceGroup, "kv-secrets-1", {
      networkAcls: { ...vault.networkAcls, ipRules: [...vault.networkAcls.ipRules, CLIENT_IP] },
    });
    const noRole = await rejection(secrets.getSecret("probe"));
    expect(noRole).toMatchObject({ code: "ForbiddenByRbac", exitCode: ExitCode.permission });

    await t.services.roles.createRoleAssignment({
      scope: vault.id,
      name: "3b2c3a52-0d7e-4a8a-9b8e-0c7d9f3e2a11",
      roleDefinitionId: `${vault.id}/providers/Microsoft.Authorization/roleDefinitions/${SECRETS_OFFICER}`,
      principalId: sp.id,
      principalType: "ServicePrincipal",
    });
    const written = await secrets.setSecret("probe", "value-1", { purpose: "validation" });
    expect(written.name).toBe("probe");
    expect(written.version).toMatch(/^[0-9a-f]{32}$/);
    expect(await secrets.getSecret("probe")).toEqual({ value: "value-1", version: written.version });
    expect(await secrets.getSecret("absent")).toBeUndefined();
    const listed = await secrets.listSecretProperties();
    expect(listed).toEqual([expect.objectContaining({ name: "probe", enabled: true, tags: { purpose: "validation" } })]);

    await secrets.deleteSecret("probe", { purge: true });
    expect(await secrets.getSecret("probe")).toBeUndefined();
    expect(await secrets.listSecretProperties()).toEqual([]);
    // Purged, so the name can be used again at once (a soft-deleted one would be a 409).
    expect((await secrets.setSecret("probe", "value-2")).name).toBe("probe");
    await secrets.deleteSecret("probe");
    await secrets.deleteSecret("never-there");
  });

  it("clockSkewMs compares with the server's Date header", async () => {
    const skew = await t.services.secrets.clockSkewMs(vault.vaultUri);
    expect(typeof skew).toBe("number");
    expect(Math.abs(skew ?? Infinity)).toBeLessThan(2_000);
    expect(await t.services.secrets.clockSkewMs("https://localhost:1/")).toBeUndefined();
  });

  it("a limited operator cannot create applications: exit 5 Authorization_RequestDenied", async () => {
    const limited = t.servicesAs(t.sb.limitedOperator);
    const error = await rejection(limited.directory.createApplication({ displayName: "nope", tags: [] }));
    expect(error).toMatchObject({ code: "Authorization_RequestDenied", exitCode: ExitCode.permission });
  });

  it("deletes the service principal and the application (twice is fine)", async () => {
    const { directory } = t.services;
    await directory.deleteServicePrincipal(sp.id);
    expect(await directory.findServicePrincipal(app.appId)).toBeUndefined();
    await directory.deleteApplication(app.id);
    expect(await directory.getApplication(app.id)).toBeUndefined();
    await directory.deleteApplication(app.id);
    await directory.deleteServicePrincipal(sp.id);
  });
});
