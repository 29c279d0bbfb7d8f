import { StateSession } from "../../engine/session.js";
import { stepContext } from "../../engine/runner.js";
import { resolveInputs } from "../../engine/resolve.js";
import { AkvError } from "../../errors.js";
import { STEP_IDS } from "../../state/schema.js";
import { assertStateOwnership } from "../../state/store.js";
import { ALL_STEPS } from "../../steps/index.js";
import { migrateStep, verifyKeystore } from "../../steps/migrate.js";
import { findTargets, teardownPlan, type TeardownAction } from "../../ops/teardown.js";
import type { AzureServices } from "../../azure/services.js";
import type { Runtime } from "../runtime.js";

interface TeardownFlags {
  purge?: boolean;
  deleteFiles?: boolean;
  force?: boolean;
}

export async function teardownCommand(rt: Runtime, flags: TeardownFlags): Promise<number> {
  const { ui } = rt;
  await rt.loadConfig();
  const session = await rt.openState({ command: "teardown", lock: true });
  rt.sessionToRelease = session;
  rt.enableLog();
  rt.log("command: teardown");
  if (!session.existed) {
    throw AkvError.precondition(`There is no setup in ${rt.workdir}, so nothing to tear down.`, { code: "NoSetup", hint: "Pass the --workdir of the setup to undo." });
  }
  const azure = await rt.azure();
  const identity = await ui.wait("Signing in", () => azure.identity());
  ui.info(`Signed in as ${identity.principalName} to tenant ${identity.tenantId}, subscription ${identity.subscriptionName} (${identity.subscriptionId}).`);
  assertStateOwnership(session.state, identity.tenantId, identity.subscriptionId, rt.workdir);

  const targets = await findTargets(session, azure);
  const actions = teardownPlan({ session, azure, ui, targets, purge: flags.purge === true, deleteFiles: flags.deleteFiles === true });
  const todo = actions.filter((a) => !a.skip);
  printPlan(rt, actions);
  if (todo.length === 0) {
    ui.line("Nothing to tear down.");
    if (ui.json) ui.data({ ok: true, plan: planJson(actions), results: [], status: statusJson(session) });
    return 0;
  }

  // Everything that can refuse or needs an answer is settled before the first delete.
  const recorded = Number(session.step("migrate").outputs.keystoreEntries ?? 0);
  const breaksCrashPlan = todo.some((a) => a.id === "role-assignment" || a.id === "credential" || a.id === "vault");
  if (breaksCrashPlan && recorded > 0) refuseOrWarn(rt, flags, recorded, targets.vault?.name, "recorded by `migrate --verify`");
  if (todo.some((a) => a.id === "purge")) await confirmPurge(rt, targets.vault!.name);
  if (!rt.globals.yes) {
    if (!ui.interactive) throw AkvError.usage("teardown needs your approval of the plan above, and prompting is off.", { code: "ApprovalNeeded", hint: "Pass --yes to approve it." });
    if (!(await ui.prompt.confirm({ message: "Tear down what is listed above?", default: false }))) throw AkvError.cancelled("Teardown declined; nothing was changed.");
  }
  if (breaksCrashPlan && recorded === 0) {
    const live = await countKeystoreEntries(rt, session, azure);
    if (live.entries !== undefined && live.entries > 0) refuseOrWarn(rt, flags, live.entries, targets.vault?.name, "found in the vault just now");
    else if (live.entries === undefined) ui.warn(`Could not look for CrashPlan keystore entries in the vault (${live.why}); going ahead because this setup never recorded any.`);
  }

  const previous = (session.state.operations.teardown ?? {}) as Record<string, unknown>;
  session.state.operations.teardown = { ...previous, startedAt: previous.startedAt ?? new Date().toISOString(), finishedAt: null, done: [] };
  await session.save();
  const results: Array<{ id: string; result: string }> = [];
  for (const action of todo) {
    const result = await action.run!();
    results.push({ id: action.id, result });
    const record = session.state.operations.teardown as { done: string[] };
    record.done = [...record.done, action.id];
    await session.save();
    ui.success(`${action.description}: ${result}`);
  }
  (session.state.operations.teardown as Record<string, unknown>).finishedAt = new Date().toISOString();
  await session.save();
  if (ui.json) ui.data({ ok: true, plan: planJson(actions), results, status: statusJson(session) });
  else {
    ui.line("");
    ui.line(`Torn down. The steps that were undone are pending again in ${rt.workdir}/state.json; \`akv-crashplan setup\` would create them anew.`);
    if (results.some((r) => r.id === "vault" && r.result === "soft-deleted") && !flags.purge) {
      ui.line(`The vault name ${targets.vault!.name} stays taken while it is soft-deleted; \`setup --recover-deleted\` brings it back.`);
    }
  }
  return 0;
}

function printPlan(rt: Runtime, actions: TeardownAction[]): void {
  const { ui } = rt;
  ui.heading("Teardown plan (newest first)");
  for (const action of actions) ui.line(action.skip ? ui.c.dim(`  - ${action.description}: skipped (${action.skip})`) : `  - ${action.description}`);
}

const planJson = (actions: TeardownAction[]) => actions.map((a) => ({ id: a.id, description: a.description, ...(a.skip ? { skipped: a.skip } : {}) }));
const statusJson = (session: StateSession) => Object.fromEntries(STEP_IDS.map((id) => [id, session.step(id).status]));

function refuseOrWarn(rt: Runtime, flags: TeardownFlags, entries: number, vault: string | undefined, how: string): void {
  const what = `The vault ${vault ?? ""} holds ${entries} CrashPlan keystore entr${entries === 1 ? "y" : "ies"} (${how}).`;
  if (!flags.force) {
    throw AkvError.precondition(`${what} Tearing it down cuts CrashPlan off from its keystore, and without the keystore its backups cannot be restored.`, {
      code: "KeystoreInVault",
      hint: "Move CrashPlan off this vault first (its console: Update keystore or revert). Only if you accept losing every backup it protects: teardown --force.",
    });
  }
  rt.ui.warn(`${what} --force: CrashPlan loses its keystore; backups it encrypted become UNRECOVERABLE once the vault is gone.`);
}

/** The purge is the one step nothing can undo, so it asks for the vault's name typed out, not just --yes. */
async function confirmPurge(rt: Runtime, vaultName: string): Promise<void> {
  const { ui } = rt;
  const given = rt.io.env.AKV_CRASHPLAN_CONFIRM_PURGE;
  if (given !== undefined) {
    if (given !== vaultName) throw AkvError.usage(`AKV_CRASHPLAN_CONFIRM_PURGE is "${given}", not the vault's name ${vaultName}; nothing was changed.`, { code: "PurgeNotConfirmed" });
    return;
  }
  if (!ui.interactive) {
    throw AkvError.usage(`--purge deletes ${vaultName} for good and needs its name typed, and prompting is off.`, { code: "PurgeNotConfirmed", hint: `Set AKV_CRASHPLAN_CONFIRM_PURGE=${vaultName} to confirm.` });
  }
  const typed = await ui.prompt.input({ message: `Purging cannot be undone. Type the vault name (${vaultName}) to confirm` });
  if (typed.trim() !== vaultName) throw AkvError.cancelled("The name did not match; nothing was changed.");
}

/** Lists secret names (never values) as the service principal; undefined with the reason when that is impossible. */
async function countKeystoreEntries(rt: Runtime, session: StateSession, azure: AzureServices): Promise<{ entries?: number; why?: string }> {
  const sources = rt.inputSources({}, session.state.answers);
  const inputs = await resolveInputs(["allowMyIp", "keepMyIp"], sources, { ui: rt.ui, lenient: true });
  const options = { session, steps: ALL_STEPS, selected: [...STEP_IDS], inputs, azure, ui: rt.ui, yes: Boolean(rt.globals.yes), sleep: async () => undefined, flags: {}, secrets: new Map<string, string>() };
  try {
    const result = await rt.ui.wait("Looking for CrashPlan's keystore entries in the vault", () => verifyKeystore(stepContext(options, migrateStep)));
    return { entries: result.entries };
  } catch (error) {
    return { why: error instanceof Error ? error.message : String(error) };
  }
}
