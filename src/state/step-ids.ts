/** The step ids, kept free of the schema library so that --help does not load it. */
export const STEP_IDS = ["vault", "app", "firewall", "cert", "upload", "grant", "pfx", "validate", "migrate"] as const;
export type StepId = (typeof STEP_IDS)[number];

export function isStepId(value: string): value is StepId {
  return (STEP_IDS as readonly string[]).includes(value);
}

/** What each step is called on screen; kept here so that `status` can list the steps without loading them. */
export const STEP_TITLES: Readonly<Record<StepId, string>> = {
  vault: "Create the Key Vault",
  app: "Register the app",
  firewall: "Configure the firewall",
  cert: "Generate the certificate",
  upload: "Upload the certificate",
  grant: "Grant permissions",
  pfx: "Export the PFX",
  validate: "Validate the connection",
  migrate: "Migrate the keys",
};

/** The step's number in the manual procedure (1–9). */
export function stepNumber(id: StepId): number {
  return STEP_IDS.indexOf(id) + 1;
}
