import { stepContext } from "../../engine/runner.js";
import { resolveInputs } from "../../engine/resolve.js";
import { STEP_IDS } from "../../state/schema.js";
import { assertStateOwnership } from "../../state/store.js";
import { ALL_STEPS } from "../../steps/index.js";
import { migrateStep } from "../../steps/migrate.js";
import { consoleInstructions, finishRotation, prepareRotation, type RotationContext } from "../../ops/rotation.js";
import { rewriteHandoffFile } from "../../steps/handoff.js";
import type { Runtime } from "../runtime.js";

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** `cert rotate` prepares the new certificate and PFX and stops for CrashPlan; `--finish` (or a yes at the prompt) completes it. */
export async function rotateCommand(rt: Runtime, flags: Record<string, unknown>): Promise<number> {
  const { ui } = rt;
  await rt.loadConfig();
  const session = await rt.openState({ command: "cert rotate", lock: true });
  rt.sessionToRelease = session;
  rt.enableLog();
  rt.log(`command: cert rotate${flags.finish ? " --finish" : ""}`);
  const azure = await rt.azure();
  const identity = await ui.wait("Signing in", () => azure.identity());
  assertStateOwnership(session.state, identity.tenantId, identity.subscriptionId, rt.workdir);
  const inputs = await resolveInputs(["keySize", "days", "subject", "pfxCipher", "allowMyIp", "keepMyIp", "wait"], rt.inputSources(flags, {}), { ui, lenient: true });
  const options = { session, steps: ALL_STEPS, selected: [...STEP_IDS], inputs, azure, ui, yes: Boolean(rt.globals.yes), sleep, flags, secrets: new Map<string, string>() };
  const interrupt = rt.io.env.AKV_CRASHPLAN_TEST_INTERRUPT_ROTATION;
  const rc: RotationContext = { session, step: stepContext(options, migrateStep), ...(interrupt ? { interruptBefore: interrupt } : {}) };

  let finish = flags.finish === true;
  if (!finish) {
    const record = await prepareRotation(rc);
    ui.heading("Update CrashPlan's keystore");
    for (const line of consoleInstructions(rc)) ui.line(line);
    if (ui.interactive && !rt.globals.yes) {
      finish = await ui.prompt.confirm({ message: "Has CrashPlan's Update keystore finished with the new PFX? (no: finish later with `cert rotate --finish`)", default: false });
    }
    if (!finish) {
      if (ui.json) ui.data({ ok: true, phase: record.phase, rotation: record });
      return 0;
    }
  }
  const done = await finishRotation(rc);
  await rewriteHandoffFile(session.state, rt.workdir);
  if (ui.json) ui.data({ ok: true, phase: done.phase, rotation: session.state.operations.lastRotation });
  else ui.line("Rotation finished: the old certificate is gone from the app registration; only the new one can sign in now.");
  return 0;
}
