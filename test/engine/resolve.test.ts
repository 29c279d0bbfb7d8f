import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { AkvError } from "../../src/errors.js";
import { resolveInputs, type InputSources } from "../../src/engine/resolve.js";
import { Ui } from "../../src/ui/ui.js";
import type { Prompter } from "../../src/ui/prompter.js";

function ui(options: { interactive?: boolean; prompter?: Prompter } = {}) {
  const stderr = new PassThrough();
  const tty = options.interactive ?? false;
  return new Ui({
    streams: { stdin: new PassThrough(), stdout: new PassThrough(), stderr },
    facts: { stdinIsTTY: tty, stderrIsTTY: tty, env: {} },
    json: false,
    nonInteractive: !tty,
    noColor: true,
    verbose: false,
    ...(options.prompter ? { prompter: options.prompter } : {}),
  });
}

const none: InputSources = { flags: {}, env: {}, config: {}, answers: {} };

describe("input resolution", () => {
  it("takes flags over environment over config over saved answers over defaults", async () => {
    const sources: InputSources = {
      flags: { vaultName: "kv-from-flag" },
      env: { AKV_CRASHPLAN_VAULT_NAME: "kv-from-env", AKV_CRASHPLAN_LOCATION: "westeurope", AKV_CRASHPLAN_DAYS: "30" },
      config: { vaultName: "kv-from-config", location: "northeurope", resourceGroup: "rg-config", days: 90 },
      answers: { vaultName: "kv-saved", location: "eastus", resourceGroup: "rg-saved", appName: "saved-app" },
    };
    const resolved = await resolveInputs(["vaultName", "location", "resourceGroup", "appName", "days", "keySize"], sources, { ui: ui() });
    expect(resolved.string("vaultName")).toBe("kv-from-flag");
    expect(resolved.origin("vaultName")).toBe("flag");
    expect(resolved.string("location")).toBe("westeurope");
    expect(resolved.origin("location")).toBe("environment");
    expect(resolved.string("resourceGroup")).toBe("rg-config");
    expect(resolved.string("appName")).toBe("saved-app");
    expect(resolved.origin("appName")).toBe("saved answer");
    expect(resolved.number("days")).toBe(30);
    expect(resolved.number("keySize")).toBe(4096);
    expect(resolved.origin("keySize")).toBe("default");
  });

  it("reads the standard AZURE_SUBSCRIPTION_ID and splits list variables", async () => {
    const resolved = await resolveInputs(["subscription", "crashplanIps"], { ...none, env: { AZURE_SUBSCRIPTION_ID: "sub-1", AKV_CRASHPLAN_CRASHPLAN_IPS: "203.0.113.0/24, 198.51.100.7" } }, { ui: ui() });
    expect(resolved.string("subscription")).toBe("sub-1");
    expect(resolved.list("crashplanIps")).toEqual(["203.0.113.0/24", "198.51.100.7"]);
  });

  it("lists every missing input at once, with flag and variable, when prompting is off", async () => {
    const error = await resolveInputs(["resourceGroup", "location", "vaultName", "appName"], { ...none, flags: { resourceGroup: "rg" } }, { ui: ui() }).catch((e) => e);
    expect(error).toBeInstanceOf(AkvError);
    expect(error.exitCode).toBe(2);
    expect(error.message).toMatch(/location.*--location.*AKV_CRASHPLAN_LOCATION/);
    expect(error.message).toMatch(/vaultName.*--vault-name.*AKV_CRASHPLAN_VAULT_NAME/);
    expect(error.message).not.toMatch(/appName/); // it has a default
    expect(error.details.missing.map((m: { key: string }) => m.key)).toEqual(["location", "vaultName"]);
  });

  it("with --yes takes the suggested vault name instead of calling it missing", async () => {
    const resolved = await resolveInputs(["vaultName"], none, { ui: ui(), acceptDefaults: true });
    expect(resolved.string("vaultName")).toMatch(/^kv-crashplan-[a-z0-9]+$/);
  });

  it("names the value, where it came from and the rule", async () => {
    const bad = async (sources: Partial<InputSources>, key: Parameters<typeof resolveInputs>[0][number]) =>
      (await resolveInputs([key], { ...none, ...sources }, { ui: ui() }).catch((e) => e)) as AkvError;
    expect((await bad({ flags: { vaultName: "1bad--name" } }, "vaultName")).message).toMatch(/--vault-name has the value "1bad--name".*starts with a letter/);
    expect((await bad({ env: { AKV_CRASHPLAN_DAYS: "0" } }, "days")).message).toMatch(/AKV_CRASHPLAN_DAYS has the value "0".*1 to 3650/);
    expect((await bad({ config: { keySize: 1024 } }, "keySize")).message).toMatch(/Config field "keySize".*2048, 3072, 4096/);
    expect((await bad({ flags: { crashplanIp: ["2001:db8::1"] } }, "crashplanIps")).message).toMatch(/IPv6.*IPv4/);
    expect((await bad({ flags: { crashplanIp: ["crashplan.example.com"] } }, "crashplanIps")).message).toMatch(/domain name/);
    expect((await bad({ flags: { crashplanIp: ["203.0.113.7/24"] } }, "crashplanIps")).message).toMatch(/host bits.*203\.0\.113\.0\/24/);
  });

  it("prompts on a terminal, validating inline with the rule, and uses the answer", async () => {
    const asked: string[] = [];
    const problems: Array<string | true> = [];
    const prompter: Prompter = {
      input: async ({ message, validate }) => {
        asked.push(message);
        problems.push(await validate!("9-not-valid"));
        return "kv-typed-01";
      },
      select: async <T extends string>() => "eastus" as T,
      confirm: async () => true,
      password: async () => "unused",
    };
    const resolved = await resolveInputs(["vaultName"], none, { ui: ui({ interactive: true, prompter }) });
    expect(asked).toEqual(["Key Vault name"]);
    expect(problems[0]).toMatch(/starts with a letter/);
    expect(resolved.string("vaultName")).toBe("kv-typed-01");
    expect(resolved.origin("vaultName")).toBe("prompt");
  });
});
