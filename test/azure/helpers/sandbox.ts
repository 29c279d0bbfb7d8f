/** An in-process sandbox in a temp dir and the real AzureServices pointed at it, signed in as its operator. */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AkvError } from "../../../src/errors.js";
import forge from "node-forge";
import { cloudFromSandbox } from "../../../src/azure/cloud.js";
import { createOperatorCredential } from "../../../src/azure/credential.js";
import { createAzureServices, type AzureServicesOptions } from "../../../src/azure/index.js";
import type { AzureServices, CloudProfile } from "../../../src/azure/services.js";
import { startSandbox, type SandboxConfig, type SandboxHandle, type SandboxPrincipal } from "../../../src/sandbox/index.js";

export interface AzureTestBed {
  sb: SandboxHandle;
  cloud: CloudProfile;
  services: AzureServices;
  servicesAs(principal: SandboxPrincipal, extra?: Partial<AzureServicesOptions>): AzureServices;
  dispose(): Promise<void>;
}

export const fastRetry = { maxRetries: 2, retryDelayInMs: 20, maxRetryDelayInMs: 100 };

export function operatorEnv(sb: SandboxHandle, principal: SandboxPrincipal = sb.operator): Record<string, string> {
  return { AZURE_TENANT_ID: sb.tenantId, AZURE_CLIENT_ID: principal.clientId, AZURE_CLIENT_SECRET: principal.clientSecret };
}

export async function startAzureTestBed(config?: SandboxConfig): Promise<AzureTestBed> {
  const dir = mkdtempSync(join(tmpdir(), "akv-azure-"));
  const sb = await startSandbox({ dataDir: dir, ...(config ? { config } : {}) });
  const cloud = cloudFromSandbox(sb.cloud, readFileSync(sb.cloud.caCertPath, "utf8"));
  const servicesAs = (principal: SandboxPrincipal, extra: Partial<AzureServicesOptions> = {}): AzureServices =>
    createAzureServices({
      cloud,
      credential: createOperatorCredential({ auth: "env", cloud, env: operatorEnv(sb, principal), canPrompt: false }),
      pollIntervalMs: 20,
      retryOptions: fastRetry,
      ...extra,
    });
  return {
    sb,
    cloud,
    services: servicesAs(sb.operator),
    servicesAs,
    dispose: async () => {
      await sb.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface TestCertificate {
  /** Key + certificate PEM (what ClientCertificateCredential takes). */
  pem: string;
  derBase64: string;
  sha1Base64: string;
  notBefore: Date;
  notAfter: Date;
}

export function makeCertificate(cn: string): TestCertificate {
  const keys = forge.pki.rsa.generateKeyPair({ bits: 2048, e: 0x10001 });
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = `01${forge.util.bytesToHex(forge.random.getBytesSync(8))}`;
  cert.validity.notBefore = new Date(Date.now() - 3_600_000);
  cert.validity.notAfter = new Date(Date.now() + 300 * 86_400_000);
  cert.setSubject([{ name: "commonName", value: cn }]);
  cert.setIssuer([{ name: "commonName", value: cn }]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  const der = Buffer.from(forge.asn1.toDer(forge.pki.certificateToAsn1(cert)).getBytes(), "binary");
  const sha1 = forge.md.sha1.create();
  sha1.update(der.toString("binary"));
  return {
    pem: `${forge.pki.privateKeyToPem(keys.privateKey)}${forge.pki.certificateToPem(cert)}`,
    derBase64: der.toString("base64"),
    sha1Base64: Buffer.from(sha1.digest().getBytes(), "binary").toString("base64"),
    notBefore: cert.validity.notBefore,
    notAfter: cert.validity.notAfter,
  };
}

/** The AkvError a promise rejects with (fails the test when it resolves or rejects with something else). */
export async function rejection(promise: Promise<unknown>): Promise<AkvError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof AkvError)) throw new Error(`expected an AkvError, got ${String(error)}`);
  return error as AkvError;
}
