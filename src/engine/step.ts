import type { AzureServices } from "../azure/services.js";
import type { StateFile } from "../state/schema.js";
import type { StepId } from "../state/step-ids.js";
import type { Ui } from "../ui/ui.js";
import type { InputKey } from "./inputs.js";
import type { ResolvedInputs } from "./resolve.js";

export type Outputs = Record<string, unknown>;

export interface CheckResult {
  /**
   * "done": what the step produces exists and is right; "missing": nothing yet; "drift": exists but differs;
   * "rerun": fine, but this command asks the step to act again (e.g. `migrate --verify`).
   */
  status: "done" | "missing" | "drift" | "rerun";
  /** Plain words for status and resume screens, e.g. "role assignment missing in Azure". */
  detail?: string;
}

/** What the engine hands a step. Steps never call each other; they read earlier steps' outputs from here. */
export interface StepContext {
  readonly workdir: string;
  readonly inputs: ResolvedInputs;
  readonly azure: AzureServices;
  readonly ui: Ui;
  /** --yes: approve confirmations. */
  readonly yes: boolean;
  /** Outputs recorded by an earlier step (empty when it has not run). */
  outputsOf(step: StepId): Outputs;
  /** This step's own record from an earlier, interrupted or finished run. */
  readonly previous: { outputs: Outputs; marker: Outputs | undefined };
  /** Persist a marker before a remote write, so a resumed run can find what it may have created. */
  saveMarker(marker: Outputs): Promise<void>;
  /** Persist partial outputs immediately (e.g. the temporary firewall rule). */
  saveOutputs(outputs: Outputs): Promise<void>;
  readonly state: Readonly<StateFile>;
  /** Command flags that are not inputs (e.g. --force, --password-file). */
  readonly flags: Readonly<Record<string, unknown>>;
  /** Secrets held in memory for this run only (e.g. the PFX password between pfx and validate). Never saved. */
  readonly secrets: Map<string, string>;
  now(): Date;
  /** Waits that back off and react promptly; tests shorten them. */
  sleep(ms: number): Promise<void>;
}

export interface Step {
  readonly id: StepId;
  readonly number: number;
  readonly title: string;
  /** Why this step exists and what it creates, in plain words (shown on the step's screen). */
  readonly explanation: string;
  readonly inputs: readonly InputKey[];
  /**
   * Inputs that the step's own command applies to a step already done when they change (`firewall configure
   * --crashplan-ip …` adds the addresses). Any other input given for a done step is ignored with a warning and
   * never saved; `--force` redoes the step.
   */
  readonly reapplies?: readonly InputKey[];
  /** Earlier steps whose outputs this one reads. */
  readonly needs: readonly StepId[];
  /** Whether it talks to Azure (cert and pfx are local and need no sign-in). */
  readonly remote: boolean;
  /** Observes Azure (and local files) without changing anything. */
  check(ctx: StepContext): Promise<CheckResult>;
  /** What apply would create or change, in words. */
  plan(ctx: Omit<StepContext, "azure">): string[];
  /** Optional: start slow local work (key generation) early, so it overlaps the remote waits of earlier steps. */
  prepare?(ctx: StepContext): void;
  /** Creates or adopts, idempotently; returns what to record. */
  apply(ctx: StepContext): Promise<Outputs>;
}
