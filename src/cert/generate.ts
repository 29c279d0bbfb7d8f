import crypto from "node:crypto";
import { promisify } from "node:util";
import forge from "node-forge";
import { AkvError } from "../errors.js";
import { fromBin, toBin } from "./der.js";
import type { KeyAndCertificate, KeySize } from "./types.js";

const generateKeyPair = promisify(crypto.generateKeyPair);

export const DEFAULT_SUBJECT = "key-vault-crashplan";
export const DEFAULT_DAYS = 365;
/**
 * notBefore is set this far in the past so a machine whose clock runs a little behind Entra ID's does not get
 * "certificate not yet valid" right after `cert generate`.
 */
export const CLOCK_SKEW_MS = 5 * 60 * 1000;
const KEY_SIZES: readonly number[] = [2048, 3072, 4096];

export interface GenerateOptions {
  keySize?: KeySize;
  /** The CN value. */
  subject?: string;
  days?: number;
  now?: Date;
}

export async function generateKeyAndCertificate(opts: GenerateOptions = {}): Promise<KeyAndCertificate> {
  const keySize = opts.keySize ?? 4096;
  const subject = opts.subject ?? DEFAULT_SUBJECT;
  const days = opts.days ?? DEFAULT_DAYS;
  if (!KEY_SIZES.includes(keySize)) {
    throw AkvError.usage(`Key size ${String(keySize)} is not supported; use 2048, 3072 or 4096.`, { code: "KeySizeInvalid" });
  }
  if (!Number.isInteger(days) || days < 1 || days > 3650) {
    throw AkvError.usage(`Validity of ${String(days)} days is out of range; use a whole number from 1 to 3650.`, { code: "DaysInvalid" });
  }
  // ub-common-name is 64 characters (RFC 5280).
  if (subject.trim() === "" || subject.length > 64 || /\p{Cc}/u.test(subject)) {
    throw AkvError.usage(`Subject "${subject}" is not a usable common name; use 1 to 64 printable characters.`, { code: "SubjectInvalid" });
  }

  // Native (OpenSSL) key generation: forge's pure-JS prime search takes tens of seconds for RSA-4096.
  const { privateKey, publicKey } = await generateKeyPair("rsa", { modulusLength: keySize, publicExponent: 0x10001 });
  const now = opts.now ?? new Date();
  const notBefore = new Date(Math.floor((now.getTime() - CLOCK_SKEW_MS) / 1000) * 1000);
  const notAfter = new Date(Math.floor(now.getTime() / 1000) * 1000 + days * 86_400_000);

  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: "spki", format: "pem" }) as string);
  cert.serialNumber = randomSerialHex();
  cert.validity.notBefore = notBefore;
  cert.validity.notAfter = notAfter;
  const name = [{ shortName: "CN", value: subject, valueTagClass: forge.asn1.Type.UTF8 as number }];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([
    { name: "basicConstraints", cA: false, critical: true },
    { name: "keyUsage", critical: true, digitalSignature: true, keyEncipherment: true },
    { name: "extKeyUsage", clientAuth: true },
    { name: "subjectKeyIdentifier" },
  ]);
  // forge would sign SHA-1 by default and in pure JS; build the TBS with forge and sign it natively.
  const sha256WithRsa = forge.pki.oids.sha256WithRSAEncryption!;
  cert.siginfo.algorithmOid = sha256WithRsa;
  cert.signatureOid = sha256WithRsa;
  // getTBSCertificate exists in forge but not in its typings.
  const tbs = (forge.pki as unknown as { getTBSCertificate(c: forge.pki.Certificate): forge.asn1.Asn1 }).getTBSCertificate(cert);
  cert.tbsCertificate = tbs;
  cert.signature = toBin(crypto.sign("sha256", fromBin(forge.asn1.toDer(tbs).getBytes()), privateKey));
  const certDer = fromBin(forge.asn1.toDer(forge.pki.certificateToAsn1(cert)).getBytes());

  return {
    keyPem: privateKey.export({ type: "pkcs8", format: "pem" }) as string,
    certPem: new crypto.X509Certificate(certDer).toString(),
  };
}

/** 16 random octets, first bit clear (positive) and first octet non-zero (minimal DER), as RFC 5280 asks. */
export function randomSerialHex(): string {
  const bytes = crypto.randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f || 0x01;
  return bytes.toString("hex");
}
