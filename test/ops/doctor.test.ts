import { chmodSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { SETUP_INPUTS, Workspace, json } from "./helpers.js";

describe("doctor", () => {
  const spaces: Workspace[] = [];
  afterAll(() => spaces.forEach((s) => s.remove()));

  it("names the permissions the limited operator lacks, exits 3, and writes nothing", async () => {
    const ws = new Workspace();
    spaces.push(ws);
    const result = await ws.run(["doctor", "--json"], { AKV_CRASHPLAN_SANDBOX_OPERATOR: "limited" });
    expect(result.code, result.stderr).toBe(3);
    const doc = json(result);
    expect(doc.ok).toBe(false);
    const byId = Object.fromEntries(doc.items.map((i: { id: string }) => [i.id, i]));
    expect(byId["sign-in"].status).toBe("ok");
    expect(byId["provider"].status).toBe("ok");
    const roles = byId["role-assignments"];
    expect(roles.status).toBe("fail");
    expect(roles.detail).toContain("Microsoft.Authorization/roleAssignments/write");
    expect(roles.detail).toContain("Microsoft.KeyVault/vaults/write");
    expect(roles.fix).toContain("User Access Administrator");
    expect(roles.fix).toContain("Contributor");
    expect(byId["create-app"].status).toBe("warn");
    expect(byId["create-app"].fix).toContain("Application.ReadWrite.OwnedBy");
    // Read-only: no state file, and the emulated Azure holds no vault or application of ours.
    expect(() => ws.state()).toThrow();
    expect(ws.azure().vaults).toHaveLength(0);
    expect(ws.azure().roleAssignments).toHaveLength(2);
  });

  it("is all ok after a setup, then fails on a key file readable by others", async () => {
    const ws = new Workspace();
    spaces.push(ws);
    const setup = await ws.run(["setup", "--yes", ...SETUP_INPUTS]);
    expect(setup.code, setup.stderr).toBe(0);
    const healthy = await ws.run(["doctor"]);
    expect(healthy.code, healthy.stderr).toBe(0);
    for (const line of ["Firewall has CrashPlan's addresses: 203.0.113.0/24", "Purge protection: on", "Certificate expiry: 36", "State belongs to this sign-in"]) {
      expect(healthy.stdout).toContain(line);
    }
    expect(healthy.stdout).not.toMatch(/^(warn|fail)/m);

    chmodSync(join(ws.workdir, "service-principal.key"), 0o644);
    const broken = await ws.run(["doctor", "--json"]);
    expect(broken.code).toBe(3);
    const item = json(broken).items.find((i: { id: string; status: string }) => i.id.startsWith("mode:") && i.status === "fail");
    expect(item.fix).toBe(`Run \`chmod 600 ${join(ws.workdir, "service-principal.key")}\`.`);
  });
});
