/**
 * Teardown: what setup made, undone newest first. The plan is computed from the state (outputs, or the marker a
 * half-finished step saved before its write), every action looks before it deletes (so a rerun after an interruption
 * just carries on), and each torn-down step goes back to pending as soon as its resource is gone.
 */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import type { AzureServices, KeyCredentialInfo } from "../azure/services.js";
import type { StateSession } from "../engine/session.js";
import { AkvError } from "../errors.js";
import { emptyStepRecord, type StepId } from "../state/schema.js";
import { GENERATED_PASSWORD_FILE, localPaths } from "../steps/local-files.js";
import { HANDOFF_FILE } from "../steps/migrate.js";
import { credentialThumbprint, setupTag, str } from "../steps/shared.js";
import type { Ui } from "../ui/ui.js";

export type TeardownActionId = "temporary-rules" | "role-assignment" | "credential" | "service-principal" | "application" | "vault" | "purge" | "files";

export interface TeardownAction {
  id: TeardownActionId;
  /** Plain words for the plan. */
  description: string;
  /** Why it is left alone (adopted, never created, not asked for). */
  skip?: string;
  run?: () => Promise<string>;
}

export interface TeardownTargets {
  /** `deleted`/`purged`: remembered from an earlier teardown run after the vault step went back to pending. */
  vault?: { name: string; resourceGroup: string; location?: string; id?: string; adopted: boolean; deleted?: boolean; purged?: boolean };
  app?: { objectId: string; clientId?: string; adopted: boolean };
  /** Our credentials on the app: key ids and thumbprints (the current one and a rotation's new one). */
  credentials: { keyIds: string[]; thumbprints: string[] };
  roleAssignmentId?: string;
  temporaryRules: string[];
  crashplanRules: string[];
  files: string[];
}

const out = (session: StateSession, id: StepId) => session.step(id).outputs;
const strings = (value: unknown): string[] => (Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : []);

/** What this setup made, from outputs or, for a step cut short, from its marker (confirmed by our tag later). */
export async function findTargets(session: StateSession, azure: AzureServices): Promise<TeardownTargets> {
  const lineage = session.state.lineage;
  const vaultOut = out(session, "vault");
  const remembered = (session.state.operations.teardown ?? {}) as { vault?: TeardownTargets["vault"] };
  let vault: TeardownTargets["vault"];
  if (str(vaultOut, "vaultName") && str(vaultOut, "resourceGroup")) {
    vault = { name: str(vaultOut, "vaultName")!, resourceGroup: str(vaultOut, "resourceGroup")!, adopted: vaultOut.adopted === true, ...(str(vaultOut, "location") ? { location: str(vaultOut, "location")! } : {}), ...(str(vaultOut, "vaultId") ? { id: str(vaultOut, "vaultId")! } : {}) };
  } else {
    const marker = session.step("vault").marker;
    const name = marker && str(marker, "vaultName");
    const rg = marker && str(marker, "resourceGroup");
    const found = name && rg ? await azure.keyVault.getVault(rg, name) : undefined;
    if (found && found.tags["akv-crashplan-setup"] === lineage) vault = { name: found.name, resourceGroup: found.resourceGroup, location: found.location, id: found.id, adopted: false };
    else if (remembered.vault) vault = remembered.vault;
  }

  const appOut = out(session, "app");
  let app: TeardownTargets["app"];
  if (str(appOut, "appObjectId")) {
    app = { objectId: str(appOut, "appObjectId")!, adopted: appOut.adopted === true, ...(str(appOut, "clientId") ? { clientId: str(appOut, "clientId")! } : {}) };
  } else if (session.step("app").marker?.creatingApp) {
    const [ours] = await azure.directory.findApplicationsByTag(setupTag(lineage));
    if (ours) app = { objectId: ours.id, clientId: ours.appId, adopted: false };
  }

  // Thumbprints count only when an upload was at least attempted (a marker) or a rotation got that far.
  const rotation = (session.state.operations.rotation ?? {}) as Record<string, unknown>;
  const upload = out(session, "upload");
  const uploadTried = session.step("upload").status !== "pending" || session.step("upload").marker !== undefined;
  const rotationUploaded = typeof rotation.phase === "string" && rotation.phase !== "generated";
  const credentials = {
    keyIds: [str(upload, "keyId"), rotationUploaded ? str(rotation, "newKeyId") : undefined].filter((v): v is string => Boolean(v)),
    thumbprints: [
      ...(uploadTried ? [str(upload, "thumbprint"), str(out(session, "cert"), "sha1"), str(session.step("upload").marker ?? {}, "uploading")] : []),
      rotation.phase !== undefined ? str(rotation, "newSha1") : undefined,
    ]
      .filter((v): v is string => Boolean(v))
      .map((v) => v.toUpperCase()),
  };

  const grant = out(session, "grant");
  let roleAssignmentId = str(grant, "roleAssignmentId");
  const markerName = str(session.step("grant").marker ?? {}, "roleAssignmentName") ?? str(grant, "roleAssignmentName");
  if (!roleAssignmentId && markerName && vault?.id) roleAssignmentId = `${vault.id}/providers/Microsoft.Authorization/roleAssignments/${markerName}`;

  const firewall = out(session, "firewall");
  const crashplanRules = strings(firewall.crashplanRules);
  const temporaryRules = [...new Set([...(str(firewall, "temporaryRule") ? [str(firewall, "temporaryRule")!] : []), ...strings(out(session, "validate").temporaryRules), ...strings(out(session, "migrate").temporaryRules)])].filter(
    (rule) => !crashplanRules.includes(rule),
  );

  const paths = localPaths(session.workdir);
  const pfxPath = str(out(session, "pfx"), "pfxPath") ?? paths.pfx;
  const files = [
    str(out(session, "cert"), "keyPath") ?? paths.key,
    str(out(session, "cert"), "certPath") ?? paths.cert,
    pfxPath,
    join(session.workdir, GENERATED_PASSWORD_FILE),
    join(session.workdir, HANDOFF_FILE),
    ...["service-principal.next.key", "service-principal.next.crt", "service-principal.next.pfx", "service-principal.next.pfx.password"].map((f) => join(session.workdir, f)),
  ];
  return { ...(vault ? { vault } : {}), ...(app ? { app } : {}), credentials, ...(roleAssignmentId ? { roleAssignmentId } : {}), temporaryRules, crashplanRules, files: [...new Set(files)] };
}

function isOurs(credential: KeyCredentialInfo, targets: TeardownTargets): boolean {
  if (credential.keyId && targets.credentials.keyIds.includes(credential.keyId)) return true;
  const thumb = credentialThumbprint(credential);
  return thumb !== undefined && targets.credentials.thumbprints.includes(thumb);
}

export interface TeardownOptions {
  session: StateSession;
  azure: AzureServices;
  ui: Ui;
  targets: TeardownTargets;
  purge: boolean;
  deleteFiles: boolean;
}

/** Resets steps to pending (outputs gone) once what they made is gone; saved at once. */
async function reset(session: StateSession, ids: StepId[]): Promise<void> {
  for (const id of ids) session.state.steps[id] = emptyStepRecord();
  await session.save();
}

export function teardownPlan(options: TeardownOptions): TeardownAction[] {
  const { session, azure, ui, targets } = options;
  const { vault, app } = targets;
  const actions: TeardownAction[] = [];

  actions.push({
    id: "temporary-rules",
    description: targets.temporaryRules.length ? `Remove the temporary firewall rule${targets.temporaryRules.length > 1 ? "s" : ""} ${targets.temporaryRules.join(", ")} from ${vault?.name ?? "the vault"}` : "Temporary firewall rules",
    ...(!vault || vault.deleted || targets.temporaryRules.length === 0 ? { skip: "none recorded" } : {}),
    run: async () => {
      const current = await azure.keyVault.getVault(vault!.resourceGroup, vault!.name);
      const present = current ? targets.temporaryRules.filter((r) => current.networkAcls.ipRules.includes(r)) : [];
      if (current && present.length > 0) {
        await azure.keyVault.updateVault(vault!.resourceGroup, vault!.name, { networkAcls: { ...current.networkAcls, ipRules: current.networkAcls.ipRules.filter((r) => !present.includes(r)) } });
      }
      for (const id of ["validate", "migrate"] as const) if (session.step(id).outputs.temporaryRules) session.step(id).outputs.temporaryRules = [];
      delete session.step("firewall").outputs.temporaryRule;
      await session.save();
      return present.length ? `removed ${present.join(", ")}` : "already gone";
    },
  });

  actions.push({
    id: "role-assignment",
    description: `Delete the role assignment of the service principal on the vault${targets.roleAssignmentId ? ` (${targets.roleAssignmentId.split("/").pop()})` : ""}`,
    ...(!targets.roleAssignmentId ? { skip: "none was created" } : {}),
    run: async () => {
      await azure.roles.deleteRoleAssignment(targets.roleAssignmentId!);
      await reset(session, ["grant", "validate", "migrate"]);
      return "deleted";
    },
  });

  const credentialCount = targets.credentials.keyIds.length + targets.credentials.thumbprints.length;
  actions.push({
    id: "credential",
    description: "Remove our certificate credential(s) from the app registration; every other credential is kept",
    ...(!app || credentialCount === 0 ? { skip: "none was uploaded" } : {}),
    run: async () => {
      // A rotation in progress is over once its credentials go: its record would otherwise point at a
      // certificate the app no longer knows.
      delete session.state.operations.rotation;
      const current = await azure.directory.getApplication(app!.objectId);
      if (!current) {
        await reset(session, ["upload"]);
        return "the application is already gone";
      }
      const kept = current.keyCredentials.filter((c) => !isOurs(c, targets));
      if (kept.length === current.keyCredentials.length) {
        await reset(session, ["upload"]);
        return "already gone";
      }
      if (kept.some((c) => !c.key)) {
        // Graph replaces the whole list: writing back credentials without their keys would delete them.
        if (!app!.adopted) return "left to the application's deletion (another credential could not be read back)";
        throw AkvError.azure("The app registration has credentials whose certificate Graph did not return, so ours cannot be removed without deleting them.", {
          code: "KeyCredentialsUnreadable",
          hint: "Remove akv-crashplan's certificate in the portal (App registrations → Certificates & secrets), then run `akv-crashplan teardown` again.",
        });
      }
      await azure.directory.setKeyCredentials(app!.objectId, kept);
      await reset(session, ["upload"]);
      return `removed ${current.keyCredentials.length - kept.length}, kept ${kept.length}`;
    },
  });

  const adoptedApp = app?.adopted ? "adopted, not created by this setup: left alone" : undefined;
  actions.push({
    id: "service-principal",
    description: `Delete the service principal${app?.clientId ? ` of ${app.clientId}` : ""}`,
    ...(!app ? { skip: "none was created" } : adoptedApp ? { skip: adoptedApp } : {}),
    run: async () => {
      const sp = app!.clientId ? await azure.directory.findServicePrincipal(app!.clientId) : undefined;
      if (!sp) return "already gone";
      await azure.directory.deleteServicePrincipal(sp.id);
      return "deleted";
    },
  });
  actions.push({
    id: "application",
    description: `Delete the app registration${app?.clientId ? ` ${app.clientId}` : ""}`,
    ...(!app ? { skip: "none was created" } : adoptedApp ? { skip: adoptedApp } : {}),
    run: async () => {
      const current = await azure.directory.getApplication(app!.objectId);
      if (current) await azure.directory.deleteApplication(app!.objectId);
      await reset(session, ["app", "upload"]);
      return current ? "deleted" : "already gone";
    },
  });

  const adoptedVault = vault?.adopted ? "adopted, not created by this setup: left alone (with its firewall rules)" : undefined;
  actions.push({
    id: "vault",
    description: `Delete the Key Vault ${vault?.name ?? ""} (soft delete: recoverable during its retention period)`,
    ...(!vault ? { skip: "none was created" } : adoptedVault ? { skip: adoptedVault } : vault.deleted ? { skip: "already deleted" } : {}),
    run: async () => {
      const current = await azure.keyVault.getVault(vault!.resourceGroup, vault!.name);
      // Remembered so a rerun can still purge it after the vault step went back to pending.
      const remembered = { ...vault!, location: current?.location ?? vault!.location };
      session.state.operations.teardown = { ...(session.state.operations.teardown as object), vault: remembered };
      await session.save();
      if (current) await ui.wait(`Deleting ${vault!.name}`, () => azure.keyVault.deleteVault(vault!.resourceGroup, vault!.name));
      session.state.operations.teardown = { ...(session.state.operations.teardown as object), vault: { ...remembered, deleted: true } };
      await reset(session, ["vault", "firewall", "grant", "validate", "migrate"]);
      return current ? "soft-deleted" : "already gone";
    },
  });

  actions.push({
    id: "purge",
    description: `Purge the soft-deleted vault ${vault?.name ?? ""}: permanent, its secrets cannot be recovered`,
    ...(!vault || vault.adopted ? { skip: "no vault of ours" } : vault.purged ? { skip: "already purged" } : !options.purge ? { skip: "only with --purge" } : {}),
    run: async () => {
      const deleted = await azure.keyVault.findDeletedVault(vault!.name);
      if (!deleted) return "nothing to purge";
      if (deleted.purgeProtectionEnabled) {
        ui.warn(`${vault!.name} has purge protection: Azure keeps it soft-deleted until ${deleted.scheduledPurgeDate?.slice(0, 10) ?? "its retention ends"}, and nobody can purge it earlier.`);
        return `kept by purge protection until ${deleted.scheduledPurgeDate?.slice(0, 10) ?? "the end of retention"}`;
      }
      await ui.wait(`Purging ${vault!.name}`, () => azure.keyVault.purgeDeletedVault(vault!.name, deleted.location));
      const remembered = (session.state.operations.teardown as { vault?: object } | undefined)?.vault;
      if (remembered) session.state.operations.teardown = { ...(session.state.operations.teardown as object), vault: { ...remembered, purged: true } };
      await session.save();
      return "purged";
    },
  });

  actions.push({
    id: "files",
    description: `Delete the local key, certificate, PFX and hand-off files in ${session.workdir} (state.json is kept)`,
    ...(!options.deleteFiles ? { skip: "only with --delete-files" } : {}),
    run: async () => {
      for (const file of targets.files) await rm(file, { force: true });
      delete session.state.operations.rotation;
      await reset(session, ["cert", "pfx", "validate", "migrate"]);
      return `${targets.files.length} path(s) removed where present`;
    },
  });
  return actions;
}
