import crypto from "node:crypto";
import forge from "node-forge";
import { AkvError } from "../errors.js";
import { child, oidOf, parseDer } from "./der.js";
import type { CertificateInfo } from "./types.js";

const DAY_MS = 86_400_000;

const signatureNames: Record<string, string> = {
  "1.2.840.10045.4.1": "ecdsa-with-SHA1",
  "1.2.840.10045.4.3.2": "ecdsa-with-SHA256",
  "1.2.840.10045.4.3.3": "ecdsa-with-SHA384",
  "1.2.840.10045.4.3.4": "ecdsa-with-SHA512",
  "1.3.101.112": "ED25519",
};

export function parseCertificate(certPemOrDer: string | Buffer, name = "The certificate"): crypto.X509Certificate {
  try {
    return new crypto.X509Certificate(certPemOrDer);
  } catch (cause) {
    throw AkvError.usage(`${name} is not a readable X.509 certificate.`, { code: "CertificateUnreadable", cause });
  }
}

export function describeCertificate(certPem: string | crypto.X509Certificate, now: Date = new Date()): CertificateInfo {
  const x509 = typeof certPem === "string" ? parseCertificate(certPem) : certPem;
  const details = x509.publicKey.asymmetricKeyDetails ?? {};
  const keyType = x509.publicKey.asymmetricKeyType;
  const sha1 = crypto.hash("sha1", x509.raw, "buffer");
  const sha256 = crypto.hash("sha256", x509.raw, "buffer");
  const notAfter = x509.validToDate;
  return {
    subject: dn(x509.subject),
    issuer: dn(x509.issuer),
    serialHex: x509.serialNumber.toUpperCase(),
    notBefore: x509.validFromDate.toISOString(),
    notAfter: notAfter.toISOString(),
    // Rounded up: a certificate made today for 365 days has 365 days left, and one expiring tonight has 1.
    daysLeft: Math.ceil((notAfter.getTime() - now.getTime()) / DAY_MS),
    keySize: details.modulusLength ?? (keyType === "ec" ? ecBits(details.namedCurve) : 0),
    keyType: keyType === "rsa" ? "RSA" : keyType === "ec" ? "EC" : (keyType ?? "unknown").toUpperCase(),
    signatureAlgorithm: signatureAlgorithm(x509.raw),
    sha1Hex: sha1.toString("hex").toUpperCase(),
    sha256Hex: sha256.toString("hex").toUpperCase(),
    x5t: sha1.toString("base64url"),
    x5tS256: sha256.toString("base64url"),
    derBase64: x509.raw.toString("base64"),
    // Not checkIssued(): OpenSSL's issuer check wants keyCertSign, which a client-auth certificate lacks.
    selfSigned: x509.subject === x509.issuer && x509.verify(x509.publicKey),
  };
}

export function keyMatchesCertificate(keyPem: string | crypto.KeyObject, certPem: string | crypto.X509Certificate): boolean {
  try {
    const key = typeof keyPem === "string" ? crypto.createPrivateKey(keyPem) : keyPem;
    const x509 = typeof certPem === "string" ? new crypto.X509Certificate(certPem) : certPem;
    return x509.publicKey.asymmetricKeyType === key.asymmetricKeyType && x509.checkPrivateKey(key);
  } catch {
    return false;
  }
}

/** Node prints one RDN a line; show them the way the portal and openssl do, comma separated. */
function dn(nodeDn: string): string {
  return nodeDn.split("\n").filter(Boolean).join(", ");
}

/** node:crypto does not expose the signature algorithm, so read it from Certificate.signatureAlgorithm. */
function signatureAlgorithm(certDer: Buffer): string {
  try {
    const algOid = oidOf(child(child(parseDer(certDer), 1, "signatureAlgorithm"), 0, "algorithm"), "signature algorithm");
    return forge.pki.oids[algOid] ?? signatureNames[algOid] ?? algOid;
  } catch {
    return "unknown";
  }
}

function ecBits(curve: string | undefined): number {
  const m = /(\d{3})/.exec(curve ?? "");
  return m ? Number(m[1]) : 0;
}
