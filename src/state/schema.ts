import { z } from "zod";

export const STEP_IDS = ["vault", "app", "firewall", "cert", "upload", "grant", "pfx", "validate", "migrate"] as const;
export type StepId = (typeof STEP_IDS)[number];

export const CURRENT_SCHEMA_VERSION = 1;

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
  })
  .strict();
export type StateFile = z.infer<typeof StateFile>;

export function emptyStepRecord(): StepRecord {
  return { status: "pending", outputs: {} };
}

export function newState(now: Date, lineage: string): StateFile {
  const steps = Object.fromEntries(STEP_IDS.map((id) => [id, emptyStepRecord()])) as Record<StepId, StepRecord>;
  return {
    schemaVersion: CURRENT_SCHEMA_VERSION,
    lineage,
    createdAt: now.toISOString(),
    updatedAt: now.toISOString(),
    answers: {},
    steps,
    operations: {},
  };
}

export function isStepId(value: string): value is StepId {
  return (STEP_IDS as readonly string[]).includes(value);
}
