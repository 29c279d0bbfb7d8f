// node:fs/promises is reached through fs.promises so that it loads on first use, not with this module.
import { promises as fs, readFile } from "node:fs";
import { promisify } from "node:util";
import { join } from "node:path";
import { AkvError } from "../errors.js";
import { writeFileAtomic } from "./atomic-file.js";
import { migrateForward } from "./migrations.js";
import type { StateFile, StepRecord } from "./schema.js";
import { emptyStepRecord, newState } from "./new-state.js";
import { STEP_IDS, type StepId } from "./step-ids.js";
import { CURRENT_SCHEMA_VERSION } from "./version.js";
import { makeFolder } from "./folders.js";

const readFileText = promisify(readFile);

// zod is loaded only when there is a state file to validate or write (it is most of the start-up time).
const schema = () => import("./schema.js");

export const STATE_FILE_NAME = "state.json";
export const STATE_BACKUP_NAME = "state.json.backup";

export function statePath(workdir: string): string {
  return join(workdir, STATE_FILE_NAME);
}

/** A new state's lineage; node:crypto (~3 ms to load) is fetched only when one is made. */
const randomLineage = () => process.getBuiltinModule("node:crypto").randomUUID();

/**
 * Reads, validates and migrates the state file; a missing file is an empty, unsaved state. A reader that can never
 * save (no lock) passes a fixed lineage for it instead of a random one.
 */
export async function loadState(workdir: string, now = new Date(), newLineage: () => string = randomLineage): Promise<{ state: StateFile; existed: boolean }> {
  const path = statePath(workdir);
  let text: string;
  try {
    // The callback API: reading a state (all that `status` does) then never loads node:fs/promises (~1.5 ms).
    text = await readFileText(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return { state: newState(now, newLineage()), existed: false };
    if (code === "EISDIR") throw corrupt(workdir, "it is a directory, not a file");
    throw AkvError.state(`Cannot read the state file ${path}: ${(error as Error).message}.`, {
      code: "StateUnreadable",
      hint: "Check the file's owner and permissions, then run the command again.",
    });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    throw corrupt(workdir, `it is not valid JSON (${(error as Error).message})`);
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) throw corrupt(workdir, "it is not a JSON object");
  const record = doc as Record<string, unknown>;
  const version = record.schemaVersion;
  if (typeof version !== "number" || !Number.isInteger(version) || version < 0) {
    throw corrupt(workdir, "it has no valid schemaVersion; it may not be an akv-crashplan state file");
  }
  if (version > CURRENT_SCHEMA_VERSION) {
    throw AkvError.state(
      `The state file ${path} has schema version ${version}, newer than this akv-crashplan understands (${CURRENT_SCHEMA_VERSION}).`,
      { code: "StateTooNew", hint: "Upgrade akv-crashplan to the version that wrote it; the file was left untouched." },
    );
  }
  const migrated = version < CURRENT_SCHEMA_VERSION ? migrateForward(record, version) : record;
  const parsed = (await schema()).StateFile.safeParse(migrated);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? issue.path.join(".") : "(top level)";
    throw corrupt(workdir, `field ${where}: ${issue?.message ?? "invalid"}`);
  }
  const state = parsed.data;
  for (const id of STEP_IDS) state.steps[id] ??= emptyStepRecord();
  return { state, existed: true };
}

function corrupt(workdir: string, what: string): AkvError {
  const path = statePath(workdir);
  return AkvError.state(`The state file ${path} is damaged: ${what}.`, {
    code: "StateCorrupt",
    hint: `The file was left untouched. The previous good snapshot is ${join(workdir, STATE_BACKUP_NAME)} (if it exists); inspect both, restore one by hand, or use another --workdir.`,
  });
}

/** Atomic save; the snapshot being replaced is kept as state.json.backup. */
export async function saveState(workdir: string, state: StateFile, now = new Date()): Promise<void> {
  await makeFolder(workdir, 0o700);
  const path = statePath(workdir);
  state.updatedAt = now.toISOString();
  const exists = await fs.stat(path).then(() => true, () => false);
  if (exists) {
    // Only a file that still parses is worth keeping as "the previous good snapshot".
    const previous = await fs.readFile(path, "utf8").catch(() => undefined);
    if (previous !== undefined && (await schema()).StateFile.safeParse(safeJson(previous)).success) {
      await fs.copyFile(path, join(workdir, STATE_BACKUP_NAME));
    }
  }
  await writeFileAtomic(path, JSON.stringify(state, null, 2) + "\n", 0o600);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Refuse to mix two setups: a state made for one tenant/subscription is never used for another. */
export function assertStateOwnership(state: StateFile, tenantId: string | undefined, subscriptionId: string | undefined, workdir: string): void {
  if (tenantId && state.tenantId && state.tenantId.toLowerCase() !== tenantId.toLowerCase()) {
    throw AkvError.state(
      `The state in ${workdir} belongs to tenant ${state.tenantId}, but this run is for tenant ${tenantId}.`,
      { code: "StateOtherTenant", hint: "Use another --workdir for a second setup, or sign in to the tenant the state belongs to." },
    );
  }
  if (subscriptionId && state.subscriptionId && state.subscriptionId.toLowerCase() !== subscriptionId.toLowerCase()) {
    throw AkvError.state(
      `The state in ${workdir} belongs to subscription ${state.subscriptionId}, but this run is for subscription ${subscriptionId}.`,
      { code: "StateOtherSubscription", hint: "Use another --workdir for a second setup, or pass --subscription " + state.subscriptionId + "." },
    );
  }
}

export function stepRecord(state: StateFile, id: StepId): StepRecord {
  return (state.steps[id] ??= emptyStepRecord());
}
