// Findings of a first-time user (2026-12-03), each held here: local-only commands in a sandbox workdir, a new PFX
// beside an old generated password, and a firewall that lets no CrashPlan address in.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";

const fresh = () => mkdtempSync(join(tmpdir(), "akv-local-"));

describe("local steps and what they leave", () => {
  it("a workdir whose first command is local (cert generate --sandbox) stays a sandbox workdir", async () => {
    const cwd = fresh();
    expect((await runCli(["cert", "generate", "--sandbox", "--key-size", "2048"], { cwd })).code).toBe(0);
    expect(JSON.parse(readFileSync(join(cwd, "akv-crashplan", "state.json"), "utf8")).cloud).toBe("sandbox");
    // Without --sandbox, a later command that signs in uses the sandbox again; before, it tried real Azure (exit 4).
    const validate = await runCli(["validate"], { cwd });
    expect(validate.stderr).toContain("set up against the built-in sandbox");
    expect(validate.stderr).not.toMatch(/Could not sign in/);
    expect(validate.code).toBe(3); // the vault and the app are not there yet: a precondition, said as such
  });

  it("a new PFX takes the old generated password file away, and the new password opens the new PFX", async () => {
    const cwd = fresh();
    const wd = join(cwd, "akv-crashplan");
    expect((await runCli(["cert", "generate", "--key-size", "2048"], { cwd })).code).toBe(0);
    expect((await runCli(["pfx", "export"], { cwd })).code).toBe(0);
    const generatedFile = join(wd, "service-principal.pfx.password");
    expect(existsSync(generatedFile)).toBe(true); // no terminal and no --password-out: kept beside the key
    const out = join(cwd, "new-password.txt");
    const again = await runCli(["pfx", "export", "--force", "--password-out", out], { cwd });
    expect(again.code, again.stderr).toBe(0);
    expect(existsSync(generatedFile)).toBe(false);
    execFileSync("openssl", ["pkcs12", "-in", join(wd, "service-principal.pfx"), "-passin", `file:${out}`, "-noout"]);
    // And a chosen password (from a file) likewise leaves no stale generated file behind.
    writeFileSync(generatedFile, "stale\n", { mode: 0o600 });
    const chosen = join(cwd, "chosen.txt");
    writeFileSync(chosen, "a-long-chosen-password-0123456789\n", { mode: 0o600 });
    expect((await runCli(["pfx", "export", "--force", "--password-file", chosen], { cwd })).code).toBe(0);
    expect(existsSync(generatedFile)).toBe(false);
  });

  it("status --check names a firewall that allows no CrashPlan address", async () => {
    const cwd = fresh();
    const setup = await runCli(["setup", "--sandbox", "--yes", "--location", "eastus", "--key-size", "2048"], { cwd });
    expect(setup.code, setup.stderr).toBe(0);
    const check = await runCli(["status", "--check", "--json"], { cwd });
    expect(check.code).toBe(3);
    expect(JSON.parse(check.stdout).problems.join("\n")).toMatch(/allows no CrashPlan address/);
    // Elsewhere than ./akv-crashplan, the commands in the problems carry --workdir, as the text does.
    const elsewhere = await runCli(["--workdir", join(cwd, "akv-crashplan"), "status", "--check", "--json"], { cwd: tmpdir() });
    expect(JSON.parse(elsewhere.stdout).problems.join("\n")).toContain(`akv-crashplan --workdir ${join(cwd, "akv-crashplan")} firewall configure`);
  });

  it("a --password-file that is the generated password file is kept: it is the new PFX's password now", async () => {
    const cwd = fresh();
    const wd = join(cwd, "akv-crashplan");
    expect((await runCli(["cert", "generate", "--key-size", "2048"], { cwd })).code).toBe(0);
    expect((await runCli(["pfx", "export"], { cwd })).code).toBe(0);
    const own = join(wd, "service-principal.pfx.password");
    const r = await runCli(["pfx", "export", "--force", "--pfx-cipher", "aes256", "--password-file", own], { cwd });
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(own)).toBe(true);
    execFileSync("openssl", ["pkcs12", "-in", join(wd, "service-principal.pfx"), "-passin", `file:${own}`, "-noout"]);
  });

  it("a --out in a folder that is not there stops before anything is saved, and later exports still work", async () => {
    const cwd = fresh();
    writeFileSync(join(cwd, "a-file"), "x");
    expect((await runCli(["cert", "generate", "--key-size", "2048"], { cwd })).code).toBe(0);
    const bad = await runCli(["pfx", "export", "--out", join(cwd, "a-file", "x.pfx")], { cwd });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("is not a folder");
    const state = JSON.parse(readFileSync(join(cwd, "akv-crashplan", "state.json"), "utf8"));
    expect(state.answers.pfxOut).toBeUndefined();
    expect((await runCli(["pfx", "export"], { cwd })).code).toBe(0);
  });

  it("new values for a done local step are ignored with a warning and never saved; --force redoes it", async () => {
    const cwd = fresh();
    const wd = join(cwd, "akv-crashplan");
    expect((await runCli(["cert", "generate", "--key-size", "2048", "--days", "365"], { cwd })).code).toBe(0);
    expect((await runCli(["pfx", "export"], { cwd })).code).toBe(0);
    const crt = readFileSync(join(wd, "service-principal.crt"), "utf8");
    const pfx = readFileSync(join(wd, "service-principal.pfx"));
    const days = await runCli(["cert", "generate", "--days", "30"], { cwd });
    expect(days.code).toBe(0);
    expect(days.stderr).toMatch(/--days "?30"? is ignored/);
    const cipher = await runCli(["pfx", "export", "--pfx-cipher", "aes256"], { cwd });
    expect(cipher.code).toBe(0);
    expect(cipher.stderr).toMatch(/--pfx-cipher "aes256" is ignored.*pfx export --force/);
    expect(readFileSync(join(wd, "service-principal.crt"), "utf8")).toBe(crt);
    expect(readFileSync(join(wd, "service-principal.pfx")).equals(pfx)).toBe(true);
    const answers = JSON.parse(readFileSync(join(wd, "state.json"), "utf8")).answers;
    expect(answers.days).toBe(365);
    expect(answers.pfxCipher ?? "3des").toBe("3des");
  });

  it("--keep-my-ip keeps this machine's rule, says so, and a later command without it leaves the rule alone", async () => {
    const cwd = fresh();
    const wd = join(cwd, "akv-crashplan");
    const inputs = ["--location", "eastus", "--crashplan-ip", "203.0.113.0/24", "--crashplan-ips-source", "test", "--key-size", "2048"];
    expect((await runCli(["setup", "--sandbox", "--yes", ...inputs], { cwd })).code).toBe(0);
    const vaultRules = () => {
      const sb = JSON.parse(readFileSync(join(wd, "sandbox", "sandbox-state.json"), "utf8"));
      return (Object.values(sb.vaults) as Array<{ properties: { networkAcls: { ipRules: { value: string }[] } } }>)[0]!.properties.networkAcls.ipRules.map((r) => r.value);
    };
    expect(vaultRules()).toEqual(["203.0.113.0/24"]); // validation removed its temporary rule
    const kept = await runCli(["migrate", "--verify", "--yes", "--keep-my-ip"], { cwd });
    expect(kept.stderr).toMatch(/Allowing 198\.51\.100\.23\/32 \(kept afterwards: --keep-my-ip\)/);
    expect(kept.stderr).toMatch(/Kept the firewall rule 198\.51\.100\.23\/32 for this machine/);
    expect(vaultRules()).toContain("198.51.100.23/32");
    const later = await runCli(["migrate", "--verify", "--yes"], { cwd });
    expect(later.stderr).not.toMatch(/Removed the temporary firewall rule/);
    expect(vaultRules()).toContain("198.51.100.23/32");
  });
});

