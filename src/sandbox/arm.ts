/**
 * ARM front door: token check, api-version check, then routing to subscriptions/resource groups (here),
 * Microsoft.KeyVault, Microsoft.Authorization and Microsoft.Network (their own modules).
 */
import { randomUUID } from "node:crypto";
import { checkBearer } from "./auth.js";
import { armError, json, noContent, parseJsonObject, isObject, type Reply, type RequestContext } from "./http.js";
import type { SandboxCore } from "./core.js";
import { handleAuthorization } from "./arm-authorization.js";
import { handleKeyVaultArm } from "./arm-keyvault.js";
import { handleNetwork } from "./arm-network.js";

export interface ArmRequest {
  core: SandboxCore;
  ctx: RequestContext;
  callerOid: string;
  apiVersion: string;
  /** Path segments (original case). */
  segs: string[];
  /** Lower-cased segments for matching. */
  low: string[];
}

export const locations = [
  { name: "eastus", displayName: "East US", regionalDisplayName: "(US) East US", geographyGroup: "US" },
  { name: "eastus2", displayName: "East US 2", regionalDisplayName: "(US) East US 2", geographyGroup: "US" },
  { name: "westus", displayName: "West US", regionalDisplayName: "(US) West US", geographyGroup: "US" },
  { name: "westeurope", displayName: "West Europe", regionalDisplayName: "(Europe) West Europe", geographyGroup: "Europe" },
  { name: "northeurope", displayName: "North Europe", regionalDisplayName: "(Europe) North Europe", geographyGroup: "Europe" },
  { name: "canadacentral", displayName: "Canada Central", regionalDisplayName: "(Canada) Canada Central", geographyGroup: "Canada" },
] as const;

export function isKnownLocation(name: string): boolean {
  const n = name.toLowerCase().replace(/\s+/g, "");
  return locations.some((l) => l.name === n);
}

export function normLocation(name: string): string {
  return name.toLowerCase().replace(/\s+/g, "");
}

/** 403 AuthorizationFailed exactly as ARM words it. */
export function authorizationFailed(oid: string, action: string, scope: string): Reply {
  return armError(
    403,
    "AuthorizationFailed",
    `The client '${oid}' with object id '${oid}' does not have authorization to perform action '${action}' over scope '${scope}' or the scope is invalid. If access was recently granted, please refresh your credentials.`,
    { "x-ms-failure-cause": "gateway" },
  );
}

/** Returns a 403 reply when the caller lacks `action` at `scope`, undefined when allowed. */
export function requireAction(req: ArmRequest, action: string, scope: string): Reply | undefined {
  return req.core.store.mayPerform(req.callerOid, scope, action) ? undefined : authorizationFailed(req.callerOid, action, scope);
}

export function invalidContent(e: Error): Reply {
  return armError(400, "InvalidRequestContent", `The request content was invalid and could not be deserialized: '${e.message}'.`);
}

/** The JSON body as an object, or a 400 reply (empty body → `{}` when `allowEmpty`). */
export function armBody(ctx: RequestContext, allowEmpty = false): Record<string, unknown> | Reply {
  const body = parseJsonObject(ctx);
  if (body instanceof Error) return invalidContent(body);
  if (body === undefined) {
    if (allowEmpty) return {};
    return armError(400, "InvalidRequestContent", "The request content was invalid and could not be deserialized: 'The request body is empty.'.");
  }
  return body;
}

export function isReply(v: unknown): v is Reply {
  return isObject(v) && typeof v["status"] === "number" && Object.keys(v).every((k) => k === "status" || k === "headers" || k === "body");
}

function subscriptionJson(core: SandboxCore): Record<string, unknown> {
  const s = core.store.state;
  return {
    id: `/subscriptions/${s.subscription.id}`,
    authorizationSource: "RoleBased",
    managedByTenants: [],
    subscriptionId: s.subscription.id,
    tenantId: s.tenant.id,
    displayName: s.subscription.displayName,
    state: "Enabled",
    subscriptionPolicies: { locationPlacementId: "Public_2014-09-01", quotaId: "PayAsYouGo_2014-09-01", spendingLimit: "Off" },
  };
}

function rgJson(rg: { id: string; name: string; location: string; tags: Record<string, string> }): Record<string, unknown> {
  return { id: rg.id, name: rg.name, type: "Microsoft.Resources/resourceGroups", location: rg.location, tags: rg.tags, properties: { provisioningState: "Succeeded" } };
}

const providerNamespaces: Record<string, { namespace: string; types: string[]; apiVersions: string[] }> = {
  "microsoft.keyvault": { namespace: "Microsoft.KeyVault", types: ["vaults", "deletedVaults", "locations/deletedVaults", "checkNameAvailability", "operations"], apiVersions: ["2026-02-01", "2025-05-01", "2024-11-01", "2023-07-01"] },
  "microsoft.network": { namespace: "Microsoft.Network", types: ["virtualNetworks", "virtualNetworks/subnets", "locations/operations"], apiVersions: ["2026-01-01", "2024-05-01"] },
  "microsoft.authorization": { namespace: "Microsoft.Authorization", types: ["roleAssignments", "roleDefinitions", "permissions"], apiVersions: ["2022-04-01"] },
  "microsoft.resources": { namespace: "Microsoft.Resources", types: ["resourceGroups", "subscriptions"], apiVersions: ["2022-09-01"] },
};

function providerJson(core: SandboxCore, ns: string): Record<string, unknown> | undefined {
  const p = providerNamespaces[ns.toLowerCase()];
  if (!p) return undefined;
  return {
    id: `/subscriptions/${core.store.state.subscription.id}/providers/${p.namespace}`,
    namespace: p.namespace,
    registrationState: "Registered",
    registrationPolicy: "RegistrationRequired",
    resourceTypes: p.types.map((t) => ({ resourceType: t, locations: locations.map((l) => l.displayName), apiVersions: p.apiVersions })),
  };
}

function checkSubscription(req: ArmRequest, id: string): Reply | undefined {
  if (id.toLowerCase() === req.core.store.state.subscription.id) return undefined;
  return armError(404, "SubscriptionNotFound", `The subscription '${id}' could not be found.`);
}

function handleSubscriptionLevel(req: ArmRequest): Reply | undefined {
  const { core, ctx, low, segs } = req;
  const st = core.store.state;
  if (low.length === 1 && low[0] === "subscriptions" && ctx.method === "GET") {
    const visible = core.store.assignmentsCovering(req.callerOid, `/subscriptions/${st.subscription.id}`).length > 0 ||
      st.roleAssignments.some((ra) => ra.principalId === req.callerOid);
    return json(200, { value: visible ? [subscriptionJson(core)] : [], count: { type: "Total", value: visible ? 1 : 0 } });
  }
  if (low[0] !== "subscriptions" || low.length < 2) return undefined;
  const subId = segs[1] ?? "";
  const subScope = `/subscriptions/${subId}`;
  const notSub = checkSubscription(req, subId);
  if (low.length === 2 && ctx.method === "GET") {
    if (notSub) return notSub;
    return requireAction(req, "Microsoft.Resources/subscriptions/read", subScope) ?? json(200, subscriptionJson(core));
  }
  if (low.length === 3 && low[2] === "locations" && ctx.method === "GET") {
    if (notSub) return notSub;
    return json(200, {
      value: locations.map((l) => ({
        id: `${subScope}/locations/${l.name}`,
        name: l.name,
        displayName: l.displayName,
        regionalDisplayName: l.regionalDisplayName,
        type: "Region",
        metadata: { regionType: "Physical", regionCategory: "Recommended", geographyGroup: l.geographyGroup },
      })),
    });
  }
  if (low.length === 3 && low[2] === "providers" && ctx.method === "GET") {
    if (notSub) return notSub;
    return json(200, { value: Object.keys(providerNamespaces).map((ns) => providerJson(core, ns)) });
  }
  if (low[2] === "providers" && (low.length === 4 || (low.length === 5 && low[4] === "register"))) {
    if (notSub) return notSub;
    const p = providerJson(core, segs[3] ?? "");
    if (!p) return armError(404, "InvalidResourceNamespace", `The resource namespace '${segs[3] ?? ""}' is invalid.`);
    if (low.length === 4 && ctx.method === "GET") return json(200, p);
    if (low.length === 5 && ctx.method === "POST") return json(200, p);
  }
  if (low.length === 3 && low[2] === "resources" && ctx.method === "GET") {
    if (notSub) return notSub;
    return listResources(req, undefined);
  }
  if (low[2] === "resourcegroups") {
    if (notSub) return notSub;
    if (low.length === 3 && ctx.method === "GET") {
      return requireAction(req, "Microsoft.Resources/subscriptions/resourceGroups/read", subScope) ??
        json(200, { value: st.resourceGroups.map(rgJson) });
    }
    const rgName = segs[3] ?? "";
    const rgScope = `${subScope}/resourceGroups/${rgName}`;
    const rg = st.resourceGroups.find((r) => r.name.toLowerCase() === rgName.toLowerCase());
    if (low.length === 5 && low[4] === "resources" && ctx.method === "GET") {
      if (!rg) return rgNotFound(rgName);
      return listResources(req, rg.name);
    }
    if (low.length !== 4) return undefined;
    if (ctx.method === "GET" || ctx.method === "HEAD") {
      const denied = requireAction(req, "Microsoft.Resources/subscriptions/resourceGroups/read", rgScope);
      if (denied) return denied;
      if (!rg) return ctx.method === "HEAD" ? noContent(404) : rgNotFound(rgName);
      return ctx.method === "HEAD" ? noContent(204) : json(200, rgJson(rg));
    }
    if (ctx.method === "PUT") {
      const denied = requireAction(req, "Microsoft.Resources/subscriptions/resourceGroups/write", rgScope);
      if (denied) return denied;
      if (!/^[-\w._()]{1,90}$/.test(rgName) || rgName.endsWith(".")) {
        return armError(400, "InvalidResourceGroup", `The provided resource group name '${rgName}' has these invalid characters: ''. The name can only be a letter, digit, '-', '.', '(', ')' or '_'.`);
      }
      const body = armBody(ctx);
      if (isReply(body)) return body;
      if (typeof body["location"] !== "string" || body["location"] === "") return armError(400, "LocationRequired", "The location property is required for this definition.");
      if (!isKnownLocation(body["location"])) return armError(400, "LocationNotAvailableForResourceGroup", `The provided location '${body["location"]}' is not available for resource group. List of available regions is '${locations.map((l) => l.name).join(",")}'.`);
      const tags = isObject(body["tags"]) ? (body["tags"] as Record<string, string>) : {};
      if (rg) {
        if (normLocation(body["location"]) !== rg.location) {
          return armError(409, "InvalidResourceGroupLocation", `Invalid resource group location '${body["location"]}'. The Resource group already exists in location '${rg.location}'.`);
        }
        rg.tags = tags;
        core.store.save();
        return json(200, rgJson(rg));
      }
      const created = { id: `${subScope}/resourceGroups/${rgName}`, name: rgName, subscriptionId: st.subscription.id, location: normLocation(body["location"]), tags };
      st.resourceGroups.push(created);
      core.store.save();
      return json(201, rgJson(created));
    }
  }
  return undefined;
}

export function rgNotFound(name: string): Reply {
  return armError(404, "ResourceGroupNotFound", `Resource group '${name}' could not be found.`);
}

function listResources(req: ArmRequest, rgName: string | undefined): Reply {
  const filter = req.ctx.query.get("$filter") ?? "";
  const typeMatch = /resourceType\s+eq\s+'([^']+)'/i.exec(filter);
  const st = req.core.store.state;
  const all = [
    ...st.vaults.map((v) => ({ id: v.id, name: v.name, type: "Microsoft.KeyVault/vaults", location: v.location, tags: v.tags, rg: v.resourceGroup })),
    ...st.virtualNetworks.map((n) => ({ id: n.id, name: n.name, type: "Microsoft.Network/virtualNetworks", location: n.location, tags: n.tags, rg: n.resourceGroup })),
  ];
  const value = all
    .filter((r) => !typeMatch || r.type.toLowerCase() === (typeMatch[1] ?? "").toLowerCase())
    .filter((r) => rgName === undefined || r.rg.toLowerCase() === rgName.toLowerCase())
    .filter((r) => req.core.store.mayPerform(req.callerOid, r.id, `${r.type}/read`))
    .map(({ rg: _rg, ...r }) => r);
  return json(200, { value });
}

const apiVersionPattern = /^\d{4}-\d{2}-\d{2}(-preview|-beta|-alpha)?$/;

function unauthenticated(core: SandboxCore, ctx: RequestContext, check: Exclude<ReturnType<typeof checkBearer>, { ok: true }>): Reply {
  const challenge = `Bearer authorization_uri="${core.endpoints.authorityHost}/", error="invalid_token", error_description="The authentication failed because of missing 'Authorization' header."`;
  switch (check.reason) {
    case "missing":
      return armError(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.", { "www-authenticate": challenge });
    case "invalid":
      return armError(401, "InvalidAuthenticationToken", "The access token is invalid.", { "www-authenticate": challenge });
    case "expired":
      return armError(401, "ExpiredAuthenticationToken", `The access token expiry UTC time is earlier than current UTC time '${new Date(ctx.now).toUTCString()}'.`, { "www-authenticate": challenge });
    case "audience": {
      const arm = core.endpoints.armEndpoint;
      return armError(
        401,
        "InvalidAuthenticationTokenAudience",
        `The access token has been obtained for wrong audience or resource '${check.aud ?? ""}'. It should exactly match with one of the allowed audiences '${arm}/','${arm}','https://management.azure.com/','https://management.azure.com','https://management.core.windows.net/','https://management.core.windows.net'.`,
        { "www-authenticate": challenge },
      );
    }
  }
}

export async function handleArm(core: SandboxCore, ctx: RequestContext): Promise<Reply> {
  const check = checkBearer(core, ctx, [core.endpoints.armEndpoint, "https://management.azure.com", "https://management.core.windows.net"]);
  if (!check.ok) return unauthenticated(core, ctx, check);
  const apiVersion = ctx.query.get("api-version");
  if (apiVersion === null || apiVersion === "") {
    return armError(400, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests.");
  }
  if (!apiVersionPattern.test(apiVersion)) {
    return armError(400, "InvalidApiVersionParameter", `The api-version '${apiVersion}' is invalid. The supported versions are '2026-02-01,2025-05-01,2024-11-01,2022-04-01,2026-01-01,2022-09-01,2022-12-01'.`);
  }
  const segs = ctx.path.split("/").filter((s) => s !== "").map((s) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  });
  const req: ArmRequest = { core, ctx, callerOid: check.claims.oid, apiVersion, segs, low: segs.map((s) => s.toLowerCase()) };
  const authIdx = req.low.findIndex((s, i) => s === "providers" && req.low[i + 1] === "microsoft.authorization");
  const reply =
    (authIdx >= 0 ? handleAuthorization(req, authIdx) : undefined) ??
    (await handleKeyVaultArm(req)) ??
    handleNetwork(req) ??
    handleSubscriptionLevel(req);
  if (reply) {
    reply.headers = { "x-ms-request-id": randomUUID(), "x-ms-correlation-request-id": randomUUID(), ...reply.headers };
    return reply;
  }
  return armError(404, "NoRouteFound", `The sandbox's ARM emulation has no route '${ctx.method} ${ctx.path}' (api-version ${apiVersion}).`);
}
