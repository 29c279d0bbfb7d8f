/**
 * SIGKILL from outside at seeded random moments: half of the trials at a random time within a full run, half right
 * after the CLI starts its k-th atomic state write (the moment its temp file appears). After each kill the state file
 * (and its backup) must still parse — never torn — and one resumed setup must end with exactly one of everything.
 *
 * AKV_KILL_TRIALS (10) and AKV_KILL_SEED (20261203) choose the trials; the summary line gives the counts.
 */
import { existsSync, mkdirSync, readFileSync, watch } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { describeRun, invariantViolations, leftoverTempFiles, newWorkspace, pool, runSetup, seededRandom, setupArgs, spawnCli, type Workspace } from "../helpers/crash.js";

const TRIALS = Math.max(1, Number(process.env.AKV_KILL_TRIALS ?? 10));
const SEED = Number(process.env.AKV_KILL_SEED ?? 20261203);

interface Plan {
  trial: number;
  mode: "time" | "state-write";
  /** ms after start, or the k-th state write. */
  at: number;
}

function stateProblems(workdir: string): string[] {
  const problems: string[] = [];
  for (const name of ["state.json", "state.json.backup"]) {
    const path = join(workdir, name);
    if (!existsSync(path)) continue;
    try {
      const doc = JSON.parse(readFileSync(path, "utf8"));
      if (typeof doc.schemaVersion !== "number") problems.push(`${name} has no schemaVersion`);
    } catch (error) {
      problems.push(`${name} torn after the kill: ${(error as Error).message}`);
    }
  }
  return problems;
}

/** Starts setup and SIGKILLs it as planned; resolves with whether the kill landed before the run finished. */
async function killAsPlanned(ws: Workspace, plan: Plan): Promise<{ killed: boolean; writesSeen: number }> {
  mkdirSync(ws.workdir, { recursive: true, mode: 0o700 });
  const writes = new Set<string>();
  const run = spawnCli(setupArgs(ws), ws.cwd);
  let timer: NodeJS.Timeout | undefined;
  const watcher =
    plan.mode === "state-write"
      ? watch(ws.workdir, (_event, file) => {
          // Each save writes its own .state.json.<pid>.<random>.tmp, then renames it over state.json.
          if (typeof file === "string" && /^\.state\.json\..+\.tmp$/.test(file) && !writes.has(file)) {
            writes.add(file);
            if (writes.size === plan.at) run.kill("SIGKILL");
          }
        })
      : undefined;
  if (plan.mode === "time") timer = setTimeout(() => run.kill("SIGKILL"), plan.at);
  const result = await run.done;
  watcher?.close();
  clearTimeout(timer);
  return { killed: result.signal === "SIGKILL", writesSeen: writes.size };
}

describe("SIGKILL from outside at seeded random moments, then resume", () => {
  it(`${TRIALS} seeded trials end with exactly one of everything`, { timeout: 300_000 }, async () => {
    const started = Date.now();
    // How long a full run takes here, so the random moments fall inside one.
    const probe = newWorkspace("akv-kill-time-");
    const t0 = Date.now();
    const full = await runSetup(probe);
    const fullMs = Date.now() - t0;
    probe.remove();
    expect(full.code, describeRun("full run", full)).toBe(0);

    const random = seededRandom(SEED);
    const plans: Plan[] = Array.from({ length: TRIALS }, (_, trial) =>
      trial % 2 === 0
        ? { trial, mode: "time", at: Math.round(300 + random() * fullMs * 0.9) }
        : // A full setup saves its state 30 times; pick one of the first 28.
          { trial, mode: "state-write", at: 1 + Math.floor(random() * 28) },
    );

    const outcomes = await pool(plans, 2, async (plan) => {
      const ws = newWorkspace(`akv-kill-${plan.trial}-`);
      const problems: string[] = [];
      try {
        const { killed } = await killAsPlanned(ws, plan);
        problems.push(...stateProblems(ws.workdir));
        const temp = leftoverTempFiles(ws.workdir);
        const resume = await runSetup(ws);
        if (resume.code !== 0) problems.push(describeRun("resume", resume));
        else problems.push(...invariantViolations(ws.workdir));
        return { plan, killed, temp, problems };
      } finally {
        if (problems.length === 0 || process.env.AKV_CRASH_KEEP !== "1") ws.remove();
      }
    });
    const killed = outcomes.filter((o) => o.killed).length;
    console.log(
      `[sigkill] seed ${SEED}: ${TRIALS} trials (${plans.filter((p) => p.mode === "time").length} at a random time within ${fullMs} ms, ` +
        `${plans.filter((p) => p.mode === "state-write").length} at a state write); killed mid-run: ${killed}; ` +
        `temp files left by a kill: ${outcomes.filter((o) => o.temp.length > 0).length}; failures: ${outcomes.filter((o) => o.problems.length > 0).length}; ` +
        `${Math.round((Date.now() - started) / 1000)}s`,
    );
    expect(outcomes.filter((o) => o.problems.length > 0).map((o) => `trial ${o.plan.trial} (${o.plan.mode} ${o.plan.at}): ${o.problems.join("\n  ")}`)).toEqual([]);
    // Most kills must land mid-run, or the test proves little.
    expect(killed).toBeGreaterThanOrEqual(Math.ceil(TRIALS * 0.7));
  });
});
