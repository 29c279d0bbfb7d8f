/** Persistence across processes, vault URIs that survive a restart, and the crashAfterRequest knob. */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterEach, describe, expect, it } from "vitest";
import { KeyVaultManagementClient } from "@azure/arm-keyvault";
import { ClientSecretCredential } from "@azure/identity";
import { startSandbox, trustSandboxCa, type SandboxHandle } from "../../src/sandbox/index.js";
import { kvArm, secretCredential } from "./helpers.js";

const child = new URL("../fixtures/sandbox/sandbox-child.mjs", import.meta.url);
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const tempDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), "akv-sandbox-p-"));
  dirs.push(d);
  return d;
};

describe("sandbox persistence", () => {
  it("a later sandbox on the same data dir sees the same Azure, CA and vault URI", async () => {
    const dir = tempDir();
    const first = await startSandbox({ dataDir: dir });
    trustSandboxCa(readFileSync(first.cloud.caCertPath, "utf8"));
    const vault = await kvArm(first).vaults.beginCreateOrUpdateAndWait(
      first.resourceGroup,
      "kv-persist-1",
      { location: first.location, properties: { tenantId: first.tenantId, sku: { family: "A", name: "standard" } } },
      { updateIntervalInMs: 10 },
    );
    const ca = readFileSync(first.cloud.caCertPath, "utf8");
    await first.close();

    const second = await startSandbox({ dataDir: dir });
    try {
      expect(readFileSync(second.cloud.caCertPath, "utf8")).toBe(ca);
      expect(second.operator).toEqual(first.operator);
      const again = await kvArm(second).vaults.get(second.resourceGroup, "kv-persist-1");
      expect(again.properties.vaultUri).toBe(vault.properties.vaultUri);
      // The vault's own listener is back on the same port: an unauthenticated call gets the challenge.
      const res = await fetch(`${vault.properties.vaultUri}secrets?api-version=2026-04-01`);
      expect(res.status).toBe(401);
    } finally {
      await second.close();
    }
  });

  it("crashAfterRequest kills the process after applying and persisting request N, before answering", async () => {
    const dir = tempDir();
    // Requests 1-2 = OIDC metadata + token, request 3 = the resource-group PUT that must land on disk although nobody hears back.
    const proc = spawn(process.execPath, [child.pathname, dir, JSON.stringify({ crashAfterRequest: 3 })], { stdio: ["ignore", "pipe", "inherit"] });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => proc.on("exit", (_code, signal) => resolve(signal)));
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: proc.stdout }).once("line", resolve);
      proc.once("exit", () => reject(new Error("sandbox child exited before it started")));
    });
    const info = JSON.parse(line) as Pick<SandboxHandle, "cloud" | "tenantId" | "subscriptionId" | "operator">;
    trustSandboxCa(readFileSync(info.cloud.caCertPath, "utf8"));
    const cred = new ClientSecretCredential(info.tenantId, info.operator.clientId, info.operator.clientSecret, { authorityHost: info.cloud.authorityHost, disableInstanceDiscovery: true });
    await cred.getToken(`${info.cloud.armEndpoint}/.default`);
    const token = await cred.getToken(`${info.cloud.armEndpoint}/.default`); // cached: no request
    const put = fetch(`${info.cloud.armEndpoint}/subscriptions/${info.subscriptionId}/resourceGroups/rg-crash?api-version=2022-09-01`, {
      method: "PUT",
      headers: { authorization: `Bearer ${token.token}`, "content-type": "application/json" },
      body: JSON.stringify({ location: "eastus" }),
    });
    await expect(put).rejects.toThrow();
    expect(await exited).toBe("SIGKILL");

    const after = await startSandbox({ dataDir: dir });
    try {
      expect(after.snapshot().resourceGroups.map((r) => r.name)).toContain("rg-crash");
      // ARM still answers through the same SDK after the restart.
      const client = new KeyVaultManagementClient(secretCredential(after), after.subscriptionId, { endpoint: after.cloud.armEndpoint });
      expect(await client.vaults.checkNameAvailability({ name: "kv-after-crash", type: "Microsoft.KeyVault/vaults" })).toEqual({ nameAvailable: true });
    } finally {
      await after.close();
    }
  });
});
