import { STEP_TITLES, stepNumber } from "../state/step-ids.js";
import { join } from "node:path";
import type { Step, StepContext } from "../engine/step.js";
import { writeFileAtomic } from "../state/atomic-file.js";
import { readSigningPem } from "./local-files.js";
import { handoffFromState, handoffMarkdown, renderHandoff } from "./handoff.js";
import { requireOutput } from "./shared.js";
import { withTemporaryAccess } from "./validate.js";

export const HANDOFF_FILE = "crashplan-handoff.md";

/** Lists secret properties (never values) as the service principal and counts CrashPlan's entries. */
export async function verifyKeystore(ctx: StepContext): Promise<{ entries: number; names: string[]; newest?: string }> {
  const { combined } = await readSigningPem(requireOutput(ctx, "cert", "keyPath"), requireOutput(ctx, "cert", "certPath"));
  const client = ctx.azure.secrets.asServicePrincipal({
    vaultUrl: requireOutput(ctx, "vault", "vaultUrl"),
    tenantId: requireOutput(ctx, "app", "tenantId"),
    clientId: requireOutput(ctx, "app", "clientId"),
    certificatePem: combined,
  });
  // Validation closed the firewall behind itself; listing from this machine may need the temporary rule again.
  const secrets = (await withTemporaryAccess(ctx, "migrate", () => client.listSecretProperties())).filter((s) => !s.name.startsWith("akv-crashplan-probe-"));
  const newest = secrets.map((s) => s.createdOn ?? "").sort().pop();
  return { entries: secrets.length, names: secrets.map((s) => s.name), ...(newest ? { newest } : {}) };
}

export const migrateStep: Step = {
  id: "migrate",
  number: stepNumber("migrate"),
  title: STEP_TITLES.migrate,
  explanation:
    "CrashPlan moves its keystore into the vault when you run Migrate keystore in its console. This gives you exactly what\n" +
    "the console asks for, then checks that the keystore entries arrived.",
  inputs: ["crashplanCloud", "allowMyIp", "keepMyIp"],
  needs: ["vault", "app", "pfx", "validate"],
  remote: true,

  plan() {
    return [`Write ${HANDOFF_FILE} with what CrashPlan's Migrate keystore asks for (no password), and check for the keystore entries afterwards`];
  },

  async check(ctx) {
    if (ctx.flags.verify === true) return { status: "rerun", detail: "checking CrashPlan's keystore entries in the vault" };
    if (ctx.flags.confirmBackupRestore === true) return { status: "rerun", detail: "recording the test backup and restore" };
    return { status: "done", detail: ctx.previous.outputs.verifiedAt ? `${String(ctx.previous.outputs.keystoreEntries)} keystore entries` : "waiting for CrashPlan's Migrate keystore" };
  },

  async apply(ctx) {
    const handoff = handoffFromState(ctx.state as never, ctx.workdir)!;
    const file = join(ctx.workdir, HANDOFF_FILE);
    await writeFileAtomic(file, handoffMarkdown(handoff, ctx.now()), 0o600);
    const outputs: Record<string, unknown> = { ...ctx.previous.outputs, handoffFile: file, handoffAt: ctx.now().toISOString() };
    if (ctx.flags.verify !== true) {
      ctx.ui.line(renderHandoff(handoff));
      ctx.ui.info(`  Written to ${file}.`);
    }
    let verify = ctx.flags.verify === true;
    if (!verify && ctx.ui.interactive && !ctx.yes) {
      verify = await ctx.ui.prompt.confirm({ message: "Has CrashPlan's Migrate keystore finished? (answer no to verify later with `akv-crashplan migrate --verify`)", default: false });
    }
    if (verify) {
      const result = await ctx.ui.wait("Looking for CrashPlan's keystore entries in the vault", () => verifyKeystore(ctx));
      outputs.keystoreEntries = result.entries;
      if (result.entries > 0) {
        outputs.verifiedAt = ctx.now().toISOString();
        ctx.ui.success(`  ${result.entries} keystore entr${result.entries === 1 ? "y" : "ies"} in the vault${result.newest ? `, the newest written ${result.newest}` : ""}.`);
      } else {
        ctx.ui.warn("No keystore entries in the vault yet: CrashPlan's Migrate keystore has not run or not finished.");
      }
    }
    let confirmed = ctx.flags.confirmBackupRestore === true;
    if (!confirmed && outputs.verifiedAt && ctx.ui.interactive && !ctx.yes) {
      confirmed = await ctx.ui.prompt.confirm({ message: "Did a test backup and a test restore succeed with the new keystore?", default: false });
    }
    if (confirmed) outputs.backupRestoreConfirmedAt = ctx.now().toISOString();
    const box = (done: unknown) => (done ? "[x]" : "[ ]");
    ctx.ui.line("");
    ctx.ui.line("  The procedure is complete when:");
    ctx.ui.line(`    ${box(outputs.verifiedAt)} CrashPlan uses the vault and its keys are migrated and readable${outputs.verifiedAt ? "" : "  (check: akv-crashplan migrate --verify)"}`);
    ctx.ui.line(`    ${box(outputs.backupRestoreConfirmedAt)} a test backup and a test restore succeeded${outputs.backupRestoreConfirmedAt ? "" : "  (then: akv-crashplan migrate --confirm-backup-restore)"}`);
    return outputs;
  },
};
