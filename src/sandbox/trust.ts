/**
 * Makes this process trust the sandbox CA for every TLS client: node:https (core-rest-pipeline, so identity, ARM
 * and Key Vault clients) and undici's global fetch (the Graph client). NODE_EXTRA_CA_CERTS is read only at process
 * start, so in-process callers use Node's default-CA setter instead (Node >= 22.19).
 */
import https from "node:https";
import tls from "node:tls";

const trusted = new Set<string>();

export function trustSandboxCa(caPem: string): void {
  const pem = caPem.trim();
  if (trusted.has(pem)) return;
  trusted.add(pem);
  const setter = (tls as unknown as { setDefaultCACertificates?: (certs: string[]) => void }).setDefaultCACertificates;
  if (typeof setter === "function") {
    const current = tls.getCACertificates("default");
    setter([...current, pem]);
    return;
  }
  // Older runtimes: node:https only (fetch would still refuse the sandbox).
  const existing = https.globalAgent.options.ca;
  const list = Array.isArray(existing) ? existing : existing ? [existing] : [...tls.rootCertificates];
  https.globalAgent.options.ca = [...list, pem];
}
