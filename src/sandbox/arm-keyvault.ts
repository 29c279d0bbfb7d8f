/** ARM Microsoft.KeyVault: vaults (create/get/update/delete/list), names, deleted vaults and purge. */
import { randomUUID } from "node:crypto";
import { armError, json, noContent, isObject, type Reply } from "./http.js";
import { armBody, isKnownLocation, isReply, locations, normLocation, requireAction, rgNotFound, type ArmRequest } from "./arm.js";
import { findVault, vaultUri, type SandboxCore } from "./core.js";
import type { DeletedVaultRecord, NetworkAcls, VaultRecord } from "./types.js";

const vaultNamePattern = /^[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$/;
export const isValidVaultName = (name: string): boolean => vaultNamePattern.test(name) && !name.includes("--");

/** RBAC became the default permission model for vaults created with api-version 2026-02-01 and later. */
const rbacByDefault = (apiVersion: string): boolean => apiVersion.slice(0, 10) >= "2026-02-01";

const guidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function alreadyExists(name: string): Reply {
  return armError(
    409,
    "VaultAlreadyExists",
    `The vault name '${name}' is already in use. Vault names are globally unique so it is possible that the name is already taken. If you are sure that the vault name was not taken then it is possible that a vault with the same name was recently deleted but not purged after being placed in a recoverable state. If the vault is in a recoverable state then the vault will need to be purged before reusing the name. For more information about VaultAlreadyExists, soft delete and purging a vault follow this link https://go.microsoft.com/fwlink/?linkid=2147740.`,
  );
}

function vaultNotFound(name: string, rg: string): Reply {
  return armError(404, "ResourceNotFound", `The Resource 'Microsoft.KeyVault/vaults/${name}' under resource group '${rg}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`);
}

function deletedNotFound(name: string, location: string): Reply {
  return armError(404, "ResourceNotFound", `The Resource 'Microsoft.KeyVault/locations/${location}/deletedVaults/${name}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`);
}

const ipv4Cidr = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:\/(\d{1,2}))?$/;

/** A bare IPv4 becomes a /32; anything that is not an address is kept verbatim (as the service echoes it). */
export function normaliseIpRule(value: string): string {
  const v = value.trim();
  const m = ipv4Cidr.exec(v);
  if (!m) return v;
  return m[5] === undefined ? `${v}/32` : v;
}

function badRequest(message: string): Reply {
  return armError(400, "BadRequest", message);
}

/** Validates and normalises `networkAcls`; merges over `previous` (PATCH semantics: given fields replace). */
function networkAclsFrom(req: ArmRequest, input: unknown, previous: NetworkAcls | undefined): NetworkAcls | Reply {
  if (!isObject(input)) return badRequest("The parameter properties.networkAcls has an invalid value.");
  const out: NetworkAcls = previous ? structuredClone(previous) : { bypass: "AzureServices", defaultAction: "Allow", ipRules: [], virtualNetworkRules: [] };
  if (input["bypass"] !== undefined) {
    if (input["bypass"] !== "AzureServices" && input["bypass"] !== "None") return badRequest(`The value '${String(input["bypass"])}' of properties.networkAcls.bypass is invalid. Allowed values are 'AzureServices' and 'None'.`);
    out.bypass = input["bypass"];
  }
  if (input["defaultAction"] !== undefined) {
    if (input["defaultAction"] !== "Allow" && input["defaultAction"] !== "Deny") return badRequest(`The value '${String(input["defaultAction"])}' of properties.networkAcls.defaultAction is invalid. Allowed values are 'Allow' and 'Deny'.`);
    out.defaultAction = input["defaultAction"];
  }
  if (input["ipRules"] !== undefined) {
    if (!Array.isArray(input["ipRules"]) || !input["ipRules"].every((r) => isObject(r) && typeof r["value"] === "string")) {
      return badRequest("The parameter properties.networkAcls.ipRules has an invalid value: every rule needs a string 'value'.");
    }
    out.ipRules = (input["ipRules"] as { value: string }[]).map((r) => ({ value: normaliseIpRule(r.value) }));
  }
  if (input["virtualNetworkRules"] !== undefined) {
    if (!Array.isArray(input["virtualNetworkRules"]) || !input["virtualNetworkRules"].every((r) => isObject(r) && typeof r["id"] === "string")) {
      return badRequest("The parameter properties.networkAcls.virtualNetworkRules has an invalid value: every rule needs a string 'id'.");
    }
    const rules: NetworkAcls["virtualNetworkRules"] = [];
    for (const r of input["virtualNetworkRules"] as { id: string; ignoreMissingVnetServiceEndpoint?: unknown }[]) {
      const id = r.id.toLowerCase();
      const ignore = r.ignoreMissingVnetServiceEndpoint === true;
      if (!ignore && !subnetHasKeyVaultEndpoint(req.core, id)) {
        return badRequest(`Subnet '${r.id}' does not exist or does not have the 'Microsoft.KeyVault' service endpoint enabled. Add the service endpoint to the subnet, or set ignoreMissingVnetServiceEndpoint to true.`);
      }
      rules.push({ id, ignoreMissingVnetServiceEndpoint: ignore });
    }
    out.virtualNetworkRules = rules;
  }
  return out;
}

function subnetHasKeyVaultEndpoint(core: SandboxCore, subnetIdLower: string): boolean {
  for (const vnet of core.store.state.virtualNetworks) {
    for (const s of vnet.subnets) {
      if (s.id.toLowerCase() !== subnetIdLower) continue;
      const eps = s.properties["serviceEndpoints"];
      return Array.isArray(eps) && eps.some((e) => isObject(e) && String(e["service"]).toLowerCase() === "microsoft.keyvault");
    }
  }
  return false;
}

export function vaultJson(v: VaultRecord, now: number, provisioningState?: string): Record<string, unknown> {
  return {
    id: v.id,
    name: v.name,
    type: "Microsoft.KeyVault/vaults",
    location: v.location,
    tags: v.tags,
    systemData: v.systemData,
    properties: { privateEndpointConnections: [], ...v.properties, provisioningState: provisioningState ?? (now < v.dnsReadyAt ? "RegisteringDns" : "Succeeded") },
  };
}

function deletedJson(d: DeletedVaultRecord, subscriptionId: string): Record<string, unknown> {
  return {
    id: `/subscriptions/${subscriptionId}/providers/Microsoft.KeyVault/locations/${d.vault.location}/deletedVaults/${d.vault.name}`,
    name: d.vault.name,
    type: "Microsoft.KeyVault/deletedVaults",
    properties: {
      vaultId: d.vault.id,
      location: d.vault.location,
      deletionDate: d.deletionDate,
      scheduledPurgeDate: d.scheduledPurgeDate,
      tags: d.vault.tags,
      purgeProtectionEnabled: d.vault.properties["enablePurgeProtection"] === true,
    },
  };
}

/** `$top` + `$skiptoken` paging with an absolute nextLink, as ARM list operations page. */
function pageOf(req: ArmRequest, items: Record<string, unknown>[]): { value: Record<string, unknown>[]; nextLink?: string } {
  const top = Number(req.ctx.query.get("$top") ?? "0");
  const skip = Number(Buffer.from(req.ctx.query.get("$skiptoken") ?? "", "base64url").toString() || "0") || 0;
  if (!(top > 0)) return { value: items.slice(skip) };
  const value = items.slice(skip, skip + top);
  if (skip + top >= items.length) return { value };
  const token = Buffer.from(String(skip + top)).toString("base64url");
  return { value, nextLink: `${req.core.endpoints.armEndpoint}${req.ctx.path}?api-version=${req.apiVersion}&$top=${top}&%24skiptoken=${token}` };
}

/** Deleted vaults whose retention ended are purged by "the service" lazily, when next looked at. */
function expireDeletedVaults(core: SandboxCore, now: number): void {
  const st = core.store.state;
  const expired = st.deletedVaults.filter((d) => Date.parse(d.scheduledPurgeDate) <= now);
  if (expired.length === 0) return;
  st.deletedVaults = st.deletedVaults.filter((d) => !expired.includes(d));
  for (const d of expired) delete st.secrets[d.vault.name.toLowerCase()];
  core.store.save();
}

type PropsResult = { props: VaultRecord["properties"] } | Reply;

function buildProperties(req: ArmRequest, input: Record<string, unknown>, existing: VaultRecord | undefined, isPatch: boolean): PropsResult {
  const st = req.core.store.state;
  const base: VaultRecord["properties"] = existing
    ? structuredClone(existing.properties)
    : {
        tenantId: st.tenant.id,
        sku: { family: "A", name: "standard" },
        accessPolicies: [],
        enabledForDeployment: false,
        enabledForDiskEncryption: false,
        enabledForTemplateDeployment: false,
        enableSoftDelete: true,
        softDeleteRetentionInDays: 90,
        enableRbacAuthorization: rbacByDefault(req.apiVersion),
        publicNetworkAccess: "Enabled",
      };
  if (!isPatch) {
    if (input["tenantId"] === undefined || input["tenantId"] === null) return badRequest("The parameter properties.tenantId cannot be null.");
    if (input["sku"] === undefined || input["sku"] === null) return badRequest("The parameter properties.sku cannot be null.");
  }
  if (input["tenantId"] !== undefined) {
    if (typeof input["tenantId"] !== "string" || !guidPattern.test(input["tenantId"])) return badRequest(`The parameter properties.tenantId has an invalid value '${String(input["tenantId"])}'.`);
    if (input["tenantId"].toLowerCase() !== st.tenant.id) return badRequest(`The tenant '${input["tenantId"]}' is not the tenant '${st.tenant.id}' of subscription '${st.subscription.id}'.`);
    base["tenantId"] = input["tenantId"].toLowerCase();
  }
  if (input["sku"] !== undefined) {
    const sku = input["sku"];
    if (!isObject(sku) || (sku["name"] !== "standard" && sku["name"] !== "premium") || (sku["family"] !== undefined && sku["family"] !== "A")) {
      return badRequest("The parameter properties.sku has an invalid value. sku.name must be 'standard' or 'premium' and sku.family 'A'.");
    }
    base["sku"] = { family: "A", name: sku["name"] };
  }
  for (const flag of ["enabledForDeployment", "enabledForDiskEncryption", "enabledForTemplateDeployment"] as const) {
    if (input[flag] !== undefined) {
      if (typeof input[flag] !== "boolean") return badRequest(`The parameter properties.${flag} must be a boolean.`);
      base[flag] = input[flag];
    }
  }
  if (input["enableRbacAuthorization"] !== undefined && input["enableRbacAuthorization"] !== null) {
    if (typeof input["enableRbacAuthorization"] !== "boolean") return badRequest("The parameter properties.enableRbacAuthorization must be a boolean.");
    base["enableRbacAuthorization"] = input["enableRbacAuthorization"];
  }
  if (input["enableSoftDelete"] === false) return badRequest("The property \"enableSoftDelete\" cannot be set to false. Soft delete is enabled for all key vaults and cannot be disabled.");
  if (input["softDeleteRetentionInDays"] !== undefined) {
    const d = input["softDeleteRetentionInDays"];
    if (typeof d !== "number" || !Number.isInteger(d) || d < 7 || d > 90) return badRequest("The property softDeleteRetentionInDays must be an integer between 7 and 90.");
    if (existing && existing.properties["softDeleteRetentionInDays"] !== d) return badRequest("The property softDeleteRetentionInDays cannot be changed once the vault has been created.");
    base["softDeleteRetentionInDays"] = d;
  }
  if (input["enablePurgeProtection"] !== undefined && input["enablePurgeProtection"] !== null) {
    if (input["enablePurgeProtection"] !== true) {
      if (base["enablePurgeProtection"] === true || input["enablePurgeProtection"] !== false) {
        return badRequest("The property \"enablePurgeProtection\" cannot be set to false. Enabling the purge protection for a vault is an irreversible action.");
      }
    } else base["enablePurgeProtection"] = true;
  }
  if (input["publicNetworkAccess"] !== undefined) {
    if (input["publicNetworkAccess"] !== "Enabled" && input["publicNetworkAccess"] !== "Disabled") return badRequest("The parameter properties.publicNetworkAccess must be 'Enabled' or 'Disabled'.");
    base["publicNetworkAccess"] = input["publicNetworkAccess"];
  }
  if (input["accessPolicies"] !== undefined) {
    if (!Array.isArray(input["accessPolicies"])) return badRequest("The parameter properties.accessPolicies must be an array.");
    base["accessPolicies"] = input["accessPolicies"];
  }
  if (input["networkAcls"] !== undefined && input["networkAcls"] !== null) {
    const acls = networkAclsFrom(req, input["networkAcls"], isPatch ? base.networkAcls : undefined);
    if (isReply(acls)) return acls;
    base.networkAcls = acls;
  }
  return { props: base };
}

async function putVault(req: ArmRequest, rgName: string, name: string): Promise<Reply> {
  const { core, ctx } = req;
  const st = core.store.state;
  const scope = `/subscriptions/${st.subscription.id}/resourceGroups/${rgName}/providers/Microsoft.KeyVault/vaults/${name}`;
  const denied = requireAction(req, "Microsoft.KeyVault/vaults/write", scope);
  if (denied) return denied;
  if (!isValidVaultName(name)) return armError(400, "VaultNameNotValid", `The vault name '${name}' is invalid.`);
  const rg = st.resourceGroups.find((r) => r.name.toLowerCase() === rgName.toLowerCase());
  if (!rg) return rgNotFound(rgName);
  const body = armBody(ctx);
  if (isReply(body)) return body;
  if (typeof body["location"] !== "string" || body["location"] === "") return armError(400, "LocationRequired", "The location property is required for this definition.");
  if (!isKnownLocation(body["location"])) {
    return armError(400, "LocationNotAvailableForResourceType", `The provided location '${body["location"]}' is not available for resource type 'Microsoft.KeyVault/vaults'. List of available regions for the resource type is '${locations.map((l) => l.name).join(",")}'.`);
  }
  const input = body["properties"];
  if (!isObject(input)) return badRequest("The parameter properties cannot be null.");
  const tags = isObject(body["tags"]) ? (body["tags"] as Record<string, string>) : {};
  expireDeletedVaults(core, ctx.now);
  const lower = name.toLowerCase();
  if (st.foreignVaultNames.includes(lower)) return alreadyExists(name);
  const existing = findVault(core, name);
  if (existing && existing.id.toLowerCase() !== scope.toLowerCase()) return alreadyExists(name);
  const deleted = st.deletedVaults.find((d) => d.vault.name.toLowerCase() === lower);
  const actor = { createdBy: req.callerOid, createdByType: "Application" };
  const nowIso = new Date(ctx.now).toISOString();

  if (input["createMode"] === "recover") {
    if (existing) return json(200, vaultJson(existing, ctx.now));
    if (!deleted) return armError(404, "DeletedVaultNotFound", `A deleted vault with the name '${name}' was not found in location '${normLocation(body["location"])}'. A vault can only be recovered while it is in the deleted state.`);
    if (deleted.vault.id.toLowerCase() !== scope.toLowerCase()) return badRequest(`The deleted vault '${name}' belonged to '${deleted.vault.id}'; recover it into that resource group.`);
    const port = await core.openVaultListener(lower, deleted.vault.port);
    const vault: VaultRecord = { ...deleted.vault, port, tags: Object.keys(tags).length ? tags : deleted.vault.tags, dnsReadyAt: ctx.now };
    vault.properties["vaultUri"] = vaultUri(port);
    st.deletedVaults = st.deletedVaults.filter((d) => d !== deleted);
    st.vaults.push(vault);
    // The vault's secrets were kept under its name while it was deleted, so they come back with it.
    core.store.save();
    return json(200, vaultJson(vault, ctx.now));
  }
  if (deleted && !existing) {
    if (deleted.vault.subscriptionId !== st.subscription.id) return alreadyExists(name);
    return armError(409, "ConflictError", "A vault with the same name already exists in deleted state. You need to either recover or purge existing key vault. Follow this link https://go.microsoft.com/fwlink/?linkid=2149745 for more information on soft delete.");
  }
  const built = buildProperties(req, input, existing, false);
  if (isReply(built)) return built;
  if (existing) {
    built.props["vaultUri"] = vaultUri(existing.port);
    existing.properties = built.props;
    existing.tags = tags;
    existing.systemData = { ...existing.systemData, lastModifiedBy: req.callerOid, lastModifiedByType: "Application", lastModifiedAt: nowIso };
    core.store.save();
    return json(200, vaultJson(existing, ctx.now));
  }
  const port = await core.openVaultListener(lower);
  built.props["vaultUri"] = vaultUri(port);
  const vault: VaultRecord = {
    id: scope,
    name,
    subscriptionId: st.subscription.id,
    resourceGroup: rg.name,
    location: normLocation(body["location"]),
    tags,
    properties: built.props,
    systemData: { ...actor, createdAt: nowIso, lastModifiedBy: req.callerOid, lastModifiedByType: "Application", lastModifiedAt: nowIso },
    port,
    dnsReadyAt: ctx.now,
  };
  st.vaults.push(vault);
  delete st.secrets[lower];
  core.store.save();
  // The first answer still says RegisteringDns, so the SDK's poller reads the vault again (as against Azure).
  return json(201, vaultJson(vault, ctx.now, "RegisteringDns"));
}

function patchVault(req: ArmRequest, vault: VaultRecord): Reply {
  const { core, ctx } = req;
  const denied = requireAction(req, "Microsoft.KeyVault/vaults/write", vault.id);
  if (denied) return denied;
  const body = armBody(ctx);
  if (isReply(body)) return body;
  const input = body["properties"];
  if (input !== undefined && !isObject(input)) return badRequest("The parameter properties has an invalid value.");
  if (input) {
    const built = buildProperties(req, input, vault, true);
    if (isReply(built)) return built;
    vault.properties = built.props;
  }
  if (isObject(body["tags"])) vault.tags = body["tags"] as Record<string, string>;
  vault.systemData = { ...vault.systemData, lastModifiedBy: req.callerOid, lastModifiedByType: "Application", lastModifiedAt: new Date(ctx.now).toISOString() };
  core.store.save();
  return json(200, vaultJson(vault, ctx.now));
}

async function deleteVault(req: ArmRequest, vault: VaultRecord): Promise<Reply> {
  const { core, ctx } = req;
  const denied = requireAction(req, "Microsoft.KeyVault/vaults/delete", vault.id);
  if (denied) return denied;
  const st = core.store.state;
  const days = Number(vault.properties["softDeleteRetentionInDays"] ?? 90);
  st.vaults = st.vaults.filter((v) => v !== vault);
  st.deletedVaults.push({
    vault,
    deletionDate: new Date(ctx.now).toISOString(),
    scheduledPurgeDate: new Date(ctx.now + days * 24 * 3600 * 1000).toISOString(),
  });
  core.store.save();
  await core.closeVaultListener(vault.name.toLowerCase());
  return noContent(200);
}

function checkName(req: ArmRequest): Reply {
  const { core, ctx } = req;
  const st = core.store.state;
  const denied = requireAction(req, "Microsoft.KeyVault/checkNameAvailability/read", `/subscriptions/${st.subscription.id}`);
  if (denied) return denied;
  const body = armBody(ctx);
  if (isReply(body)) return body;
  if (typeof body["name"] !== "string") return badRequest("The parameter name cannot be null.");
  if (body["type"] !== "Microsoft.KeyVault/vaults") return badRequest(`The parameter type has an invalid value '${String(body["type"])}'. It must be 'Microsoft.KeyVault/vaults'.`);
  const name = body["name"];
  if (!isValidVaultName(name)) {
    return json(200, { nameAvailable: false, reason: "AccountNameInvalid", message: `The vault name '${name}' is invalid. A vault name must be between 3-24 alphanumeric characters or dashes, start with a letter, end with a letter or digit, and not contain consecutive hyphens.` });
  }
  expireDeletedVaults(core, ctx.now);
  const lower = name.toLowerCase();
  const taken = st.foreignVaultNames.includes(lower) || findVault(core, name) !== undefined || st.deletedVaults.some((d) => d.vault.name.toLowerCase() === lower);
  if (taken) return json(200, { nameAvailable: false, reason: "AlreadyExists", message: `The vault name '${name}' is already in use. Vault names are globally unique so it is possible that the name is already taken. If you are sure that the vault name was not taken then it is possible that a vault with the same name was recently deleted but not purged after being placed in a recoverable state. If the vault is in a recoverable state then the vault will need to be purged before reusing the name.` });
  return json(200, { nameAvailable: true });
}

function purge(req: ArmRequest, location: string, name: string): Reply {
  const { core, ctx } = req;
  const st = core.store.state;
  const scope = `/subscriptions/${st.subscription.id}/providers/Microsoft.KeyVault/locations/${location}/deletedVaults/${name}`;
  const denied = requireAction(req, "Microsoft.KeyVault/locations/deletedVaults/purge/action", scope);
  if (denied) return denied;
  expireDeletedVaults(core, ctx.now);
  const d = st.deletedVaults.find((x) => x.vault.name.toLowerCase() === name.toLowerCase() && x.vault.location === normLocation(location));
  if (!d) return deletedNotFound(name, location);
  if (d.vault.properties["enablePurgeProtection"] === true) {
    // Wording as the service answers a purge of a protected vault (inferred from CLI output: "Operation 'DeletedVaultPurge' is not allowed").
    return armError(405, "MethodNotAllowed", `Operation 'DeletedVaultPurge' is not allowed. The vault '${d.vault.name}' has purge protection enabled; it will be purged automatically on ${d.scheduledPurgeDate}.`);
  }
  st.deletedVaults = st.deletedVaults.filter((x) => x !== d);
  delete st.secrets[d.vault.name.toLowerCase()];
  const opId = randomUUID().replace(/-/g, "");
  st.operations.push({ id: opId, kind: "purgeVault", status: "Succeeded", doneAt: ctx.now });
  core.store.save();
  const loc = `${core.endpoints.armEndpoint}/subscriptions/${st.subscription.id}/providers/Microsoft.KeyVault/locations/${d.vault.location}/operationResults/${opId}?api-version=${req.apiVersion}`;
  return noContent(202, { location: loc, "retry-after": "0" });
}

export async function handleKeyVaultArm(req: ArmRequest): Promise<Reply | undefined> {
  const { core, ctx, low, segs } = req;
  const st = core.store.state;
  if (low[0] !== "subscriptions") return undefined;
  const subId = segs[1] ?? "";
  const subMatches = subId.toLowerCase() === st.subscription.id;
  // /subscriptions/{s}/providers/Microsoft.KeyVault/...
  if (low[2] === "providers" && low[3] === "microsoft.keyvault" && low.length > 4) {
    if (!subMatches) return armError(404, "SubscriptionNotFound", `The subscription '${subId}' could not be found.`);
    const rest = low.slice(4);
    if (rest.length === 1 && rest[0] === "checknameavailability" && ctx.method === "POST") return checkName(req);
    if (rest.length === 1 && rest[0] === "deletedvaults" && ctx.method === "GET") {
      const denied = requireAction(req, "Microsoft.KeyVault/deletedVaults/read", `/subscriptions/${st.subscription.id}`);
      if (denied) return denied;
      expireDeletedVaults(core, ctx.now);
      return json(200, pageOf(req, st.deletedVaults.map((d) => deletedJson(d, st.subscription.id))));
    }
    if (rest.length === 1 && rest[0] === "vaults" && ctx.method === "GET") {
      return json(200, { value: st.vaults.filter((v) => core.store.mayPerform(req.callerOid, v.id, "Microsoft.KeyVault/vaults/read")).map((v) => vaultJson(v, ctx.now)) });
    }
    if (rest[0] === "locations" && rest.length >= 4) {
      const location = segs[5] ?? "";
      if (rest[2] === "deletedvaults") {
        const name = segs[7] ?? "";
        if (rest.length === 4 && ctx.method === "GET") {
          const denied = requireAction(req, "Microsoft.KeyVault/locations/deletedVaults/read", `/subscriptions/${st.subscription.id}/providers/Microsoft.KeyVault/locations/${location}/deletedVaults/${name}`);
          if (denied) return denied;
          expireDeletedVaults(core, ctx.now);
          const d = st.deletedVaults.find((x) => x.vault.name.toLowerCase() === name.toLowerCase() && x.vault.location === normLocation(location));
          return d ? json(200, deletedJson(d, st.subscription.id)) : deletedNotFound(name, location);
        }
        if (rest.length === 5 && rest[4] === "purge" && ctx.method === "POST") return purge(req, location, name);
      }
      if (rest[2] === "operationresults" && rest.length === 4 && ctx.method === "GET") {
        const op = st.operations.find((o) => o.id === segs[7]);
        if (!op) return armError(404, "OperationNotFound", `The operation '${segs[7] ?? ""}' was not found.`);
        if (ctx.now < op.doneAt) return noContent(202, { location: `${core.endpoints.armEndpoint}${ctx.path}?api-version=${req.apiVersion}`, "retry-after": "1" });
        return noContent(200);
      }
    }
    return undefined;
  }
  // /subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.KeyVault/vaults[/{name}]
  if (low[2] === "resourcegroups" && low[4] === "providers" && low[5] === "microsoft.keyvault" && low[6] === "vaults") {
    if (!subMatches) return armError(404, "SubscriptionNotFound", `The subscription '${subId}' could not be found.`);
    const rgName = segs[3] ?? "";
    if (low.length === 7 && ctx.method === "GET") {
      if (!st.resourceGroups.some((r) => r.name.toLowerCase() === rgName.toLowerCase())) return rgNotFound(rgName);
      const denied = requireAction(req, "Microsoft.KeyVault/vaults/read", `/subscriptions/${st.subscription.id}/resourceGroups/${rgName}`);
      if (denied) return denied;
      return json(200, { value: st.vaults.filter((v) => v.resourceGroup.toLowerCase() === rgName.toLowerCase()).map((v) => vaultJson(v, ctx.now)) });
    }
    if (low.length !== 8) return undefined;
    const name = segs[7] ?? "";
    if (ctx.method === "PUT") return putVault(req, rgName, name);
    const vault = findVault(core, name);
    const inRg = vault && vault.resourceGroup.toLowerCase() === rgName.toLowerCase() ? vault : undefined;
    const scope = `/subscriptions/${st.subscription.id}/resourceGroups/${rgName}/providers/Microsoft.KeyVault/vaults/${name}`;
    if (ctx.method === "GET") {
      const denied = requireAction(req, "Microsoft.KeyVault/vaults/read", scope);
      if (denied) return denied;
      if (!st.resourceGroups.some((r) => r.name.toLowerCase() === rgName.toLowerCase())) return rgNotFound(rgName);
      return inRg ? json(200, vaultJson(inRg, ctx.now)) : vaultNotFound(name, rgName);
    }
    if (ctx.method === "PATCH") {
      if (!inRg) {
        const denied = requireAction(req, "Microsoft.KeyVault/vaults/write", scope);
        return denied ?? vaultNotFound(name, rgName);
      }
      return patchVault(req, inRg);
    }
    if (ctx.method === "DELETE") {
      if (!inRg) return requireAction(req, "Microsoft.KeyVault/vaults/delete", scope) ?? noContent(204);
      return deleteVault(req, inRg);
    }
  }
  return undefined;
}
