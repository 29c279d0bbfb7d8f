/**
 * Directory over @microsoft/microsoft-graph-client 3 (Graph v1.0). The client uses undici fetch, not
 * core-rest-pipeline; it retries 429/503/504 honouring Retry-After by itself.
 *
 * Two quirks handled here:
 * - It sends a token to a custom base URL only when the bare host name is in `customHosts` (see cloud.ts).
 * - It wraps whatever the auth provider throws into a GraphError, losing our AkvError (the sign-in hint): the
 *   credential handed to it remembers its last failure so it can be rethrown as it was.
 */
import type { AccessToken, GetTokenOptions, TokenCredential } from "@azure/core-auth";
import type { Client } from "@microsoft/microsoft-graph-client";
import { isAkvError } from "../errors.js";
import { graphCustomHosts } from "./cloud.js";
import { type AdapterContext, lazy } from "./context.js";
import { isNotFoundError, toAkvError } from "./errors.js";
import type { ApplicationInfo, Directory, KeyCredentialInfo, ServicePrincipalInfo } from "./services.js";

const APPLICATION_FIELDS = "id,appId,displayName,signInAudience,tags,notes,keyCredentials";
const SERVICE_PRINCIPAL_FIELDS = "id,appId,displayName";
const MAX_PAGES = 50;

interface GraphApplication {
  id?: string;
  appId?: string;
  displayName?: string | null;
  signInAudience?: string | null;
  tags?: string[] | null;
  notes?: string | null;
  keyCredentials?: KeyCredentialInfo[] | null;
}

interface GraphCollection<T> {
  value?: T[];
  "@odata.nextLink"?: string;
}

function odataString(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

function toKeyCredential(k: KeyCredentialInfo): KeyCredentialInfo {
  const out: KeyCredentialInfo = { type: k.type, usage: k.usage };
  if (k.keyId !== undefined) out.keyId = k.keyId;
  if (k.key !== undefined) out.key = k.key;
  if (k.displayName !== undefined) out.displayName = k.displayName;
  if (k.startDateTime !== undefined) out.startDateTime = k.startDateTime;
  if (k.endDateTime !== undefined) out.endDateTime = k.endDateTime;
  if (k.customKeyIdentifier !== undefined) out.customKeyIdentifier = k.customKeyIdentifier;
  return out;
}

function toApplicationInfo(a: GraphApplication): ApplicationInfo {
  return {
    id: a.id ?? "",
    appId: a.appId ?? "",
    displayName: a.displayName ?? "",
    signInAudience: a.signInAudience ?? "",
    tags: a.tags ?? [],
    notes: a.notes ?? null,
    keyCredentials: (a.keyCredentials ?? []).map(toKeyCredential),
  };
}

function toServicePrincipalInfo(s: { id?: string; appId?: string; displayName?: string | null }): ServicePrincipalInfo {
  return { id: s.id ?? "", appId: s.appId ?? "", displayName: s.displayName ?? "" };
}

/** Caches the token until two minutes before expiry (the auth provider asks on every request) and keeps the last failure. */
class GraphTokenSource implements TokenCredential {
  private token: AccessToken | undefined;
  lastFailure: unknown;
  constructor(private readonly credential: TokenCredential) {}
  async getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken | null> {
    if (this.token && this.token.expiresOnTimestamp - Date.now() > 120_000) return this.token;
    try {
      const token = await this.credential.getToken(scopes, options);
      this.token = token ?? undefined;
      this.lastFailure = undefined;
      return token;
    } catch (error) {
      this.lastFailure = error;
      throw error;
    }
  }
}

export function createGraphAdapter(ctx: AdapterContext): Directory {
  const tokens = new GraphTokenSource(ctx.credential);
  const client = lazy(async (): Promise<Client> => {
    const [{ Client }, { TokenCredentialAuthenticationProvider }] = await Promise.all([
      import("@microsoft/microsoft-graph-client"),
      import("@microsoft/microsoft-graph-client/authProviders/azureTokenCredentials/index.js"),
    ]);
    const customHosts = graphCustomHosts(ctx.cloud);
    return Client.initWithMiddleware({
      authProvider: new TokenCredentialAuthenticationProvider(tokens, { scopes: [`${ctx.cloud.graphEndpoint}/.default`] }),
      baseUrl: `${ctx.cloud.graphEndpoint}/`,
      defaultVersion: "v1.0",
      ...(customHosts ? { customHosts } : {}),
    });
  });

  const failure = (error: unknown, operation: string): unknown => {
    if (tokens.lastFailure !== undefined && !isAkvError(error)) {
      const original = tokens.lastFailure;
      tokens.lastFailure = undefined;
      return toAkvError(original, { operation });
    }
    return toAkvError(error, { operation });
  };
  const call = async <T>(operation: string, run: (c: Client) => Promise<T>): Promise<T> => {
    const c = await client();
    try {
      return await run(c);
    } catch (error) {
      throw failure(error, operation);
    }
  };
  const get = async <T>(operation: string, run: (c: Client) => Promise<T>): Promise<T | undefined> => {
    const c = await client();
    try {
      return await run(c);
    } catch (error) {
      if (tokens.lastFailure === undefined && isNotFoundError(error)) return undefined;
      throw failure(error, operation);
    }
  };
  const remove = async (operation: string, path: string): Promise<void> => {
    const c = await client();
    try {
      await c.api(path).delete();
    } catch (error) {
      if (tokens.lastFailure === undefined && isNotFoundError(error)) return; // already gone
      throw failure(error, operation);
    }
  };
  /** Every page of a collection query. */
  const list = async <T>(c: Client, first: GraphCollection<T>): Promise<T[]> => {
    const items = [...(first.value ?? [])];
    let next = first["@odata.nextLink"];
    for (let page = 1; next && page < MAX_PAGES; page++) {
      const more = (await c.api(next).get()) as GraphCollection<T>;
      items.push(...(more.value ?? []));
      next = more["@odata.nextLink"];
    }
    return items;
  };
  const findApplications = (operation: string, filter: string): Promise<ApplicationInfo[]> =>
    call(operation, async (c) => {
      const first = (await c.api("/applications").filter(filter).select(APPLICATION_FIELDS).get()) as GraphCollection<GraphApplication>;
      return (await list(c, first)).map(toApplicationInfo);
    });

  return {
    async organization(): Promise<{ id: string; displayName: string }> {
      return call("read the tenant (organization)", async (c) => {
        const result = (await c.api("/organization").select("id,displayName").get()) as GraphCollection<{ id?: string; displayName?: string }>;
        const org = result.value?.[0];
        if (!org?.id) throw new Error("Graph /organization returned no organization");
        return { id: org.id, displayName: org.displayName ?? "" };
      });
    },

    findApplicationsByDisplayName(displayName: string): Promise<ApplicationInfo[]> {
      return findApplications(`look for applications named '${displayName}'`, `displayName eq ${odataString(displayName)}`);
    },

    findApplicationsByTag(tag: string): Promise<ApplicationInfo[]> {
      return findApplications(`look for applications tagged '${tag}'`, `tags/any(t:t eq ${odataString(tag)})`);
    },

    async getApplicationByAppId(appId: string): Promise<ApplicationInfo | undefined> {
      const found = await findApplications(`look for the application ${appId}`, `appId eq ${odataString(appId)}`);
      return found[0];
    },

    async getApplication(objectId: string): Promise<ApplicationInfo | undefined> {
      // keyCredentials[].key is returned only when keyCredentials is named in $select.
      const app = await get(`read the application ${objectId}`, async (c) =>
        (await c.api(`/applications/${encodeURIComponent(objectId)}`).select(APPLICATION_FIELDS).get()) as GraphApplication,
      );
      return app ? toApplicationInfo(app) : undefined;
    },

    async createApplication(params: { displayName: string; tags: string[]; notes?: string }): Promise<ApplicationInfo> {
      return call(`create the application '${params.displayName}'`, async (c) => {
        const created = (await c.api("/applications").post({
          displayName: params.displayName,
          signInAudience: "AzureADMyOrg",
          tags: params.tags,
          ...(params.notes === undefined ? {} : { notes: params.notes }),
        })) as GraphApplication;
        return toApplicationInfo(created);
      });
    },

    async setKeyCredentials(objectId: string, credentials: KeyCredentialInfo[]): Promise<void> {
      // PATCH replaces the whole collection: the caller passes every credential to keep.
      await call(`update the certificates of the application ${objectId}`, async (c) => {
        await c.api(`/applications/${encodeURIComponent(objectId)}`).patch({ keyCredentials: credentials.map(toKeyCredential) });
      });
    },

    async findServicePrincipal(appId: string): Promise<ServicePrincipalInfo | undefined> {
      return call(`look for the service principal of ${appId}`, async (c) => {
        const first = (await c
          .api("/servicePrincipals")
          .filter(`appId eq ${odataString(appId)}`)
          .select(SERVICE_PRINCIPAL_FIELDS)
          .get()) as GraphCollection<{ id?: string; appId?: string; displayName?: string }>;
        const sp = first.value?.[0];
        return sp ? toServicePrincipalInfo(sp) : undefined;
      });
    },

    async createServicePrincipal(appId: string, tags: string[]): Promise<ServicePrincipalInfo> {
      return call(`create the service principal of ${appId}`, async (c) => {
        const created = (await c.api("/servicePrincipals").post({ appId, tags })) as { id?: string; appId?: string; displayName?: string };
        return toServicePrincipalInfo(created);
      });
    },

    deleteServicePrincipal(objectId: string): Promise<void> {
      return remove(`delete the service principal ${objectId}`, `/servicePrincipals/${encodeURIComponent(objectId)}`);
    },

    deleteApplication(objectId: string): Promise<void> {
      return remove(`delete the application ${objectId}`, `/applications/${encodeURIComponent(objectId)}`);
    },
  };
}
