import { afterAll, describe, expect, it } from "vitest";
import { SETUP_INPUTS, Workspace, json } from "./helpers.js";

describe("status drift", () => {
  const ws = new Workspace();
  afterAll(() => ws.remove());

  it("shows a role assignment deleted behind the tool's back, --check exits 3, and setup repairs it", async () => {
    const setup = await ws.run(["setup", "--yes", ...SETUP_INPUTS]);
    expect(setup.code, setup.stderr).toBe(0);
    const name = ws.state().steps.grant.outputs.roleAssignmentName as string;
    ws.editAzure((az) => {
      az.roleAssignments = az.roleAssignments.filter((ra: { name: string }) => ra.name !== name);
    });

    const status = await ws.run(["status"]);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain("role assignment missing in Azure");
    const check = await ws.run(["status", "--check", "--json"]);
    expect(check.code).toBe(3);
    const grant = json(check).steps.find((s: { id: string }) => s.id === "grant");
    expect(grant.live).toEqual({ status: "drift", detail: "role assignment missing in Azure" });

    const repair = await ws.run(["setup", "--yes", ...SETUP_INPUTS]);
    expect(repair.code, repair.stderr).toBe(0);
    expect(repair.stderr).toContain("repaired");
    expect(ws.azure().roleAssignments.some((ra: { name: string }) => ra.name === name)).toBe(true);
    const after = await ws.run(["status", "--json"]);
    expect(json(after).steps.find((s: { id: string }) => s.id === "grant").live.status).toBe("ok");
    // Days to expiry of the credential as Entra ID holds it, not only of the local file.
    expect(json(after).credentialDaysLeft).toBeGreaterThan(360);
  });
});
