/**
 * CrashPlan's side of the story, simulated: what its console's "Migrate keystore" does with the vault URL and the
 * PFX it is given. It loads the PFX with the password, signs in as the service principal with that certificate,
 * and writes its keystore secrets. It fails where CrashPlan would: bad PFX/password, sign-in, firewall, role.
 */
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { ClientCertificateCredential } from "@azure/identity";
import { SecretClient } from "@azure/keyvault-secrets";
import type { PipelinePolicy } from "@azure/core-rest-pipeline";
import forge from "node-forge";
import { trustSandboxCa } from "./trust.js";
import type { SandboxCloud, SandboxSnapshot } from "./types.js";

export interface CrashPlanMigrationOptions {
  vaultUrl: string;
  pfx: Buffer;
  password: string;
  cloud: SandboxCloud;
  tenantId: string;
  clientId?: string;
  sandboxAdminUrl?: string;
  /** The address CrashPlan's service presents to Key Vault (default 203.0.113.10). */
  crashplanIp?: string;
}

export const CRASHPLAN_DEFAULT_IP = "203.0.113.10";

interface LoadedPfx {
  pem: string;
  sha1: string;
  sha256: string;
}

function loadPfx(pfx: Buffer, password: string): LoadedPfx {
  let p12: forge.pkcs12.Pkcs12Pfx;
  try {
    p12 = forge.pkcs12.pkcs12FromAsn1(forge.asn1.fromDer(forge.util.createBuffer(pfx.toString("binary"))), false, password);
  } catch (e) {
    throw new Error(`CrashPlan could not open the keystore file: the password is wrong or the file is not a PKCS#12 (.pfx) file (${(e as Error).message}).`, { cause: e });
  }
  const keyBags = [
    ...(p12.getBags({ bagType: forge.pki.oids["pkcs8ShroudedKeyBag"] ?? "" })[forge.pki.oids["pkcs8ShroudedKeyBag"] ?? ""] ?? []),
    ...(p12.getBags({ bagType: forge.pki.oids["keyBag"] ?? "" })[forge.pki.oids["keyBag"] ?? ""] ?? []),
  ];
  const certBags = p12.getBags({ bagType: forge.pki.oids["certBag"] ?? "" })[forge.pki.oids["certBag"] ?? ""] ?? [];
  const key = keyBags.find((b) => b.key)?.key;
  const cert = certBags.find((b) => b.cert)?.cert;
  if (!key || !cert) throw new Error("CrashPlan could not use the keystore file: it must hold a private key and its certificate.");
  const der = Buffer.from(forge.asn1.toDer(forge.pki.certificateToAsn1(cert)).getBytes(), "binary");
  return {
    pem: forge.pki.privateKeyToPem(key) + forge.pki.certificateToPem(cert),
    sha1: createHash("sha1").update(der).digest("hex").toUpperCase(),
    sha256: createHash("sha256").update(der).digest("hex").toUpperCase(),
  };
}

async function findClientIdByThumbprint(adminUrl: string, pfx: LoadedPfx): Promise<string> {
  const res = await fetch(`${adminUrl}/resources`);
  if (!res.ok) throw new Error(`CrashPlan could not look up its registration: the sandbox admin endpoint answered ${res.status}.`);
  const snap = (await res.json()) as SandboxSnapshot;
  const app = snap.applications.find((a) => a.keyCredentials.some((k) => k.sha256 === pfx.sha256 || k.sha1 === pfx.sha1));
  if (!app) throw new Error(`CrashPlan found no application registration holding the certificate with thumbprint ${pfx.sha1}.`);
  return app.appId;
}

function describeFailure(e: unknown, ctx: { clientId: string; ip: string; vaultUrl: string }): Error {
  const err = e as { name?: string; statusCode?: number; code?: string; message?: string; details?: { error?: { innerError?: { code?: string } } } };
  const inner = err.details?.error?.innerError?.code;
  if (err.name === "AuthenticationError" || err.name === "AuthenticationRequiredError" || err.name === "CredentialUnavailableError") {
    return new Error(`CrashPlan could not sign in to Entra ID as application ${ctx.clientId} with the certificate: ${err.message ?? ""}`, { cause: e });
  }
  if (err.statusCode === 403 && inner === "ForbiddenByFirewall") {
    return new Error(`Key Vault's firewall refused CrashPlan's address ${ctx.ip}. Add ${ctx.ip}/32 to the vault's IP rules.`, { cause: e });
  }
  if (err.statusCode === 403 && inner === "ForbiddenByConnection") {
    return new Error("The vault has public network access disabled, so CrashPlan cannot reach it.", { cause: e });
  }
  if (err.statusCode === 403) {
    return new Error(`CrashPlan's service principal (application ${ctx.clientId}) has no role that lets it write secrets in ${ctx.vaultUrl} (needs e.g. Key Vault Secrets Officer). ${err.message ?? ""}`, { cause: e });
  }
  return new Error(`CrashPlan could not write its keystore to ${ctx.vaultUrl}: ${err.message ?? String(e)}`, { cause: e });
}

export async function simulateCrashPlanMigration(opts: CrashPlanMigrationOptions): Promise<{ secretsWritten: string[] }> {
  let url: URL;
  try {
    url = new URL(opts.vaultUrl);
  } catch (e) {
    throw new Error(`CrashPlan refuses the vault URL '${opts.vaultUrl}': it is not a URL.`, { cause: e });
  }
  if (url.protocol !== "https:" || (url.pathname !== "/" && url.pathname !== "") || url.search || url.hash) {
    throw new Error(`CrashPlan refuses the vault URL '${opts.vaultUrl}': it must be https://host[:port] with no path.`);
  }
  trustSandboxCa(readFileSync(opts.cloud.caCertPath, "utf8"));
  const pfx = loadPfx(opts.pfx, opts.password);
  const clientId = opts.clientId ?? (opts.sandboxAdminUrl ? await findClientIdByThumbprint(opts.sandboxAdminUrl, pfx) : undefined);
  if (!clientId) throw new Error("CrashPlan needs the application (client) id, or the sandbox admin URL to find it by certificate thumbprint.");
  const ip = opts.crashplanIp ?? CRASHPLAN_DEFAULT_IP;
  const credential = new ClientCertificateCredential(opts.tenantId, clientId, { certificate: pfx.pem }, {
    authorityHost: opts.cloud.authorityHost,
    disableInstanceDiscovery: true,
    retryOptions: { maxRetries: 1, retryDelayInMs: 100 },
  });
  const clientIpPolicy: PipelinePolicy = {
    name: "sandboxCrashPlanClientIp",
    sendRequest: (request, next) => {
      request.headers.set("x-sandbox-client-ip", ip);
      return next(request);
    },
  };
  const client = new SecretClient(url.origin, credential, {
    disableChallengeResourceVerification: true,
    additionalPolicies: [{ policy: clientIpPolicy, position: "perCall" }],
    retryOptions: { maxRetries: 1, retryDelayInMs: 100 },
  });
  const stamp = new Date().toISOString();
  const keystore: [string, string][] = [
    ["crashplan-keystore-index", JSON.stringify({ format: "crashplan-keystore/1", migratedAt: stamp, entries: 2 })],
    ["crashplan-keystore-archive-key-1", randomBytes(32).toString("base64")],
    ["crashplan-keystore-archive-key-2", randomBytes(32).toString("base64")],
  ];
  const written: string[] = [];
  for (const [name, value] of keystore) {
    try {
      await client.setSecret(name, value, { contentType: "application/vnd.crashplan.keystore", tags: { writer: "crashplan-migrate" } });
    } catch (e) {
      throw describeFailure(e, { clientId, ip, vaultUrl: opts.vaultUrl });
    }
    written.push(name);
  }
  return { secretsWritten: written };
}
