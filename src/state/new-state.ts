import type { StateFile, StepRecord } from "./schema.js";
import { CURRENT_SCHEMA_VERSION } from "./version.js";
import { STEP_IDS, type StepId } from "./step-ids.js";

/** Kept apart from the zod schema so that a run with no state file yet does not load zod. */
export function emptyStepRecord(): StepRecord {
  return { status: "pending", outputs: {} };
}

export function newState(now: Date, lineage: string): StateFile {
  const steps = Object.fromEntries(STEP_IDS.map((id) => [id, emptyStepRecord()])) as Record<StepId, StepRecord>;
  return {
    schemaVersion: CURRENT_SCHEMA_VERSION as 1,
    lineage,
    createdAt: now.toISOString(),
    updatedAt: now.toISOString(),
    answers: {},
    steps,
    operations: {},
  };
}
