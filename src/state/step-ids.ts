/** The step ids, kept free of the schema library so that --help does not load it. */
export const STEP_IDS = ["vault", "app", "firewall", "cert", "upload", "grant", "pfx", "validate", "migrate"] as const;
export type StepId = (typeof STEP_IDS)[number];

export function isStepId(value: string): value is StepId {
  return (STEP_IDS as readonly string[]).includes(value);
}
