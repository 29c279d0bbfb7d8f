import { readFile } from "node:fs/promises";
import { StateSession } from "../../engine/session.js";
import { isAkvError } from "../../errors.js";
import type { AzureServices, SignedInIdentity, VaultInfo } from "../../azure/services.js";
import { assertStateOwnership, statePath } from "../../state/store.js";
import { exists, localPaths } from "../../steps/local-files.js";
import { str } from "../../steps/shared.js";
import { missingActions } from "../../ops/permissions.js";
import type { Runtime } from "../runtime.js";

export type DoctorStatus = "ok" | "warn" | "fail";

export interface DoctorItem {
  id: string;
  title: string;
  status: DoctorStatus;
  detail: string;
  /** What to do about a warn or fail, in one sentence. */
  fix?: string;
}

/** As bin/akv-crashplan.js requires: 22.19, the first Node 22 that trusts the sandbox's CA at run time. */
const MIN_NODE = [22, 19] as const;
const CERT_WARN_DAYS = 30;
const SKEW_WARN_MS = 60_000;
/** Entra ID accepts client assertions up to about five minutes off. */
const SKEW_FAIL_MS = 300_000;

const item = (id: string, title: string, status: DoctorStatus, detail: string, fix?: string): DoctorItem => ({ id, title, status, detail, ...(fix && status !== "ok" ? { fix } : {}) });

function messageOf(error: unknown): { message: string; hint?: string } {
  if (isAkvError(error)) return { message: error.message, ...(error.hint ? { hint: error.hint } : {}) };
  return { message: error instanceof Error ? error.message : String(error) };
}

/**
 * Preflight before `setup` and health check after it. Only reads: the permissions API instead of trial writes,
 * no lock, no state save, no chmod (it names the fix instead).
 */
export async function doctorCommand(rt: Runtime, nodeVersion: string = process.versions.node): Promise<number> {
  const { ui } = rt;
  await rt.loadConfig();
  const items: DoctorItem[] = [];
  const add = (entry: DoctorItem) => {
    items.push(entry);
    if (!ui.json) {
      const mark = entry.status === "ok" ? ui.c.green("ok  ") : entry.status === "warn" ? ui.c.yellow("warn") : ui.c.red("fail");
      // The report is the command's result, like status's table: stdout, so it can be saved or grepped.
      ui.print(ui.withCommandPrefix(`${mark}  ${entry.title}: ${entry.detail}`));
      if (entry.fix) ui.print(ui.withCommandPrefix(`      fix: ${entry.fix}`));
    }
  };

  const [major = 0, minor = 0] = nodeVersion.split(".").map(Number);
  const recent = major > MIN_NODE[0] || (major === MIN_NODE[0] && minor >= MIN_NODE[1]);
  add(item("node", "Node.js", recent ? "ok" : "fail", `v${nodeVersion}`, `Install Node.js ${MIN_NODE.join(".")} or newer (22 LTS).`));

  // The state is read once; a broken file is reported, never reset.
  let session: StateSession | undefined;
  try {
    session = await rt.openState({ command: "doctor", lock: false });
    add(item("state", "State file", "ok", session.existed ? `${statePath(rt.workdir)} (setup ${session.state.lineage})` : `none yet in ${rt.workdir} (a new setup)`));
  } catch (error) {
    const { message, hint } = messageOf(error);
    add(item("state", "State file", "fail", message, hint ?? `Look at ${statePath(rt.workdir)} and its .backup beside it.`));
  }
  const state = session?.state;
  const outputs = (id: "vault" | "app" | "firewall" | "cert" | "pfx") => (state?.steps[id]?.status === "done" ? state.steps[id]!.outputs : {});

  let azure: AzureServices | undefined;
  let identity: SignedInIdentity | undefined;
  try {
    azure = await rt.azure();
    identity = await ui.wait("Signing in", () => azure!.identity());
    add(item("sign-in", "Sign-in", "ok", `${identity.principalName} (${identity.principalType}, ${identity.authMethod}), tenant ${identity.tenantId}${identity.tenantName ? ` (${identity.tenantName})` : ""}`));
    add(item("subscription", "Subscription", "ok", `${identity.subscriptionName} (${identity.subscriptionId})`));
  } catch (error) {
    const { message, hint } = messageOf(error);
    add(item("sign-in", "Sign-in", "fail", message, hint ?? "Sign in with `az login` (or set AZURE_TENANT_ID, AZURE_CLIENT_ID and a secret or certificate), then run `akv-crashplan doctor` again."));
  }

  if (state && identity) {
    try {
      assertStateOwnership(state, identity.tenantId, identity.subscriptionId, rt.workdir);
      if (state.tenantId) add(item("state-owner", "State belongs to this sign-in", "ok", `tenant ${state.tenantId}, subscription ${state.subscriptionId ?? "?"}`));
    } catch (error) {
      const { message, hint } = messageOf(error);
      add(item("state-owner", "State belongs to this sign-in", "fail", message, hint));
    }
  }

  if (azure && identity) await azureItems(azure, identity, add, { vault: outputs("vault"), app: outputs("app"), firewall: outputs("firewall"), answers: state?.answers ?? {} });
  await localItems(rt, add, outputs("cert"), outputs("pfx"));

  const failed = items.filter((i) => i.status === "fail").length;
  const warned = items.filter((i) => i.status === "warn").length;
  if (ui.json) ui.data({ ok: failed === 0, workdir: rt.workdir, items, failed, warned });
  else ui.line(failed === 0 ? `\n${warned > 0 ? `No failures (${warned} warning${warned > 1 ? "s" : ""}).` : "Everything checked is fine."}` : `\n${failed} check${failed > 1 ? "s" : ""} failed; fix ${failed > 1 ? "them" : "it"} and run \`akv-crashplan doctor\` again.`);
  return failed === 0 ? 0 : 3;
}

interface Known {
  vault: Record<string, unknown>;
  app: Record<string, unknown>;
  firewall: Record<string, unknown>;
  answers: Record<string, unknown>;
}

async function azureItems(azure: AzureServices, identity: SignedInIdentity, add: (i: DoctorItem) => void, known: Known): Promise<void> {
  const attempt = async (id: string, title: string, fn: () => Promise<DoctorItem>) => {
    try {
      add(await fn());
    } catch (error) {
      const { message, hint } = messageOf(error);
      add(item(id, title, "fail", message, hint ?? "Check the network and the signed-in identity's access, then run doctor again."));
    }
  };

  await attempt("provider", "Microsoft.KeyVault provider", async () => {
    const registered = await azure.resources.isProviderRegistered("Microsoft.KeyVault");
    return item("provider", "Microsoft.KeyVault provider", registered ? "ok" : "fail", registered ? "registered" : `not registered in subscription ${identity.subscriptionId}`, `Run \`az provider register --namespace Microsoft.KeyVault --subscription ${identity.subscriptionId}\` (needs Contributor), wait until it says Registered.`);
  });

  await attempt("create-app", "May create applications", async () => {
    const appObjectId = str(known.app, "appObjectId");
    if (appObjectId) {
      return item("create-app", "May create applications", "ok", known.app.adopted === true ? `not needed: the app ${String(known.app.clientId)} was adopted` : `not needed any more: the app ${String(known.app.clientId)} exists`);
    }
    // Entra ID has no read-only "may I create an app" question for every identity type; say what is needed instead
    // of creating a throw-away application.
    return item(
      "create-app",
      "May create applications",
      "warn",
      `cannot be confirmed without a trial write for ${identity.principalType === "User" ? "a user" : "a service principal"}`,
      identity.principalType === "User"
        ? "Make sure users may register applications in this tenant, or ask for the 'Application Developer' directory role."
        : "The service principal needs the Graph application permission Application.ReadWrite.OwnedBy (or Application.ReadWrite.All), with admin consent.",
    );
  });

  const vaultId = str(known.vault, "vaultId");
  const resourceGroup = str(known.vault, "resourceGroup") ?? (typeof known.answers.resourceGroup === "string" ? known.answers.resourceGroup : "rg-crashplan-keystore");
  await attempt("role-assignments", "May create role assignments", async () => {
    let scope = vaultId;
    const wanted = ["Microsoft.Authorization/roleAssignments/write"];
    if (!scope) {
      const group = await azure.resources.getResourceGroup(resourceGroup);
      scope = group ? `/subscriptions/${identity.subscriptionId}/resourceGroups/${group.name}` : `/subscriptions/${identity.subscriptionId}`;
      wanted.push("Microsoft.KeyVault/vaults/write");
      if (!group) wanted.push("Microsoft.Resources/subscriptions/resourceGroups/write");
    }
    const missing = missingActions(await azure.roles.permissionsAt(scope), wanted);
    if (missing.length === 0) return item("role-assignments", "May create role assignments", "ok", `${wanted.join(", ")} allowed on ${scope}`);
    const roles: string[] = [];
    if (missing.some((a) => !a.startsWith("Microsoft.Authorization/"))) roles.push("'Contributor'");
    if (missing.includes("Microsoft.Authorization/roleAssignments/write")) roles.push("'User Access Administrator' (or 'Role Based Access Control Administrator')");
    return item("role-assignments", "May create role assignments", "fail", `missing ${missing.join(", ")} on ${scope}`, `Ask an Owner for ${roles.join(" and ")} on ${scope} (or 'Owner' alone), then run \`akv-crashplan doctor\` again.`);
  });

  const clockUrl = str(known.vault, "vaultUrl") ?? azure.cloud.armEndpoint;
  await attempt("clock", "Local clock", async () => {
    const skew = await azure.secrets.clockSkewMs(clockUrl);
    if (skew === undefined) return item("clock", "Local clock", "warn", `no Date header from ${clockUrl} to compare with`, "Make sure the clock is synchronised (e.g. `timedatectl set-ntp true`).");
    const seconds = Math.round(Math.abs(skew) / 1000);
    const words = `${seconds} s ${skew >= 0 ? "ahead of" : "behind"} Azure`;
    const status: DoctorStatus = Math.abs(skew) >= SKEW_FAIL_MS ? "fail" : Math.abs(skew) >= SKEW_WARN_MS ? "warn" : "ok";
    return item("clock", "Local clock", status, words, "Synchronise the clock (e.g. `timedatectl set-ntp true`): Entra ID refuses certificate sign-ins from a clock minutes off.");
  });

  const vaultName = str(known.vault, "vaultName");
  if (!vaultName) return;
  let vault: VaultInfo | undefined;
  await attempt("vault", "Key Vault", async () => {
    vault = await azure.keyVault.getVault(str(known.vault, "resourceGroup")!, vaultName);
    if (!vault) return item("vault", "Key Vault", "fail", `${vaultName} is missing in Azure`, "Run `akv-crashplan status` to see what changed, then `akv-crashplan setup` to repair it.");
    const problems = [!vault.enableRbacAuthorization ? "not in RBAC mode" : "", vault.networkAcls.defaultAction !== "Deny" ? "accepts all networks" : ""].filter(Boolean);
    return item("vault", "Key Vault", problems.length ? "fail" : "ok", problems.length ? `${vaultName} ${problems.join(" and ")}` : `${vaultName}: RBAC, default Deny`, "Run `akv-crashplan setup` to put it back.");
  });
  if (!vault) return;
  const current = vault;
  const crashplan = (known.firewall.crashplanRules as string[] | undefined) ?? [];
  const absent = crashplan.filter((rule) => !current.networkAcls.ipRules.includes(rule));
  if (crashplan.length === 0) {
    add(item("firewall", "Firewall has CrashPlan's addresses", "warn", "no CrashPlan address is recorded, so CrashPlan cannot reach the vault", "Run `akv-crashplan firewall configure --crashplan-ip <CrashPlan address> --crashplan-ips-source <where you found it>`."));
  } else {
    add(item("firewall", "Firewall has CrashPlan's addresses", absent.length ? "fail" : "ok", absent.length ? `missing in Azure: ${absent.join(", ")}` : crashplan.join(", "), "Run `akv-crashplan firewall configure` (or `setup`) to add them back."));
  }
  add(item("purge-protection", "Purge protection", current.enablePurgeProtection ? "ok" : "warn", current.enablePurgeProtection ? "on" : "off: a deleted vault, and CrashPlan's keystore with it, can be purged for good", `Turn it on (it cannot be turned off again): \`az keyvault update --name ${vaultName} --enable-purge-protection true\`.`));
}

async function localItems(rt: Runtime, add: (i: DoctorItem) => void, cert: Record<string, unknown>, pfx: Record<string, unknown>): Promise<void> {
  const files = localPaths(rt.workdir);
  const { checkSecretFilePermissions, describeCertificate } = await import("../../cert/index.js");
  const secretFiles = [str(cert, "keyPath") ?? files.key, str(pfx, "pfxPath") ?? files.pfx, files.generatedPassword];
  for (const path of secretFiles) {
    if (!(await exists(path))) continue;
    const perms = checkSecretFilePermissions(path);
    add(item(`mode:${path}`, "File permissions", perms.ok ? "ok" : "fail", perms.ok ? `${path} is 0${perms.mode.toString(8)}` : (perms.message ?? `${path} is readable by others`), `Run \`chmod 600 ${path}\`.`));
  }
  const certPath = str(cert, "certPath") ?? files.cert;
  if (!(await exists(certPath))) return;
  try {
    const info = describeCertificate(await readFile(certPath, "utf8"));
    const days = Math.ceil((Date.parse(info.notAfter) - Date.now()) / 86_400_000);
    const status: DoctorStatus = days < 0 ? "fail" : days < CERT_WARN_DAYS ? "warn" : "ok";
    const detail = days < 0 ? `expired ${info.notAfter.slice(0, 10)}: CrashPlan can no longer sign in` : `${days} days left (expires ${info.notAfter.slice(0, 10)}, thumbprint ${info.sha1Hex})`;
    add(item("certificate", "Certificate expiry", status, detail, "Run `akv-crashplan cert rotate` (no downtime: the new certificate works beside the old one until CrashPlan has it)."));
  } catch (error) {
    add(item("certificate", "Certificate expiry", "fail", `${certPath} cannot be read as a certificate: ${messageOf(error).message}`, "Run `akv-crashplan cert show` to see what is wrong."));
  }
}
