import { execFile, spawnSync } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../fixtures/cert");

export const hasJava = spawnSync("java", ["-version"]).status === 0 && spawnSync("keytool", ["-help"]).status === 0;
export const javaSkipReason = "no JDK (java/keytool) on PATH; CI installs default-jdk-headless";
export const isRoot = typeof process.getuid === "function" && process.getuid() === 0;

export interface RunResult { stdout: string; stderr: string; code: number }

/** Runs a command without a shell; never put a secret in args (use files or env). */
export function run(cmd: string, args: string[], opts: { input?: string; env?: Record<string, string>; cwd?: string } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { env: { ...process.env, ...opts.env }, cwd: opts.cwd, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      const code = error ? (typeof (error as { code?: unknown }).code === "number" ? ((error as { code: number }).code) : 1) : 0;
      resolve({ stdout: String(stdout), stderr: String(stderr), code });
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

export async function runOk(cmd: string, args: string[], opts: Parameters<typeof run>[2] = {}): Promise<string> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.code}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout + r.stderr;
}

export async function tempDir(prefix = "akv-cert-"): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), prefix));
}

/** Writes a password to a 0600 file for `-passin file:` / `-storepass:file`. */
export async function passwordFile(dir: string, password: string, name = "pw.txt"): Promise<string> {
  const file = path.join(dir, name);
  await fs.writeFile(file, password + "\n", { mode: 0o600 });
  return file;
}

/** Runs test/fixtures/cert/GetKey.java against a PFX. */
export function javaGetKey(pfx: string, pwFile: string): Promise<string> {
  return runOk("java", [path.join(fixtures, "GetKey.java"), pfx, pwFile]);
}

/** `openssl req -x509 -newkey rsa:N …`, as the manual procedure does. */
export async function opensslSelfSigned(dir: string, opts: { bits?: number; days?: number; cn?: string; extra?: string[] } = {}): Promise<{ key: string; cert: string }> {
  const key = path.join(dir, "k.pem");
  const cert = path.join(dir, "c.pem");
  await runOk("openssl", [
    "req", "-x509", "-newkey", `rsa:${opts.bits ?? 2048}`, "-keyout", key, "-out", cert, "-days", String(opts.days ?? 365), "-nodes",
    "-subj", `/CN=${opts.cn ?? "x"}`, ...(opts.extra ?? []),
  ]);
  return { key, cert };
}
