import { spawn } from "node:child_process";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { TerminalSession, normaliseScreen, tmuxAvailable } from "../helpers/tmux.js";

const bin = new URL("../../bin/akv-crashplan.js", import.meta.url).pathname;
const node = process.execPath;
const hasTmux = await tmuxAvailable();
const env = { PATH: `${join(node, "..")}:${process.env.PATH ?? ""}`, TERM: "xterm-256color", NO_COLOR: "1", AKV_CRASHPLAN_POLL_MS: "100" };

function cli(args: string) {
  return `'${node}' '${bin}' ${args}`;
}

async function readState(workdir: string) {
  return JSON.parse(await readFile(join(workdir, "akv-crashplan", "state.json"), "utf8"));
}

describe.skipIf(!hasTmux)("the wizard in a real terminal", () => {
  it("walks a new operator through all nine steps, with inline validation of a bad vault name", async () => {
    const workdir = await mkdtemp(join(tmpdir(), "akv-tty-"));
    const term = await TerminalSession.start(cli("setup --sandbox --key-size 2048"), { cwd: workdir, env });
    const screens: string[] = [];
    const snap = async (label: string) => screens.push(`── ${label} ──\n${normaliseScreen(await term.screen(), workdir)}`);
    try {
      await term.waitFor(/Resource group \(an existing one/);
      await snap("step 1: resource group");
      await term.send("Enter");
      await term.waitFor(/Region for the vault/);
      await term.send("Enter");
      await term.waitFor(/\? Key Vault name/);
      await term.send("C-a", "C-k");
      await term.type("9-bad--name");
      await term.send("Enter");
      await term.waitFor(/starts with a letter, ends with a letter or digit/);
      await snap("step 1: invalid vault name");
      for (let i = 0; i < 12; i++) await term.send("BSpace");
      await term.type("kv-tty-wizard-01");
      await term.send("Enter");
      await term.waitFor(/App registration name/);
      await snap("step 2: app name");
      await term.send("Enter");
      await term.waitFor(/CrashPlan service addresses/);
      await term.type("203.0.113.0/24");
      await term.send("Enter");
      await term.waitFor(/Where do these addresses come from/);
      await term.type("CrashPlan KB, Nov 2026");
      await term.send("Enter");
      await term.waitFor(/PFX encryption/);
      await snap("step 7: PFX cipher");
      await term.send("Enter");
      await term.waitFor(/Which CrashPlan console do you use\?/);
      await snap("step 9: CrashPlan console");
      await term.send("Enter");
      await term.waitFor(/Go ahead with this plan\?/);
      await snap("plan");
      await term.send("Enter");
      await term.waitFor(/\? PFX password/, 60_000);
      await term.send("Enter");
      await term.waitFor(/Allow 198\.51\.100\.23\/32 temporarily/, 60_000);
      await snap("step 8: firewall refused this machine");
      await term.send("y", "Enter");
      await term.waitFor(/Has CrashPlan's Migrate keystore finished\?/, 60_000);
      await term.send("Enter");
      const final = await term.waitFor(/EXIT=\d+/, 60_000);
      expect(final).toMatch(/EXIT=0/);
      const full = await term.screen(400);
      expect(full).toMatch(/CrashPlan hand-off/);
      expect(full).toMatch(/Vault URL\s+https:\/\/localhost:\d+\n/);
      await snap("end: summary and hand-off");
    } finally {
      await term.close();
    }
    const state = await readState(workdir);
    expect(Object.values(state.steps).map((s) => (s as { status: string }).status)).toEqual(Array(9).fill("done"));
    expect(state.answers.vaultName).toBe("kv-tty-wizard-01");
    await expect(screens.join("\n")).toMatchFileSnapshot("./__screens__/full-run.txt");
  }, 180_000);

  it("saves the state on Ctrl-C during a wait (exit 130) and resumes without asking again", async () => {
    const workdir = await mkdtemp(join(tmpdir(), "akv-tty-"));
    await writeFile(join(workdir, "knobs.json"), JSON.stringify({ rbacPropagationDelayMs: 6000 }));
    const args = "setup --sandbox --sandbox-config knobs.json --key-size 2048 --resource-group rg-tty --location eastus --vault-name kv-tty-resume-01 --crashplan-ip 203.0.113.0/24 --crashplan-ips-source test --allow-my-ip 198.51.100.23 --pfx-cipher 3des --app-name key-vault-crashplan --crashplan-cloud us";
    const first = await TerminalSession.start(cli(args), { cwd: workdir, env });
    let password: string;
    try {
      await first.waitFor(/Go ahead with this plan\?/);
      await first.send("Enter");
      await first.waitFor(/\? PFX password/, 60_000);
      await first.send("Enter");
      const shown = await first.waitFor(/Waiting for the role assignment to reach Key Vault/, 60_000);
      password = /PFX password \(shown once[^)]*\): (\S+)/.exec(shown)?.[1] ?? "";
      expect(password.length).toBeGreaterThanOrEqual(24);
      await first.send("C-c");
      const screen = await first.waitFor(/EXIT=\d+/);
      expect(screen).toMatch(/EXIT=130/);
      expect(screen).toMatch(/Interrupted\. Everything done so far is saved/);
    } finally {
      await first.close();
    }
    const interrupted = await readState(workdir);
    expect(interrupted.steps.pfx.status).toBe("done");
    expect(interrupted.steps.validate.status).toBe("running");
    expect(JSON.stringify(interrupted)).not.toContain(password);

    const second = await TerminalSession.start(cli("setup --sandbox --sandbox-config knobs.json"), { cwd: workdir, env });
    try {
      const planScreen = await second.waitFor(/Go ahead with this plan\?/, 60_000);
      expect(planScreen).toMatch(/8\. Validate the connection\s+interrupted/);
      expect(planScreen).toMatch(/Resuming at step 8/);
      // Nothing answered in the first run is asked again.
      expect(planScreen).not.toMatch(/Key Vault name|Region for the vault|Resource group \(|PFX encryption/);
      await second.send("Enter");
      // The PFX password is never stored, so proving the PFX opens needs it typed again.
      await second.waitFor(/The PFX password/, 60_000);
      await second.type(password);
      await second.send("Enter");
      await second.waitFor(/Has CrashPlan's Migrate keystore finished\?/, 60_000);
      await second.send("Enter");
      const end = await second.waitFor(/EXIT=\d+/, 60_000);
      expect(end).toMatch(/EXIT=0/);
    } finally {
      await second.close();
    }
    const resumed = await readState(workdir);
    expect(resumed.steps.validate.status).toBe("done");
    expect(resumed.steps.validate.outputs.removedTemporaryRules).toEqual(["198.51.100.23/32"]);
  }, 180_000);

  it("never prompts when stdin is not a terminal: lists what is missing and exits 2", async () => {
    const workdir = await mkdtemp(join(tmpdir(), "akv-notty-"));
    const child = spawn(node, [bin, "setup", "--sandbox"], { cwd: workdir, env: { ...process.env, CI: "" }, stdio: ["pipe", "pipe", "pipe"] });
    child.stdin.end("eastus\n");
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    expect(code).toBe(2);
    expect(stderr).toMatch(/Missing inputs?, and prompting is off/);
    expect(stderr).toMatch(/--location or AKV_CRASHPLAN_LOCATION/);
    expect(stderr).not.toMatch(/\?\s/);
  });
});
