/** The secrets scan every e2e test ends with, and the file-mode checks of the key material. */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";
import type { CliResult } from "./cli.js";

/** What must never leak: the private key (whole base64 body and every line of it), the PFX password, and any extra. */
export function secretsOf(workdir: string, extra: string[] = []): string[] {
  const found: string[] = [...extra];
  const keyFile = join(workdir, "service-principal.key");
  if (existsSync(keyFile)) {
    const pem = readFileSync(keyFile, "utf8");
    const body = pem.split("\n").filter((l) => l && !l.startsWith("-----"));
    found.push(body.join(""), ...body.filter((l) => l.length >= 40));
  }
  const pwFile = join(workdir, "service-principal.pfx.password");
  if (existsSync(pwFile)) found.push(readFileSync(pwFile, "utf8").trim());
  return found.filter((s) => s.length >= 8);
}

/** Every text a run leaves behind: its streams, the state, the hand-off and the logs. */
export function leftBehind(workdir: string, runs: CliResult[]): { where: string; text: string }[] {
  const texts = runs.flatMap((r, i) => [
    { where: `run ${i} stdout`, text: r.stdout },
    { where: `run ${i} stderr`, text: r.stderr },
  ]);
  for (const name of ["state.json", "state.json.backup", "crashplan-handoff.md"]) {
    const file = join(workdir, name);
    if (existsSync(file)) texts.push({ where: name, text: readFileSync(file, "utf8") });
  }
  const logs = join(workdir, "logs");
  if (existsSync(logs)) for (const f of readdirSync(logs)) texts.push({ where: `logs/${f}`, text: readFileSync(join(logs, f), "utf8") });
  return texts;
}

const JWT = /eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}/;

export function expectNoSecrets(workdir: string, runs: CliResult[], extra: string[] = []): void {
  const secrets = secretsOf(workdir, extra);
  for (const { where, text } of leftBehind(workdir, runs)) {
    for (const secret of secrets) {
      if (text.includes(secret)) expect.fail(`a secret (${secret.slice(0, 6)}…, ${secret.length} chars) appears in ${where}`);
    }
    if (JWT.test(text)) expect.fail(`an access token (JWT) appears in ${where}`);
  }
}

export function expectPrivateFiles(workdir: string): void {
  expect((statSync(workdir).mode & 0o777).toString(8), workdir).toBe("700");
  for (const name of ["service-principal.key", "service-principal.pfx", "service-principal.pfx.password", "state.json"]) {
    const file = join(workdir, name);
    expect(existsSync(file), file).toBe(true);
    expect((statSync(file).mode & 0o777).toString(8), name).toBe("600");
  }
}
