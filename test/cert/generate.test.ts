import crypto from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { describeCertificate, generateKeyAndCertificate, keyMatchesCertificate, randomSerialHex, type KeyAndCertificate } from "../../src/cert/index.js";
import { runOk, tempDir } from "./helpers.js";

describe("generateKeyAndCertificate (RSA-4096, the default)", () => {
  let pair: KeyAndCertificate;
  let dir: string;
  let certFile: string;
  const now = new Date();
  beforeAll(async () => {
    pair = await generateKeyAndCertificate({ now });
    dir = await tempDir();
    certFile = path.join(dir, "c.pem");
    await fs.writeFile(certFile, pair.certPem);
  });

  it("is read by openssl x509 with the key size, signature, validity and extensions asked for", async () => {
    const text = await runOk("openssl", ["x509", "-in", certFile, "-noout", "-text"]);
    expect(text).toContain("Version: 3 (0x2)");
    expect(text).toContain("Public-Key: (4096 bit)");
    expect(text).toContain("Exponent: 65537 (0x10001)");
    expect(text.match(/Signature Algorithm: sha256WithRSAEncryption/g)?.length).toBe(2);
    expect(text).toContain("Subject: CN = key-vault-crashplan");
    expect(text).toContain("Issuer: CN = key-vault-crashplan");
    expect(text).toMatch(/X509v3 Basic Constraints: critical\s+CA:FALSE/);
    expect(text).toMatch(/X509v3 Key Usage: critical\s+Digital Signature, Key Encipherment/);
    expect(text).toMatch(/X509v3 Extended Key Usage:\s+TLS Web Client Authentication/);
    expect(text).toContain("X509v3 Subject Key Identifier");
    const dates = await runOk("openssl", ["x509", "-in", certFile, "-noout", "-startdate", "-enddate"]);
    const notBefore = new Date(/notBefore=(.*)/.exec(dates)![1]!);
    const notAfter = new Date(/notAfter=(.*)/.exec(dates)![1]!);
    // notBefore is backdated a few minutes for clock skew; notAfter is now + 365 days.
    expect(now.getTime() - notBefore.getTime()).toBeGreaterThanOrEqual(4 * 60_000);
    expect(now.getTime() - notBefore.getTime()).toBeLessThanOrEqual(6 * 60_000);
    expect(Math.abs(notAfter.getTime() - (now.getTime() + 365 * 86_400_000))).toBeLessThan(2000);
    await runOk("openssl", ["verify", "-CAfile", certFile, "-partial_chain", certFile]);
  });

  it("is parsed by node:crypto, key and certificate belong together, and thumbprints equal openssl's", async () => {
    const x509 = new crypto.X509Certificate(pair.certPem);
    const key = crypto.createPrivateKey(pair.keyPem);
    expect(pair.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(key.asymmetricKeyDetails?.modulusLength).toBe(4096);
    expect(key.asymmetricKeyDetails?.publicExponent).toBe(65537n);
    expect(x509.checkPrivateKey(key)).toBe(true);
    expect(keyMatchesCertificate(pair.keyPem, pair.certPem)).toBe(true);

    const info = describeCertificate(pair.certPem, now);
    const sha1 = await runOk("openssl", ["x509", "-in", certFile, "-noout", "-fingerprint", "-sha1"]);
    const sha256 = await runOk("openssl", ["x509", "-in", certFile, "-noout", "-fingerprint", "-sha256"]);
    expect(info.sha1Hex).toBe(/=([0-9A-F:]+)/.exec(sha1)![1]!.replaceAll(":", ""));
    expect(info.sha256Hex).toBe(/=([0-9A-F:]+)/.exec(sha256)![1]!.replaceAll(":", ""));
    expect(Buffer.from(info.x5t, "base64url").toString("hex").toUpperCase()).toBe(info.sha1Hex);
    expect(Buffer.from(info.x5tS256, "base64url").toString("hex").toUpperCase()).toBe(info.sha256Hex);
    expect(info).toMatchObject({
      subject: "CN=key-vault-crashplan", issuer: "CN=key-vault-crashplan", keySize: 4096, keyType: "RSA",
      signatureAlgorithm: "sha256WithRSAEncryption", selfSigned: true, daysLeft: 365,
    });
    expect(Buffer.from(info.derBase64, "base64").equals(x509.raw)).toBe(true);
    const serial = await runOk("openssl", ["x509", "-in", certFile, "-noout", "-serial"]);
    expect(info.serialHex).toBe(/serial=([0-9A-F]+)/.exec(serial)![1]);
  });
});

describe("generateKeyAndCertificate options", () => {
  it("takes key size, subject and days", async () => {
    const { keyPem, certPem } = await generateKeyAndCertificate({ keySize: 2048, subject: "crashplan-backup_01 (prod)", days: 30 });
    const info = describeCertificate(certPem);
    expect(info).toMatchObject({ keySize: 2048, subject: "CN=crashplan-backup_01 (prod)", daysLeft: 30 });
    const other = await generateKeyAndCertificate({ keySize: 2048 });
    expect(keyMatchesCertificate(keyPem, certPem)).toBe(true);
    expect(keyMatchesCertificate(other.keyPem, certPem)).toBe(false);
  });

  it.each([
    [{ keySize: 1024 as never }, /Key size 1024/],
    [{ days: 0 }, /0 days/],
    [{ days: 3651 }, /3651 days/],
    [{ days: 1.5 }, /1.5 days/],
    [{ subject: " " }, /common name/],
    [{ subject: "x".repeat(65) }, /common name/],
  ])("refuses %o", async (opts, message) => {
    await expect(generateKeyAndCertificate(opts)).rejects.toMatchObject({ name: "AkvError", exitCode: 2, message: expect.stringMatching(message) });
  });

  it("makes RFC 5280 serials: 16 octets, positive, minimal", () => {
    for (let i = 0; i < 2000; i++) {
      const hex = randomSerialHex();
      expect(hex).toHaveLength(32);
      const first = parseInt(hex.slice(0, 2), 16);
      expect(first).toBeGreaterThan(0);
      expect(first).toBeLessThan(0x80);
    }
  });
});
