/**
 * The sandbox's own certificate authority and the TLS server certificate it signs. Both live in the data dir so a
 * client that trusted `ca.pem` once keeps trusting the sandbox across runs.
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import forge from "node-forge";
import { writeFileAtomic } from "./persist.js";

export interface SandboxPki {
  caPem: string;
  caCertPath: string;
  serverKeyPem: string;
  serverCertPem: string;
  /** RSA key that signs the access tokens the sandbox's Entra issues. */
  tokenSigningKeyPem: string;
}

function newRsaKeyPem(): string {
  // Node's native generator: node-forge's pure-JS one takes seconds per key.
  return generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs8", format: "pem" }).toString();
}

function serialHex(): string {
  // A positive serial: first byte below 0x80.
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return bytes.toString("hex");
}

function createCa(keyPem: string): string {
  const key = forge.pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey;
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.setRsaPublicKey(key.n, key.e);
  cert.serialNumber = serialHex();
  cert.validity.notBefore = new Date(Date.now() - 24 * 3600 * 1000);
  cert.validity.notAfter = new Date(Date.now() + 10 * 365 * 24 * 3600 * 1000);
  const subject = [
    // Unique per data dir: TLS stacks pick an issuer by subject, and a process may trust several sandbox CAs.
    { name: "commonName", value: `akv-crashplan sandbox CA ${randomBytes(4).toString("hex")}` },
    { name: "organizationName", value: "akv-crashplan sandbox" },
  ];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: "basicConstraints", cA: true, critical: true },
    { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true },
    { name: "subjectKeyIdentifier" },
  ]);
  cert.sign(key, forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

function createServerCert(caKeyPem: string, caPem: string, serverKeyPem: string): string {
  const caKey = forge.pki.privateKeyFromPem(caKeyPem);
  const caCert = forge.pki.certificateFromPem(caPem);
  const key = forge.pki.privateKeyFromPem(serverKeyPem) as forge.pki.rsa.PrivateKey;
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.setRsaPublicKey(key.n, key.e);
  cert.serialNumber = serialHex();
  cert.validity.notBefore = new Date(Date.now() - 24 * 3600 * 1000);
  cert.validity.notAfter = new Date(Date.now() + 2 * 365 * 24 * 3600 * 1000);
  cert.setSubject([{ name: "commonName", value: "localhost" }]);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: "basicConstraints", cA: false },
    { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
    { name: "extKeyUsage", serverAuth: true },
    { name: "authorityKeyIdentifier", keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
    {
      name: "subjectAltName",
      altNames: [
        { type: 2, value: "localhost" },
        { type: 7, ip: "127.0.0.1" },
        { type: 7, ip: "::1" },
      ],
    },
  ]);
  cert.sign(caKey, forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

function readOrCreate(path: string, create: () => string): string {
  if (existsSync(path)) return readFileSync(path, "utf8");
  const value = create();
  writeFileAtomic(path, value, 0o600);
  return value;
}

/** Loads the CA, server certificate and token key from `dataDir`, creating whatever is missing. */
export function loadOrCreatePki(dataDir: string): SandboxPki {
  const caKeyPem = readOrCreate(join(dataDir, "ca-key.pem"), newRsaKeyPem);
  const caCertPath = join(dataDir, "ca.pem");
  const caPem = readOrCreate(caCertPath, () => createCa(caKeyPem));
  const serverKeyPem = readOrCreate(join(dataDir, "server-key.pem"), newRsaKeyPem);
  const serverCertPem = readOrCreate(join(dataDir, "server-cert.pem"), () => createServerCert(caKeyPem, caPem, serverKeyPem));
  const tokenSigningKeyPem = readOrCreate(join(dataDir, "token-signing-key.pem"), newRsaKeyPem);
  return { caPem, caCertPath, serverKeyPem, serverCertPem, tokenSigningKeyPem };
}
