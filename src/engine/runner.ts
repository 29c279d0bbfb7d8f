import { AkvError, isAkvError } from "../errors.js";
import type { AzureServices } from "../azure/services.js";
import type { StepId } from "../state/schema.js";
import type { Ui } from "../ui/ui.js";
import type { ResolvedInputs } from "./resolve.js";
import type { StateSession } from "./session.js";
import type { Outputs, Step, StepContext } from "./step.js";

export interface RunOptions {
  session: StateSession;
  steps: readonly Step[];
  /** The ids to run, in order. */
  selected: readonly StepId[];
  inputs: ResolvedInputs;
  azure: AzureServices;
  ui: Ui;
  yes: boolean;
  sleep: (ms: number) => Promise<void>;
  now?: () => Date;
  flags: Record<string, unknown>;
  secrets: Map<string, string>;
  /** Steps to run again although they are done (e.g. `pfx export --force`). */
  redo?: readonly StepId[];
  /** Called before each step's screen (the wizard prints its explanation). */
  onStepStart?: (step: Step) => void;
}

export interface StepOutcome {
  id: StepId;
  title: string;
  result: "done" | "already done" | "repaired" | "failed" | "skipped";
  outputs: Outputs;
  detail?: string;
}

export function stepContext(options: RunOptions, step: Step): StepContext {
  const { session } = options;
  const record = session.step(step.id);
  return {
    workdir: session.workdir,
    inputs: options.inputs,
    azure: options.azure,
    ui: options.ui,
    yes: options.yes,
    state: session.state,
    flags: options.flags,
    secrets: options.secrets,
    previous: { outputs: { ...record.outputs }, marker: record.marker ? { ...record.marker } : undefined },
    outputsOf: (id) => ({ ...session.step(id).outputs }),
    saveMarker: async (marker) => {
      session.step(step.id).marker = { ...session.step(step.id).marker, ...marker };
      await session.save();
    },
    saveOutputs: async (outputs) => {
      const current = session.step(step.id);
      current.outputs = { ...current.outputs, ...outputs };
      await session.save();
    },
    now: options.now ?? (() => new Date()),
    sleep: options.sleep,
  };
}

/**
 * Runs the selected steps in order. A step already done is re-checked read-only and skipped (or repaired
 * when Azure drifted); a step left `running` by a dead process is reconciled by its own idempotent apply,
 * helped by the marker it saved, never blindly redone. State is saved after every transition.
 */
export async function runSteps(options: RunOptions): Promise<StepOutcome[]> {
  const { session, ui } = options;
  const now = options.now ?? (() => new Date());
  const outcomes: StepOutcome[] = [];
  const byId = new Map(options.steps.map((step) => [step.id, step]));
  const changed = new Set<StepId>();
  for (const id of options.selected) {
    const step = byId.get(id);
    if (step?.prepare && session.step(id).status !== "done") step.prepare(stepContext(options, step));
  }
  for (const id of options.selected) {
    const step = byId.get(id);
    if (!step) throw new AkvError(1, `internal: unknown step ${id}`);
    for (const need of step.needs) {
      if (session.step(need).status !== "done" && !options.selected.slice(0, options.selected.indexOf(id)).includes(need)) {
        throw AkvError.precondition(`Step ${step.number} "${step.title}" needs step "${need}" to be done first; it is ${session.step(need).status}.`, {
          code: "StepNotReady",
          hint: `Run \`akv-crashplan setup --from ${need}\` (or the ${need} command) first.`,
        });
      }
    }
    options.onStepStart?.(step);
    const record = session.step(id);
    const ctx = stepContext(options, step);
    let repairing = false;
    // A step that reads what a step changed in this run (repaired, or redone) must act on the new outputs: a
    // re-created service principal needs its role again, a new PFX its validation.
    const upstreamChanged = step.needs.some((need) => changed.has(need));
    if (record.status === "done" && upstreamChanged) {
      ui.info(`${step.number}. ${step.title}: running again, because ${step.needs.filter((n) => changed.has(n)).join(", ")} changed`);
    }
    if (record.status === "done" && !options.redo?.includes(id) && !upstreamChanged) {
      const check = await step.check(ctx);
      if (check.status === "done") {
        ui.success(`${step.number}. ${step.title}: already done${check.detail ? ` (${check.detail})` : ""}`);
        outcomes.push({ id, title: step.title, result: "already done", outputs: { ...record.outputs }, ...(check.detail ? { detail: check.detail } : {}) });
        continue;
      }
      if (check.status === "rerun") {
        ui.info(`${step.number}. ${step.title}: ${check.detail ?? "running again"}`);
      } else {
        ui.warn(`${step.number}. ${step.title}: ${check.detail ?? "no longer matches Azure"}; repairing.`);
        repairing = true;
      }
    }
    const wasDone = record.status === "done";
    const previousStatus = record.status;
    record.status = "running";
    record.startedAt = now().toISOString();
    delete record.error;
    await session.save();
    try {
      const outputs = await step.apply(stepContext(options, step));
      const done = session.step(id);
      done.outputs = { ...done.outputs, ...outputs };
      done.status = "done";
      done.finishedAt = now().toISOString();
      await session.save();
      if (wasDone || repairing) changed.add(id);
      ui.success(`${step.number}. ${step.title}: ${repairing ? "repaired" : "done"}`);
      outcomes.push({ id, title: step.title, result: repairing ? "repaired" : "done", outputs: { ...done.outputs } });
    } catch (error) {
      const failed = session.step(id);
      if (isAkvError(error) && error.exitCode === 130) {
        // Cancelled: leave it `running`, so the next run reconciles what may have been half-made.
        await session.save();
        throw error;
      }
      if (isAkvError(error) && error.exitCode === 2 && previousStatus === "done") {
        // Bad input (a too-short --password-file, say) changes nothing: the step stays as good as it was.
        failed.status = "done";
        await session.save();
        throw error;
      }
      failed.status = "failed";
      failed.finishedAt = now().toISOString();
      failed.error = {
        message: ui.redactor.redact(error instanceof Error ? error.message : String(error)),
        ...(isAkvError(error) && error.code ? { code: error.code } : {}),
        exitCode: isAkvError(error) ? error.exitCode : 1,
        at: now().toISOString(),
      };
      await session.save();
      throw error;
    }
  }
  return outcomes;
}
