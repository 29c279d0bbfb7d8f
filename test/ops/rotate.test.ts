import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { SETUP_INPUTS, Workspace, json } from "./helpers.js";

const sha1Of = (file: string) => createHash("sha1").update(readFileSync(file)).digest("hex");

describe("cert rotate", () => {
  const ws = new Workspace();
  afterAll(() => ws.remove());
  const ourCredentials = (): string[] => {
    const appObjectId = ws.state().steps.app.outputs.appObjectId;
    return ws.azure().applications.find((a: { id: string }) => a.id === appObjectId).keyCredentials.map((c: { sha1: string }) => c.sha1);
  };

  it("survives an interruption before each phase is recorded, keeps the old key until the old credential is gone, and finishes", async () => {
    const setup = await ws.run(["setup", "--yes", "--json", ...SETUP_INPUTS]);
    expect(setup.code, setup.stderr).toBe(0);
    const vaultUrl = json(setup).handoff.vaultUrl as string;
    const oldSha1 = ws.state().steps.cert.outputs.sha1 as string;
    const oldKey = sha1Of(join(ws.workdir, "service-principal.key"));

    for (const phase of ["generated", "uploaded", "validated", "exported"]) {
      const cut = await ws.run(["cert", "rotate", "--yes"], { AKV_CRASHPLAN_TEST_INTERRUPT_ROTATION: phase });
      expect(cut.code, cut.stderr).toBe(130);
      expect(sha1Of(join(ws.workdir, "service-principal.key"))).toBe(oldKey);
    }
    const ready = await ws.run(["cert", "rotate", "--yes", "--json"]);
    expect(ready.code, ready.stderr).toBe(0);
    expect(ready.stderr).toContain("Update keystore");
    const rotation = json(ready).rotation;
    expect(rotation.phase).toBe("exported");
    // One new credential beside the old one, however many times the upload was cut short.
    expect(ourCredentials().sort()).toEqual([oldSha1, rotation.newSha1].sort());
    expect(existsSync(join(ws.workdir, "service-principal.next.pfx"))).toBe(true);
    expect(sha1Of(join(ws.workdir, "service-principal.key"))).toBe(oldKey);

    // CrashPlan's Update keystore, played by the sandbox with the new PFX.
    const crashplan = await ws.run(["sandbox", "crashplan-migrate", "--vault-url", vaultUrl, "--pfx", join(ws.workdir, "service-principal.next.pfx"), "--password-file", join(ws.workdir, "service-principal.next.pfx.password")]);
    expect(crashplan.code, crashplan.stderr).toBe(0);

    const unconfirmed = await ws.run(["cert", "rotate", "--finish"]);
    expect(unconfirmed.code).toBe(2);
    expect(ourCredentials()).toHaveLength(2);

    const cut = await ws.run(["cert", "rotate", "--finish", "--yes"], { AKV_CRASHPLAN_TEST_INTERRUPT_ROTATION: "old-removed" });
    expect(cut.code, cut.stderr).toBe(130);
    const finished = await ws.run(["cert", "rotate", "--finish", "--yes"]);
    expect(finished.code, finished.stderr).toBe(0);
    expect(ourCredentials()).toEqual([rotation.newSha1]);

    const state = ws.state();
    expect(state.operations.rotation).toBeUndefined();
    expect(state.operations.lastRotation.phase).toBe("finished");
    expect(state.steps.cert.outputs.sha1).toBe(rotation.newSha1);
    expect(state.steps.upload.outputs.thumbprint).toBe(rotation.newSha1);
    expect(state.steps.pfx.outputs.certSha1).toBe(rotation.newSha1);
    expect(existsSync(join(ws.workdir, "service-principal.next.key"))).toBe(false);
    expect(sha1Of(join(ws.workdir, "service-principal.key"))).not.toBe(oldKey);
    // The promoted PFX and password file are what CrashPlan now signs in with.
    const again = await ws.run(["sandbox", "crashplan-migrate", "--vault-url", vaultUrl, "--pfx", join(ws.workdir, "service-principal.pfx"), "--password-file", join(ws.workdir, "service-principal.pfx.password")]);
    expect(again.code, again.stderr).toBe(0);
    const status = await ws.run(["status", "--json"]);
    expect(json(status).steps.every((s: { live?: { status: string } }) => !s.live || s.live.status === "ok")).toBe(true);
  });

  it("rotates to a certificate the operator brings (cert rotate --cert/--key), refusing the one in use", async () => {
    const byo = new Workspace();
    try {
      const setup = await byo.run(["setup", "--yes", ...SETUP_INPUTS]);
      expect(setup.code, setup.stderr).toBe(0);
      const same = await byo.run(["cert", "rotate", "--yes", "--cert", join(byo.workdir, "service-principal.crt"), "--key", join(byo.workdir, "service-principal.key")]);
      expect(same.code).toBe(2);
      expect(same.stderr).toMatch(/is the one in use/);
      execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-keyout", join(byo.cwd, "new.key"), "-out", join(byo.cwd, "new.crt"), "-days", "90", "-nodes", "-subj", "/CN=key-vault-crashplan"], { stdio: "ignore" });
      const newSha1 = createHash("sha1").update(Buffer.from(readFileSync(join(byo.cwd, "new.crt"), "utf8").replace(/-----[^-]+-----|\s/g, ""), "base64")).digest("hex").toUpperCase();
      const rotated = await byo.run(["cert", "rotate", "--yes", "--json", "--cert", join(byo.cwd, "new.crt"), "--key", join(byo.cwd, "new.key")]);
      expect(rotated.code, rotated.stderr).toBe(0);
      expect(json(rotated).rotation.newSha1).toBe(newSha1);
      expect(json(rotated).rotation.newCert.source).toBe("imported");
    } finally {
      byo.remove();
    }
  });
});
