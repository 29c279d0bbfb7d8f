import { dirname, resolve } from "node:path";
import { stat } from "node:fs/promises";
import { AkvError, isAkvError } from "../../errors.js";
import { INPUTS, type InputKey, type PromptHelpers } from "../../engine/inputs.js";
import { resolveInputs, ResolvedInputs } from "../../engine/resolve.js";
import { runSteps, stepContext, type StepOutcome } from "../../engine/runner.js";
import { StateSession } from "../../engine/session.js";
import type { Step } from "../../engine/step.js";
import { STEP_IDS, isStepId, type StepId } from "../../state/step-ids.js";
import { assertStateOwnership } from "../../state/store.js";
import { ALL_STEPS } from "../../steps/index.js";
import type { AzureServices, SignedInIdentity } from "../../azure/services.js";
import type { Runtime } from "../runtime.js";
import { handoffFromState, renderHandoff, rewriteHandoffFile } from "../../steps/handoff.js";
import { readAddressFile } from "../../steps/firewall.js";

export interface RunStepsRequest {
  command: string;
  /** Steps this command runs, in order. */
  ids: StepId[];
  flags: Record<string, unknown>;
  plan?: boolean;
  wizard?: boolean;
  /** setup asks for one confirmation of the plan; single-step commands are their own confirmation. */
  confirmPlan?: boolean;
}

export function selectSetupSteps(flags: { from?: string; only?: string[] }): StepId[] {
  const check = (value: string, flag: string) => {
    if (!isStepId(value)) throw AkvError.usage(`${flag} has the value "${value}", but it must be one of ${STEP_IDS.join(", ")}.`, { code: "InvalidStep" });
    return value;
  };
  if (flags.only && flags.only.length > 0) {
    const only = new Set(flags.only.flatMap((v) => v.split(",")).map((v) => check(v.trim(), "--only")));
    return STEP_IDS.filter((id) => only.has(id));
  }
  if (flags.from) {
    const from = check(flags.from, "--from");
    return STEP_IDS.slice(STEP_IDS.indexOf(from));
  }
  return [...STEP_IDS];
}

function stepsFor(ids: StepId[]): Step[] {
  return ids.map((id) => ALL_STEPS.find((step) => step.id === id)!);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function runStepsCommand(rt: Runtime, request: RunStepsRequest): Promise<number> {
  const { ui } = rt;
  await rt.loadConfig();
  const session = await rt.openState({ command: request.command, lock: !request.plan });
  rt.sessionToRelease = session;
  if (!request.plan) rt.enableLog();
  rt.log(`command: ${request.command}`);
  const steps = stepsFor(request.ids);
  // A single-step command with --force redoes its step even when it is done.
  // A single-step command redoes its step when asked (--force) or when it is given new inputs: running
  // `firewall configure --crashplan-ip …` on a done firewall means "apply these addresses", not "already done".
  const redo = request.ids.length === 1 && (request.flags.force === true || (await givesNewInputs(rt, request, steps[0]!, session))) ? [...request.ids] : [];
  const pending = steps.filter((step) => session.step(step.id).status !== "done" || redo.includes(step.id));
  const needsAzure = steps.some((step) => step.remote);

  if (request.wizard) printIntro(rt, session, steps);

  // Prompts off: every missing input is listed before any network call, let alone a write.
  const keysOf = (list: Step[]) => [...new Set(list.flatMap((step) => step.inputs))] as InputKey[];
  const sources = rt.inputSources(request.flags, session.state.answers);
  let inputs: ResolvedInputs | undefined;
  if (!ui.interactive) {
    inputs = await resolveInputs(keysOf(pending), sources, { ui, acceptDefaults: Boolean(rt.globals.yes) }).catch((error: unknown) => {
      // Someone trying the sandbox from a script (the README's first command, without a terminal) wants the short way.
      if (isAkvError(error) && error.code === "MissingInputs" && rt.useSandbox && request.command === "setup") {
        throw new AkvError(error.exitCode, error.message, {
          code: error.code,
          details: error.details,
          hint: `${error.hint} For a rehearsal without a terminal: \`akv-crashplan setup --sandbox --yes --location eastus\` (--yes takes the suggested names).`,
        });
      }
      throw error;
    });
  }

  await checkInputFiles(rt, request.flags, pending, inputs);

  let identity: SignedInIdentity | undefined;
  let azure: AzureServices | undefined;
  if (needsAzure) {
    azure = await rt.azure();
    identity = await ui.wait("Signing in", () => azure!.identity());
    ui.info(
      `Signed in as ${ui.c.bold(identity.principalName)} (${identity.principalType}, ${identity.authMethod}) to tenant ${identity.tenantId}${identity.tenantName ? ` (${identity.tenantName})` : ""}, subscription ${ui.c.bold(identity.subscriptionName)} (${identity.subscriptionId}).`,
    );
    assertStateOwnership(session.state, identity.tenantId, identity.subscriptionId, rt.workdir);
  }
  if (!inputs) {
    // One screen per step: its explanation, then its questions; answers are saved as they come, so Ctrl-C loses none.
    const helpers = promptHelpers(azure);
    inputs = new ResolvedInputs(new Map());
    for (const step of pending) {
      const keys = step.inputs.filter((key) => !inputs!.has(key));
      const silent = await resolveInputs(keys, sources, { ui, lenient: true });
      const asked = keys.filter((key) => (!silent.has(key) || silent.origin(key) === "default") && INPUTS[key].prompt);
      if (request.wizard && asked.length > 0) {
        ui.heading(`Step ${step.number} of 9 · ${step.title}`);
        ui.line(ui.c.dim(step.explanation));
      }
      const resolved = await resolveInputs(keys, sources, { ui, helpers, acceptDefaults: Boolean(rt.globals.yes) });
      for (const [key, value] of resolved.entries()) inputs.set(key, value.value, value.origin);
      if (!request.plan && asked.length > 0) {
        session.state.answers = { ...session.state.answers, ...inputs.rememberable(keysOf(pending)) };
        await session.save();
      }
    }
    await checkInputFiles(rt, request.flags, pending, inputs);
  }
  // Steps already done get their inputs from the sources without asking (their outputs matter, not answers).
  const lenient = await resolveInputs(keysOf(steps), sources, { ui, lenient: true });
  const pendingKeys = keysOf(pending);
  for (const [key, value] of lenient.entries()) {
    if (inputs.has(key)) continue;
    inputs.set(key, value.value, value.origin);
    // A flag for a step that is already done changes nothing; say so rather than keep it for later.
    const saved = session.state.answers[key];
    if (!pendingKeys.includes(key) && (value.origin === "flag" || value.origin === "environment" || value.origin === "config") && saved !== undefined && JSON.stringify(saved) !== JSON.stringify(value.value)) {
      const owner = steps.find((step) => step.inputs.includes(key));
      ui.warn(
        `--${INPUTS[key].flag} ${JSON.stringify(value.value)} is ignored: step ${owner?.number ?? "?"} (${owner?.title ?? key}) is done with ${JSON.stringify(saved)}. ` +
          (owner?.id === "firewall"
            ? "To change the rules, run `akv-crashplan firewall configure` with the new addresses."
            : owner?.id === "cert" && session.step("upload").status === "done"
              ? "The certificate is on the app registration already: run `akv-crashplan cert rotate` (with these flags) to replace it."
              : owner?.id === "pfx" || owner?.id === "cert"
                ? `Run \`akv-crashplan ${owner.id === "pfx" ? "pfx export" : "cert generate"} --force\` to redo it.`
                : "Use another --workdir for a separate setup."),
      );
    }
  }

  const lazyAzure = azure ?? lazyServices(rt);
  const secrets = new Map<string, string>();
  const runOptions = {
    session,
    steps,
    selected: request.ids,
    inputs,
    azure: lazyAzure,
    ui,
    yes: Boolean(rt.globals.yes),
    sleep,
    flags: request.flags,
    secrets,
    redo,
  };

  const plan = pending.map((step) => ({ step: step.id, title: step.title, changes: step.plan(stepContext(runOptions, step)) }));
  if (request.plan) {
    if (ui.json) ui.data({ ok: true, plan, identity: identity ?? null, alreadyDone: steps.filter((s) => !pending.includes(s)).map((s) => s.id) });
    else printPlan(rt, plan, steps.length - pending.length);
    return 0;
  }
  if (request.confirmPlan && pending.length > 0) {
    printPlan(rt, plan, steps.length - pending.length);
    if (!rt.globals.yes) {
      if (!ui.interactive) {
        throw AkvError.usage("setup needs your approval of the plan above, and prompting is off.", { code: "ApprovalNeeded", hint: "Pass --yes to approve it." });
      }
      const approved = await ui.prompt.confirm({ message: "Go ahead with this plan?", default: true });
      if (!approved) throw AkvError.cancelled("Plan declined; nothing was changed.");
    }
  }

  if (identity) {
    session.state.tenantId ??= identity.tenantId;
    session.state.subscriptionId ??= identity.subscriptionId;
    session.state.cloud ??= rt.useSandbox ? "sandbox" : lazyAzure.cloud.name;
  }
  session.state.answers = { ...session.state.answers, ...inputs.rememberable(keysOf(pending)) };
  await session.save();

  const outcomes: StepOutcome[] = await runSteps({
    ...runOptions,
    onStepStart: (step) => {
      if (request.wizard || steps.length === 1) {
        ui.heading(`Step ${step.number} of 9 · ${step.title}`);
        // The wizard explained the step with its questions already; a step without questions is explained now.
        const explained = request.wizard && ui.interactive && step.inputs.some((key) => inputs!.origin(key) === "prompt");
        if (session.step(step.id).status !== "done" && !explained) ui.line(ui.c.dim(step.explanation));
      }
    },
  });
  await rewriteHandoffFile(session.state, rt.workdir);
  printSummary(rt, session, outcomes, request);
  return 0;
}

/**
 * Files that steps read long after the vault and the app exist (the PFX password for pfx/validate, CrashPlan's
 * address list for firewall): a path that is missing, a directory, or a list with a bad line must stop the run
 * before the first request, like any other bad input.
 */
async function checkInputFiles(rt: Runtime, flags: Record<string, unknown>, pending: Step[], inputs: ResolvedInputs | undefined): Promise<void> {
  const file = flags.passwordFile;
  if (typeof file === "string") {
    const info = await stat(resolve(rt.io.cwd, file)).catch(() => undefined);
    const why = !info ? "does not exist" : info.isDirectory() ? "is a directory" : !info.isFile() ? "is not a regular file" : undefined;
    if (why) throw AkvError.usage(`The PFX password file ${file} (--password-file) ${why}.`, { code: "SecretFileUnreadable", hint: "Pass a file holding the password, or --password-stdin." });
  }
  const addressFile = inputs?.string("crashplanIpsFile");
  if (addressFile && pending.some((step) => step.id === "firewall")) await readAddressFile(resolve(rt.io.cwd, addressFile));
  // --out is remembered for later exports: a folder that is not there must stop the run before it is saved.
  const out = inputs?.string("pfxOut");
  if (out && pending.some((step) => step.id === "pfx")) {
    const folder = dirname(resolve(rt.workdir, out));
    const info = await stat(folder).catch(() => undefined);
    if (!info?.isDirectory()) {
      throw AkvError.usage(`The PFX cannot be written to ${out} (--out): ${folder} ${info ? "is not a folder" : "does not exist"}.`, {
        code: "NotAFolder",
        hint: "Pass --out with a path in an existing folder, or leave it out for <workdir>/service-principal.pfx.",
      });
    }
  }
}

async function givesNewInputs(rt: Runtime, request: RunStepsRequest, step: Step, session: StateSession): Promise<boolean> {
  if (session.step(step.id).status !== "done" || !step.reapplies?.length) return false;
  const explicit = await resolveInputs([...step.reapplies], { ...rt.inputSources(request.flags, {}), answers: {} }, { ui: rt.ui, lenient: true });
  return explicit
    .entries()
    .some(([key, value]) => value.origin !== "default" && JSON.stringify(session.state.answers[key]) !== JSON.stringify(value.value));
}


function lazyServices(rt: Runtime): AzureServices {
  // Local-only steps never touch this; if one does, signing in happens then.
  let services: AzureServices | undefined;
  const get = async () => (services ??= await rt.azure());
  const proxyOf = <K extends keyof AzureServices>(key: K) =>
    new Proxy({}, { get: (_t, method: string) => async (...args: unknown[]) => ((await get())[key] as any)[method](...args) }) as AzureServices[K];
  return {
    get cloud() {
      throw new AkvError(1, "internal: cloud read before sign-in");
    },
    identity: async () => (await get()).identity(),
    keyVault: proxyOf("keyVault"),
    resources: proxyOf("resources"),
    roles: proxyOf("roles"),
    directory: proxyOf("directory"),
    secrets: proxyOf("secrets"),
  } as unknown as AzureServices;
}

function promptHelpers(azure: AzureServices | undefined): Omit<PromptHelpers, "value"> {
  if (!azure) return {};
  return {
    listLocations: async () => (await azure.resources.listLocations()).map((l) => ({ value: l.name, name: `${l.displayName} (${l.name})` })),
    checkVaultName: async (name) => {
      const result = await azure.keyVault.checkNameAvailability(name);
      if (result.available) return undefined;
      const own = await azure.keyVault.findVault(name);
      if (own) return undefined; // ours to adopt; the step asks
      return `"${name}" is taken${result.message ? `: ${result.message}` : ""}. Vault names are global; pick another.`;
    },
  };
}

function printIntro(rt: Runtime, session: StateSession, steps: Step[]): void {
  const { ui } = rt;
  ui.heading("akv-crashplan setup — CrashPlan's keystore in your own Azure Key Vault");
  ui.line("The nine steps:");
  for (const step of steps) {
    const record = session.step(step.id);
    const mark = record.status === "done" ? ui.c.green("done") : record.status === "failed" ? ui.c.red("failed") : record.status === "running" ? ui.c.yellow("interrupted") : "pending";
    const extra = record.status === "failed" && record.error ? ` — ${record.error.message}` : "";
    ui.line(`  ${step.number}. ${step.title.padEnd(34)} ${mark}${extra}`);
  }
  if (session.existed) {
    const next = steps.find((step) => session.step(step.id).status !== "done");
    ui.line(next ? `Resuming at step ${next.number} (${next.title}).` : "Every step is done; checking that it is all still in place.");
  }
}

function printPlan(rt: Runtime, plan: Array<{ step: string; title: string; changes: string[] }>, doneCount: number): void {
  const { ui } = rt;
  ui.heading("Plan");
  if (plan.length === 0) ui.line("Nothing to create or change.");
  for (const item of plan) {
    ui.line(`  ${item.title}:`);
    for (const change of item.changes) ui.line(`    - ${change}`);
  }
  if (doneCount > 0) ui.line(ui.c.dim(`  (${doneCount} step${doneCount > 1 ? "s" : ""} already done will only be re-checked.)`));
}

function printSummary(rt: Runtime, session: StateSession, outcomes: StepOutcome[], request: RunStepsRequest): void {
  const { ui } = rt;
  const handoff = handoffFromState(session.state, rt.workdir);
  if (ui.json) {
    ui.data({
      ok: true,
      command: request.command,
      workdir: rt.workdir,
      steps: outcomes.map((o) => ({ id: o.id, title: o.title, result: o.result, outputs: o.outputs })),
      status: Object.fromEntries(STEP_IDS.map((id) => [id, session.step(id).status])),
      handoff,
      warnings: ui.warnings,
    });
    return;
  }
  if (outcomes.length > 1) {
    ui.heading("Summary");
    ui.line(ui.table(outcomes.map((o) => [o.title, o.result, keyOutput(o)]), ["step", "result", "key output"]));
  }
  if (request.wizard && handoff) {
    ui.heading("CrashPlan hand-off");
    ui.line(renderHandoff(handoff));
    ui.heading("Next");
    const migrate = session.step("migrate").outputs;
    if (!migrate.verifiedAt) ui.line("  - After CrashPlan's Migrate keystore finishes: akv-crashplan migrate --verify");
    else if (!migrate.backupRestoreConfirmedAt) ui.line("  - After a test backup and restore: akv-crashplan migrate --confirm-backup-restore");
    if (handoff.certificateExpires) ui.line(`  - The certificate expires ${handoff.certificateExpires.slice(0, 10)}; before then: akv-crashplan cert rotate`);
    ui.line("  - Any time: akv-crashplan status --check   ·   akv-crashplan doctor");
  }
}

function keyOutput(outcome: StepOutcome): string {
  const o = outcome.outputs;
  const pick = (k: string) => (typeof o[k] === "string" ? (o[k] as string) : undefined);
  return (
    pick("vaultUrl") ??
    (pick("clientId") ? `client ${pick("clientId")}` : undefined) ??
    (Array.isArray(o.ipRules) ? `${(o.ipRules as string[]).length} IP rule(s)` : undefined) ??
    (pick("sha1") ? `thumbprint ${pick("sha1")}` : undefined) ??
    pick("keyId") ??
    pick("roleAssignmentId")?.split("/").pop() ??
    pick("pfxPath") ??
    pick("validatedAt") ??
    pick("handoffFile") ??
    ""
  );
}

