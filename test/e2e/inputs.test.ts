/**
 * Non-interactive inputs of the built CLI against a sandbox server: missing inputs listed at once before any
 * request, and a --config file that completes, or is refused naming the field, with no write.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hasStackTrace, runCli, type CliResult } from "../helpers/cli.js";
import { SandboxServer, writes } from "../helpers/sandbox-server.js";
import { expectNoSecrets } from "../helpers/secrets.js";

describe("non-interactive inputs", () => {
  let server: SandboxServer;
  const dirs: string[] = [];
  const freshDir = (): string => {
    const d = mkdtempSync(join(tmpdir(), "akv-e2e-in-"));
    dirs.push(d);
    return d;
  };
  beforeAll(async () => {
    server = await SandboxServer.start();
  });
  afterAll(async () => {
    await server?.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  // CrashPlan's addresses are optional (the firewall step warns without them); location and vault name are not.
  it("missing inputs: exit 2, every one listed with its flag and variable, and not a single request", async () => {
    const before = await server.requestCount();
    const run = await runCli(["setup", ...server.cloudArgs()], { cwd: freshDir(), env: server.env() });
    expect(run.code, run.stderr).toBe(2);
    for (const [flag, env] of [
      ["--location", "AKV_CRASHPLAN_LOCATION"],
      ["--vault-name", "AKV_CRASHPLAN_VAULT_NAME"],
    ]) {
      expect(run.stderr).toContain(flag);
      expect(run.stderr).toContain(env);
    }
    expect(hasStackTrace(run.stderr)).toBe(false);
    expect(await server.requestCount()).toBe(before);
  });

  it("a --config file supplies everything and setup completes", async () => {
    const cwd = freshDir();
    const cfg = join(cwd, "cfg.json");
    writeFileSync(
      cfg,
      JSON.stringify({
        location: "eastus",
        resourceGroup: "rg-e2e-config",
        vaultName: "kv-e2e-config-01",
        appName: "akv-e2e-config",
        crashplanIps: ["203.0.113.0/24", "198.51.100.0/25"],
        crashplanIpsSource: "e2e config",
        keySize: 2048,
        days: 30,
        pfxCipher: "aes256",
      }),
    );
    const run = await runCli(["setup", "--yes", "--config", cfg, ...server.cloudArgs()], { cwd, env: server.env() });
    expect(run.code, run.stderr).toBe(0);
    const state = JSON.parse(readFileSync(join(cwd, "akv-crashplan", "state.json"), "utf8"));
    expect(state.steps.vault.outputs.vaultName).toBe("kv-e2e-config-01");
    const vault = (await server.resources()).vaults.find((v) => v.name === "kv-e2e-config-01");
    expect(vault?.properties.networkAcls?.ipRules.map((r) => r.value).sort()).toEqual(["198.51.100.0/25", "203.0.113.0/24"]);
    expectNoSecrets(join(cwd, "akv-crashplan"), [run], [server.info.operator.clientSecret]);
  });

  const badConfigs: [string, Record<string, unknown>, RegExp][] = [
    ["an unknown field", { location: "eastus", vaultNmae: "kv-typo-01" }, /vaultNmae/],
    ["a number where a string belongs", { location: 42 }, /location/],
    ["a string where a list belongs", { crashplanIps: "203.0.113.0/24" }, /crashplanIps/],
    ["a string where a number belongs", { keySize: "big" }, /keySize/],
    ["a string where a boolean belongs", { purgeProtection: "yes" }, /purgeProtection/],
    ["not an object", [] as unknown as Record<string, unknown>, /config/i],
  ];
  for (const [what, content, names] of badConfigs) {
    it(`a config file with ${what}: exit 2 naming it, no write`, async () => {
      const cwd = freshDir();
      const cfg = join(cwd, "cfg.json");
      writeFileSync(cfg, JSON.stringify(content));
      const before = await server.requestCount();
      const run: CliResult = await runCli(["setup", "--yes", "--config", cfg, ...server.cloudArgs()], { cwd, env: server.env() });
      expect(run.code, run.stderr).toBe(2);
      expect(run.stderr).toMatch(names);
      expect(hasStackTrace(run.stderr)).toBe(false);
      expect(writes(await server.requestsSince(before))).toEqual([]);
    });
  }
});
