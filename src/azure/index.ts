/**
 * The real AzureServices: thin adapters over the Azure SDKs, each SDK imported on its first call.
 * `identity()` signs in once and resolves the subscription; every adapter method that needs the subscription waits
 * for it.
 */
import type { AccessToken, TokenCredential } from "@azure/core-auth";
import { AkvError } from "../errors.js";
import { type AdapterContext, DEFAULT_POLL_INTERVAL_MS, type RetryOptions, lazy } from "./context.js";
import { decodeTokenClaims, type TokenClaims } from "./credential.js";
import { toAkvError } from "./errors.js";
import { createGraphAdapter } from "./graph-adapter.js";
import { createKeyVaultAdapter } from "./keyvault-adapter.js";
import { createResourcesAdapter } from "./resources-adapter.js";
import { createRolesAdapter } from "./roles-adapter.js";
import { createSecretsAccess } from "./secrets-adapter.js";
import type { AzureServices, CloudProfile, SignedInIdentity, SubscriptionInfo } from "./services.js";
import { trustExtraCa } from "./tls.js";

export { AZURE_CHINA_CLOUD, AZURE_CLOUD, AZURE_US_GOVERNMENT, CLOUD_PRESETS, cloudByName, cloudFromSandbox, customCloud } from "./cloud.js";
export type { CloudName, CustomCloudEndpoints, SandboxCloudEndpoints } from "./cloud.js";
export { AUTH_MODES, createOperatorCredential, createServicePrincipalCredential, decodeTokenClaims } from "./credential.js";
export type { AuthMode, DeviceCodePrompt, OperatorCredential, OperatorCredentialOptions, ServicePrincipalCredentialOptions, TokenClaims } from "./credential.js";
export { hasAzureCode, parseAzureError, scrubSecrets, toAkvError } from "./errors.js";
export type { RetryOptions } from "./context.js";
export { trustExtraCa } from "./tls.js";

export interface AzureServicesOptions {
  cloud: CloudProfile;
  credential: TokenCredential;
  /** How the credential signs in, for SignedInIdentity.authMethod; read from an OperatorCredential when omitted. */
  authMethod?: string;
  /** Subscription id or display name (`--subscription`). */
  subscription?: string;
  /** Expected tenant (`--tenant`); used when the token has no `tid`. */
  tenantId?: string;
  /**
   * Called when no subscription was given and several are visible (an interactive picker); without it that case is
   * a usage error listing them.
   */
  chooseSubscription?: (choices: SubscriptionInfo[]) => Promise<SubscriptionInfo>;
  /** LRO and delete-poller interval (default 500 ms). */
  pollIntervalMs?: number;
  /** Undefined keeps the SDK defaults (3 retries, exact Retry-After on 429/503). */
  retryOptions?: RetryOptions;
  userAgentPrefix?: string;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function describe(subscriptions: SubscriptionInfo[]): string {
  return subscriptions.map((s) => `${s.name} (${s.id})`).join(", ");
}

/** Exactly one match for an id or a name, or a usage error that lists the choices. */
export function resolveSubscription(subscriptions: SubscriptionInfo[], wanted: string | undefined): SubscriptionInfo | "choose" {
  const visible = subscriptions.filter((s) => s.state === "" || !/^(Disabled|Deleted)$/i.test(s.state));
  if (wanted === undefined || wanted.trim() === "") {
    if (visible.length === 1 && visible[0]) return visible[0];
    if (visible.length === 0) {
      throw AkvError.precondition("The signed-in identity cannot see any enabled subscription in this tenant.", {
        code: "NoSubscription",
        hint: "Ask for access to a subscription (Owner on it, for this setup), or sign in to the right tenant with --tenant.",
      });
    }
    return "choose";
  }
  const w = wanted.trim();
  const byId = subscriptions.filter((s) => s.id.toLowerCase() === w.toLowerCase());
  const byName = byId.length > 0 || GUID.test(w) ? [] : subscriptions.filter((s) => s.name === w);
  const byNameCi = byId.length > 0 || byName.length > 0 || GUID.test(w) ? [] : subscriptions.filter((s) => s.name.toLowerCase() === w.toLowerCase());
  const matches = byId.length > 0 ? byId : byName.length > 0 ? byName : byNameCi;
  if (matches.length === 1 && matches[0]) return matches[0];
  if (matches.length > 1) {
    throw AkvError.usage(`Several subscriptions are named "${w}": ${describe(matches)}.`, {
      code: "AmbiguousSubscription",
      hint: "Give the subscription id with --subscription.",
      details: { choices: matches },
    });
  }
  throw AkvError.usage(`No subscription "${w}" is visible to the signed-in identity.`, {
    code: "SubscriptionNotFound",
    hint: visible.length > 0 ? `Choose one of: ${describe(visible)}.` : "Sign in to the tenant that holds it (--tenant).",
    details: { choices: visible },
  });
}

export function principalFromClaims(claims: TokenClaims): Pick<SignedInIdentity, "principalObjectId" | "principalName" | "principalType"> {
  if (!claims.oid) {
    throw AkvError.auth("The access token does not say who signed in (no oid claim).", {
      code: "TokenWithoutObjectId",
      hint: "Sign in as a user or service principal of the tenant (e.g. `az login --tenant <tenant>`).",
    });
  }
  const userName = claims.upn ?? claims.preferred_username ?? claims.unique_name;
  const isApp = claims.idtyp === "app" || (claims.idtyp === undefined && userName === undefined && claims.appid !== undefined);
  return {
    principalObjectId: claims.oid,
    principalType: isApp ? "ServicePrincipal" : "User",
    principalName: (isApp ? (claims.app_displayname ?? claims.appid ?? claims.azp) : (userName ?? claims.name)) ?? claims.oid,
  };
}

/**
 * The operator's tokens, shared by every SDK client. ARM and Key Vault clients ask with CAE capability claims,
 * which makes MSAL skip its own cache, so each client would otherwise fetch a token of its own. A real claims
 * challenge (options.claims) still goes to the credential.
 */
export function sharedTokenCache(inner: TokenCredential): TokenCredential {
  const cache = new Map<string, AccessToken>();
  const wrapped: TokenCredential & { authMethod?: unknown } = {
    async getToken(scopes, options) {
      const key = `${[scopes].flat().join(" ")}|${options?.tenantId ?? ""}`;
      const hit = cache.get(key);
      if (!options?.claims && hit && hit.expiresOnTimestamp - Date.now() > 120_000) return hit;
      const token = await inner.getToken(scopes, options);
      if (token) cache.set(key, token);
      return token;
    },
  };
  // How the credential signed in is known only after it did (auto tries several ways): read it live.
  Object.defineProperty(wrapped, "authMethod", { get: () => (inner as { authMethod?: unknown }).authMethod, enumerable: true });
  return wrapped;
}

export function createAzureServices(options: AzureServicesOptions): AzureServices {
  const { cloud } = options;
  const credential = sharedTokenCache(options.credential);
  if (cloud.caPem) trustExtraCa(cloud.caPem);

  let resolveIdentity: () => Promise<SignedInIdentity> = () => Promise.reject(new Error("identity() used before set-up"));
  const ctx: AdapterContext = {
    cloud,
    credential,
    subscriptionId: async () => (await resolveIdentity()).subscriptionId,
    pollIntervalMs: options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS,
    userAgentPrefix: options.userAgentPrefix ?? "akv-crashplan",
    ...(options.retryOptions ? { retryOptions: options.retryOptions } : {}),
  };
  const keyVault = createKeyVaultAdapter(ctx);
  const resources = createResourcesAdapter(ctx);
  const roles = createRolesAdapter(ctx);
  const directory = createGraphAdapter(ctx);
  const secrets = createSecretsAccess(ctx);

  const authMethod = (): string => {
    if (options.authMethod) return options.authMethod;
    const method = (credential as { authMethod?: unknown }).authMethod;
    return typeof method === "string" ? method : "token credential";
  };

  resolveIdentity = lazy(async (): Promise<SignedInIdentity> => {
    let token;
    try {
      token = await credential.getToken(`${cloud.armAudience}/.default`);
    } catch (error) {
      throw toAkvError(error, { operation: "sign in to Azure Resource Manager" });
    }
    if (!token) throw AkvError.auth("Signing in returned no access token.", { code: "NoToken" });
    const claims = decodeTokenClaims(token.token) ?? {};
    const principal = principalFromClaims(claims);

    let tenantId = claims.tid ?? options.tenantId;
    let tenantName: string | undefined;
    try {
      const org = await directory.organization();
      tenantId ??= org.id;
      tenantName = org.displayName || undefined;
    } catch (error) {
      // The tenant's display name is only informative; without a tenant id we cannot go on.
      if (!tenantId) throw error;
    }
    if (!tenantId) throw AkvError.auth("Could not tell which tenant the sign-in belongs to.", { code: "NoTenant" });
    if (options.tenantId && options.tenantId.toLowerCase() !== tenantId.toLowerCase() && GUID.test(options.tenantId)) {
      throw AkvError.auth(`Signed in to tenant ${tenantId}, but --tenant is ${options.tenantId}.`, {
        code: "TenantMismatch",
        hint: `Sign in to that tenant (\`az login --tenant ${options.tenantId}\`), or drop --tenant.`,
      });
    }

    const all = await resources.listSubscriptions();
    const inTenant = all.filter((s) => s.tenantId === "" || s.tenantId.toLowerCase() === tenantId.toLowerCase());
    let subscription = resolveSubscription(inTenant, options.subscription);
    if (subscription === "choose") {
      if (!options.chooseSubscription) {
        throw AkvError.usage(`Several subscriptions are visible: ${describe(inTenant)}.`, {
          code: "SubscriptionRequired",
          hint: "Choose one with --subscription <id or name>.",
          details: { choices: inTenant },
        });
      }
      subscription = await options.chooseSubscription(inTenant);
    }

    const identity: SignedInIdentity = {
      tenantId,
      subscriptionId: subscription.id,
      subscriptionName: subscription.name,
      ...principal,
      authMethod: authMethod(),
    };
    if (tenantName) identity.tenantName = tenantName;
    return identity;
  });

  return {
    cloud,
    identity: () => resolveIdentity(),
    keyVault,
    resources,
    roles,
    directory,
    secrets,
  };
}
