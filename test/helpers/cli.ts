/**
 * Runs the built CLI (bin/akv-crashplan.js → dist/) as a child process. Always async spawn: execFileSync would
 * deadlock when the test process itself hosts a sandbox.
 */
import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const BIN = fileURLToPath(new URL("../../bin/akv-crashplan.js", import.meta.url));
const TEST_CACHE_HOME = join(tmpdir(), "akv-crashplan-test-cache");
mkdirSync(TEST_CACHE_HOME, { recursive: true, mode: 0o700 });

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd: string;
  env?: Record<string, string | undefined>;
  input?: string;
  timeoutMs?: number;
  /** A umask for the child (applied through a tiny sh wrapper). */
  umask?: string;
}

/** The environment a test child gets: PATH and HOME only, never the developer's AZURE_* or AKV_CRASHPLAN_*. */
export function cleanEnv(extra: Record<string, string | undefined> = {}): Record<string, string> {
  // The launcher's code caches go to a folder of the test run's, not the developer's ~/.cache.
  const env: Record<string, string> = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", NO_COLOR: "1", XDG_CACHE_HOME: TEST_CACHE_HOME };
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) env[k] = v;
  return env;
}

export function runCli(args: string[], options: RunOptions): Promise<CliResult> {
  const env = cleanEnv(options.env);
  const [cmd, argv] = options.umask
    ? ["/bin/sh", ["-c", `umask ${options.umask} && exec "$0" "$@"`, process.execPath, BIN, ...args]]
    : [process.execPath, [BIN, ...args]];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv as string[], { cwd: options.cwd, env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c));
    child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 45_000);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.end(options.input ?? "");
  });
}

/** No "    at foo (file:line)" frames: a user-facing error never shows a stack trace. */
export function hasStackTrace(text: string): boolean {
  return /^\s{2,}at .+[(:]/m.test(text);
}
