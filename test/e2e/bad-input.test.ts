/**
 * A table of bad inputs to the built CLI, run against a sandbox server signed in as a real operator: each one is
 * refused with exit 2 (7 for the state file), a message naming the value and the rule, no stack trace, and the
 * server's request log shows no write for the whole corpus.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hasStackTrace, runCli } from "../helpers/cli.js";
import { SandboxServer, writes } from "../helpers/sandbox-server.js";
import { makeBadCertificateFiles } from "../helpers/cert-fixtures.js";

const certs = makeBadCertificateFiles();
const imp = (...args: string[]) => ["cert", "import", ...args];

interface Case {
  name: string;
  /** Flags replacing (or adding to) the good ones; "" as a value removes the flag. */
  flags?: Record<string, string>;
  extra?: string[];
  env?: Record<string, string>;
  /** Files to create in the workdir's parent (cwd) before the run; a value of null makes a directory. */
  files?: Record<string, string | null>;
  command?: string[];
  code?: number;
  /** What the message must contain: the value, and a piece of the rule. */
  says: (string | RegExp)[];
}

const good: Record<string, string> = {
  "--location": "eastus",
  "--vault-name": "kv-corpus-ok-01",
  "--crashplan-ip": "203.0.113.0/24",
  "--crashplan-ips-source": "corpus",
  "--key-size": "2048",
};

const VAULT_RULE = /3.24 characters/;
const RG_RULE = /1.90 characters/;
const GUID_RULE = /GUID/;
const IP_RULE = /IPv4|\/8 to \/32/;
const state = (text: string): Record<string, string | null> => ({ "akv-crashplan": null, "akv-crashplan/state.json": text });

const cases: Case[] = [
  // Vault names
  ...["ab", "kv-this-name-is-far-too-long", "1kv-starts-digit", "kv--double-hyphen", "kv-ends-with-", "kv_underscore", "kv.dot.name", "-kv-leading"].map(
    (v): Case => ({ name: `vault name ${v}`, flags: { "--vault-name": v }, says: [v, VAULT_RULE] }),
  ),
  { name: "vault name from the environment", flags: { "--vault-name": "" }, env: { AKV_CRASHPLAN_VAULT_NAME: "bad_vault" }, says: ["bad_vault", VAULT_RULE] },
  // Resource groups
  ...["rg-ends-with-dot.", "rg/slash", "rg#hash", "r".repeat(91), "rg with space"].map(
    (v): Case => ({ name: `resource group ${v.slice(0, 20)}`, flags: { "--resource-group": v }, says: [v, RG_RULE] }),
  ),
  // Regions
  ...["East US", "east-us", "e", "eastus!"].map((v): Case => ({ name: `region ${v}`, flags: { "--location": v }, says: [v, /region/] })),
  { name: "region from the environment", flags: { "--location": "" }, env: { AKV_CRASHPLAN_LOCATION: "West Europe" }, says: ["West Europe", /region/] },
  // GUIDs
  ...["not-a-guid", "12345678-1234-1234-1234-12345678901", "{12345678-1234-1234-1234-123456789012}", "zzzzzzzz-1234-1234-1234-123456789012"].map(
    (v): Case => ({ name: `--adopt-app-id ${v}`, flags: { "--adopt-app-id": v }, says: [v, GUID_RULE] }),
  ),
  // CIDRs and addresses
  ...["2001:db8::1", "crashplan.example.com", "203.0.113.5/24", "203.0.113.0/33", "256.1.1.1", "203.0.113", "203.0.113.0/", "::/0"].map(
    (v): Case => ({ name: `--crashplan-ip ${v}`, flags: { "--crashplan-ip": v }, says: [v, /IPv4|host bits|domain name|\/8 to \/32/i] }),
  ),
  ...["2001:db8::7", "198.51.100.0/33", "my-laptop"].map((v): Case => ({ name: `--allow-my-ip ${v}`, flags: { "--allow-my-ip": v }, says: [v, IP_RULE] })),
  { name: "CrashPlan addresses from the environment", flags: { "--crashplan-ip": "" }, env: { AKV_CRASHPLAN_CRASHPLAN_IPS: "203.0.113.0/24,fe80::1" }, says: ["fe80::1", IP_RULE] },
  { name: "an IPv6 line in --crashplan-ips-file", flags: { "--crashplan-ip": "", "--crashplan-ips-file": "ips.txt" }, files: { "ips.txt": "# CrashPlan\n203.0.113.0/24\n2001:db8::/32\n" }, says: ["2001:db8::/32", IP_RULE] },
  // Days, key sizes, ciphers, waits, consoles
  ...["0", "3651", "abc", "1.5", "-5"].map((v): Case => ({ name: `--days ${v}`, flags: { "--days": v }, says: [v, /1 to 3650/] })),
  ...["1024", "8192", "2047", "big"].map((v): Case => ({ name: `--key-size ${v}`, flags: { "--key-size": v }, says: [v, /2048/] })),
  { name: "key size from the environment", flags: { "--key-size": "" }, env: { AKV_CRASHPLAN_KEY_SIZE: "1000" }, says: ["1000", /2048/] },
  ...["des", "rc2-40", "AES-128"].map((v): Case => ({ name: `--pfx-cipher ${v}`, flags: { "--pfx-cipher": v }, says: [v, /3des/] })),
  { name: "cipher from the environment", flags: {}, env: { AKV_CRASHPLAN_PFX_CIPHER: "rc4" }, says: ["rc4", /3des/] },
  ...["forever", "25h"].map((v): Case => ({ name: `--wait ${v}`, flags: { "--wait": v }, says: [v, /duration/] })),
  ...["mars", "http://console.example.com"].map((v): Case => ({ name: `--crashplan-cloud ${v}`, flags: { "--crashplan-cloud": v }, says: [v, /us, us2, eu|https/] })),
  // Roles that cannot read and write secret values
  ...["Reader", "Contributor", "Key Vault Crypto Officer", "Key Vault Secrets User", "Owner", "Key Vault Reader"].map(
    (v): Case => ({ name: `--role ${v}`, flags: { "--role": v }, says: [v, /Secrets Officer.*read and write secret values/] }),
  ),
  // Files that are missing or are directories
  { name: "--crashplan-ips-file missing", flags: { "--crashplan-ip": "", "--crashplan-ips-file": "nope.txt" }, says: ["nope.txt"] },
  { name: "--crashplan-ips-file a directory", flags: { "--crashplan-ip": "", "--crashplan-ips-file": "adir" }, files: { adir: null }, says: ["adir"] },
  { name: "--config missing", extra: ["--config", "missing.json"], says: ["missing.json"] },
  { name: "--config a directory", extra: ["--config", "cfgdir"], files: { cfgdir: null }, says: ["cfgdir"] },
  { name: "--config not JSON", extra: ["--config", "cfg.json"], files: { "cfg.json": "{ location: eastus" }, says: ["cfg.json", /JSON/] },
  { name: "--password-file missing", extra: ["--password-file", "pw-missing.txt"], says: ["pw-missing.txt"] },
  { name: "--password-file a directory", extra: ["--password-file", "pwdir"], files: { pwdir: null }, says: ["pwdir"] },
  { name: "--sandbox-config with an unknown knob", extra: ["--sandbox", "--sandbox-config", "knobs.json"], files: { "knobs.json": '{"replicationDelay": 5}' }, says: ["replicationDelay"] },
  // Usage errors from the command line itself
  { name: "an unknown option", extra: ["--vault-nmae", "kv-x"], says: ["--vault-nmae"] },
  { name: "a bad --auth choice", extra: ["--auth", "password"], says: ["password", /auto/] },
  { name: "a bad --from step", extra: ["--from", "everything"], says: ["everything", /vault/] },
  { name: "a bad --auth from the environment", env: { AKV_CRASHPLAN_AUTH: "kerberos" }, says: ["kerberos", /auto/] },
  // The state file: never reset, exit 7
  { name: "state.json not JSON", files: state("{ not json"), code: 7, says: ["state.json"] },
  { name: "state.json truncated", files: state('{"schemaVersion": 1, "lineage": "5f0c'), code: 7, says: ["state.json"] },
  { name: "state.json an array", files: state("[]"), code: 7, says: ["state.json"] },
  { name: "state.json of another tool", files: state('{"terraform_version": "1.9.0", "resources": []}'), code: 7, says: ["state.json"] },
  { name: "state.json from a newer version", files: state('{"schemaVersion": 99, "lineage": "5f0c0d2e-0000-4000-8000-000000000000"}'), code: 7, says: ["state.json", /99|newer/] },
  { name: "state.json empty", files: state(""), code: 7, says: ["state.json"] },
  { name: "status on a corrupt state.json", files: state("{ not json"), command: ["status", "--offline"], code: 7, says: ["state.json"] },
  {
    name: "state.json of another tenant",
    files: state(JSON.stringify({ schemaVersion: 1, lineage: "5f0c0d2e-0000-4000-8000-000000000001", createdAt: "2026-11-01T00:00:00.000Z", updatedAt: "2026-11-01T00:00:00.000Z", tenantId: "11111111-2222-3333-4444-555555555555", answers: {}, steps: {}, operations: {} })),
    code: 7,
    says: ["11111111-2222-3333-4444-555555555555", /belongs to tenant/],
  },
  // Certificate and key files of every wrong kind (cert import)
  { name: "cert import: garbage certificate", command: imp("--cert", certs.path("garbage.crt"), "--key", certs.path("good.key")), says: ["garbage.crt"] },
  { name: "cert import: key does not match the certificate", command: imp("--cert", certs.path("good.crt"), "--key", certs.path("other.key")), says: ["other.key", /does not belong to the certificate/] },
  { name: "cert import: EC key and certificate", command: imp("--cert", certs.path("ec.crt"), "--key", certs.path("ec.key")), says: [/EC/, /RSA/] },
  { name: "cert import: expired certificate", command: imp("--cert", certs.path("expired.crt"), "--key", certs.path("expired.key")), says: ["expired.crt", /expired/i] },
  { name: "cert import: PFX with a wrong password", command: imp("--pfx", certs.path("good.pfx"), "--passphrase-file", certs.path("wrong-password.txt")), says: ["good.pfx", /password/i] },
  { name: "cert import: key without a certificate", command: imp("--key", certs.path("good.key")), says: ["good.key", /certificate/i] },
  { name: "cert import: missing certificate file", command: imp("--cert", certs.path("nope.crt"), "--key", certs.path("good.key")), says: ["nope.crt"] },
  { name: "cert import: a directory as the certificate", command: imp("--cert", certs.dir, "--key", certs.path("good.key")), says: [certs.dir] },
  { name: "cert import: nothing to import", command: imp(), says: [/--cert/, /--pfx/] },
];

describe("bad input corpus", () => {
  let server: SandboxServer;
  const dirs: string[] = [];
  beforeAll(async () => {
    server = await SandboxServer.start();
  });
  afterAll(async () => {
    await server?.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it("has at least 50 cases", () => expect(cases.length).toBeGreaterThanOrEqual(50));

  describe.concurrent("each is refused", () => {
    cases.forEach((c, index) => {
      it(c.name, async () => {
        const cwd = mkdtempSync(join(tmpdir(), "akv-e2e-bad-"));
        dirs.push(cwd);
        for (const [path, content] of Object.entries(c.files ?? {})) {
          if (content === null) mkdirSync(join(cwd, path), { recursive: true });
          else writeFileSync(join(cwd, path), content);
        }
        // A vault name per case, so a write in the request log names the case that made it.
        const flags = { ...good, "--vault-name": `kv-corpus-case-${index}`, ...c.flags };
        const args = c.command ?? ["setup", "--yes", ...Object.entries(flags).filter(([, v]) => v !== "").flat()];
        // A case about AKV_CRASHPLAN_AUTH must not be overridden by the helper's --auth env.
        const cloud = c.env?.AKV_CRASHPLAN_AUTH ? server.cloudArgs().slice(0, -2) : server.cloudArgs();
        const run = await runCli([...args, ...(c.extra ?? []), ...cloud], { cwd, env: { ...server.env(), ...c.env } });
        const output = run.stderr + run.stdout;
        expect(run.code, output).toBe(c.code ?? 2);
        for (const s of c.says) {
          if (typeof s === "string") expect(output, `names ${s}`).toContain(s);
          else expect(output).toMatch(s);
        }
        expect(hasStackTrace(output), output).toBe(false);
        const stateFile = c.files?.["akv-crashplan/state.json"];
        if (typeof stateFile === "string") expect(readFileSync(join(cwd, "akv-crashplan/state.json"), "utf8")).toBe(stateFile);
      });
    });
  });

  it("the whole corpus made no write request", async () => {
    const log = await server.requests();
    const byCase = (path: string) => cases[Number(/kv-corpus-case-(\d+)/.exec(path)?.[1] ?? -1)]?.name ?? "?";
    expect(writes(log).map((e) => `${e.method} ${e.path} (${byCase(e.path)})`)).toEqual([]);
  });
});
