import { z } from "zod";

import { STEP_IDS } from "./step-ids.js";

export { STEP_IDS, isStepId, type StepId } from "./step-ids.js";

export { CURRENT_SCHEMA_VERSION } from "./version.js";
import { CURRENT_SCHEMA_VERSION } from "./version.js";

export const StepStatus = z.enum(["pending", "running", "done", "failed"]);
export type StepStatus = z.infer<typeof StepStatus>;

const jsonRecord = z.record(z.string(), z.unknown());

export const StepRecord = z
  .object({
    status: StepStatus,
    startedAt: z.string().optional(),
    finishedAt: z.string().optional(),
    /** What the step produced: resource ids, URIs, thumbprints, paths. Never a secret. */
    outputs: jsonRecord.default({}),
    /** Written before the first remote write, so a resumed run can find what it may have created. */
    marker: jsonRecord.optional(),
    error: z
      .object({ message: z.string(), code: z.string().optional(), exitCode: z.number().int(), at: z.string() })
      .optional(),
  })
  .strict();
export type StepRecord = z.infer<typeof StepRecord>;

export const StateFile = z
  .object({
    schemaVersion: z.literal(CURRENT_SCHEMA_VERSION),
    /** Random id of this setup; two unrelated state files can never be confused. */
    lineage: z.string().uuid(),
    createdAt: z.string(),
    updatedAt: z.string(),
    tenantId: z.string().optional(),
    subscriptionId: z.string().optional(),
    cloud: z.string().optional(),
    /** Inputs the operator chose, so a re-run asks nothing twice. Never a secret. */
    answers: jsonRecord.default({}),
    steps: z.partialRecord(z.enum(STEP_IDS), StepRecord),
    /** Day-two operations (rotation, teardown) keep their own resumable records here. */
    operations: jsonRecord.default({}),
    /** The folder this state was last used in; a copied or moved workdir has its recorded paths re-based. */
    workdir: z.string().optional(),
  })
  .strict();
export type StateFile = z.infer<typeof StateFile>;

export { emptyStepRecord, newState } from "./new-state.js";
