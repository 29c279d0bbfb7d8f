import { STEP_TITLES, stepNumber } from "../state/step-ids.js";
import { readFile } from "node:fs/promises";
import { AkvError } from "../errors.js";
import type { Step, StepContext } from "../engine/step.js";
import { parseIpv4Rule, parsePublicIpv4Rule, simplifyRules } from "../engine/validators.js";
import { requireOutput } from "./shared.js";

/** Key Vault's documented limit of IP network rules per vault. */
export const MAX_IP_RULES = 1000;

/** Reads --crashplan-ips-file: one address or CIDR per line, # comments; every bad line is named. */
export async function readAddressFile(path: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "does not exist" : code === "EISDIR" ? "is a directory" : "cannot be read";
    throw AkvError.usage(`The address file ${path} (--crashplan-ips-file) ${why}.`, { code: "AddressFileUnreadable" });
  }
  const rules: string[] = [];
  const problems: string[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.replace(/#.*/, "").trim();
    if (!line) return;
    const parsed = parsePublicIpv4Rule(line);
    if ("error" in parsed) problems.push(`line ${index + 1}: ${parsed.error}`);
    else rules.push(parsed.cidr);
  });
  if (problems.length > 0) throw AkvError.usage(`The address file ${path} has lines Key Vault cannot use:\n  ${problems.join("\n  ")}`, { code: "InvalidAddress" });
  return rules;
}

export async function crashplanAddresses(ctx: Pick<StepContext, "inputs">): Promise<string[]> {
  const fromFlags = ctx.inputs.list("crashplanIps").map((ip) => {
    const parsed = parsePublicIpv4Rule(ip);
    if ("error" in parsed) throw AkvError.usage(parsed.error, { code: "InvalidAddress" });
    return parsed.cidr;
  });
  const file = ctx.inputs.string("crashplanIpsFile");
  const fromFile = file ? await readAddressFile(file) : [];
  const { rules, dropped } = simplifyRules([...fromFlags, ...fromFile]);
  if (dropped.length > 0 && "ui" in ctx) (ctx as StepContext).ui.warn(`Left out ${dropped.length} CrashPlan address(es) already covered: ${dropped.slice(0, 5).join(", ")}${dropped.length > 5 ? ", …" : ""}.`);
  if (rules.length > MAX_IP_RULES) {
    throw AkvError.usage(`${rules.length} CrashPlan address ranges were given; a Key Vault firewall takes at most ${MAX_IP_RULES} IP rules.`, {
      code: "TooManyIpRules",
      hint: "Combine addresses into CIDR ranges (CrashPlan publishes ranges), then run again.",
    });
  }
  return rules;
}

export function temporaryRuleOf(ctx: Pick<StepContext, "inputs">): string | undefined {
  const mine = ctx.inputs.string("allowMyIp");
  if (!mine) return undefined;
  const parsed = parseIpv4Rule(mine);
  return "cidr" in parsed ? parsed.cidr : undefined;
}

export const firewallStep: Step = {
  id: "firewall",
  number: stepNumber("firewall"),
  title: STEP_TITLES.firewall,
  explanation:
    "The vault only accepts the networks you list. CrashPlan's service addresses (from CrashPlan's own documentation) are\n" +
    "added for good; this machine's address is added temporarily so the validation step can reach the vault, then removed.",
  inputs: ["crashplanIps", "crashplanIpsFile", "crashplanIpsSource", "allowMyIp", "replaceRules"],
  reapplies: ["crashplanIps", "crashplanIpsFile", "crashplanIpsSource", "allowMyIp", "replaceRules"],
  needs: ["vault"],
  remote: true,

  plan(ctx) {
    const ips = ctx.inputs.list("crashplanIps");
    const lines = [
      ips.length > 0 || ctx.inputs.string("crashplanIpsFile")
        ? `Allow CrashPlan addresses ${[...ips, ctx.inputs.string("crashplanIpsFile") ? `(+ the lines of ${ctx.inputs.string("crashplanIpsFile")})` : ""].filter(Boolean).join(", ")}${ctx.inputs.boolean("replaceRules") ? ", replacing the existing IP rules" : ", keeping existing rules"}`
        : "No CrashPlan address given: CrashPlan's own connection test will fail until you add them",
    ];
    const mine = ctx.inputs.string("allowMyIp");
    if (mine) lines.push(`Allow this machine (${mine}) temporarily, until validation passes`);
    return lines;
  },

  async check(ctx) {
    const rg = requireOutput(ctx, "vault", "resourceGroup");
    const name = requireOutput(ctx, "vault", "vaultName");
    const vault = await ctx.azure.keyVault.getVault(rg, name);
    if (!vault) return { status: "drift", detail: "vault missing in Azure" };
    const wanted = (ctx.previous.outputs.crashplanRules as string[] | undefined) ?? [];
    const missing = wanted.filter((rule) => !vault.networkAcls.ipRules.includes(rule));
    if (missing.length > 0) return { status: "drift", detail: `firewall rules missing in Azure: ${missing.join(", ")}` };
    if (vault.networkAcls.defaultAction !== "Deny") return { status: "drift", detail: "the vault accepts all networks again" };
    return { status: "done", detail: `${wanted.length} CrashPlan rule(s)` };
  },

  async apply(ctx) {
    const rg = requireOutput(ctx, "vault", "resourceGroup");
    const name = requireOutput(ctx, "vault", "vaultName");
    const given = await crashplanAddresses(ctx);
    // New addresses add to the ones recorded before (CrashPlan publishes additions); --replace starts over.
    const earlier = ctx.inputs.boolean("replaceRules") ? [] : ((ctx.previous.outputs.crashplanRules as string[] | undefined) ?? []);
    const crashplanRules = [...new Set([...earlier, ...given])];
    const temporary = temporaryRuleOf(ctx);
    const vault = await ctx.azure.keyVault.getVault(rg, name);
    if (!vault) throw AkvError.precondition(`The vault ${name} no longer exists in ${rg}.`, { code: "VaultMissing", hint: "Run `akv-crashplan setup --from vault`." });
    // Record the temporary rule before it exists, so a run that dies here still removes it later.
    if (temporary) await ctx.saveOutputs({ temporaryRule: temporary });
    const kept = ctx.inputs.boolean("replaceRules") ? [] : vault.networkAcls.ipRules;
    const wanted = [...new Set([...kept, ...crashplanRules, ...(temporary ? [temporary] : [])])];
    const same = wanted.length === vault.networkAcls.ipRules.length && wanted.every((r) => vault.networkAcls.ipRules.includes(r));
    if (!same || vault.networkAcls.defaultAction !== "Deny") {
      await ctx.ui.wait(`Updating the firewall of ${name}`, () =>
        ctx.azure.keyVault.updateVault(rg, name, { networkAcls: { ...vault.networkAcls, defaultAction: "Deny", ipRules: wanted } }),
      );
    }
    if (crashplanRules.length === 0) {
      ctx.ui.warn("No CrashPlan address is in the vault firewall: CrashPlan's own connection test will fail. Add them with `akv-crashplan firewall configure --crashplan-ip …`.");
    }
    return {
      crashplanRules,
      ipRules: wanted,
      source: ctx.inputs.string("crashplanIpsSource") ?? (ctx.inputs.string("crashplanIpsFile") ? `file ${ctx.inputs.string("crashplanIpsFile")}` : "operator input"),
      recordedAt: ctx.now().toISOString(),
      ...(temporary ? { temporaryRule: temporary } : {}),
    };
  },
};
