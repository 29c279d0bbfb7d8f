import type { StateSession } from "../../engine/session.js";
import { STEP_IDS, STEP_TITLES, stepNumber, type StepId } from "../../state/step-ids.js";
import { isAkvError } from "../../errors.js";
import type { Runtime } from "../runtime.js";
import type { AzureServices } from "../../azure/services.js";

interface LiveFact {
  step: StepId;
  status: "ok" | "drift" | "missing" | "error";
  detail?: string;
}

function summarise(outputs: Record<string, unknown>): string {
  const pick = ["vaultUrl", "clientId", "crashplanRules", "sha1", "keyId", "roleName", "pfxPath", "validatedAt", "handoffFile"];
  for (const key of pick) {
    const value = outputs[key];
    if (typeof value === "string") return `${key} ${value}`;
    if (Array.isArray(value)) return `${key} ${value.join(", ") || "(none)"}`;
  }
  return "";
}

/** Read-only: never takes the lock, never writes, and only reads Azure for steps that are done. */
export async function statusCommand(rt: Runtime, flags: { check?: boolean; offline?: boolean }): Promise<number> {
  const { ui } = rt;
  await rt.loadConfig();
  const session = await rt.openState({ command: "status", lock: false });
  const facts: LiveFact[] = [];
  const anyDone = STEP_IDS.some((id) => session.step(id).status === "done");
  let credential: { endDateTime: string; daysLeft: number } | undefined;
  if (!flags.offline && anyDone) {
    // The steps (and through them the SDK adapters) load only when there is something in Azure to look at.
    const [{ ALL_STEPS }, { stepContext }, { ResolvedInputs }, azure] = await Promise.all([
      import("../../steps/index.js"),
      import("../../engine/runner.js"),
      import("../../engine/resolve.js"),
      rt.azure(),
    ]);
    const options = {
      session, steps: ALL_STEPS, selected: [...STEP_IDS], inputs: new ResolvedInputs(new Map()), azure, ui, yes: false,
      sleep: async () => undefined, flags: {}, secrets: new Map<string, string>(),
    };
    for (const step of ALL_STEPS) {
      if (session.step(step.id).status !== "done") continue;
      try {
        const check = await step.check(stepContext(options, step));
        facts.push({ step: step.id, status: check.status === "done" || check.status === "rerun" ? "ok" : check.status, ...(check.detail ? { detail: check.detail } : {}) });
      } catch (error) {
        if (isAkvError(error) && (error.exitCode === 4 || error.exitCode === 2)) throw error;
        facts.push({ step: step.id, status: "error", detail: error instanceof Error ? error.message : String(error) });
      }
    }
    credential = await credentialInAzure(azure, session).catch(() => undefined);
  }
  const certOut = session.step("cert").outputs;
  const daysLeft = typeof certOut.notAfter === "string" ? Math.ceil((Date.parse(certOut.notAfter) - Date.now()) / 86_400_000) : undefined;
  const steps = STEP_IDS.map((id) => {
    const record = session.step(id);
    const fact = facts.find((f) => f.step === id);
    return {
      id,
      number: stepNumber(id),
      title: STEP_TITLES[id],
      status: record.status,
      startedAt: record.startedAt ?? null,
      finishedAt: record.finishedAt ?? null,
      outputs: record.outputs,
      ...(record.error ? { error: record.error } : {}),
      ...(fact ? { live: { status: fact.status, detail: fact.detail ?? null } } : {}),
    };
  });
  const allDone = steps.every((s) => s.status === "done");
  const verified = typeof session.step("migrate").outputs.verifiedAt === "string";
  // Every reason the setup is not healthy, in words, so --check and --json can say why.
  const problems: string[] = [];
  for (const s of steps) {
    if (s.status !== "done") problems.push(`step ${s.number} (${s.title}) is ${s.status === "running" ? "interrupted" : s.status}`);
  }
  for (const f of facts) if (f.status !== "ok") problems.push(`${f.step}: ${f.detail ?? f.status}`);
  const firewall = session.step("firewall");
  if (firewall.status === "done" && ((firewall.outputs.crashplanRules as string[] | undefined) ?? []).length === 0) {
    problems.push("the vault firewall allows no CrashPlan address, so CrashPlan cannot reach the vault: run `akv-crashplan firewall configure --crashplan-ip …`");
  }
  if (daysLeft !== undefined && daysLeft <= 0) problems.push("the certificate has expired: run `akv-crashplan cert rotate`");
  if (credential && credential.daysLeft <= 0) problems.push("the credential on the app registration has expired");
  const validate = session.step("validate");
  const openRules = [...new Set([...((validate.outputs.temporaryRules as string[] | undefined) ?? []), ...(validate.status !== "done" && typeof session.step("firewall").outputs.temporaryRule === "string" ? [session.step("firewall").outputs.temporaryRule as string] : [])])];
  if (openRules.length > 0 && validate.status !== "done") {
    problems.push(`a temporary firewall rule for this machine (${openRules.join(", ")}) may still be open: run \`akv-crashplan validate\` to finish and remove it`);
  }
  if (allDone && !verified) problems.push("CrashPlan's keystore is not verified in the vault yet: run `akv-crashplan migrate --verify` after Migrate keystore");
  const healthy = problems.length === 0;
  if (ui.json) {
    ui.data({
      // With --check, "ok" is the verdict a monitor reads; otherwise it says the command itself worked.
      ok: flags.check ? healthy : true,
      workdir: rt.workdir,
      stateFile: session.existed ? `${rt.workdir}/state.json` : null,
      tenantId: session.state.tenantId ?? null,
      subscriptionId: session.state.subscriptionId ?? null,
      steps,
      certificateDaysLeft: daysLeft ?? null,
      credentialExpires: credential?.endDateTime ?? null,
      credentialDaysLeft: credential?.daysLeft ?? null,
      rotation: session.state.operations.rotation ?? null,
      lastValidation: session.step("validate").outputs.validatedAt ?? null,
      handoff: session.existed ? ((await import("../../steps/handoff.js")).handoffFromState(session.state, rt.workdir) ?? null) : null,
      healthy,
      // The same commands as the text says, with --workdir where it is not the default.
      problems: problems.map((problem) => ui.withCommandPrefix(problem)),
    });
  } else {
    const mark = (status: string) => (status === "done" ? ui.c.green(status) : status === "failed" ? ui.c.red(status) : status === "running" ? ui.c.yellow("interrupted") : status);
    const rows = steps.map((s) => [
      `${s.number}. ${s.title}`,
      mark(s.status),
      s.live ? (s.live.status === "ok" ? ui.c.green("in place") : ui.c.red(`${s.live.status}: ${s.live.detail ?? ""}`)) : "",
      s.status === "failed" ? (s.error?.message ?? "") : summarise(s.outputs),
    ]);
    ui.print(ui.table(rows, ["step", "state", "in Azure", "produced"]));
    if (daysLeft !== undefined) ui.print(`Certificate: ${daysLeft} days left (expires ${String(certOut.notAfter).slice(0, 10)})`);
    if (credential) ui.print(`Credential on the app registration (read from Azure): ${credential.daysLeft} days left (expires ${credential.endDateTime.slice(0, 10)})`);
    const rotation = session.state.operations.rotation as { phase?: string } | undefined;
    if (rotation) ui.print(`Certificate rotation in progress (last phase: ${rotation.phase ?? "started"}); continue with \`akv-crashplan cert rotate\` or \`cert rotate --finish\`.`);
    if (!session.existed) ui.print(`No setup in ${rt.workdir} yet. Start with: akv-crashplan setup`);
  }
  if (flags.check && !healthy) {
    if (!ui.json) for (const problem of problems) ui.line(`${ui.c.red("✖")} ${problem}`);
    return 3;
  }
  return 0;
}

/** Our credential's end date as Entra ID holds it (the certificate file could differ from what the app accepts). */
async function credentialInAzure(azure: AzureServices, session: StateSession): Promise<{ endDateTime: string; daysLeft: number } | undefined> {
  const objectId = session.step("app").outputs.appObjectId;
  const thumbprint = session.step("upload").outputs.thumbprint;
  if (session.step("upload").status !== "done" || typeof objectId !== "string" || typeof thumbprint !== "string") return undefined;
  const [{ credentialThumbprint }, app] = await Promise.all([import("../../steps/shared.js"), azure.directory.getApplication(objectId)]);
  const ours = app?.keyCredentials.find((c) => credentialThumbprint(c) === thumbprint.toUpperCase());
  if (!ours?.endDateTime) return undefined;
  return { endDateTime: ours.endDateTime, daysLeft: Math.ceil((Date.parse(ours.endDateTime) - Date.now()) / 86_400_000) };
}

