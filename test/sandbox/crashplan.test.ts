/** The CrashPlan "Migrate keystore" simulator against the sandbox. */
import forge from "node-forge";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { simulateCrashPlanMigration, CRASHPLAN_DEFAULT_IP } from "../../src/sandbox/index.js";
import { SECRETS_OFFICER, assignRole, createVault, kvArm, registerAppWithCert, startTestSandbox, type AppWithCert, type TestSandbox } from "./helpers.js";

function pfxOf(app: AppWithCert, password: string): Buffer {
  const asn1 = forge.pkcs12.toPkcs12Asn1(app.cert.key, [app.cert.cert], password, { algorithm: "3des" });
  return Buffer.from(forge.asn1.toDer(asn1).getBytes(), "binary");
}

describe("simulateCrashPlanMigration", () => {
  let t: TestSandbox;
  let app: AppWithCert;
  let vault: { id: string; uri: string };
  beforeAll(async () => {
    t = await startTestSandbox();
    app = await registerAppWithCert(t.sb, "crashplan-sim");
    vault = await createVault(t.sb, "kv-crashplan-sim", { networkAcls: { defaultAction: "Deny", bypass: "AzureServices", ipRules: [{ value: CRASHPLAN_DEFAULT_IP }] } });
  });
  afterAll(async () => t.dispose());

  const base = () => ({ vaultUrl: vault.uri, cloud: t.sb.cloud, tenantId: t.sb.tenantId, sandboxAdminUrl: t.sb.adminUrl });

  it("fails on a wrong PFX password", async () => {
    await expect(simulateCrashPlanMigration({ ...base(), pfx: pfxOf(app, "right"), password: "wrong" })).rejects.toThrow(/password is wrong/);
  });

  it("refuses a vault URL with a path", async () => {
    await expect(simulateCrashPlanMigration({ ...base(), vaultUrl: `${vault.uri}secrets`, pfx: pfxOf(app, "pw"), password: "pw" })).rejects.toThrow(/no path/);
  });

  it("fails on the firewall when CrashPlan's address is not allowed", async () => {
    await expect(simulateCrashPlanMigration({ ...base(), pfx: pfxOf(app, "pw"), password: "pw", crashplanIp: "192.0.2.99" })).rejects.toThrow(/firewall refused CrashPlan's address 192\.0\.2\.99/);
  });

  it("fails without a data-plane role", async () => {
    await expect(simulateCrashPlanMigration({ ...base(), pfx: pfxOf(app, "pw"), password: "pw" })).rejects.toThrow(/has no role/);
  });

  it("writes the keystore secrets once the role is granted (client id found by thumbprint)", async () => {
    await assignRole(t.sb, vault.id, SECRETS_OFFICER, app.spId);
    const result = await simulateCrashPlanMigration({ ...base(), pfx: pfxOf(app, "pw"), password: "pw" });
    expect(result.secretsWritten).toEqual(["crashplan-keystore-index", "crashplan-keystore-archive-key-1", "crashplan-keystore-archive-key-2"]);
    const stored = t.sb.snapshot().secrets["kv-crashplan-sim"]?.map((s) => s.name);
    expect(stored).toEqual(result.secretsWritten);
    // The operator's own address is not on the list: the firewall applies per caller address.
    expect((await kvArm(t.sb).vaults.get(t.sb.resourceGroup, "kv-crashplan-sim")).properties.networkAcls?.ipRules).toEqual([{ value: `${CRASHPLAN_DEFAULT_IP}/32` }]);
  });

  it("fails sign-in when the certificate is not registered on the app", async () => {
    const other = await registerAppWithCert(t.sb, "crashplan-other");
    await expect(simulateCrashPlanMigration({ ...base(), clientId: app.appId, pfx: pfxOf(other, "pw"), password: "pw" })).rejects.toThrow(/could not sign in.*700027/s);
  });
});
