/**
 * Concurrency on one workdir, with the sandbox inside each CLI process: two setups started together (one proceeds, the
 * other exits 7 naming the holder's pid, command and start time, and state.json is never seen torn); a lock left by a
 * SIGKILLed run is taken over; a lock held by a live process stops the run before any request.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { hasStackTrace } from "../helpers/cli.js";
import { describeRun, invariantViolations, newWorkspace, runSetup, setupArgs, spawnCli, type Workspace } from "../helpers/crash.js";

const workspaces: Workspace[] = [];
afterEach(() => {
  for (const ws of workspaces.splice(0)) ws.remove();
});
function workspace(): Workspace {
  const ws = newWorkspace("akv-conc-");
  workspaces.push(ws);
  return ws;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe("two setups on one workdir", () => {
  it("started together: one proceeds, the other exits 7 naming the holder; state.json never reads torn", { timeout: 120_000 }, async () => {
    const ws = workspace();
    const a = spawnCli(setupArgs(ws), ws.cwd);
    const b = spawnCli(setupArgs(ws), ws.cwd);
    // Read state.json as often as we can while both run: every read must parse.
    let reads = 0;
    const torn: string[] = [];
    let running = true;
    const reader = (async () => {
      while (running) {
        const path = join(ws.workdir, "state.json");
        if (existsSync(path)) {
          try {
            JSON.parse(readFileSync(path, "utf8"));
            reads++;
          } catch (error) {
            if ((error as NodeJS.ErrnoException).code !== "ENOENT") torn.push((error as Error).message);
          }
        }
        await sleep(5);
      }
    })();
    const [ra, rb] = await Promise.all([a.done, b.done]);
    running = false;
    await reader;

    expect([ra.code, rb.code].sort(), describeRun("a", ra) + describeRun("b", rb)).toEqual([0, 7]);
    const [winner, loser] = ra.code === 0 ? [a, rb] : [b, ra];
    // The holder, by pid (the winner's), command and since.
    expect(loser.stderr).toMatch(new RegExp(`pid ${winner.pid} on ${hostname().replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} \\(setup\\), since \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z`));
    expect(loser.stderr).toMatch(/Wait for it to finish/);
    expect(hasStackTrace(loser.stderr)).toBe(false);
    expect(torn).toEqual([]);
    expect(reads).toBeGreaterThan(0);
    expect(invariantViolations(ws.workdir)).toEqual([]);
  });

  it("a lock left by a SIGKILLed setup is taken over by the next run", { timeout: 120_000 }, async () => {
    const ws = workspace();
    const first = spawnCli(setupArgs(ws), ws.cwd);
    const lockPath = join(ws.workdir, "state.lock");
    // Kill it while it holds the lock and has started on Azure (the sandbox has its data dir by then).
    const deadline = Date.now() + 30_000;
    while (!(existsSync(lockPath) && existsSync(join(ws.workdir, "sandbox", "sandbox-state.json"))) && Date.now() < deadline) await sleep(10);
    first.kill("SIGKILL");
    const killed = await first.done;
    expect(killed.signal, describeRun("first run", killed)).toBe("SIGKILL");
    const stale = JSON.parse(readFileSync(lockPath, "utf8"));
    expect(stale).toMatchObject({ pid: first.pid, command: "setup", hostname: hostname() });

    const resumed = await runSetup(ws);
    expect(resumed.code, describeRun("resume", resumed)).toBe(0);
    expect(invariantViolations(ws.workdir)).toEqual([]);
  });

  it("a lock held by a live process: exit 7 before any request, the lock untouched", async () => {
    const ws = workspace();
    mkdirSync(ws.workdir, { recursive: true, mode: 0o700 });
    // This test process is alive and on this host: its lock is not stale.
    const holder = { pid: process.pid, hostname: hostname(), command: "cert rotate", since: "2026-12-03T10:00:00.000Z" };
    writeFileSync(join(ws.workdir, "state.lock"), JSON.stringify(holder) + "\n", { mode: 0o600 });
    const run = await runSetup(ws);
    expect(run.code, describeRun("setup", run)).toBe(7);
    expect(run.stderr).toContain(`pid ${process.pid} on ${hostname()} (cert rotate), since 2026-12-03T10:00:00.000Z`);
    expect(hasStackTrace(run.stderr)).toBe(false);
    expect(JSON.parse(readFileSync(join(ws.workdir, "state.lock"), "utf8"))).toEqual(holder);
    // The in-process sandbox never started: nothing was asked of Azure.
    expect(existsSync(join(ws.workdir, "sandbox"))).toBe(false);
    expect(existsSync(join(ws.workdir, "state.json"))).toBe(false);
  });
});
