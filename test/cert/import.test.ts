import crypto from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import {
  buildPfx, checkSecretFilePermissions, fixKeyFilePermissions, generateKeyAndCertificate, loadCertificateMaterial, type LoadOptions,
} from "../../src/cert/index.js";
import { hasJava, isRoot, javaGetKey, javaSkipReason, opensslSelfSigned, passwordFile, runOk, tempDir } from "./helpers.js";

let dir: string;
let key: string;
let cert: string;
let keyPem: string;
let certPem: string;
const secret = "import passphrase 42";
let secretFile: string;

beforeAll(async () => {
  dir = await tempDir();
  // Exactly the seed's command: openssl req -x509 -newkey rsa:2048 -keyout k -out c -days 365 -nodes -subj /CN=x
  ({ key, cert } = await opensslSelfSigned(dir));
  await fs.chmod(key, 0o600);
  keyPem = await fs.readFile(key, "utf8");
  certPem = await fs.readFile(cert, "utf8");
  secretFile = await passwordFile(dir, secret, "secret.txt");
});

async function write(name: string, data: string | Buffer, mode = 0o600): Promise<string> {
  const file = path.join(dir, name);
  await fs.writeFile(file, data, { mode });
  await fs.chmod(file, mode);
  return file;
}

function expectSameMaterial(loaded: Awaited<ReturnType<typeof loadCertificateMaterial>>): void {
  expect(new crypto.X509Certificate(loaded.material.certPem).raw.equals(new crypto.X509Certificate(certPem).raw)).toBe(true);
  expect(loaded.material.keyPem).toBe(crypto.createPrivateKey(keyPem).export({ type: "pkcs8", format: "pem" }));
  expect(loaded.material.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
  expect(loaded.info).toMatchObject({ subject: "CN=x", keySize: 2048, keyType: "RSA", signatureAlgorithm: "sha256WithRSAEncryption" });
  expect(loaded.warnings).toEqual([]);
}

async function expectUsageError(opts: LoadOptions, code: string, message: RegExp): Promise<void> {
  const error = await loadCertificateMaterial(opts).then(() => undefined, (e: unknown) => e);
  expect(error).toMatchObject({ name: "AkvError", exitCode: 2, code, message: expect.stringMatching(message) });
  const text = JSON.stringify(error) + String(error);
  expect(text).not.toContain(secret);
  expect(text).not.toMatch(/BEGIN|MII/);
}

describe("loadCertificateMaterial accepts", () => {
  it("a PEM certificate and key as two files", async () => {
    expectSameMaterial(await loadCertificateMaterial({ certPath: cert, keyPath: key }));
  });
  it.each([["key first", true], ["certificate first", false]])("one PEM file holding both, %s", async (_n, keyFirst) => {
    const both = await write(`both-${keyFirst}.pem`, keyFirst ? keyPem + certPem : certPem + keyPem);
    expectSameMaterial(await loadCertificateMaterial({ certPath: both }));
    expectSameMaterial(await loadCertificateMaterial({ keyPath: both }));
  });
  it("a PKCS#1 key (openssl rsa -traditional)", async () => {
    const pkcs1 = path.join(dir, "k1.pem");
    await runOk("openssl", ["rsa", "-in", key, "-traditional", "-out", pkcs1]);
    expect(await fs.readFile(pkcs1, "utf8")).toMatch(/BEGIN RSA PRIVATE KEY/);
    await fs.chmod(pkcs1, 0o600);
    expectSameMaterial(await loadCertificateMaterial({ certPath: cert, keyPath: pkcs1 }));
  });
  it("an encrypted PKCS#8 key with its passphrase, asking for it when missing", async () => {
    const enc = path.join(dir, "k8e.pem");
    await runOk("openssl", ["pkcs8", "-topk8", "-in", key, "-out", enc, "-passout", `file:${secretFile}`]);
    await fs.chmod(enc, 0o600);
    expect(await fs.readFile(enc, "utf8")).toMatch(/BEGIN ENCRYPTED PRIVATE KEY/);
    expectSameMaterial(await loadCertificateMaterial({ certPath: cert, keyPath: enc, keyPassphrase: secret }));
    const missing = await loadCertificateMaterial({ certPath: cert, keyPath: enc }).catch((e: unknown) => e);
    expect(missing).toMatchObject({ code: "PassphraseRequired", details: { needsPassphrase: "key", path: enc } });
    await expectUsageError({ certPath: cert, keyPath: enc, keyPassphrase: "wrong" }, "KeyPassphraseWrong", /k8e.pem holds an encrypted private key and the passphrase given for it is wrong/);
  });
  it("an encrypted legacy PEM (Proc-Type) key", async () => {
    const enc = path.join(dir, "k1e.pem");
    await runOk("openssl", ["rsa", "-in", key, "-traditional", "-aes256", "-out", enc, "-passout", `file:${secretFile}`]);
    await fs.chmod(enc, 0o600);
    expectSameMaterial(await loadCertificateMaterial({ certPath: cert, keyPath: enc, keyPassphrase: secret }));
  });
  it("a DER .cer certificate with a PEM key", async () => {
    const der = path.join(dir, "c.cer");
    await runOk("openssl", ["x509", "-in", cert, "-outform", "DER", "-out", der]);
    expectSameMaterial(await loadCertificateMaterial({ certPath: der, keyPath: key }));
  });
  it("a PFX from openssl pkcs12 -export, asking for its password when missing", async () => {
    const pfx = path.join(dir, "o.pfx");
    await runOk("openssl", ["pkcs12", "-export", "-inkey", key, "-in", cert, "-out", pfx, "-passout", `file:${secretFile}`]);
    await fs.chmod(pfx, 0o600);
    expectSameMaterial(await loadCertificateMaterial({ pfxPath: pfx, pfxPassword: secret }));
    const missing = await loadCertificateMaterial({ pfxPath: pfx }).catch((e: unknown) => e);
    expect(missing).toMatchObject({ code: "PassphraseRequired", details: { needsPassphrase: "pfx", path: pfx } });
    await expectUsageError({ pfxPath: pfx, pfxPassword: "wrong" }, "PfxWrongPassword", /o.pfx: wrong password/);
  });

  it.skipIf(!hasJava)(`and re-exports the imported openssl key + certificate to a PFX Java reads${hasJava ? "" : ` (skipped: ${javaSkipReason})`}`, async () => {
    const { material } = await loadCertificateMaterial({ certPath: cert, keyPath: key });
    for (const cipher of ["3des", "aes256"] as const) {
      const pfx = await write(`reexport-${cipher}.pfx`, buildPfx({ ...material, password: secret, cipher }));
      expect((await javaGetKey(pfx, secretFile)).trim()).toBe("alias=key-vault-crashplan algorithm=RSA bits=2048 subject=CN=x matches=true");
    }
  });
});

describe("loadCertificateMaterial warns", () => {
  it("when the certificate expires within 30 days", async () => {
    const soon = await generateKeyAndCertificate({ keySize: 2048, days: 10 });
    const file = await write("soon.pem", soon.keyPem + soon.certPem);
    const { warnings, info } = await loadCertificateMaterial({ certPath: file });
    expect(info.daysLeft).toBe(10);
    expect(warnings).toEqual([expect.stringMatching(/soon.pem expires in 10 day\(s\)/)]);
  });
  it("when the certificate is signed with SHA-1", async () => {
    const d = await tempDir();
    const { key: k, cert: c } = await opensslSelfSigned(d, { extra: ["-sha1"] });
    await fs.chmod(k, 0o600);
    const { warnings, info } = await loadCertificateMaterial({ certPath: c, keyPath: k });
    expect(info.signatureAlgorithm).toBe("sha1WithRSAEncryption");
    expect(warnings).toEqual([expect.stringMatching(/signed with sha1WithRSAEncryption; SHA-1 signatures are deprecated/)]);
  });
  it("when the key file is readable by group or others, and fixKeyFilePermissions fixes it", async () => {
    const loose = await write("loose.key", keyPem, 0o644);
    const { warnings, loosePermissionFiles } = await loadCertificateMaterial({ certPath: cert, keyPath: loose });
    expect(warnings).toEqual(["loose.key holds a private key but is readable by group and others (mode 0644); it should be 0600."]);
    expect(loosePermissionFiles).toEqual([loose]);
    expect(checkSecretFilePermissions(loose)).toMatchObject({ ok: false, mode: 0o644 });
    await fixKeyFilePermissions(loose);
    expect(checkSecretFilePermissions(loose)).toEqual({ ok: true, mode: 0o600 });
    expect((await loadCertificateMaterial({ certPath: cert, keyPath: loose })).warnings).toEqual([]);
  });
});

describe("loadCertificateMaterial refuses", () => {
  it("a key that does not match the certificate", async () => {
    const other = await generateKeyAndCertificate({ keySize: 2048 });
    const otherKey = await write("other.key", other.keyPem);
    await expectUsageError({ certPath: cert, keyPath: otherKey }, "KeyCertificateMismatch", /The private key in .*other.key does not belong to the certificate in .*c.pem/);
  });
  it("an expired certificate", async () => {
    const old = await generateKeyAndCertificate({ keySize: 2048, days: 30, now: new Date(Date.now() - 400 * 86_400_000) });
    const file = await write("expired.pem", old.certPem + old.keyPem);
    await expectUsageError({ certPath: file }, "CertificateExpired", /expired.pem \(CN=key-vault-crashplan\) expired on \d{4}-/);
  });
  it("an EC key and certificate, naming what was found", async () => {
    const d = await tempDir();
    const k = path.join(d, "ec.key");
    const c = path.join(d, "ec.crt");
    await runOk("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-keyout", k, "-out", c, "-days", "30", "-nodes", "-subj", "/CN=ec"]);
    await expectUsageError({ certPath: c, keyPath: k }, "KeyNotRsa", /ec.key holds an EC private key \(prime256v1\); an RSA key of at least 2048 bits is needed/);
    // An EC certificate with an RSA key: the certificate is named.
    await expectUsageError({ certPath: c, keyPath: key }, "CertificateNotRsa", /ec.crt holds an EC certificate; an RSA certificate of at least 2048 bits is needed/);
  });
  it("an RSA key under 2048 bits", async () => {
    const d = await tempDir();
    const small = await opensslSelfSigned(d, { bits: 1024 });
    await fs.chmod(small.key, 0o600);
    await expectUsageError({ certPath: small.cert, keyPath: small.key }, "KeyTooSmall", /holds an RSA-1024 key; at least 2048 bits/);
  });
  it("a key without a certificate, and a certificate without a key", async () => {
    await expectUsageError({ keyPath: key }, "CertificateMissing", /k.pem holds a private key but no certificate; pass the certificate with --cert\.$/);
    await expectUsageError({ certPath: cert }, "KeyMissing", /c.pem holds a certificate but no private key; pass the key with --key\.$/);
  });
  it("a garbage file", async () => {
    const garbage = await write("garbage.crt", crypto.randomBytes(300));
    await expectUsageError({ certPath: garbage, keyPath: key }, "InputUnrecognised", /garbage.crt is neither a PEM nor a DER certificate or private key/);
    const text = await write("notes.txt", "hello\n-----BEGIN PUBLIC KEY-----\nabc\n-----END PUBLIC KEY-----\n");
    await expectUsageError({ certPath: text, keyPath: key }, "InputUnrecognised", /notes.txt has PEM blocks of type PUBLIC KEY, but no certificate or private key/);
    const pfx = await write("given-as-cert.crt", buildPfx({ keyPem, certPem, password: secret }));
    await expectUsageError({ certPath: pfx, keyPath: key }, "InputIsPfx", /looks like a PFX\/P12 file; pass it with --pfx/);
    await expectUsageError({ pfxPath: garbage, pfxPassword: "x" }, "PfxUnreadable", /garbage.crt is not a readable PKCS#12/);
  });
  it("a missing file", async () => {
    await expectUsageError({ certPath: path.join(dir, "nope.crt"), keyPath: key }, "FileNotFound", /nope.crt does not exist/);
  });
  it("a folder", async () => {
    await expectUsageError({ certPath: dir, keyPath: key }, "FileIsFolder", /is a folder, not a file/);
  });
  it.skipIf(isRoot)(`an unreadable file${isRoot ? " (skipped: running as root, which reads a chmod 000 file anyway)" : ""}`, async () => {
    const locked = await write("locked.key", keyPem, 0o000);
    await expectUsageError({ certPath: cert, keyPath: locked }, "FilePermissionDenied", /locked.key cannot be accessed \(permission denied\)/);
  });
  it("nothing, or both a PFX and PEM files", async () => {
    await expectUsageError({}, "ImportInputsMissing", /Nothing to import/);
    await expectUsageError({ pfxPath: key, certPath: cert }, "ImportInputsConflict", /either a PFX/);
  });
});
