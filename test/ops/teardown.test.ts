import { createHash, randomUUID } from "node:crypto";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { selfSignedCertificate } from "../helpers/cert-fixtures.js";
import { SETUP_INPUTS, Workspace, json } from "./helpers.js";

function foreignCredential(): Record<string, unknown> {
  const cert = selfSignedCertificate({ commonName: "someone-else" });
  const digest = (algorithm: string) => createHash(algorithm).update(cert.der).digest("hex").toUpperCase();
  return {
    keyId: randomUUID(), type: "AsymmetricX509Cert", usage: "Verify", key: cert.der.toString("base64"), displayName: "another tool",
    customKeyIdentifier: null, startDateTime: cert.notBefore.toISOString(), endDateTime: cert.notAfter.toISOString(),
    sha1: digest("sha1"), sha256: digest("sha256"), addedAt: 0,
  };
}

describe("teardown", () => {
  const spaces: Workspace[] = [];
  afterAll(() => spaces.forEach((s) => s.remove()));

  it("refuses while CrashPlan's keys are in the vault; with --force removes only ours and leaves the adopted app alone; a rerun has nothing to do", async () => {
    const ws = new Workspace();
    spaces.push(ws);
    expect((await ws.run(["doctor"])).code).toBe(0); // creates the sandbox's data
    const foreign = foreignCredential();
    const appId = randomUUID();
    const appObjectId = randomUUID();
    ws.editAzure((az) => {
      const template = az.applications[0];
      az.applications.push({ ...template, id: appObjectId, appId, displayName: "existing-crashplan-app", passwordCredentials: [], keyCredentials: [foreign], owners: [] });
      az.servicePrincipals.push({ ...az.servicePrincipals[0], id: randomUUID(), appId, displayName: "existing-crashplan-app", canCreateApplications: false });
    });
    const setup = await ws.run(["setup", "--yes", "--json", "--adopt-app-id", appId, ...SETUP_INPUTS]);
    expect(setup.code, setup.stderr).toBe(0);
    const handoff = json(setup).handoff;
    const migrate = await ws.run(["sandbox", "crashplan-migrate", "--vault-url", handoff.vaultUrl, "--pfx", join(ws.workdir, "service-principal.pfx"), "--password-file", join(ws.workdir, "service-principal.pfx.password")]);
    expect(migrate.code, migrate.stderr).toBe(0);
    const assignments = ws.azure().roleAssignments.length;

    const refused = await ws.run(["teardown", "--yes"]);
    expect(refused.code, refused.stderr).toBe(3);
    expect(refused.stderr).toContain("CrashPlan keystore entries");
    expect(refused.stderr).toContain("--force");
    expect(ws.azure().roleAssignments).toHaveLength(assignments);
    expect(ws.azure().vaults).toHaveLength(1);

    const forced = await ws.run(["teardown", "--yes", "--force", "--json"]);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stderr).toContain("UNRECOVERABLE");
    const doc = json(forced);
    expect(doc.plan.find((a: { id: string }) => a.id === "application").skipped).toContain("adopted");
    const az = ws.azure();
    const app = az.applications.find((a: { id: string }) => a.id === appObjectId);
    expect(app.keyCredentials.map((c: { keyId: string }) => c.keyId)).toEqual([foreign.keyId]);
    expect(az.servicePrincipals.some((s: { appId: string }) => s.appId === appId)).toBe(true);
    expect(az.roleAssignments).toHaveLength(assignments - 1);
    expect(az.vaults).toHaveLength(0);
    expect(az.deletedVaults).toHaveLength(1);
    expect(doc.status).toMatchObject({ vault: "pending", app: "done", upload: "pending", grant: "pending", cert: "done", validate: "pending" });
    expect(existsSync(join(ws.workdir, "service-principal.key"))).toBe(true);

    const again = await ws.run(["teardown", "--yes"]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain("Nothing to tear down.");
  });

  it("tears down a half-finished setup: a vault whose step was killed mid-write, then app, credential, purge and files", async () => {
    const ws = new Workspace();
    spaces.push(ws);
    // Kill the CLI right after the sandbox applied a request, until one leaves the vault made but not recorded.
    for (let n = 10; n < 20; n++) {
      writeFileSync(join(ws.cwd, "crash.json"), JSON.stringify({ crashAfterRequest: n }));
      const killed = await ws.run(["setup", "--yes", "--no-purge-protection", "--sandbox-config", "crash.json", ...SETUP_INPUTS]);
      expect(killed.signal ?? killed.code).toBeTruthy();
      if (ws.azure().vaults.length === 1) break;
    }
    expect(ws.state().steps.vault.status).toBe("running");
    const first = await ws.run(["teardown", "--yes"]);
    expect(first.code, first.stderr).toBe(0);
    expect(ws.azure().vaults).toHaveLength(0);
    expect(ws.state().steps.vault.status).toBe("pending");

    // The first vault is soft-deleted and keeps its name, so the second setup takes another.
    const partial = await ws.run(["setup", "--yes", "--no-purge-protection", "--vault-name", "kv-crashplan-partial", "--only", "vault,app,firewall,cert,upload", ...SETUP_INPUTS]);
    expect(partial.code, partial.stderr).toBe(0);
    const vaultName = ws.state().steps.vault.outputs.vaultName as string;
    const unconfirmed = await ws.run(["teardown", "--yes", "--purge"]);
    expect(unconfirmed.code).toBe(2);
    expect(unconfirmed.stderr).toContain(`AKV_CRASHPLAN_CONFIRM_PURGE=${vaultName}`);
    expect(ws.azure().applications).toHaveLength(3);

    const done = await ws.run(["teardown", "--yes", "--purge", "--delete-files", "--json"], { AKV_CRASHPLAN_CONFIRM_PURGE: vaultName });
    expect(done.code, done.stderr).toBe(0);
    const results = Object.fromEntries(json(done).results.map((r: { id: string; result: string }) => [r.id, r.result]));
    expect(results["role-assignment"]).toBeUndefined(); // never granted: nothing to delete
    expect(results).toMatchObject({ application: "deleted", vault: "soft-deleted", purge: "purged" });
    const az = ws.azure();
    expect(az.applications).toHaveLength(2);
    expect(az.vaults).toHaveLength(0);
    expect(az.deletedVaults.map((d: { vault: { name: string } }) => d.vault.name)).not.toContain(vaultName);
    expect(existsSync(join(ws.workdir, "service-principal.key"))).toBe(false);
    expect(Object.values(ws.state().steps).every((s: any) => s.status === "pending")).toBe(true);
  });
});
