import crypto from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { buildPfx, generateKeyAndCertificate, generatePfxPassword, PFX_PASSWORD_ALPHABET, readPfx, type KeyAndCertificate, type PfxCipher } from "../../src/cert/index.js";
import { hasJava, javaGetKey, javaSkipReason, passwordFile, run, runOk, tempDir } from "./helpers.js";

let pair: KeyAndCertificate;
let dir: string;
beforeAll(async () => {
  pair = await generateKeyAndCertificate({ keySize: 2048, subject: "pfx-test" });
  dir = await tempDir();
});

const expectedInfo: Record<PfxCipher, RegExp[]> = {
  "3des": [/MAC: sha1, Iteration 2048/, /PKCS7 Encrypted data: pbeWithSHA1And3-KeyTripleDES-CBC, Iteration 2048/, /Shrouded Keybag: pbeWithSHA1And3-KeyTripleDES-CBC, Iteration 2048/],
  aes256: [/MAC: sha256, Iteration 2048/, /PKCS7 Encrypted data: PBES2, PBKDF2, AES-256-CBC, Iteration 10000, PRF hmacWithSHA256/, /Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC, Iteration 10000, PRF hmacWithSHA256/],
};

describe.each(["3des", "aes256"] as const)("buildPfx %s", (cipher) => {
  let pfxFile: string;
  let pwFile: string;
  const password = generatePfxPassword();
  beforeAll(async () => {
    pfxFile = path.join(dir, `${cipher}.pfx`);
    pwFile = await passwordFile(dir, password, `${cipher}.pw`);
    await fs.writeFile(pfxFile, buildPfx({ ...pair, password, cipher }));
  });

  it("is read by openssl pkcs12 (OpenSSL 3 default provider, no -legacy needed) with the expected algorithms", async () => {
    const r = await run("openssl", ["pkcs12", "-info", "-noout", "-in", pfxFile, "-passin", `file:${pwFile}`]);
    expect(r.code, r.stderr).toBe(0);
    for (const re of expectedInfo[cipher]) expect(r.stdout + r.stderr).toMatch(re);
    // Key and certificate come out whole, tied by friendlyName and localKeyId.
    const pem = await runOk("openssl", ["pkcs12", "-in", pfxFile, "-passin", `file:${pwFile}`, "-nodes"]);
    expect(pem.match(/friendlyName: key-vault-crashplan/g)?.length).toBe(2);
    const ids = [...pem.matchAll(/localKeyID: ([0-9A-F ]+)/g)].map((m) => m[1]!.trim());
    expect(ids).toHaveLength(2);
    expect(ids[0]).toBe(ids[1]);
    const certOut = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/.exec(pem)![0];
    const keyOut = /-----BEGIN PRIVATE KEY-----[\s\S]*?-----END PRIVATE KEY-----/.exec(pem)![0];
    expect(new crypto.X509Certificate(certOut).raw.equals(new crypto.X509Certificate(pair.certPem).raw)).toBe(true);
    expect(crypto.createPrivateKey(keyOut).export({ type: "pkcs8", format: "pem" })).toBe(pair.keyPem);
  });

  it("fails openssl with a wrong password", async () => {
    const wrong = await passwordFile(dir, "not-the-password", `${cipher}.wrong`);
    const r = await run("openssl", ["pkcs12", "-info", "-noout", "-in", pfxFile, "-passin", `file:${wrong}`]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/mac verify (failure|error)/i);
  });

  it.skipIf(!hasJava)(`is listed by keytool and its key is got by KeyStore.getKey in Java${hasJava ? "" : ` (skipped: ${javaSkipReason})`}`, async () => {
    const list = await runOk("keytool", ["-list", "-storetype", "PKCS12", "-keystore", pfxFile, "-storepass:file", pwFile]);
    expect(list).toMatch(/key-vault-crashplan, .*PrivateKeyEntry/);
    expect(list).toContain("Your keystore contains 1 entry");
    const out = await javaGetKey(pfxFile, pwFile);
    expect(out.trim()).toBe("alias=key-vault-crashplan algorithm=RSA bits=2048 subject=CN=pfx-test matches=true");
  });

  it("reads back with readPfx to the same key and certificate", () => {
    const back = readPfx(Buffer.from(buildPfx({ ...pair, password, cipher, friendlyName: "other" })), password);
    expect(back).toEqual(pair);
  });

  it("refuses a wrong password in readPfx without echoing either password", async () => {
    const pfx = await fs.readFile(pfxFile);
    let error: unknown;
    try {
      readPfx(pfx, "Wrong-Password-123", { name: "service-principal.pfx" });
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ name: "AkvError", exitCode: 2, code: "PfxWrongPassword", message: "service-principal.pfx: wrong password (the PFX integrity check failed)." });
    expect(JSON.stringify(error) + String(error)).not.toContain(password);
    expect(JSON.stringify(error) + String(error)).not.toContain("Wrong-Password-123");
  });
});

describe("buildPfx refusals", () => {
  it.each(["", "   ", "\t\n"])("refuses the password %j", (password) => {
    expect(() => buildPfx({ ...pair, password })).toThrow(expect.objectContaining({ code: "PfxPasswordEmpty", exitCode: 2 }));
  });
  it("refuses garbage key or certificate, naming which", () => {
    expect(() => buildPfx({ keyPem: "nope", certPem: pair.certPem, password: "x" })).toThrow(/private key/);
    expect(() => buildPfx({ keyPem: pair.keyPem, certPem: "nope", password: "x" })).toThrow(/certificate/);
  });
});

describe("readPfx of PFX files other tools wrote", () => {
  let key: string;
  let cert: string;
  let pwFile: string;
  const password = "an operator's passphrase";
  beforeAll(async () => {
    key = path.join(dir, "o.key");
    cert = path.join(dir, "o.crt");
    await fs.writeFile(key, pair.keyPem, { mode: 0o600 });
    await fs.writeFile(cert, pair.certPem);
    pwFile = await passwordFile(dir, password, "o.pw");
  });

  it.each([
    ["OpenSSL 3 default (PBES2/AES-256, SHA-256 MAC)", []],
    ["PBE-SHA1-3DES", ["-keypbe", "PBE-SHA1-3DES", "-certpbe", "PBE-SHA1-3DES", "-macalg", "sha1"]],
    ["unencrypted certificate bag", ["-certpbe", "NONE"]],
  ])("reads openssl pkcs12 -export: %s", async (_name, extra) => {
    const out = path.join(dir, `o-${extra.length}.pfx`);
    await runOk("openssl", ["pkcs12", "-export", "-inkey", key, "-in", cert, "-out", out, "-passout", `file:${pwFile}`, ...extra]);
    expect(readPfx(await fs.readFile(out), password)).toEqual(pair);
  });

  it("reads openssl pkcs12 -export -legacy (RC2-40 certificate bag) when OpenSSL has the legacy provider", async (ctx) => {
    const out = path.join(dir, "legacy.pfx");
    const r = await run("openssl", ["pkcs12", "-export", "-legacy", "-inkey", key, "-in", cert, "-out", out, "-passout", `file:${pwFile}`]);
    if (r.code !== 0) ctx.skip(`openssl cannot write -legacy here: ${r.stderr.split("\n")[0]}`);
    expect(readPfx(await fs.readFile(out), password)).toEqual(pair);
  });

  it.skipIf(!hasJava)("reads a PKCS#12 keystore written by Java's keytool", async () => {
    const out = path.join(dir, "java.p12");
    await runOk("keytool", [
      "-genkeypair", "-storetype", "PKCS12", "-keystore", out, "-storepass:file", pwFile, "-alias", "k", "-keyalg", "RSA", "-keysize", "2048", "-dname", "CN=java",
    ]);
    const back = readPfx(await fs.readFile(out), password);
    expect(new crypto.X509Certificate(back.certPem).subject).toBe("CN=java");
  });

  it("says a non-PFX is not a PFX", () => {
    expect(() => readPfx(Buffer.from("hello"), "x", { name: "a.pfx" })).toThrow(/a.pfx is not a readable PKCS#12/);
  });
});

describe("generatePfxPassword", () => {
  it("is long, from the unambiguous alphabet, and different each time", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const pw = generatePfxPassword();
      expect(pw).toMatch(/^[A-Za-z0-9]{5}(-[A-Za-z0-9]{5}){5}$/);
      for (const ch of pw.replaceAll("-", "")) expect(PFX_PASSWORD_ALPHABET).toContain(ch);
      expect(pw).not.toMatch(/[0O1lIio]/);
      seen.add(pw);
    }
    expect(seen.size).toBe(200);
  });
});

describe.skipIf(!hasJava)("an RSA-4096 PFX (the default key size) in Java", () => {
  it("gets the 4096-bit key out with KeyStore.getKey", async () => {
    const big = await generateKeyAndCertificate({ subject: "big" });
    const password = generatePfxPassword();
    const pwFile = await passwordFile(dir, password, "big.pw");
    const pfx = path.join(dir, "big.pfx");
    await fs.writeFile(pfx, buildPfx({ ...big, password }));
    expect((await javaGetKey(pfx, pwFile)).trim()).toBe("alias=key-vault-crashplan algorithm=RSA bits=4096 subject=CN=big matches=true");
  });
});
