/**
 * Day-two tests drive the built CLI with `--sandbox` in a temp dir: each run starts the emulator in its own process
 * from <workdir>/sandbox, so "Azure" persists between runs and can be edited behind the tool's back in between.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli, type CliResult } from "../helpers/cli.js";

export const SETUP_INPUTS = ["--location", "eastus", "--crashplan-ip", "203.0.113.0/24", "--crashplan-ips-source", "ops test", "--key-size", "2048"];

export class Workspace {
  readonly cwd = mkdtempSync(join(tmpdir(), "akv-ops-"));
  readonly workdir = join(this.cwd, "akv-crashplan");

  run(args: string[], env: Record<string, string> = {}, input?: string): Promise<CliResult> {
    return runCli([...args, "--sandbox"], { cwd: this.cwd, env, ...(input !== undefined ? { input } : {}), timeoutMs: 60_000 });
  }

  state(): any {
    return JSON.parse(readFileSync(join(this.workdir, "state.json"), "utf8"));
  }

  /** The sandbox's "Azure", as the emulator persists it between runs. Only touch it while no CLI runs. */
  azure(): any {
    return JSON.parse(readFileSync(join(this.workdir, "sandbox", "sandbox-state.json"), "utf8"));
  }

  editAzure(change: (data: any) => void): void {
    const data = this.azure();
    change(data);
    writeFileSync(join(this.workdir, "sandbox", "sandbox-state.json"), JSON.stringify(data));
  }

  remove(): void {
    rmSync(this.cwd, { recursive: true, force: true });
  }
}

export function json(result: CliResult): any {
  try {
    return JSON.parse(result.stdout);
  } catch {
    throw new Error(`stdout is not JSON (exit ${String(result.code)}):\n${result.stdout}\n--- stderr\n${result.stderr}`);
  }
}
