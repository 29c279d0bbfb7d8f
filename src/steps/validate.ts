import { STEP_TITLES, stepNumber } from "../state/step-ids.js";
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { AkvError, isAkvError } from "../errors.js";
import type { Step, StepContext } from "../engine/step.js";
import { parseDurationMs, parseIpv4Rule } from "../engine/validators.js";
import type { VaultSecrets } from "../azure/services.js";
import { readSecretFrom, readSigningPem } from "./local-files.js";
import { confirm, credentialThumbprint, hasCode, requireOutput, str } from "./shared.js";

const loadCert = () => import("../cert/index.js");

const DIRECTORY_REPLICATION_WAIT_MS = 120_000;

/** The step whose record holds the temporary rules: validate, or migrate while `--verify` lists the vault. */
type RuleOwner = "validate" | "migrate";

function temporaryRules(ctx: StepContext, own: RuleOwner = "validate"): string[] {
  // --allow-my-ip is recorded by the firewall step and belongs to validation only.
  const fromFirewall = own === "validate" ? str(ctx.outputsOf("firewall"), "temporaryRule") : undefined;
  // Read the live record, not ctx.previous: addTemporaryRule saves a rule learned during this very run.
  const learned = (ctx.outputsOf(own).temporaryRules as string[] | undefined) ?? [];
  return [...new Set([...(fromFirewall ? [fromFirewall] : []), ...learned])];
}

async function addTemporaryRule(ctx: StepContext, cidr: string, own: RuleOwner): Promise<void> {
  const rg = requireOutput(ctx, "vault", "resourceGroup");
  const name = requireOutput(ctx, "vault", "vaultName");
  await ctx.saveOutputs({ temporaryRules: [...new Set([...temporaryRules(ctx, own), cidr])] });
  const vault = await ctx.azure.keyVault.getVault(rg, name);
  if (!vault) throw AkvError.precondition(`The vault ${name} no longer exists.`);
  if (!vault.networkAcls.ipRules.includes(cidr)) {
    await ctx.azure.keyVault.updateVault(rg, name, { networkAcls: { ...vault.networkAcls, ipRules: [...vault.networkAcls.ipRules, cidr] } });
  }
}

/** Removes the temporary rules; safe to repeat, so a run that died in between finishes the job. */
export async function removeTemporaryRules(ctx: StepContext, own: RuleOwner = "validate"): Promise<string[]> {
  const rules = temporaryRules(ctx, own);
  if (rules.length === 0) return [];
  const rg = requireOutput(ctx, "vault", "resourceGroup");
  const name = requireOutput(ctx, "vault", "vaultName");
  const crashplan = (ctx.outputsOf("firewall").crashplanRules as string[] | undefined) ?? [];
  const toRemove = rules.filter((rule) => !crashplan.includes(rule));
  const vault = await ctx.azure.keyVault.getVault(rg, name);
  if (vault && toRemove.some((rule) => vault.networkAcls.ipRules.includes(rule))) {
    await ctx.azure.keyVault.updateVault(rg, name, {
      networkAcls: { ...vault.networkAcls, ipRules: vault.networkAcls.ipRules.filter((rule) => !toRemove.includes(rule)) },
    });
  }
  return toRemove;
}

async function pfxPassword(ctx: StepContext): Promise<string> {
  const inMemory = ctx.secrets.get("pfxPassword");
  if (inMemory) return inMemory;
  const given = await readSecretFrom({
    file: (ctx.flags.passwordFile as string | undefined) ?? generatedPasswordFile(ctx),
    stdin: ctx.flags.passwordStdin === true ? (ctx.ui.stdin as NodeJS.ReadableStream) : undefined,
    what: "PFX password",
    fileFlag: "--password-file",
  });
  if (given !== undefined) {
    ctx.ui.redactor.register(given);
    return given;
  }
  if (ctx.ui.interactive) {
    const typed = await ctx.ui.prompt.password({ message: "The PFX password (to prove CrashPlan can open the file)" });
    ctx.ui.redactor.register(typed);
    return typed;
  }
  throw AkvError.usage("Validation opens the PFX as CrashPlan will, and needs its password.", {
    code: "PasswordNeeded",
    hint: "Pass --password-file <file> or --password-stdin.",
  });
}

function generatedPasswordFile(ctx: StepContext): string | undefined {
  const location = str(ctx.outputsOf("pfx"), "passwordLocation");
  const match = location && /^file (.+) \(0600\)$/.exec(location);
  return match ? match[1] : undefined;
}

interface ProbeResult {
  probe: string;
  via: string;
}

export const validateStep: Step = {
  id: "validate",
  number: stepNumber("validate"),
  title: STEP_TITLES.validate,
  explanation:
    "Proves the whole chain before CrashPlan depends on it: sign in as the service principal with the certificate, and\n" +
    "again from the PFX CrashPlan will get; write a probe secret, read it back, delete it. Role assignments can take\n" +
    "minutes to reach Key Vault, so a refusal right after the grant is waited out.",
  inputs: ["allowMyIp", "keepMyIp", "wait"],
  reapplies: ["allowMyIp", "keepMyIp", "wait"],
  needs: ["vault", "app", "upload", "grant", "pfx"],
  remote: true,

  plan() {
    return [
      "Sign in as the service principal (certificate and PFX), write, read and delete a probe secret",
      "If the firewall refuses this machine, allow its address temporarily (asked, or --yes) and remove it afterwards",
    ];
  },

  async check(ctx) {
    if (!ctx.previous.outputs.validatedAt) return { status: "missing" };
    return { status: "done", detail: `passed ${String(ctx.previous.outputs.validatedAt)}` };
  },

  async apply(ctx) {
    const vaultUrl = requireOutput(ctx, "vault", "vaultUrl");
    const tenantId = requireOutput(ctx, "app", "tenantId");
    const clientId = requireOutput(ctx, "app", "clientId");
    const waitMs = parseDurationMs(ctx.inputs.string("wait") ?? "10m") ?? 600_000;
    const { combined } = await readSigningPem(requireOutput(ctx, "cert", "keyPath"), requireOutput(ctx, "cert", "certPath"));
    const pfxPath = requireOutput(ctx, "pfx", "pfxPath");
    const password = await pfxPassword(ctx);
    const cert = await loadCert();
    const fromPfx = cert.readPfx(await readFile(pfxPath), password);
    const results: ProbeResult[] = [];
    // Each probe's name is recorded before it is written: a run killed between writing and deleting it leaves the
    // name here, and the next run deletes that secret too, so no probe outlives validation in CrashPlan's vault.
    const leftover = ((ctx.previous.marker?.probes as string[] | undefined) ?? []).filter((name) => name.startsWith(PROBE_PREFIX));
    const recorded = [...leftover];
    let client: VaultSecrets | undefined;
    for (const [via, pem] of [
      ["certificate files", combined],
      ["the PFX", `${fromPfx.keyPem.trim()}\n${fromPfx.certPem.trim()}\n`],
    ] as const) {
      client = ctx.azure.secrets.asServicePrincipal({ vaultUrl, tenantId, clientId, certificatePem: pem });
      const probe = `${PROBE_PREFIX}${randomBytes(6).toString("hex")}`;
      recorded.push(probe);
      await ctx.saveMarker({ probes: recorded });
      results.push({ probe: await probeWithPatience(ctx, client, via, waitMs, probe), via });
    }
    for (const name of leftover) await client!.deleteSecret(name);
    await ctx.saveMarker({ probes: [] });
    let removed: string[] = [];
    if (!ctx.inputs.boolean("keepMyIp")) {
      removed = await removeTemporaryRules(ctx);
      if (removed.length > 0) ctx.ui.info(`  Removed the temporary firewall rule${removed.length > 1 ? "s" : ""} ${removed.join(", ")}`);
    }
    ctx.ui.info(`  The service principal signed in with the certificate and with the PFX, and wrote, read and deleted a probe secret.`);
    return { validatedAt: ctx.now().toISOString(), probes: results, removedTemporaryRules: removed, temporaryRules: ctx.inputs.boolean("keepMyIp") ? temporaryRules(ctx) : [] };
  },
};

const PROBE_PREFIX = "akv-crashplan-probe-";

async function probeWithPatience(ctx: StepContext, client: VaultSecrets, via: string, waitMs: number, probe: string): Promise<string> {
  const started = Date.now();
  let delay = 250;
  const value = randomBytes(24).toString("base64url");
  return ctx.ui.wait(`Signing in as the service principal (${via}) and writing a probe secret`, async (wait) => {
    for (;;) {
      try {
        await client.setSecret(probe, value, { "akv-crashplan": "probe" });
        const read = await client.getSecret(probe);
        if (read?.value !== value) throw AkvError.azure(`The probe secret ${probe} read back a different value.`, { code: "ProbeMismatch" });
        // Soft delete only: the vault has purge protection, so a purge would be refused anyway.
        await client.deleteSecret(probe);
        return probe;
      } catch (error) {
        const elapsed = Date.now() - started;
        if (hasCode(error, "ForbiddenByFirewall")) {
          await handleFirewall(ctx, error as AkvError);
          continue;
        }
        // Just after the grant and the upload, Key Vault and Entra may not know them yet: both settle by themselves.
        const waitable =
          hasCode(error, "ForbiddenByRbac", "AADSTS700016", "AADSTS7000229") ||
          (hasCode(error, "AADSTS700027") && (await certificateIsRegistered(ctx)));
        // Directory replication settles within a minute or two; an app that stays unknown longer is gone, not late.
        const limit = hasCode(error, "ForbiddenByRbac") ? waitMs : Math.min(waitMs, DIRECTORY_REPLICATION_WAIT_MS);
        if (waitable && elapsed < limit) {
          wait.update(
            hasCode(error, "ForbiddenByRbac")
              ? "Waiting for the role assignment to reach Key Vault…"
              : "Waiting for the new service principal and its certificate to replicate in Entra ID…",
          );
          await ctx.sleep(Math.min(delay, waitMs - elapsed));
          delay = Math.min(delay * 2, 500);
          continue;
        }
        throw await explain(ctx, error, waitMs);
      }
    }
  });
}

/**
 * Runs `fn` (as the service principal, from this machine); a ForbiddenByFirewall answer adds this machine's address
 * as a temporary rule (confirmed, or --yes / --allow-my-ip) and retries; the rule is removed afterwards unless
 * --keep-my-ip. Used by `migrate --verify`, which lists the vault after validation has closed it again.
 */
export async function withTemporaryAccess<T>(ctx: StepContext, own: RuleOwner, fn: () => Promise<T>): Promise<T> {
  try {
    for (;;) {
      try {
        return await fn();
      } catch (error) {
        if (!hasCode(error, "ForbiddenByFirewall")) throw error;
        await handleFirewall(ctx, error as AkvError, own);
      }
    }
  } finally {
    if (!ctx.inputs.boolean("keepMyIp")) {
      const removed = await removeTemporaryRules(ctx, own);
      if (removed.length > 0) {
        await ctx.saveOutputs({ temporaryRules: [] });
        ctx.ui.info(`  Removed the temporary firewall rule${removed.length > 1 ? "s" : ""} ${removed.join(", ")}`);
      }
    } else {
      // Kept on purpose: no longer ours to remove, so a later command without --keep-my-ip leaves it alone.
      const kept = temporaryRules(ctx, own);
      if (kept.length > 0) {
        await ctx.saveOutputs({ temporaryRules: [] });
        ctx.ui.info(`  Kept the firewall rule${kept.length > 1 ? "s" : ""} ${kept.join(", ")} for this machine (--keep-my-ip); remove it from the vault's networking settings when it is no longer needed.`);
      }
    }
  }
}

/** AADSTS700027 for a certificate that is on the app means Entra has not replicated it yet; otherwise it is wrong. */
async function certificateIsRegistered(ctx: StepContext): Promise<boolean> {
  const local = str(ctx.outputsOf("cert"), "sha1");
  const app = await ctx.azure.directory.getApplication(requireOutput(ctx, "app", "appObjectId")).catch(() => undefined);
  return Boolean(
    local &&
      app?.keyCredentials.some((c) => credentialThumbprint(c) === local),
  );
}

async function handleFirewall(ctx: StepContext, error: AkvError, own: RuleOwner = "validate"): Promise<void> {
  const address = typeof error.details?.clientAddress === "string" ? error.details.clientAddress : undefined;
  const rules = temporaryRules(ctx, own);
  if (!address) throw AkvError.permission(`The vault firewall refused this machine: ${error.message}`, { code: "ForbiddenByFirewall", hint: "Pass --allow-my-ip <your public IPv4 address>." });
  const parsed = parseIpv4Rule(address);
  if ("error" in parsed) throw AkvError.permission(`The vault firewall refused this machine (${address}), and that address cannot be added as a rule.`, { code: "ForbiddenByFirewall" });
  if (rules.includes(parsed.cidr)) {
    // Recorded, but is it on the vault? A run killed after removing it (or before adding it) left only the record:
    // put it back, it was approved when it was recorded. Only a rule that is really there and still refused is an error.
    const vault = await ctx.azure.keyVault.getVault(requireOutput(ctx, "vault", "resourceGroup"), requireOutput(ctx, "vault", "vaultName"));
    if (vault && !vault.networkAcls.ipRules.includes(parsed.cidr)) {
      await ctx.ui.wait(`Allowing ${parsed.cidr} temporarily again`, () => addTemporaryRule(ctx, parsed.cidr, own));
      return;
    }
    throw AkvError.permission(`The vault firewall still refuses ${address} although a rule for it exists.`, {
      code: "ForbiddenByFirewall",
      hint: "Firewall changes can take a minute; run `akv-crashplan validate` again shortly. If it persists, your traffic may leave through another address.",
    });
  }
  const approved =
    ctx.inputs.string("allowMyIp") === address ||
    (await confirm(ctx, `The vault firewall refused this machine, seen by Azure as ${address}. Allow ${parsed.cidr} temporarily (removed again afterwards)`, "--yes or --allow-my-ip " + address, true));
  if (!approved) {
    throw AkvError.permission(`The vault firewall refuses this machine (${address}).`, { code: "ForbiddenByFirewall", hint: `Run again with --allow-my-ip ${address}.` });
  }
  const how = ctx.inputs.boolean("keepMyIp") ? "(kept afterwards: --keep-my-ip)" : "temporarily";
  await ctx.ui.wait(`Allowing ${parsed.cidr} ${how}`, () => addTemporaryRule(ctx, parsed.cidr, own));
}

async function explain(ctx: StepContext, error: unknown, waitMs: number): Promise<unknown> {
  if (!isAkvError(error)) return error;
  if (hasCode(error, "ForbiddenByRbac")) {
    return AkvError.permission(`Key Vault still refuses the service principal after waiting ${Math.round(waitMs / 60000)} min (ForbiddenByRbac).`, {
      code: "ForbiddenByRbac",
      hint: "Check that the role assignment exists on the vault (`akv-crashplan status`), then run `akv-crashplan validate --wait 20m`.",
      cause: error,
    });
  }
  if (hasCode(error, "AADSTS700027")) {
    const local = str(ctx.outputsOf("cert"), "sha1");
    const app = await ctx.azure.directory.getApplication(requireOutput(ctx, "app", "appObjectId")).catch(() => undefined);
    const registered = (app?.keyCredentials ?? []).map((c) => (credentialThumbprint(c) ?? c.keyId ?? "?"));
    return AkvError.auth(`Entra ID does not recognise the certificate (AADSTS700027). Local thumbprint ${local}; registered on the app: ${registered.join(", ") || "none"}.`, {
      code: "AADSTS700027",
      hint: "Run `akv-crashplan cert upload` to register the local certificate.",
      cause: error,
    });
  }
  if (hasCode(error, "AADSTS700024")) {
    const skew = await ctx.azure.secrets.clockSkewMs(requireOutput(ctx, "vault", "vaultUrl")).catch(() => undefined);
    return AkvError.auth(
      `Entra ID refused the sign-in because of its time window (AADSTS700024)${skew !== undefined ? `; this machine's clock is ${Math.round(Math.abs(skew) / 1000)} s ${skew > 0 ? "ahead of" : "behind"} Azure` : ""}.`,
      { code: "AADSTS700024", hint: "Synchronise the clock (e.g. `timedatectl set-ntp true`) and run `akv-crashplan validate` again.", cause: error },
    );
  }
  return error;
}
