/** Microsoft Graph v1.0: organization, applications (keyCredentials PATCH replaces the collection), service principals. */
import { X509Certificate, createHash, randomUUID } from "node:crypto";
import { checkBearer } from "./auth.js";
import { graphError, json, noContent, parseJsonObject, isObject, type Reply, type RequestContext } from "./http.js";
import { replicated, type SandboxCore } from "./core.js";
import type { ApplicationRecord, KeyCredentialRecord, ServicePrincipalRecord } from "./types.js";

const guidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Properties the sandbox models itself; anything else a client sends is kept in `extra`. */
const modelled = new Set(["id", "appId", "displayName", "signInAudience", "tags", "notes", "description", "identifierUris", "keyCredentials", "passwordCredentials", "createdDateTime"]);
const readOnly = new Set(["id", "appId", "createdDateTime", "publisherDomain", "deletedDateTime"]);

interface GraphRequest {
  core: SandboxCore;
  ctx: RequestContext;
  caller: ServicePrincipalRecord | undefined;
  callerOid: string;
  base: string;
}

function notFound(ctx: RequestContext, id: string): Reply {
  return graphError(ctx, 404, "Request_ResourceNotFound", `Resource '${id}' does not exist or one of its queried reference-property objects are not present.`);
}

function denied(ctx: RequestContext): Reply {
  return graphError(ctx, 403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.");
}

function body(ctx: RequestContext): Record<string, unknown> | Reply {
  const b = parseJsonObject(ctx);
  if (b instanceof Error || b === undefined) {
    return graphError(ctx, 400, "BadRequest", "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.");
  }
  return b;
}

const isReply = (v: unknown): v is Reply => isObject(v) && typeof v["status"] === "number" && !("id" in v);

function keyCredentialJson(k: KeyCredentialRecord, withKey: boolean): Record<string, unknown> {
  return {
    customKeyIdentifier: k.customKeyIdentifier,
    displayName: k.displayName,
    endDateTime: k.endDateTime,
    key: withKey ? k.key : null,
    keyId: k.keyId,
    startDateTime: k.startDateTime,
    type: k.type,
    usage: k.usage,
  };
}

function applicationJson(req: GraphRequest, a: ApplicationRecord, withKeys: boolean): Record<string, unknown> {
  const t = req.core.store.state.tenant;
  return {
    id: a.id,
    deletedDateTime: null,
    appId: a.appId,
    applicationTemplateId: null,
    createdDateTime: a.createdDateTime,
    description: a.description,
    displayName: a.displayName,
    groupMembershipClaims: null,
    identifierUris: a.identifierUris,
    isDeviceOnlyAuthSupported: null,
    isFallbackPublicClient: null,
    notes: a.notes,
    publisherDomain: t.domain,
    samlMetadataUrl: null,
    addIns: [],
    serviceManagementReference: null,
    signInAudience: a.signInAudience,
    tags: a.tags,
    tokenEncryptionKeyId: null,
    api: { requestedAccessTokenVersion: 2, acceptMappedClaims: null, knownClientApplications: [], oauth2PermissionScopes: [], preAuthorizedApplications: [] },
    appRoles: [],
    info: { termsOfServiceUrl: null, supportUrl: null, privacyStatementUrl: null, marketingUrl: null, logoUrl: null },
    keyCredentials: a.keyCredentials.map((k) => keyCredentialJson(k, withKeys)),
    optionalClaims: null,
    parentalControlSettings: { countriesBlockedForMinors: [], legalAgeGroupRule: "Allow" },
    passwordCredentials: a.passwordCredentials.map((p) => ({ customKeyIdentifier: null, displayName: p.displayName, endDateTime: p.endDateTime, hint: p.hint, keyId: p.keyId, secretText: null, startDateTime: p.startDateTime })),
    publicClient: { redirectUris: [] },
    requiredResourceAccess: [],
    web: { homePageUrl: null, logoutUrl: null, redirectUris: [], implicitGrantSettings: { enableAccessTokenIssuance: false, enableIdTokenIssuance: false } },
    spa: { redirectUris: [] },
    ...a.extra,
  };
}

function servicePrincipalJson(req: GraphRequest, sp: ServicePrincipalRecord): Record<string, unknown> {
  return {
    id: sp.id,
    deletedDateTime: null,
    accountEnabled: true,
    appDisplayName: sp.displayName,
    appId: sp.appId,
    appOwnerOrganizationId: req.core.store.state.tenant.id,
    appRoleAssignmentRequired: false,
    createdDateTime: sp.createdDateTime,
    displayName: sp.displayName,
    homepage: null,
    logoutUrl: null,
    publisherName: req.core.store.state.tenant.displayName,
    replyUrls: [],
    servicePrincipalNames: [sp.appId],
    servicePrincipalType: "Application",
    signInAudience: "AzureADMyOrg",
    tags: sp.tags,
    addIns: [],
    appRoles: [],
    info: { termsOfServiceUrl: null, supportUrl: null, privacyStatementUrl: null, marketingUrl: null, logoUrl: null },
    keyCredentials: [],
    oauth2PermissionScopes: [],
    passwordCredentials: [],
  };
}

/** Applies `$select` (comma list) to an entity. */
function select(ctx: RequestContext, entity: Record<string, unknown>): Record<string, unknown> {
  const sel = ctx.query.get("$select");
  if (!sel) return entity;
  const wanted = sel.split(",").map((s) => s.trim()).filter((s) => s !== "");
  const out: Record<string, unknown> = {};
  for (const w of wanted) {
    const key = Object.keys(entity).find((k) => k.toLowerCase() === w.toLowerCase());
    if (key) out[key] = entity[key];
  }
  return out;
}

const wantsKeys = (ctx: RequestContext): boolean => (ctx.query.get("$select") ?? "").split(",").some((s) => s.trim().toLowerCase() === "keycredentials");

type Predicate = (e: Record<string, unknown>) => boolean;

/** The `$filter` subset the product uses: `prop eq 'v'`, `startswith(prop,'v')`, `tags/any(t:t eq 'v')`, joined by `and`. */
function parseFilter(filter: string): Predicate | Error {
  const preds: Predicate[] = [];
  for (const raw of filter.split(/\s+and\s+/i)) {
    const c = raw.trim().replace(/^\((.*)\)$/, "$1");
    let m = /^(\w+)\s+eq\s+'((?:[^']|'')*)'$/i.exec(c);
    if (m) {
      const prop = m[1] ?? "";
      const value = (m[2] ?? "").replace(/''/g, "'");
      preds.push((e) => {
        const key = Object.keys(e).find((k) => k.toLowerCase() === prop.toLowerCase());
        const v = key ? e[key] : undefined;
        return typeof v === "string" && (guidPattern.test(value) ? v.toLowerCase() === value.toLowerCase() : v === value);
      });
      continue;
    }
    m = /^startswith\((\w+),\s*'((?:[^']|'')*)'\)$/i.exec(c);
    if (m) {
      const prop = m[1] ?? "";
      const value = (m[2] ?? "").replace(/''/g, "'").toLowerCase();
      preds.push((e) => {
        const key = Object.keys(e).find((k) => k.toLowerCase() === prop.toLowerCase());
        const v = key ? e[key] : undefined;
        return typeof v === "string" && v.toLowerCase().startsWith(value);
      });
      continue;
    }
    m = /^(\w+)\/any\((\w+):\s*\2\s+eq\s+'((?:[^']|'')*)'\)$/i.exec(c);
    if (m) {
      const prop = m[1] ?? "";
      const value = (m[3] ?? "").replace(/''/g, "'");
      preds.push((e) => {
        const key = Object.keys(e).find((k) => k.toLowerCase() === prop.toLowerCase());
        const v = key ? e[key] : undefined;
        return Array.isArray(v) && v.includes(value);
      });
      continue;
    }
    return new Error(c);
  }
  return (e) => preds.every((p) => p(e));
}

function list(req: GraphRequest, kind: "applications" | "servicePrincipals", entities: Record<string, unknown>[]): Reply {
  const { ctx } = req;
  const filter = ctx.query.get("$filter");
  let items = entities;
  if (filter) {
    const pred = parseFilter(filter);
    if (pred instanceof Error) return graphError(ctx, 400, "Request_UnsupportedQuery", `Unsupported or invalid query filter clause specified for property '${pred.message}' of resource '${kind === "applications" ? "Application" : "ServicePrincipal"}'.`);
    items = items.filter(pred);
  }
  const top = Number(ctx.query.get("$top") ?? "0");
  if (top > 0) items = items.slice(0, top);
  return json(200, { "@odata.context": `${req.base}/$metadata#${kind}`, value: items.map((e) => select(ctx, e)) });
}

function keyCredentialsFrom(req: GraphRequest, input: unknown, previous: KeyCredentialRecord[]): KeyCredentialRecord[] | Reply {
  const { ctx } = req;
  if (!Array.isArray(input)) return graphError(ctx, 400, "Request_BadRequest", "Invalid value specified for property 'keyCredentials' of resource 'Application'.");
  const out: KeyCredentialRecord[] = [];
  for (const raw of input) {
    if (!isObject(raw)) return graphError(ctx, 400, "Request_BadRequest", "Invalid value specified for property 'keyCredentials' of resource 'Application'.");
    const keyId = typeof raw["keyId"] === "string" && guidPattern.test(raw["keyId"]) ? raw["keyId"].toLowerCase() : randomUUID();
    const prior = previous.find((p) => p.keyId === keyId);
    let key = typeof raw["key"] === "string" && raw["key"] !== "" ? raw["key"] : undefined;
    // Resending an existing credential copied from a plain GET (key null) keeps its stored key.
    if (key === undefined && prior) key = prior.key;
    if (key === undefined) return graphError(ctx, 400, "Request_BadRequest", "Invalid value specified for property 'key' of resource 'KeyCredential'.");
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(Buffer.from(key, "base64"));
    } catch {
      return graphError(ctx, 400, "Request_BadRequest", "Invalid value specified for property 'key' of resource 'KeyCredential'. The key must be a base64-encoded DER X.509 certificate.");
    }
    const type = typeof raw["type"] === "string" ? raw["type"] : "AsymmetricX509Cert";
    const usage = typeof raw["usage"] === "string" ? raw["usage"] : "Verify";
    if (type !== "AsymmetricX509Cert" || (usage !== "Verify" && usage !== "Sign")) {
      return graphError(ctx, 400, "Request_BadRequest", "Invalid value specified for property 'type' or 'usage' of resource 'KeyCredential'.");
    }
    const der = cert.raw;
    const start = typeof raw["startDateTime"] === "string" ? raw["startDateTime"] : new Date(cert.validFrom).toISOString();
    const end = typeof raw["endDateTime"] === "string" ? raw["endDateTime"] : new Date(cert.validTo).toISOString();
    if (Number.isNaN(Date.parse(start)) || Number.isNaN(Date.parse(end)) || Date.parse(end) <= Date.parse(start)) {
      return graphError(ctx, 400, "Request_BadRequest", "Invalid value specified for property 'startDateTime' or 'endDateTime' of resource 'KeyCredential'.");
    }
    const sha1 = createHash("sha1").update(der).digest("hex").toUpperCase();
    out.push({
      keyId,
      type,
      usage,
      key: der.toString("base64"),
      displayName: typeof raw["displayName"] === "string" ? raw["displayName"] : cert.subject.split("\n").map((s) => s.trim()).join(", "),
      customKeyIdentifier: typeof raw["customKeyIdentifier"] === "string" ? raw["customKeyIdentifier"] : sha1,
      startDateTime: new Date(start).toISOString(),
      endDateTime: new Date(end).toISOString(),
      sha1,
      sha256: createHash("sha256").update(der).digest("hex").toUpperCase(),
      addedAt: prior && prior.key === der.toString("base64") ? prior.addedAt : req.ctx.now,
    });
  }
  return out;
}

/** Applies writable properties of a POST/PATCH body to an application record. */
function applyApplicationFields(req: GraphRequest, app: ApplicationRecord, b: Record<string, unknown>): Reply | undefined {
  const { ctx } = req;
  for (const [k, v] of Object.entries(b)) {
    if (k.startsWith("@odata")) continue;
    if (readOnly.has(k)) continue;
    switch (k) {
      case "displayName":
        if (typeof v !== "string" || v.trim() === "") return graphError(ctx, 400, "Request_BadRequest", "Invalid value specified for property 'displayName' of resource 'Application'.");
        app.displayName = v;
        break;
      case "signInAudience":
        if (typeof v !== "string" || !["AzureADMyOrg", "AzureADMultipleOrgs", "AzureADandPersonalMicrosoftAccount", "PersonalMicrosoftAccount"].includes(v)) {
          return graphError(ctx, 400, "Request_BadRequest", "Invalid value specified for property 'signInAudience' of resource 'Application'.");
        }
        app.signInAudience = v;
        break;
      case "tags":
      case "identifierUris":
        if (!Array.isArray(v) || !v.every((t) => typeof t === "string")) return graphError(ctx, 400, "Request_BadRequest", `Invalid value specified for property '${k}' of resource 'Application'.`);
        app[k] = v as string[];
        break;
      case "notes":
      case "description":
        if (v !== null && typeof v !== "string") return graphError(ctx, 400, "Request_BadRequest", `Invalid value specified for property '${k}' of resource 'Application'.`);
        app[k] = v;
        break;
      case "keyCredentials": {
        const creds = keyCredentialsFrom(req, v, app.keyCredentials);
        if (!Array.isArray(creds)) return creds;
        app.keyCredentials = creds;
        break;
      }
      case "passwordCredentials":
        return graphError(ctx, 400, "Request_BadRequest", "Property 'passwordCredentials' is read-only here; use addPassword.");
      default:
        if (!modelled.has(k)) app.extra[k] = v;
    }
  }
  return undefined;
}

function mayManage(req: GraphRequest, app: ApplicationRecord): boolean {
  return req.caller?.canCreateApplications === true || app.owners.includes(req.callerOid);
}

function createApplication(req: GraphRequest): Reply {
  const { core, ctx } = req;
  if (!req.caller?.canCreateApplications) return denied(ctx);
  const b = body(ctx);
  if (isReply(b)) return b;
  if (typeof b["displayName"] !== "string" || b["displayName"].trim() === "") {
    return graphError(ctx, 400, "Request_BadRequest", "Property 'displayName' is required and must be a non-empty string.");
  }
  const app: ApplicationRecord = {
    id: randomUUID(),
    appId: randomUUID(),
    displayName: b["displayName"],
    signInAudience: "AzureADMyOrg",
    tags: [],
    notes: null,
    description: null,
    identifierUris: [],
    keyCredentials: [],
    passwordCredentials: [],
    extra: {},
    owners: [req.callerOid],
    createdDateTime: new Date(ctx.now).toISOString(),
    createdAt: ctx.now,
  };
  const bad = applyApplicationFields(req, app, b);
  if (bad) return bad;
  core.store.state.applications.push(app);
  core.store.save();
  return json(201, { "@odata.context": `${req.base}/$metadata#applications/$entity`, ...applicationJson(req, app, false) }, { location: `${req.base}/applications/${app.id}` });
}

function createServicePrincipal(req: GraphRequest): Reply {
  const { core, ctx } = req;
  const b = body(ctx);
  if (isReply(b)) return b;
  const appId = b["appId"];
  if (typeof appId !== "string" || appId === "") return graphError(ctx, 400, "Request_BadRequest", "Property 'appId' is required.");
  const app = core.store.appByAppId(appId);
  // Replication: the application is not yet visible to the servicePrincipals replica.
  if (!app || !replicated(core, app.createdAt, ctx.now)) {
    return graphError(ctx, 400, "Request_BadRequest", `The appId '${appId}' of the service principal does not reference a valid application object.`);
  }
  if (!mayManage(req, app)) return denied(ctx);
  if (core.store.spByAppId(app.appId)) {
    return graphError(ctx, 409, "Request_MultipleObjectsWithSameKeyValue", "Another object with the same value for property servicePrincipalNames already exists.");
  }
  const sp: ServicePrincipalRecord = {
    id: randomUUID(),
    appId: app.appId,
    displayName: app.displayName,
    tags: Array.isArray(b["tags"]) ? (b["tags"] as unknown[]).map(String) : [],
    canCreateApplications: false,
    createdDateTime: new Date(ctx.now).toISOString(),
    createdAt: ctx.now,
  };
  core.store.state.servicePrincipals.push(sp);
  core.store.save();
  return json(201, { "@odata.context": `${req.base}/$metadata#servicePrincipals/$entity`, ...servicePrincipalJson(req, sp) });
}

/** `applications/{id}` or `applications(appId='{appId}')`. */
function resolveApplication(req: GraphRequest, segment: string): ApplicationRecord | undefined {
  const m = /^applications\(appId='([^']+)'\)$/i.exec(segment);
  if (m) return req.core.store.appByAppId(m[1] ?? "");
  return req.core.store.app(segment);
}

function handleApplication(req: GraphRequest, app: ApplicationRecord | undefined, idText: string, sub: string | undefined): Reply | undefined {
  const { core, ctx } = req;
  // Replication: a just-created application is not yet on the replica that serves reads/writes by id.
  if (!app || !replicated(core, app.createdAt, ctx.now)) return notFound(ctx, idText);
  if (sub !== undefined) return undefined;
  if (ctx.method === "GET") return json(200, { "@odata.context": `${req.base}/$metadata#applications/$entity`, ...select(ctx, applicationJson(req, app, wantsKeys(ctx))) });
  if (ctx.method === "PATCH") {
    if (!mayManage(req, app)) return denied(ctx);
    const b = body(ctx);
    if (isReply(b)) return b;
    const draft = structuredClone(app);
    const bad = applyApplicationFields(req, draft, b);
    if (bad) return bad;
    Object.assign(app, draft);
    core.store.save();
    return noContent(204);
  }
  if (ctx.method === "DELETE") {
    if (!mayManage(req, app)) return denied(ctx);
    const st = core.store.state;
    st.applications = st.applications.filter((a) => a !== app);
    st.servicePrincipals = st.servicePrincipals.filter((s) => s.appId !== app.appId);
    core.store.save();
    return noContent(204);
  }
  return undefined;
}

export function handleGraph(core: SandboxCore, ctx: RequestContext): Reply {
  const check = checkBearer(core, ctx, [core.endpoints.graphEndpoint, "https://graph.microsoft.com"]);
  if (!check.ok) {
    const message = check.reason === "missing" ? "Access token is empty." : check.reason === "audience" ? "Access token validation failure. Invalid audience." : check.reason === "expired" ? "Lifetime validation failed, the token is expired." : "Access token validation failure.";
    return { ...graphError(ctx, 401, "InvalidAuthenticationToken", message), headers: { "www-authenticate": `Bearer realm="", authorization_uri="${core.endpoints.authorityHost}/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"` } };
  }
  const parts = ctx.path.split("/").filter((p) => p !== "");
  const version = parts[0];
  const base = `${core.endpoints.graphEndpoint}/v1.0`;
  if (version !== "v1.0") {
    return graphError(ctx, 400, "BadRequest", `Invalid version: ${version ?? ""}. The sandbox serves Graph v1.0 only.`);
  }
  const caller = core.store.spById(check.claims.oid);
  const req: GraphRequest = { core, ctx, caller, callerOid: check.claims.oid, base };
  const [collection, id, sub, ...more] = parts.slice(1);
  const coll = (collection ?? "").toLowerCase();
  let reply: Reply | undefined;
  if (more.length === 0) {
    if (coll === "organization" && id === undefined && ctx.method === "GET") {
      const t = core.store.state.tenant;
      const org = { id: t.id, displayName: t.displayName, tenantType: "AAD", verifiedDomains: [{ name: t.domain, isDefault: true, isInitial: true, type: "Managed", capabilities: "None" }], createdDateTime: "2020-01-01T00:00:00Z" };
      reply = json(200, { "@odata.context": `${base}/$metadata#organization`, value: [select(ctx, org)] });
    } else if (coll === "applications" && id === undefined) {
      if (ctx.method === "GET") reply = list(req, "applications", core.store.state.applications.map((a) => applicationJson(req, a, wantsKeys(ctx))));
      else if (ctx.method === "POST") reply = createApplication(req);
    } else if (coll === "applications" && id !== undefined) {
      reply = handleApplication(req, core.store.app(id), id, sub);
    } else if (coll.startsWith("applications(") && id === undefined) {
      reply = handleApplication(req, resolveApplication(req, collection ?? ""), collection ?? "", undefined);
    } else if (coll === "serviceprincipals" && id === undefined) {
      if (ctx.method === "GET") reply = list(req, "servicePrincipals", core.store.state.servicePrincipals.map((s) => servicePrincipalJson(req, s)));
      else if (ctx.method === "POST") reply = createServicePrincipal(req);
    } else if (coll === "serviceprincipals" && id !== undefined && sub === undefined) {
      const sp = core.store.spById(id);
      if (!sp || !replicated(core, sp.createdAt, ctx.now)) reply = notFound(ctx, id);
      else if (ctx.method === "GET") reply = json(200, { "@odata.context": `${base}/$metadata#servicePrincipals/$entity`, ...select(ctx, servicePrincipalJson(req, sp)) });
      else if (ctx.method === "DELETE") {
        const app = core.store.appByAppId(sp.appId);
        if (!(caller?.canCreateApplications || (app && app.owners.includes(req.callerOid)))) reply = denied(ctx);
        else {
          core.store.state.servicePrincipals = core.store.state.servicePrincipals.filter((s) => s !== sp);
          core.store.save();
          reply = noContent(204);
        }
      }
    } else if (coll === "me") {
      reply = graphError(ctx, 400, "BadRequest", "/me request is only valid with delegated authentication flow.");
    }
  }
  return reply ?? graphError(ctx, 404, "NotFound", `Resource not found for the segment '${collection ?? ""}'. The sandbox's Graph emulation has no route '${ctx.method} ${ctx.path}'.`);
}
