/**
 * Key Vault secrets data plane, one listener per vault. Order of checks as the service: 401 challenge (before the
 * body is looked at) → token audience → firewall → RBAC (after propagation) → operation.
 */
import { randomBytes } from "node:crypto";
import { checkBearer, type TokenClaims } from "./auth.js";
import { json, kvError, noContent, parseJsonObject, isObject, type Reply, type RequestContext } from "./http.js";
import { findVault, type SandboxCore } from "./core.js";
import { findRole, permits } from "./roles.js";
import type { SecretRecord, SecretVersionRecord, VaultRecord } from "./types.js";

const secretNamePattern = /^[0-9a-zA-Z-]{1,127}$/;
/** How long GET /deletedsecrets/{n} still answers 404 after a delete (the SDK's poller must see it). */
export const DELETE_VISIBILITY_MS = 150;
const DEFAULT_PAGE = 25;

const action = (op: string): string => `Microsoft.KeyVault/vaults/secrets/${op}`;

function kvHeaders(vault: VaultRecord, ctx: RequestContext): Record<string, string> {
  return {
    "x-ms-keyvault-region": vault.location,
    "x-ms-keyvault-service-version": "1.9.2000.0",
    "x-ms-keyvault-network-info": `conn_type=Ipv4;addr=${ctx.clientIp};act_addr_fam=InterNetwork;`,
    "x-ms-request-id": randomBytes(16).toString("hex"),
    "cache-control": "no-cache",
  };
}

function challengeHeader(core: SandboxCore, vault: VaultRecord): string {
  return `Bearer authorization="${core.endpoints.authorityHost}/${String(vault.properties["tenantId"])}", resource="${core.endpoints.keyVaultAudience}"`;
}

function callerText(c: TokenClaims): string {
  return `appid=${c.appid};oid=${c.oid};iss=${c.iss}`;
}

function ipToInt(ip: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip.trim());
  if (!m) return undefined;
  const parts = m.slice(1, 5).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return (((parts[0] ?? 0) << 24) | ((parts[1] ?? 0) << 16) | ((parts[2] ?? 0) << 8) | (parts[3] ?? 0)) >>> 0;
}

export function ipInRule(ip: string, rule: string): boolean {
  const [base, bitsText] = rule.split("/");
  const addr = ipToInt(ip);
  const net = ipToInt(base ?? "");
  const bits = bitsText === undefined ? 32 : Number(bitsText);
  if (addr === undefined || net === undefined || !Number.isInteger(bits) || bits < 0 || bits > 32) return false;
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return (addr & mask) === (net & mask);
}

function firewall(vault: VaultRecord, ctx: RequestContext, claims: TokenClaims): Reply | undefined {
  const vaultText = `Vault: ${vault.name};location=${vault.location}`;
  if (vault.properties["publicNetworkAccess"] === "Disabled") {
    return kvError(403, "Forbidden", `Public network access is disabled and request is not from a trusted service nor via an approved private link.\r\nCaller: ${callerText(claims)}\r\n${vaultText}`, "ForbiddenByConnection");
  }
  const acls = vault.properties.networkAcls;
  if (!acls || acls.defaultAction !== "Deny") return undefined;
  if (acls.ipRules.some((r) => ipInRule(ctx.clientIp, r.value))) return undefined;
  return kvError(403, "Forbidden", `Client address is not authorized and caller is not a trusted service.\r\nClient address: ${ctx.clientIp}\r\nCaller: ${callerText(claims)}\r\n${vaultText}`, "ForbiddenByFirewall");
}

const accessPolicyPermission: Record<string, string> = {
  "setSecret/action": "set",
  "getSecret/action": "get",
  "readMetadata/action": "list",
  delete: "delete",
  "recover/action": "recover",
  "purge/action": "purge",
  "update/action": "set",
};

function authorize(core: SandboxCore, vault: VaultRecord, ctx: RequestContext, claims: TokenClaims, op: string, secretName: string | undefined): Reply | undefined {
  const dataAction = action(op);
  if (vault.properties["enableRbacAuthorization"] !== true) {
    const policies = Array.isArray(vault.properties["accessPolicies"]) ? (vault.properties["accessPolicies"] as unknown[]) : [];
    const wanted = accessPolicyPermission[op] ?? op;
    const ok = policies.some((p) => {
      if (!isObject(p) || String(p["objectId"]).toLowerCase() !== claims.oid) return false;
      const perms = isObject(p["permissions"]) && Array.isArray(p["permissions"]["secrets"]) ? (p["permissions"]["secrets"] as unknown[]).map((x) => String(x).toLowerCase()) : [];
      return perms.includes(wanted) || perms.includes("all");
    });
    if (ok) return undefined;
    return kvError(403, "Forbidden", `The user, group or application '${callerText(claims)}' does not have secrets ${wanted} permission on key vault '${vault.name};location=${vault.location}'. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125287`, "AccessDenied");
  }
  const effectiveBefore = ctx.now - core.rbacPropagationDelayMs;
  const resource = `${vault.id}${secretName ? `/secrets/${secretName}` : ""}`;
  const allowed = core.store.assignmentsCovering(claims.oid, resource, effectiveBefore).some((ra) => {
    const role = findRole(ra.roleDefinitionGuid);
    return role !== undefined && permits(role.dataActions, role.notDataActions, dataAction);
  });
  if (allowed) return undefined;
  return kvError(
    403,
    "Forbidden",
    `Caller is not authorized to perform action on resource.\r\nIf role assignments, deny assignments or role definitions were changed recently, please observe propagation time.\r\nCaller: ${callerText(claims)}\r\nAction: '${dataAction}'\r\nResource: '${resource.toLowerCase()}'\r\nAssignment: (not found)\r\nDenyAssignmentId: null\r\nDecisionReason: 'DeniedWithNoValidRBAC' \r\nVault: ${vault.name};location=${vault.location}\r\n`,
    "ForbiddenByRbac",
  );
}

function recoveryLevel(vault: VaultRecord): { recoveryLevel: string; recoverableDays?: number } {
  const days = Number(vault.properties["softDeleteRetentionInDays"] ?? 90);
  const protectedVault = vault.properties["enablePurgeProtection"] === true;
  if (days < 90) return { recoveryLevel: protectedVault ? "CustomizedRecoverable" : "CustomizedRecoverable+Purgeable", recoverableDays: days };
  return { recoveryLevel: protectedVault ? "Recoverable" : "Recoverable+Purgeable", recoverableDays: 90 };
}

function attributes(vault: VaultRecord, v: SecretVersionRecord): Record<string, unknown> {
  const a: Record<string, unknown> = { enabled: v.enabled };
  if (v.nbf !== null) a["nbf"] = v.nbf;
  if (v.exp !== null) a["exp"] = v.exp;
  a["created"] = v.created;
  a["updated"] = v.updated;
  return { ...a, ...recoveryLevel(vault) };
}

function bundle(vault: VaultRecord, ctx: RequestContext, s: SecretRecord, v: SecretVersionRecord, withValue: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (withValue) out["value"] = v.value;
  if (v.contentType !== null) out["contentType"] = v.contentType;
  out["id"] = `${ctx.origin}/secrets/${s.name}/${v.version}`;
  out["attributes"] = attributes(vault, v);
  if (v.tags !== null) out["tags"] = v.tags;
  return out;
}

function deletedBundle(vault: VaultRecord, ctx: RequestContext, s: SecretRecord): Record<string, unknown> {
  const latest = s.versions[s.versions.length - 1];
  const b = latest ? bundle(vault, ctx, s, latest, false) : {};
  return {
    recoveryId: `${ctx.origin}/deletedsecrets/${s.name}`,
    deletedDate: s.deleted?.deletedDate,
    scheduledPurgeDate: s.deleted?.scheduledPurgeDate,
    ...b,
  };
}

function notFound(name: string): Reply {
  return kvError(404, "SecretNotFound", `A secret with (name/id) ${name} was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182`);
}

function deletedNotFound(name: string): Reply {
  return kvError(404, "SecretNotFound", `Deleted Secret not found: ${name}`);
}

function badParameter(message: string): Reply {
  return kvError(400, "BadParameter", message);
}

function nextLink(ctx: RequestContext, path: string, apiVersion: string, skip: number, max: number): string {
  return `${ctx.origin}${path}?api-version=${encodeURIComponent(apiVersion)}&$skiptoken=${Buffer.from(JSON.stringify({ skip })).toString("base64url")}&maxresults=${max}`;
}

function page<T>(ctx: RequestContext, items: T[], path: string, apiVersion: string): Reply | { value: T[]; nextLink: string | null } {
  const maxText = ctx.query.get("maxresults");
  const max = maxText === null ? DEFAULT_PAGE : Number(maxText);
  if (!Number.isInteger(max) || max < 1 || max > 25) return badParameter("maxresults must be an integer between 1 and 25.");
  let skip = 0;
  const token = ctx.query.get("$skiptoken");
  if (token) {
    try {
      skip = Number((JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as { skip: number }).skip) || 0;
    } catch {
      return badParameter("The $skiptoken is invalid.");
    }
  }
  const slice = items.slice(skip, skip + max);
  return { value: slice, nextLink: skip + max < items.length ? nextLink(ctx, path, apiVersion, skip + max, max) : null };
}

function timeAttr(v: unknown, field: string): number | null | Error {
  if (v === undefined || v === null) return null;
  if (typeof v !== "number" || !Number.isFinite(v)) return new Error(`attributes.${field} must be a number (seconds since 1970).`);
  return Math.floor(v);
}

function setSecret(vault: VaultRecord, ctx: RequestContext, core: SandboxCore, name: string): Reply {
  if (!secretNamePattern.test(name)) return badParameter(`The request URI contains an invalid name: ${name}`);
  const b = parseJsonObject(ctx);
  if (b instanceof Error || b === undefined) return badParameter(b instanceof Error ? `The request body is not valid JSON: ${b.message}` : "The request body is empty. Property 'value' is required.");
  if (typeof b["value"] !== "string") return badParameter("Property 'value' is required and must be a string.");
  if (b["contentType"] !== undefined && b["contentType"] !== null && typeof b["contentType"] !== "string") return badParameter("Property 'contentType' must be a string.");
  if (b["tags"] !== undefined && b["tags"] !== null && !isObject(b["tags"])) return badParameter("Property 'tags' must be an object.");
  const attrs = isObject(b["attributes"]) ? b["attributes"] : {};
  const nbf = timeAttr(attrs["nbf"], "nbf");
  const exp = timeAttr(attrs["exp"], "exp");
  if (nbf instanceof Error) return badParameter(nbf.message);
  if (exp instanceof Error) return badParameter(exp.message);
  const list = (core.store.state.secrets[vault.name.toLowerCase()] ??= []);
  let secret = list.find((s) => s.name.toLowerCase() === name.toLowerCase());
  if (secret?.deleted) {
    return kvError(409, "Conflict", `Secret ${secret.name} is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the secret can only be recovered or purged.`, "ObjectIsDeletedButRecoverable");
  }
  if (!secret) {
    secret = { name, versions: [], deleted: null };
    list.push(secret);
  }
  const now = Math.floor(ctx.now / 1000);
  const version: SecretVersionRecord = {
    version: randomBytes(16).toString("hex"),
    value: b["value"],
    contentType: typeof b["contentType"] === "string" ? b["contentType"] : null,
    tags: isObject(b["tags"]) ? (b["tags"] as Record<string, string>) : null,
    enabled: attrs["enabled"] !== false,
    nbf,
    exp,
    created: now,
    updated: now,
  };
  secret.versions.push(version);
  core.store.save();
  return json(200, bundle(vault, ctx, secret, version, true));
}

type Route = { op: string; name?: string; run: () => Reply };

function route(core: SandboxCore, vault: VaultRecord, ctx: RequestContext, apiVersion: string): Route | undefined {
  const parts = ctx.path.split("/").filter((p) => p !== "");
  const trailing = ctx.path.endsWith("/");
  const secrets = core.store.state.secrets[vault.name.toLowerCase()] ?? [];
  const find = (n: string): SecretRecord | undefined => secrets.find((s) => s.name.toLowerCase() === n.toLowerCase());
  const live = (n: string): SecretRecord | undefined => {
    const s = find(n);
    return s && !s.deleted ? s : undefined;
  };
  const [coll, name, third, ...rest] = parts;
  if (rest.length > 0) return undefined;
  const m = ctx.method;
  if (coll === "secrets") {
    if (name === undefined) {
      if (m !== "GET") return undefined;
      return {
        op: "readMetadata/action",
        run: () => {
          const items = secrets.filter((s) => !s.deleted && s.versions.length > 0).map((s) => {
            const latest = s.versions[s.versions.length - 1] as SecretVersionRecord;
            const item: Record<string, unknown> = { id: `${ctx.origin}/secrets/${s.name}`, attributes: attributes(vault, latest) };
            if (latest.contentType !== null) item["contentType"] = latest.contentType;
            if (latest.tags !== null) item["tags"] = latest.tags;
            return item;
          });
          const p = page(ctx, items, "/secrets", apiVersion);
          return "status" in p ? p : json(200, p);
        },
      };
    }
    if (m === "PUT" && third === undefined && !trailing) return { op: "setSecret/action", name, run: () => setSecret(vault, ctx, core, name) };
    if (m === "DELETE" && third === undefined && !trailing) {
      return {
        op: "delete",
        name,
        run: () => {
          const s = live(name);
          if (!s) return notFound(name);
          const days = Number(vault.properties["softDeleteRetentionInDays"] ?? 90);
          const nowSec = Math.floor(ctx.now / 1000);
          s.deleted = { deletedDate: nowSec, scheduledPurgeDate: nowSec + days * 86400, visibleAt: ctx.now + DELETE_VISIBILITY_MS };
          core.store.save();
          return json(200, deletedBundle(vault, ctx, s));
        },
      };
    }
    if (third === "versions" && m === "GET") {
      return {
        op: "readMetadata/action",
        name,
        run: () => {
          const s = live(name);
          if (!s) return notFound(name);
          const items = s.versions.map((v) => ({ id: `${ctx.origin}/secrets/${s.name}/${v.version}`, attributes: attributes(vault, v), ...(v.contentType !== null ? { contentType: v.contentType } : {}) }));
          const p = page(ctx, items, `/secrets/${s.name}/versions`, apiVersion);
          return "status" in p ? p : json(200, p);
        },
      };
    }
    if (m === "GET") {
      return {
        op: "getSecret/action",
        name,
        run: () => {
          const s = live(name);
          const v = s && (third ? s.versions.find((x) => x.version === third.toLowerCase()) : s.versions[s.versions.length - 1]);
          if (!s || !v) return notFound(third ? `${name}/${third}` : name);
          if (!v.enabled) return kvError(403, "Forbidden", "Operation get is not allowed on a disabled secret.", "SecretDisabled");
          return json(200, bundle(vault, ctx, s, v, true));
        },
      };
    }
    if (m === "PATCH") {
      return {
        op: "update/action",
        name,
        run: () => {
          const s = live(name);
          const v = s && (third ? s.versions.find((x) => x.version === third.toLowerCase()) : s.versions[s.versions.length - 1]);
          if (!s || !v) return notFound(name);
          const b = parseJsonObject(ctx);
          if (b instanceof Error) return badParameter(`The request body is not valid JSON: ${b.message}`);
          const body = b ?? {};
          if (typeof body["contentType"] === "string") v.contentType = body["contentType"];
          if (isObject(body["tags"])) v.tags = body["tags"] as Record<string, string>;
          const attrs = isObject(body["attributes"]) ? body["attributes"] : {};
          if (typeof attrs["enabled"] === "boolean") v.enabled = attrs["enabled"];
          const nbf = timeAttr(attrs["nbf"], "nbf");
          const exp = timeAttr(attrs["exp"], "exp");
          if (nbf instanceof Error) return badParameter(nbf.message);
          if (exp instanceof Error) return badParameter(exp.message);
          if (nbf !== null) v.nbf = nbf;
          if (exp !== null) v.exp = exp;
          v.updated = Math.floor(ctx.now / 1000);
          core.store.save();
          return json(200, bundle(vault, ctx, s, v, false));
        },
      };
    }
    return undefined;
  }
  if (coll === "deletedsecrets") {
    const deletedVisible = (n: string): SecretRecord | undefined => {
      const s = find(n);
      return s?.deleted && s.deleted.visibleAt <= ctx.now ? s : undefined;
    };
    if (name === undefined) {
      if (m !== "GET") return undefined;
      return {
        op: "readMetadata/action",
        run: () => {
          const items = secrets.filter((s) => s.deleted && s.deleted.visibleAt <= ctx.now).map((s) => {
            const d = deletedBundle(vault, ctx, s);
            return { recoveryId: d["recoveryId"], deletedDate: d["deletedDate"], scheduledPurgeDate: d["scheduledPurgeDate"], id: `${ctx.origin}/secrets/${s.name}`, attributes: d["attributes"] };
          });
          const p = page(ctx, items, "/deletedsecrets", apiVersion);
          return "status" in p ? p : json(200, p);
        },
      };
    }
    if (third === undefined && m === "GET") {
      return { op: "readMetadata/action", name, run: () => {
        const s = deletedVisible(name);
        return s ? json(200, deletedBundle(vault, ctx, s)) : deletedNotFound(name);
      } };
    }
    if (third === undefined && m === "DELETE") {
      return {
        op: "purge/action",
        name,
        run: () => {
          const s = deletedVisible(name);
          if (!s) return deletedNotFound(name);
          if (vault.properties["enablePurgeProtection"] === true) {
            return kvError(403, "Forbidden", `Operation "purge" is not allowed because purge protection is enabled for this vault. Key Vault service will automatically purge it after the retention period has passed.\r\nVault: ${vault.name};location=${vault.location}`, "ForbiddenByPolicy");
          }
          core.store.state.secrets[vault.name.toLowerCase()] = secrets.filter((x) => x !== s);
          core.store.save();
          return noContent(204);
        },
      };
    }
    if (third === "recover" && m === "POST") {
      return {
        op: "recover/action",
        name,
        run: () => {
          const s = deletedVisible(name);
          if (!s) return deletedNotFound(name);
          s.deleted = null;
          core.store.save();
          const latest = s.versions[s.versions.length - 1];
          return json(200, latest ? bundle(vault, ctx, s, latest, false) : {});
        },
      };
    }
  }
  return undefined;
}

export function handleKeyVault(core: SandboxCore, ctx: RequestContext, vaultName: string): Reply {
  const vault = findVault(core, vaultName);
  if (!vault) {
    // The listener outlived its vault (deleted a moment ago): what a client sees when DNS no longer resolves.
    return kvError(404, "VaultNotFound", `The vault '${vaultName}' does not exist.`);
  }
  const headers = kvHeaders(vault, ctx);
  const withHeaders = (r: Reply): Reply => ({ ...r, headers: { ...headers, ...r.headers } });
  const check = checkBearer(core, ctx, [core.endpoints.keyVaultAudience]);
  if (!check.ok) {
    const h = { "www-authenticate": challengeHeader(core, vault) };
    if (check.reason === "missing") return withHeaders(kvError(401, "Unauthorized", "AKV10000: Request is missing a Bearer or PoP token.", undefined, h));
    if (check.reason === "audience") return withHeaders(kvError(401, "Unauthorized", `AKV10022: Invalid audience. Expected ${core.endpoints.keyVaultAudience}, found: ${check.aud ?? ""}.`, undefined, h));
    if (check.reason === "expired") return withHeaders(kvError(401, "Unauthorized", "AKV10032: Invalid issuer or token expired.", undefined, h));
    return withHeaders(kvError(401, "Unauthorized", "AKV10032: Invalid token signature.", undefined, h));
  }
  if (check.claims.tid !== String(vault.properties["tenantId"])) {
    return withHeaders(kvError(401, "Unauthorized", `AKV10032: Invalid issuer. Expected one of https://sts.windows.net/${String(vault.properties["tenantId"])}/, found ${check.claims.iss}.`, undefined, { "www-authenticate": challengeHeader(core, vault) }));
  }
  const apiVersion = ctx.query.get("api-version");
  if (!apiVersion) return withHeaders(badParameter("The request URI is missing the required query parameter api-version."));
  if (!/^(\d+\.\d+(-preview(\.\d+)?)?|\d{4}-\d{2}-\d{2}(-preview)?)$/.test(apiVersion)) {
    return withHeaders(badParameter(`The specified version (${apiVersion}) is not recognized. Consider using the latest supported version (2026-04-01).`));
  }
  const blocked = firewall(vault, ctx, check.claims);
  if (blocked) return withHeaders(blocked);
  const r = route(core, vault, ctx, apiVersion);
  if (!r) return withHeaders(kvError(404, "NotFound", `The sandbox's Key Vault emulation has no route '${ctx.method} ${ctx.path}'.`));
  const denied = authorize(core, vault, ctx, check.claims, r.op, r.name);
  if (denied) return withHeaders(denied);
  return withHeaders(r.run());
}
