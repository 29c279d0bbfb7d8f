/**
 * SecretsAccess over @azure/keyvault-secrets 4 (data plane), always signed in as the service principal with its
 * certificate: this is how CrashPlan will use the vault, so it is what validation proves.
 */
import type { SecretClient } from "@azure/keyvault-secrets";
import { AkvError } from "../errors.js";
import { type AdapterContext, lazy } from "./context.js";
import { createServicePrincipalCredential, decodeTokenClaims } from "./credential.js";
import { azureCall, azureGet, hasAzureCode, parseAzureError, toAkvError } from "./errors.js";
import type { SecretProperties, SecretsAccess, ServicePrincipalSignIn, VaultSecrets } from "./services.js";

/**
 * The SDK's paging helper turns a refused list into "Pagination failed with unexpected statusCode 403" and drops the
 * body, so ForbiddenByFirewall (with the client address) or ForbiddenByRbac is lost. A single read of an unlikely
 * name is refused the same way, with its reason: throw that instead. Anything else keeps the original error.
 */
async function withRefusalReason(c: SecretClient, error: unknown): Promise<unknown> {
  const status = (error as { statusCode?: unknown }).statusCode;
  if (status !== 401 && status !== 403) return error;
  try {
    await c.getSecret(`akv-crashplan-refusal-${Date.now()}`);
  } catch (reason) {
    if ((reason as { statusCode?: unknown }).statusCode === status) return reason;
  }
  return error;
}

function vaultSecrets(ctx: AdapterContext, signIn: ServicePrincipalSignIn): VaultSecrets {
  const vault = signIn.vaultUrl.replace(/\/+$/, "");
  const client = lazy(async (): Promise<SecretClient> => {
    const { SecretClient } = await import("@azure/keyvault-secrets");
    const credential = createServicePrincipalCredential({ ...signIn, cloud: ctx.cloud });
    return new SecretClient(vault, credential, {
      // Only custom clouds: on Azure the challenge resource must be a parent domain of the vault host.
      disableChallengeResourceVerification: ctx.cloud.disableChallengeResourceVerification,
      ...(ctx.retryOptions ? { retryOptions: ctx.retryOptions } : {}),
      userAgentOptions: { userAgentPrefix: ctx.userAgentPrefix },
    });
  });

  return {
    async setSecret(name: string, value: string, tags?: Record<string, string>): Promise<{ name: string; version: string }> {
      const c = await client();
      const secret = await azureCall(`write the secret '${name}' to ${vault}`, () => c.setSecret(name, value, tags ? { tags } : {}));
      return { name: secret.name, version: secret.properties.version ?? "" };
    },

    async getSecret(name: string): Promise<{ value: string; version: string } | undefined> {
      const c = await client();
      const secret = await azureGet(`read the secret '${name}' from ${vault}`, () => c.getSecret(name));
      return secret ? { value: secret.value ?? "", version: secret.properties.version ?? "" } : undefined;
    },

    async deleteSecret(name: string, options?: { purge?: boolean; wait?: boolean }): Promise<void> {
      const c = await client();
      const deleted = await azureGet(`delete the secret '${name}' from ${vault}`, async () => {
        const poller = await c.beginDeleteSecret(name, { intervalInMs: ctx.pollIntervalMs });
        // beginDeleteSecret has sent the DELETE; polling for the deleted state only matters before a purge.
        if (!options?.purge && !options?.wait) return undefined;
        return poller.pollUntilDone();
      });
      if (!deleted || !options?.purge) return;
      try {
        await c.purgeDeletedSecret(name);
      } catch (error) {
        // A vault with purge protection keeps deleted secrets until retention ends: the soft delete is all we can do.
        const message = parseAzureError(error)?.azureMessage ?? "";
        if (/purge[- ]?protect/i.test(message) || hasAzureCode(error, "OperationNotAllowed")) return;
        throw toAkvError(error, { operation: `purge the deleted secret '${name}' from ${vault}` });
      }
    },

    async listSecretProperties(): Promise<SecretProperties[]> {
      const c = await client();
      return azureCall(`list the secrets in ${vault}`, async () => {
        const found: SecretProperties[] = [];
        try {
          for await (const p of c.listPropertiesOfSecrets()) {
            const item: SecretProperties = { name: p.name, tags: { ...(p.tags ?? {}) }, enabled: p.enabled !== false };
            if (p.createdOn) item.createdOn = p.createdOn.toISOString();
            if (p.updatedOn) item.updatedOn = p.updatedOn.toISOString();
            if (p.contentType) item.contentType = p.contentType;
            found.push(item);
          }
        } catch (error) {
          throw await withRefusalReason(c, error);
        }
        return found;
      });
    },
  };
}

export function createSecretsAccess(ctx: AdapterContext): SecretsAccess {
  return {
    asServicePrincipal(signIn: ServicePrincipalSignIn): VaultSecrets {
      return vaultSecrets(ctx, signIn);
    },

    async signInAsServicePrincipal(signIn: Omit<ServicePrincipalSignIn, "vaultUrl">): Promise<{ oid?: string; appid?: string; tid?: string }> {
      const credential = createServicePrincipalCredential({ ...signIn, cloud: ctx.cloud });
      const token = await credential.getToken(`${ctx.cloud.keyVaultAudience}/.default`);
      if (!token) {
        throw AkvError.auth(`Signing in as the service principal ${signIn.clientId} returned no token.`, { code: "NoToken" });
      }
      const claims = decodeTokenClaims(token.token) ?? {};
      const result: { oid?: string; appid?: string; tid?: string } = {};
      if (claims.oid) result.oid = claims.oid;
      const appid = claims.appid ?? claims.azp;
      if (appid) result.appid = appid;
      if (claims.tid) result.tid = claims.tid;
      return result;
    },

    async clockSkewMs(url: string): Promise<number | undefined> {
      if (ctx.cloud.caPem) {
        const { trustExtraCa } = await import("./tls.js");
        trustExtraCa(ctx.cloud.caPem);
      }
      try {
        const sent = Date.now();
        const response = await fetch(url, { method: "HEAD", redirect: "manual", signal: AbortSignal.timeout(10_000) });
        const received = Date.now();
        const date = response.headers.get("date");
        const server = date ? Date.parse(date) : Number.NaN;
        if (Number.isNaN(server)) return undefined;
        // The Date header has one-second resolution; compare with the middle of the round trip.
        return Math.round((sent + received) / 2 - server);
      } catch {
        return undefined;
      }
    },
  };
}
