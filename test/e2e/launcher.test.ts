// Findings of an attacker session (2026-12-03) on the launcher and its code cache, each held here.
import { spawn, spawnSync } from "node:child_process";
import { closeSync, cpSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { BIN, hasStackTrace, runCli } from "../helpers/cli.js";

const repo = dirname(dirname(BIN));
const scratch = mkdtempSync(join(tmpdir(), "akv-launcher-"));
const env = (extra: Record<string, string> = {}) => ({ PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", NO_COLOR: "1", ...extra });

describe("the launcher", () => {
  it("a damaged cache body is never handed to V8 (it used to crash every start), and is rewritten", async () => {
    const base = mkdtempSync(join(scratch, "cache-"));
    const cwd = mkdtempSync(join(scratch, "cwd-"));
    const run = () => runCli(["status", "--offline"], { cwd, env: { XDG_CACHE_HOME: base } });
    expect((await run()).code).toBe(0);
    const dir = join(base, "akv-crashplan", "code-cache", readdirSync(join(base, "akv-crashplan", "code-cache"))[0]!);
    const blobFile = join(dir, readdirSync(dir).find((f) => /^start\.cjs\..+\.bin$/.test(f))!);
    const original = readFileSync(blobFile);
    for (const offset of [64, 200, Math.floor(original.length / 2), original.length - 8]) {
      const damaged = Buffer.from(original);
      damaged[offset]! ^= 1;
      writeFileSync(blobFile, damaged);
      const r = await run();
      expect(r.code, `flipped byte ${offset}: ${r.stderr}`).toBe(0);
      expect(r.stdout).toContain("1. Create the Key Vault");
    }
  });

  it("a changed chunk of the same size and mtime (a tarball's fixed dates) runs its new code, not the cached one", async () => {
    const root = mkdtempSync(join(scratch, "copy-"));
    cpSync(join(repo, "bin"), join(root, "bin"), { recursive: true });
    cpSync(join(repo, "dist", "bundle"), join(root, "dist", "bundle"), { recursive: true });
    symlinkSync(join(repo, "node_modules"), join(root, "node_modules"));
    const bin = join(root, "bin", "akv-crashplan.js");
    const start = join(root, "dist", "bundle", "start.cjs");
    const fixed = new Date("1985-10-26T08:15:00Z");
    const base = mkdtempSync(join(scratch, "cache-"));
    const version = () => spawnSync(process.execPath, [bin, "--version"], { encoding: "utf8", env: env({ XDG_CACHE_HOME: base }) }).stdout.trim();
    utimesSync(start, fixed, fixed);
    const before = version();
    expect(version()).toBe(before); // now from the cache
    writeFileSync(start, readFileSync(start, "utf8").replace(`"${before}"`, `"${before.replace(/\d/g, "9")}"`));
    utimesSync(start, fixed, fixed);
    expect(version()).toBe(before.replace(/\d/g, "9"));
  });

  it("a reader that goes away early does not turn a failing command into a success", async () => {
    const cwd = mkdtempSync(join(scratch, "epipe-"));
    // doctor writes its first line at once and fails (exit 3: no way to sign in here) only later.
    const child = spawn(process.execPath, [BIN, "doctor"], { cwd, env: env(), stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.destroy(); // like `| grep -q` having found what it wanted
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(code).toBe(3);
    expect(hasStackTrace(stderr)).toBe(false);
  });

  it("output that cannot be written (a full disk) is said in one line and exits 7, without a stack trace", () => {
    const full = openSync("/dev/full", "w");
    try {
      const r = spawnSync(process.execPath, [BIN, "--help"], { env: env(), stdio: ["ignore", full, "pipe"], encoding: "utf8" });
      expect(r.status).toBe(7);
      expect(r.stderr).toMatch(/Could not write the output \(ENOSPC\)/);
      expect(hasStackTrace(r.stderr)).toBe(false);
    } finally {
      closeSync(full);
    }
  });

  it("a current folder that was deleted is said plainly (exit 7)", () => {
    const gone = mkdtempSync(join(scratch, "gone-"));
    const r = spawnSync("/bin/sh", ["-c", `cd "$1" && rmdir "$1" && exec "$2" "$3" --version`, "sh", gone, process.execPath, BIN], { env: env(), encoding: "utf8" });
    expect(r.status).toBe(7);
    expect(r.stderr).toMatch(/The current folder is gone/);
    expect(hasStackTrace(r.stderr)).toBe(false);
  });

  it("a workdir that cannot be created is a local error (exit 7) naming the path, not an internal error", async () => {
    const cwd = mkdtempSync(join(scratch, "ro-"));
    writeFileSync(join(cwd, "a-file"), "x");
    const r = await runCli(["cert", "generate", "--key-size", "2048", "--workdir", join(cwd, "a-file", "wd"), "--json"], { cwd });
    expect(r.code).toBe(7);
    expect(r.stderr).toContain(`Cannot create the folder ${join(cwd, "a-file", "wd")}: a part of the path is a file, not a folder (ENOTDIR)`);
    expect(r.stderr).not.toMatch(/Internal error/);
    expect(JSON.parse(r.stdout).error.exitCode).toBe(7);
  });

  it("a HOME where folders cannot be made (/proc) does not hang the start; a relative XDG_CACHE_HOME is ignored", () => {
    const cwd = mkdtempSync(join(scratch, "proc-"));
    const r = spawnSync(process.execPath, [BIN, "--version"], { cwd, env: env({ HOME: "/proc" }), encoding: "utf8", timeout: 10_000 });
    expect(r.status).toBe(0);
    const relative = spawnSync(process.execPath, [BIN, "--version"], { cwd, env: env({ XDG_CACHE_HOME: "relcache" }), encoding: "utf8" });
    expect(relative.status).toBe(0);
    expect(readdirSync(cwd)).toEqual([]);
  });

  it("no command, or help for an unknown one, is a usage error (exit 2); asked-for help is exit 0 on stdout", async () => {
    const cwd = mkdtempSync(join(scratch, "help-"));
    mkdirSync(join(cwd, "x"));
    expect((await runCli([], { cwd })).code).toBe(2);
    expect((await runCli(["cert"], { cwd })).code).toBe(2);
    const unknown = await runCli(["help", "nosuch"], { cwd });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown command 'nosuch'");
    expect((await runCli(["help", "cert", "nosuch"], { cwd })).code).toBe(2);
    const unknownJson = await runCli(["help", "nosuch", "--json"], { cwd });
    expect(unknownJson.code).toBe(2);
    expect(JSON.parse(unknownJson.stdout).error.exitCode).toBe(2);
    const asked = await runCli(["help"], { cwd });
    expect(asked.code).toBe(0);
    expect(asked.stdout).toContain("Usage: akv-crashplan");
  });

  it("a workdir where no folder can be made (/proc) or that is a file is exit 7 at once, never a hang", async () => {
    const cwd = mkdtempSync(join(scratch, "wd-"));
    writeFileSync(join(cwd, "afile"), "x");
    const proc = await runCli(["cert", "generate", "--key-size", "2048", "--workdir", "/proc/akv-x"], { cwd, timeoutMs: 15_000 });
    expect(proc.code).toBe(7);
    expect(proc.stderr).toContain("Cannot create the folder /proc/akv-x");
    const file = await runCli(["setup", "--sandbox", "--yes", "--location", "eastus", "--workdir", join(cwd, "afile")], { cwd });
    expect(file.code).toBe(7);
    expect(file.stderr).toContain(join(cwd, "afile"));
    expect(file.stderr).not.toMatch(/Internal error/);
  });

  it("a JSON error's hint carries --workdir as the text does", async () => {
    const cwd = mkdtempSync(join(scratch, "hint-"));
    const r = await runCli(["--workdir", join(cwd, "elsewhere"), "grant", "--sandbox", "--json"], { cwd });
    expect(r.code).toBe(3);
    expect(JSON.parse(r.stdout).error.hint).toContain(`--workdir ${join(cwd, "elsewhere")}`);
  });
});

