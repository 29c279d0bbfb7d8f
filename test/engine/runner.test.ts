import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { AkvError } from "../../src/errors.js";
import { ResolvedInputs } from "../../src/engine/resolve.js";
import { runSteps } from "../../src/engine/runner.js";
import { StateSession } from "../../src/engine/session.js";
import type { Step } from "../../src/engine/step.js";
import { STEP_IDS, type StepId } from "../../src/state/schema.js";
import { loadState } from "../../src/state/store.js";
import { Ui } from "../../src/ui/ui.js";

/** A run made of test steps: each "creates" a thing in a fake world, idempotently via its marker, like the real ones. */
function makeWorld() {
  const created = new Map<StepId, number>();
  let crashAt: { step: StepId; when: "before-write" | "after-write" } | undefined;
  const steps: Step[] = STEP_IDS.map((id, index) => ({
    id,
    number: index + 1,
    title: `test step ${id}`,
    explanation: "",
    inputs: [],
    needs: index > 0 ? [STEP_IDS[index - 1]!] : [],
    remote: false,
    plan: () => [`make ${id}`],
    check: async () => ((created.get(id) ?? 0) > 0 ? { status: "done" } : { status: "drift", detail: `${id} missing` }),
    apply: async (ctx) => {
      if (crashAt?.step === id && crashAt.when === "before-write") throw new Error(`crash before ${id}`);
      // Reconcile: what an earlier attempt made is found, never made twice.
      if ((created.get(id) ?? 0) === 0) {
        await ctx.saveMarker({ making: id });
        created.set(id, 1);
      }
      if (crashAt?.step === id && crashAt.when === "after-write") throw new Error(`crash after ${id}`);
      return { made: id };
    },
  }));
  return {
    steps,
    created,
    crash(step: StepId | undefined, when: "before-write" | "after-write" = "after-write") {
      crashAt = step ? { step, when } : undefined;
    },
  };
}

function quietUi(): Ui {
  return new Ui({
    streams: { stdin: new PassThrough(), stdout: new PassThrough(), stderr: new PassThrough() },
    facts: { stdinIsTTY: false, stderrIsTTY: false, env: {} }, json: false, nonInteractive: true, noColor: true, verbose: false,
  });
}

async function run(workdir: string, world: ReturnType<typeof makeWorld>, selected: StepId[] = [...STEP_IDS]) {
  const session = await StateSession.open(workdir, { command: "test", lock: true });
  try {
    return await runSteps({
      session, steps: world.steps, selected, inputs: new ResolvedInputs(new Map()), azure: undefined as never, ui: quietUi(),
      yes: true, sleep: async () => undefined, flags: {}, secrets: new Map(),
    });
  } finally {
    await session.release();
  }
}

describe("step engine", () => {
  it.each(STEP_IDS.flatMap((id) => [[id, "before-write"], [id, "after-write"]] as const))(
    "resumes after an interruption at %s (%s) and makes everything exactly once",
    async (step, when) => {
      const workdir = await mkdtemp(join(tmpdir(), "akv-engine-"));
      const world = makeWorld();
      world.crash(step, when);
      await expect(run(workdir, world)).rejects.toThrow(/crash/);
      const { state } = await loadState(workdir);
      expect(state.steps[step]?.status).toBe("failed");
      const index = STEP_IDS.indexOf(step);
      for (const earlier of STEP_IDS.slice(0, index)) expect(state.steps[earlier]?.status).toBe("done");
      for (const later of STEP_IDS.slice(index + 1)) expect(state.steps[later]?.status).toBe("pending");
      world.crash(undefined);
      const outcomes = await run(workdir, world);
      expect(outcomes.filter((o) => o.result === "already done").map((o) => o.id)).toEqual(STEP_IDS.slice(0, index));
      for (const id of STEP_IDS) expect(world.created.get(id)).toBe(1);
      const { state: finalState } = await loadState(workdir);
      expect(Object.values(finalState.steps).every((record) => record?.status === "done")).toBe(true);
    },
  );

  it("re-checks done steps and repairs drift", async () => {
    const workdir = await mkdtemp(join(tmpdir(), "akv-engine-"));
    const world = makeWorld();
    await run(workdir, world);
    world.created.set("grant", 0); // deleted behind the tool's back
    const outcomes = await run(workdir, world);
    expect(outcomes.find((o) => o.id === "grant")?.result).toBe("repaired");
    // Steps before it are only re-checked; the steps that read its outputs act again (idempotently).
    expect(outcomes.filter((o) => o.result === "already done").map((o) => o.id)).toEqual(STEP_IDS.slice(0, STEP_IDS.indexOf("grant")));
    expect(outcomes.filter((o) => o.result === "done").map((o) => o.id)).toEqual(STEP_IDS.slice(STEP_IDS.indexOf("grant") + 1));
    for (const id of STEP_IDS) expect(world.created.get(id)).toBe(1);
  });

  it("refuses a step whose earlier step is not done, with exit 3", async () => {
    const workdir = await mkdtemp(join(tmpdir(), "akv-engine-"));
    const error = await run(workdir, makeWorld(), ["grant"]).catch((e) => e);
    expect(error).toBeInstanceOf(AkvError);
    expect(error.exitCode).toBe(3);
    expect(error.message).toMatch(/needs step "upload"/);
  });
});
