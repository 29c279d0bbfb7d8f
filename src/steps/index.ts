import type { Step } from "../engine/step.js";
import { appStep } from "./app.js";
import { certStep } from "./cert.js";
import { firewallStep } from "./firewall.js";
import { grantStep } from "./grant.js";
import { migrateStep } from "./migrate.js";
import { pfxStep } from "./pfx.js";
import { uploadStep } from "./upload.js";
import { validateStep } from "./validate.js";
import { vaultStep } from "./vault.js";

/** The nine steps, in the order of the manual procedure. */
export const ALL_STEPS: readonly Step[] = [vaultStep, appStep, firewallStep, certStep, uploadStep, grantStep, pfxStep, validateStep, migrateStep];
