import { execFileSync } from "node:child_process";
import { generateKeyPairSync, randomUUID } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import forge from "node-forge";

/** A self-signed RSA certificate made with forge (openssl 3.0's req cannot date one in the past). */
export function selfSignedCertificate(options: { commonName: string; notBefore?: Date; notAfter?: Date }) {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: "spki", format: "pem" }).toString());
  cert.serialNumber = "0a" + randomUUID().replace(/-/g, "").slice(0, 16);
  cert.validity.notBefore = options.notBefore ?? new Date(Date.now() - 3600_000);
  cert.validity.notAfter = options.notAfter ?? new Date(Date.now() + 365 * 86_400_000);
  cert.setSubject([{ name: "commonName", value: options.commonName }]);
  cert.setIssuer([{ name: "commonName", value: options.commonName }]);
  cert.sign(forge.pki.privateKeyFromPem(keyPem), forge.md.sha256.create());
  const der = Buffer.from(forge.asn1.toDer(forge.pki.certificateToAsn1(cert)).getBytes(), "binary");
  return { keyPem, certPem: forge.pki.certificateToPem(cert), der, notBefore: cert.validity.notBefore, notAfter: cert.validity.notAfter };
}

/** Certificate and key files of every wrong kind, made once with openssl and forge for the bad-input corpus. */
export function makeBadCertificateFiles() {
  const dir = mkdtempSync(join(tmpdir(), "akv-cert-fixtures-"));
  const path = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync("openssl", args, { stdio: "ignore" });
  openssl("req", "-x509", "-newkey", "rsa:2048", "-keyout", path("good.key"), "-out", path("good.crt"), "-days", "30", "-nodes", "-subj", "/CN=good");
  openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", path("other.key"));
  openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-keyout", path("ec.key"), "-out", path("ec.crt"), "-days", "30", "-nodes", "-subj", "/CN=ec");
  writeFileSync(path("pfx-password.txt"), "the-right-password-123\n");
  writeFileSync(path("wrong-password.txt"), "not-the-password-456\n");
  openssl("pkcs12", "-export", "-out", path("good.pfx"), "-inkey", path("good.key"), "-in", path("good.crt"), "-passout", `file:${path("pfx-password.txt")}`);
  writeFileSync(path("garbage.crt"), "this is not a certificate\n".repeat(20));

  const expired = selfSignedCertificate({ commonName: "expired", notBefore: new Date(Date.now() - 400 * 86_400_000), notAfter: new Date(Date.now() - 35 * 86_400_000) });
  writeFileSync(path("expired.crt"), expired.certPem);
  writeFileSync(path("expired.key"), expired.keyPem);
  return { dir, path };
}
