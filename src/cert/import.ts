import crypto from "node:crypto";
import fsp from "node:fs/promises";
import { AkvError } from "../errors.js";
import { parseDer } from "./der.js";
import { checkSecretFilePermissions, fileError } from "./files.js";
import { readPfx } from "./pfx.js";
import type { CertificateInfo, KeyAndCertificate } from "./types.js";
import { describeCertificate } from "./x509-info.js";

export const MIN_RSA_BITS = 2048;
export const EXPIRY_WARNING_DAYS = 30;

export interface LoadOptions {
  certPath?: string;
  keyPath?: string;
  pfxPath?: string;
  keyPassphrase?: string;
  pfxPassword?: string;
  now?: Date;
}

export interface LoadedMaterial {
  material: KeyAndCertificate;
  info: CertificateInfo;
  /** For people: each a full sentence. */
  warnings: string[];
  /** Files holding the private key that group or others can read; fix with fixKeyFilePermissions. */
  loosePermissionFiles: string[];
  /**
   * Never set: a missing passphrase is thrown as AkvError code "PassphraseRequired" with
   * details.needsPassphrase "key" | "pfx" and details.path, so the caller can prompt and call again.
   */
  needsPassphrase?: "key" | "pfx";
}

interface FoundKey { key: crypto.KeyObject; file: string }
interface FoundCert { x509: crypto.X509Certificate; file: string }

/** Imports an operator's own certificate and key (PEM, DER or PFX), checked for use as the app credential. */
export async function loadCertificateMaterial(opts: LoadOptions): Promise<LoadedMaterial> {
  const now = opts.now ?? new Date();
  const keys: FoundKey[] = [];
  const certs: FoundCert[] = [];
  const keyFiles: string[] = [];

  if (opts.pfxPath !== undefined) {
    if (opts.certPath !== undefined || opts.keyPath !== undefined) {
      throw AkvError.usage("Give either a PFX (--pfx) or a certificate and key (--cert/--key), not both.", { code: "ImportInputsConflict" });
    }
    const pfx = await readInput(opts.pfxPath);
    if (opts.pfxPassword === undefined) throw passphraseRequired("pfx", opts.pfxPath);
    const { keyPem, certPem } = readPfx(pfx, opts.pfxPassword, { name: opts.pfxPath });
    keys.push({ key: crypto.createPrivateKey(keyPem), file: opts.pfxPath });
    certs.push({ x509: new crypto.X509Certificate(certPem), file: opts.pfxPath });
    keyFiles.push(opts.pfxPath);
  } else {
    const files = [...new Set([opts.certPath, opts.keyPath].filter((f): f is string => f !== undefined))];
    if (files.length === 0) {
      throw AkvError.usage("Nothing to import: give a certificate and key (--cert and --key) or a PFX (--pfx).", { code: "ImportInputsMissing" });
    }
    for (const file of files) {
      const found = parseFile(file, await readInput(file), opts.keyPassphrase);
      keys.push(...found.keys);
      certs.push(...found.certs);
      if (found.keys.length > 0) keyFiles.push(file);
    }
    if (keys.length === 0) {
      const hint = opts.keyPath === undefined ? "; pass the key with --key" : "";
      throw AkvError.usage(`${files.join(" and ")} ${files.length > 1 ? "hold" : "holds"} a certificate but no private key${hint}.`, { code: "KeyMissing" });
    }
    if (certs.length === 0) {
      const hint = opts.certPath === undefined ? "; pass the certificate with --cert" : "";
      throw AkvError.usage(`${files.join(" and ")} ${files.length > 1 ? "hold" : "holds"} a private key but no certificate${hint}.`, { code: "CertificateMissing" });
    }
    if (keys.length > 1) {
      throw AkvError.usage(`Found ${keys.length} private keys (in ${[...new Set(keys.map((k) => k.file))].join(", ")}); give exactly one.`, { code: "KeyAmbiguous" });
    }
  }

  const { key, file: keyFile } = keys[0]!;
  assertRsaKey(key, keyFile);
  const cert = certs.find((c) => c.x509.checkPrivateKey(key));
  if (!cert) {
    const first = certs[0]!;
    const certType = first.x509.publicKey.asymmetricKeyType;
    if (certs.length === 1 && certType !== "rsa") {
      throw AkvError.usage(`${first.file} holds ${article(certType)} certificate; an RSA certificate of at least ${MIN_RSA_BITS} bits is needed.`, { code: "CertificateNotRsa" });
    }
    throw AkvError.usage(
      `The private key in ${keyFile} does not belong to the certificate in ${[...new Set(certs.map((c) => c.file))].join(", ")} (their public keys differ).`,
      { code: "KeyCertificateMismatch", hint: "Pass the key that was generated together with this certificate." },
    );
  }

  const info = describeCertificate(cert.x509, now);
  const warnings: string[] = [];
  if (cert.x509.validToDate.getTime() <= now.getTime()) {
    throw AkvError.usage(`The certificate in ${cert.file} (${info.subject}) expired on ${info.notAfter}.`, {
      code: "CertificateExpired",
      hint: "Import a current certificate, or run `akv-crashplan cert generate` to make a new one.",
    });
  }
  if (cert.x509.validFromDate.getTime() > now.getTime()) {
    warnings.push(`The certificate in ${cert.file} is not valid before ${info.notBefore}; sign-in fails until then.`);
  }
  if (info.daysLeft < EXPIRY_WARNING_DAYS) {
    warnings.push(`The certificate in ${cert.file} expires in ${info.daysLeft} day(s), on ${info.notAfter}; plan its rotation.`);
  }
  if (/sha1|sha-1/i.test(info.signatureAlgorithm)) {
    warnings.push(`The certificate in ${cert.file} is signed with ${info.signatureAlgorithm}; SHA-1 signatures are deprecated, prefer SHA-256.`);
  }
  const others = certs.length - 1;
  if (others > 0) warnings.push(`Ignored ${others} other certificate(s) (a chain); only the one matching the key is used.`);
  const loosePermissionFiles: string[] = [];
  for (const file of new Set(keyFiles)) {
    const check = checkSecretFilePermissions(file);
    if (!check.ok) {
      loosePermissionFiles.push(file);
      warnings.push(check.message ?? `${file} is readable by group or others.`);
    }
  }

  return {
    material: { keyPem: key.export({ type: "pkcs8", format: "pem" }) as string, certPem: cert.x509.toString() },
    info,
    warnings,
    loosePermissionFiles,
  };
}

async function readInput(file: string): Promise<Buffer> {
  try {
    const st = await fsp.stat(file);
    if (st.isDirectory()) throw Object.assign(new Error("is a directory"), { code: "EISDIR" });
    return await fsp.readFile(file);
  } catch (error) {
    throw fileError(error as NodeJS.ErrnoException, file);
  }
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;

function parseFile(file: string, data: Buffer, passphrase: string | undefined): { keys: FoundKey[]; certs: FoundCert[] } {
  const keys: FoundKey[] = [];
  const certs: FoundCert[] = [];
  const text = data.toString("latin1");
  if (text.includes("-----BEGIN ")) {
    const labels: string[] = [];
    for (const m of text.matchAll(PEM_BLOCK)) {
      const label = m[1]!;
      const block = m[0];
      labels.push(label);
      if (label === "CERTIFICATE" || label === "X509 CERTIFICATE") {
        try {
          certs.push({ x509: new crypto.X509Certificate(block), file });
        } catch (cause) {
          throw AkvError.usage(`${file} has a "BEGIN ${label}" block that is not a readable certificate.`, { code: "CertificateUnreadable", cause });
        }
      } else if (label.endsWith("PRIVATE KEY")) {
        keys.push({ key: parsePemKey(file, block, label, passphrase), file });
      }
    }
    if (keys.length === 0 && certs.length === 0) {
      const what = labels.length ? `PEM blocks of type ${labels.join(", ")}` : "no complete PEM block";
      throw AkvError.usage(`${file} has ${what}, but no certificate or private key.`, { code: "InputUnrecognised" });
    }
    return { keys, certs };
  }
  // Binary: a DER certificate (.cer/.crt) or a DER key.
  try {
    return { keys, certs: [{ x509: new crypto.X509Certificate(data), file }] };
  } catch {
    // not a DER certificate
  }
  for (const type of ["pkcs8", "pkcs1"] as const) {
    try {
      return { keys: [{ key: crypto.createPrivateKey({ key: data, format: "der", type }), file }], certs };
    } catch {
      // try the next
    }
  }
  if (looksLikePfx(data)) {
    throw AkvError.usage(`${file} looks like a PFX/P12 file; pass it with --pfx (and its password).`, { code: "InputIsPfx" });
  }
  throw AkvError.usage(`${file} is neither a PEM nor a DER certificate or private key.`, { code: "InputUnrecognised" });
}

function parsePemKey(file: string, block: string, label: string, passphrase: string | undefined): crypto.KeyObject {
  const encrypted = label === "ENCRYPTED PRIVATE KEY" || /Proc-Type:\s*4,ENCRYPTED/.test(block);
  if (encrypted && passphrase === undefined) throw passphraseRequired("key", file);
  try {
    return crypto.createPrivateKey({ key: block, format: "pem", ...(encrypted ? { passphrase } : {}) });
  } catch (cause) {
    if (encrypted) {
      throw AkvError.usage(`${file} holds an encrypted private key and the passphrase given for it is wrong.`, { code: "KeyPassphraseWrong", cause });
    }
    throw AkvError.usage(`${file} has a "BEGIN ${label}" block that is not a readable private key.`, { code: "KeyUnreadable", cause });
  }
}

function assertRsaKey(key: crypto.KeyObject, file: string): void {
  const type = key.asymmetricKeyType;
  if (type !== "rsa") {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    throw AkvError.usage(
      `${file} holds ${article(type)} private key${curve ? ` (${curve})` : ""}; an RSA key of at least ${MIN_RSA_BITS} bits is needed.`,
      { code: "KeyNotRsa", hint: "Use `akv-crashplan cert generate`, or make one with `openssl req -x509 -newkey rsa:4096 …`." },
    );
  }
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < MIN_RSA_BITS) {
    throw AkvError.usage(`${file} holds an RSA-${bits} key; at least ${MIN_RSA_BITS} bits are needed.`, { code: "KeyTooSmall" });
  }
}

function passphraseRequired(kind: "key" | "pfx", file: string): AkvError {
  const what = kind === "key" ? "an encrypted private key" : "a PFX";
  return AkvError.usage(`${file} holds ${what}; its ${kind === "key" ? "passphrase" : "password"} is needed.`, {
    code: "PassphraseRequired",
    details: { needsPassphrase: kind, path: file },
  });
}

function article(type: string | undefined): string {
  const name = type === "ec" ? "EC" : type === "rsa-pss" ? "RSA-PSS" : (type ?? "unknown").toUpperCase();
  return /^[AEIOU]/.test(name) ? `an ${name}` : `a ${name}`;
}

function looksLikePfx(data: Buffer): boolean {
  try {
    const root = parseDer(data);
    const first = Array.isArray(root.value) ? root.value[0] : undefined;
    return typeof first?.value === "string" && first.value === "\x03";
  } catch {
    return false;
  }
}

