/**
 * What an operator (or a colleague) does to a finished setup, and what the tool must do then: a copied workdir,
 * an app deleted in the portal, a lost key file, a bad password on a re-export.
 */
import { cpSync, existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SETUP_INPUTS, Workspace } from "./helpers.js";

describe("repairs and refusals after a finished setup", () => {
  const ws = new Workspace();
  beforeAll(async () => {
    const setup = await ws.run(["setup", "--yes", ...SETUP_INPUTS]);
    expect(setup.code, setup.stderr).toBe(0);
  });
  afterAll(() => ws.remove());

  const ourApps = (az: any) => az.applications.filter((a: { tags: string[] }) => a.tags.some((t) => t.startsWith("akv-crashplan:")));

  it("a copied workdir works on its own files, never the original's", async () => {
    const copyCwd = `${ws.cwd}-copy`;
    cpSync(ws.cwd, copyCwd, { recursive: true });
    const copy = Object.assign(Object.create(Object.getPrototypeOf(ws)), { cwd: copyCwd, workdir: join(copyCwd, "akv-crashplan") }) as Workspace;
    try {
      const teardown = await copy.run(["teardown", "--yes", "--force", "--delete-files"]);
      expect(teardown.code, teardown.stderr).toBe(0);
      expect(teardown.stderr).toMatch(/was last used as .*akv-crashplan/);
      expect(existsSync(join(copy.workdir, "service-principal.key"))).toBe(false);
      expect(existsSync(join(copy.workdir, "service-principal.pfx"))).toBe(false);
      // The original keeps its key, PFX and hand-off file.
      for (const file of ["service-principal.key", "service-principal.crt", "service-principal.pfx", "crashplan-handoff.md"]) {
        expect(existsSync(join(ws.workdir, file)), file).toBe(true);
      }
    } finally {
      rmSync(copyCwd, { recursive: true, force: true });
    }
  });

  it("a bad password on pfx export --force changes nothing: the step stays done and the PFX stays", async () => {
    const before = readFileSync(join(ws.workdir, "service-principal.pfx"));
    writeFileSync(join(ws.cwd, "short.txt"), "short\n");
    const refused = await ws.run(["pfx", "export", "--force", "--password-file", join(ws.cwd, "short.txt")]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/at least 12/);
    expect(ws.state().steps.pfx.status).toBe("done");
    expect(readFileSync(join(ws.workdir, "service-principal.pfx")).equals(before)).toBe(true);
  });

  it("a lost key file of an uploaded certificate stops setup (exit 3) instead of minting a second credential", async () => {
    const key = join(ws.workdir, "service-principal.key");
    const saved = readFileSync(key);
    rmSync(key);
    try {
      const credentials = ourApps(ws.azure())[0].keyCredentials.length;
      const run = await ws.run(["setup", "--yes", ...SETUP_INPUTS]);
      expect(run.code).toBe(3);
      expect(run.stderr).toMatch(/is missing, but its certificate .* is registered/);
      expect(run.stderr).toMatch(/cert rotate/);
      expect(ourApps(ws.azure())[0].keyCredentials).toHaveLength(credentials);
    } finally {
      writeFileSync(key, saved, { mode: 0o600 });
    }
  });

  it("an app deleted behind the tool's back is re-created, and its new service principal gets the role and is validated", async () => {
    const oldSp = ws.state().steps.app.outputs.servicePrincipalId as string;
    ws.editAzure((az) => {
      const ours = ourApps(az).map((a: { appId: string }) => a.appId);
      az.applications = az.applications.filter((a: { appId: string }) => !ours.includes(a.appId));
      az.servicePrincipals = az.servicePrincipals.filter((sp: { appId: string }) => !ours.includes(sp.appId));
    });
    const repair = await ws.run(["setup", "--yes", ...SETUP_INPUTS]);
    expect(repair.code, repair.stderr).toBe(0);
    expect(repair.stderr).toMatch(/6\. Grant permissions: running again, because app changed/);
    expect(repair.stderr).toMatch(/8\. Validate the connection: running again/);
    const state = ws.state();
    const newSp = state.steps.app.outputs.servicePrincipalId as string;
    expect(newSp).not.toBe(oldSp);
    const az = ws.azure();
    expect(ourApps(az)).toHaveLength(1);
    expect(az.roleAssignments.some((ra: { properties?: { principalId?: string }; principalId?: string }) => (ra.properties?.principalId ?? ra.principalId) === newSp)).toBe(true);
    const password = join(ws.workdir, "service-principal.pfx.password");
    const crashplan = await ws.run(["sandbox", "crashplan-migrate", "--vault-url", state.steps.vault.outputs.vaultUrl, "--pfx", join(ws.workdir, "service-principal.pfx"), "--password-file", password]);
    expect(crashplan.code, crashplan.stderr).toBe(0);
  });

  it("firewall configure with new addresses on a done firewall applies them, keeping the existing rules", async () => {
    const run = await ws.run(["firewall", "configure", "--crashplan-ip", "198.51.100.0/25", "--crashplan-ips-source", "CrashPlan KB, update"]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).not.toMatch(/already done/);
    const vault = ws.azure().vaults[0];
    const rules = vault.properties.networkAcls.ipRules.map((r: { value: string }) => r.value);
    expect(rules).toEqual(expect.arrayContaining(["203.0.113.0/24", "198.51.100.0/25"]));
    expect(ws.state().steps.firewall.outputs.crashplanRules).toEqual(["203.0.113.0/24", "198.51.100.0/25"]);
  });

  it("hints carry a non-default --workdir, so following one acts on the same setup", async () => {
    const other = join(ws.cwd, "elsewhere");
    const run = await ws.run(["--workdir", other, "pfx", "export"]);
    expect(run.code).toBe(3);
    expect(run.stderr).toContain(`akv-crashplan --workdir ${other} setup --from cert`);
  });
});
