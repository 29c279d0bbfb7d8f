/**
 * Trusting an extra CA (the sandbox's, or an Azure Stack's) for this process only. The SDKs use node:https
 * (core-rest-pipeline) and undici fetch (the Graph client); both take Node's default CA list when a connection is
 * made, so widening that list once covers every client without touching NODE_EXTRA_CA_CERTS or the user's system.
 */
import * as tls from "node:tls";
import { AkvError } from "../errors.js";

const trusted = new Set<string>();

function normalisePem(pem: string): string {
  return pem.replace(/\r\n/g, "\n").trim();
}

/** Adds `caPem` (one or more certificates) to the default CA list of this process. Idempotent. */
export function trustExtraCa(caPem: string): void {
  const pem = normalisePem(caPem);
  if (trusted.has(pem)) return;
  if (!/-----BEGIN CERTIFICATE-----/.test(pem)) {
    throw AkvError.usage("The CA to trust is not a PEM certificate.", { code: "InvalidCaCertificate" });
  }
  if (typeof tls.setDefaultCACertificates !== "function" || typeof tls.getCACertificates !== "function") {
    throw AkvError.precondition("This Node.js cannot add a CA certificate at run time (needs Node 22.15 or later).", {
      code: "NodeTooOldForCustomCa",
      hint: "Upgrade Node.js, or start the CLI with NODE_EXTRA_CA_CERTS=<path to the CA file>.",
    });
  }
  const current = tls.getCACertificates("default");
  const known = new Set(current.map(normalisePem));
  const additions = splitPem(pem).filter((cert) => !known.has(cert));
  if (additions.length > 0) tls.setDefaultCACertificates([...current, ...additions]);
  trusted.add(pem);
}

function splitPem(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)?.map(normalisePem) ?? [];
}
