/** Shared setup for sandbox tests: an in-process sandbox in a temp dir, trusted CA, SDK clients pointed at it. */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ClientCertificateCredential, ClientSecretCredential, type TokenCredential } from "@azure/identity";
import { KeyVaultManagementClient } from "@azure/arm-keyvault";
import { AuthorizationManagementClient } from "@azure/arm-authorization";
import { SecretClient } from "@azure/keyvault-secrets";
import { Client } from "@microsoft/microsoft-graph-client";
import { TokenCredentialAuthenticationProvider } from "@microsoft/microsoft-graph-client/authProviders/azureTokenCredentials/index.js";
import forge from "node-forge";
import { startSandbox, trustSandboxCa, type SandboxConfig, type SandboxHandle, type SandboxPrincipal } from "../../src/sandbox/index.js";

export interface TestSandbox {
  sb: SandboxHandle;
  dir: string;
  dispose(): Promise<void>;
}

export async function startTestSandbox(config?: SandboxConfig, dir = mkdtempSync(join(tmpdir(), "akv-sandbox-"))): Promise<TestSandbox> {
  const sb = await startSandbox({ dataDir: dir, config });
  trustSandboxCa(readFileSync(sb.cloud.caCertPath, "utf8"));
  return {
    sb,
    dir,
    dispose: async () => {
      await sb.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const fastRetry = { retryOptions: { maxRetries: 3, retryDelayInMs: 50, maxRetryDelayInMs: 200 } };

export function secretCredential(sb: SandboxHandle, p: SandboxPrincipal = sb.operator): ClientSecretCredential {
  return new ClientSecretCredential(sb.tenantId, p.clientId, p.clientSecret, { authorityHost: sb.cloud.authorityHost, disableInstanceDiscovery: true, ...fastRetry });
}

export function certificateCredential(sb: SandboxHandle, clientId: string, pem: string): ClientCertificateCredential {
  return new ClientCertificateCredential(sb.tenantId, clientId, { certificate: pem }, { authorityHost: sb.cloud.authorityHost, disableInstanceDiscovery: true, ...fastRetry });
}

export function kvArm(sb: SandboxHandle, cred: TokenCredential = secretCredential(sb)): KeyVaultManagementClient {
  return new KeyVaultManagementClient(cred, sb.subscriptionId, { endpoint: sb.cloud.armEndpoint, ...fastRetry });
}

export function authz(sb: SandboxHandle, cred: TokenCredential = secretCredential(sb)): AuthorizationManagementClient {
  return new AuthorizationManagementClient(cred, sb.subscriptionId, { endpoint: sb.cloud.armEndpoint, ...fastRetry });
}

export function graph(sb: SandboxHandle, cred: TokenCredential = secretCredential(sb)): Client {
  return Client.initWithMiddleware({
    authProvider: new TokenCredentialAuthenticationProvider(cred, { scopes: [`${sb.cloud.graphEndpoint}/.default`] }),
    baseUrl: `${sb.cloud.graphEndpoint}/`,
    customHosts: new Set([new URL(sb.cloud.graphEndpoint).hostname]),
  });
}

export function secrets(vaultUrl: string, cred: TokenCredential): SecretClient {
  return new SecretClient(vaultUrl, cred, { disableChallengeResourceVerification: true, ...fastRetry });
}

export interface TestCert {
  /** Private key + certificate PEM, as ClientCertificateCredential takes it. */
  pem: string;
  derBase64: string;
  cert: forge.pki.Certificate;
  key: forge.pki.rsa.PrivateKey;
}

export function makeCert(cn = "akv-crashplan-test", notBefore = new Date(Date.now() - 3600_000), notAfter = new Date(Date.now() + 365 * 86400_000)): TestCert {
  const keys = forge.pki.rsa.generateKeyPair({ bits: 2048, e: 0x10001 });
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = "01" + forge.util.bytesToHex(forge.random.getBytesSync(8));
  cert.validity.notBefore = notBefore;
  cert.validity.notAfter = notAfter;
  cert.setSubject([{ name: "commonName", value: cn }]);
  cert.setIssuer([{ name: "commonName", value: cn }]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  const derBase64 = forge.util.encode64(forge.asn1.toDer(forge.pki.certificateToAsn1(cert)).getBytes());
  return { pem: forge.pki.privateKeyToPem(keys.privateKey) + forge.pki.certificateToPem(cert), derBase64, cert, key: keys.privateKey };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function adminGet(sb: SandboxHandle, path: string): Promise<unknown> {
  const res = await fetch(`${sb.adminUrl}${path}`);
  return res.json();
}

export interface RawResponse {
  status: number;
  headers: Headers;
  body: any;
}

/** A raw HTTPS call (global fetch), for requests the SDKs would not send. */
export async function call(method: string, url: string, opts: { token?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<RawResponse> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers["authorization"] = `Bearer ${opts.token}`;
  let body: string | undefined;
  if (opts.body !== undefined) {
    body = typeof opts.body === "string" ? opts.body : JSON.stringify(opts.body);
    headers["content-type"] ??= "application/json";
  }
  const res = await fetch(url, { method, headers, body });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text === "" ? undefined : JSON.parse(text);
  } catch {
    /* keep text */
  }
  return { status: res.status, headers: res.headers, body: parsed };
}

export async function tokenFor(sb: SandboxHandle, resource: string, p: SandboxPrincipal = sb.operator): Promise<string> {
  return (await secretCredential(sb, p).getToken(`${resource}/.default`)).token;
}

export interface AppWithCert {
  appObjectId: string;
  appId: string;
  spId: string;
  cert: TestCert;
}

/** Registers an application + service principal and uploads a certificate to it (operator, via Graph). */
export async function registerAppWithCert(sb: SandboxHandle, name: string, waitMs = 0): Promise<AppWithCert> {
  const g = graph(sb);
  const app = (await g.api("/applications").post({ displayName: name })) as { id: string; appId: string };
  if (waitMs) await sleep(waitMs);
  const sp = (await g.api("/servicePrincipals").post({ appId: app.appId })) as { id: string };
  const cert = makeCert(`CN=${name}`);
  await g.api(`/applications/${app.id}`).patch({ keyCredentials: [{ type: "AsymmetricX509Cert", usage: "Verify", key: cert.derBase64 }] });
  return { appObjectId: app.id, appId: app.appId, spId: sp.id, cert };
}

export async function createVault(sb: SandboxHandle, name: string, properties: Record<string, unknown> = {}): Promise<{ id: string; uri: string }> {
  const v = await kvArm(sb).vaults.beginCreateOrUpdateAndWait(
    sb.resourceGroup,
    name,
    { location: sb.location, properties: { tenantId: sb.tenantId, sku: { family: "A", name: "standard" }, ...properties } },
    { updateIntervalInMs: 10 },
  );
  return { id: v.id ?? "", uri: v.properties.vaultUri ?? "" };
}

export async function assignRole(sb: SandboxHandle, scope: string, roleGuid: string, principalId: string, principalType: string | null = "ServicePrincipal"): Promise<void> {
  await authz(sb).roleAssignments.create(scope, crypto.randomUUID(), {
    roleDefinitionId: `/subscriptions/${sb.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${roleGuid}`,
    principalId,
    ...(principalType ? { principalType } : {}),
  });
}

export const SECRETS_OFFICER = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7";
