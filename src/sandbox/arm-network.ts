/** Microsoft.Network virtual networks and subnets (service endpoints), PUT as an azure-async-operation LRO. */
import { randomUUID } from "node:crypto";
import { armError, json, isObject, type Reply } from "./http.js";
import { armBody, isKnownLocation, isReply, normLocation, requireAction, rgNotFound, type ArmRequest } from "./arm.js";
import type { SubnetRecord, VirtualNetworkRecord } from "./types.js";

function subnetJson(s: SubnetRecord, location: string): Record<string, unknown> {
  const eps = Array.isArray(s.properties["serviceEndpoints"]) ? (s.properties["serviceEndpoints"] as Record<string, unknown>[]) : [];
  return {
    id: s.id,
    name: s.name,
    etag: `W/"${randomUUID()}"`,
    type: "Microsoft.Network/virtualNetworks/subnets",
    properties: {
      ...s.properties,
      serviceEndpoints: eps.map((e) => ({ service: e["service"], locations: Array.isArray(e["locations"]) ? e["locations"] : [location], provisioningState: "Succeeded" })),
      provisioningState: "Succeeded",
      privateEndpointNetworkPolicies: s.properties["privateEndpointNetworkPolicies"] ?? "Disabled",
      privateLinkServiceNetworkPolicies: s.properties["privateLinkServiceNetworkPolicies"] ?? "Enabled",
    },
  };
}

function vnetJson(v: VirtualNetworkRecord): Record<string, unknown> {
  return {
    id: v.id,
    name: v.name,
    type: "Microsoft.Network/virtualNetworks",
    location: v.location,
    tags: v.tags,
    etag: `W/"${randomUUID()}"`,
    properties: {
      provisioningState: "Succeeded",
      resourceGuid: randomUUID(),
      addressSpace: v.addressSpace,
      subnets: v.subnets.map((s) => subnetJson(s, v.location)),
      virtualNetworkPeerings: [],
      enableDdosProtection: false,
    },
  };
}

function subnetFrom(vnetId: string, name: string, input: unknown): SubnetRecord | Reply {
  const props = isObject(input) ? input : {};
  const prefix = props["addressPrefix"];
  const prefixes = props["addressPrefixes"];
  if (typeof prefix !== "string" && !Array.isArray(prefixes)) {
    return armError(400, "InvalidRequestFormat", `Cannot parse the request. Subnet '${name}' needs properties.addressPrefix.`);
  }
  const eps = props["serviceEndpoints"];
  if (eps !== undefined && (!Array.isArray(eps) || !eps.every((e) => isObject(e) && typeof e["service"] === "string"))) {
    return armError(400, "InvalidRequestFormat", "Cannot parse the request. Every serviceEndpoints entry needs a string 'service'.");
  }
  const stored: Record<string, unknown> = { ...props };
  stored["serviceEndpoints"] = ((eps as Record<string, unknown>[] | undefined) ?? []).map((e) => ({ service: e["service"], ...(Array.isArray(e["locations"]) ? { locations: e["locations"] } : {}) }));
  delete stored["provisioningState"];
  return { id: `${vnetId}/subnets/${name}`, name, properties: stored };
}

function asyncHeaders(req: ArmRequest, location: string): Record<string, string> {
  const st = req.core.store.state;
  const opId = randomUUID();
  st.operations.push({ id: opId, kind: "network", status: "Succeeded", doneAt: req.ctx.now });
  return {
    "azure-asyncoperation": `${req.core.endpoints.armEndpoint}/subscriptions/${st.subscription.id}/providers/Microsoft.Network/locations/${location}/operations/${opId}?api-version=${req.apiVersion}`,
    "retry-after": "0",
  };
}

export function handleNetwork(req: ArmRequest): Reply | undefined {
  const { core, ctx, low, segs } = req;
  const st = core.store.state;
  if (low[0] !== "subscriptions" || (segs[1] ?? "").toLowerCase() !== st.subscription.id) return undefined;
  // Async operation status: /subscriptions/{s}/providers/Microsoft.Network/locations/{loc}/operations/{id}
  if (low.length === 8 && low[2] === "providers" && low[3] === "microsoft.network" && low[4] === "locations" && low[6] === "operations" && ctx.method === "GET") {
    const op = st.operations.find((o) => o.id === segs[7]);
    if (!op) return armError(404, "NotFound", `Operation '${segs[7] ?? ""}' was not found.`);
    return json(200, { status: ctx.now < op.doneAt ? "InProgress" : "Succeeded" });
  }
  if (!(low[2] === "resourcegroups" && low[4] === "providers" && low[5] === "microsoft.network" && low[6] === "virtualnetworks" && low.length >= 8)) return undefined;
  const rgName = segs[3] ?? "";
  const vnetName = segs[7] ?? "";
  const rg = st.resourceGroups.find((r) => r.name.toLowerCase() === rgName.toLowerCase());
  const vnetId = `/subscriptions/${st.subscription.id}/resourceGroups/${rg?.name ?? rgName}/providers/Microsoft.Network/virtualNetworks/${vnetName}`;
  const vnet = st.virtualNetworks.find((v) => v.id.toLowerCase() === vnetId.toLowerCase());
  const vnetMissing = (): Reply => armError(404, "ResourceNotFound", `The Resource 'Microsoft.Network/virtualNetworks/${vnetName}' under resource group '${rgName}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`);
  if (low.length === 8) {
    if (ctx.method === "GET") return requireAction(req, "Microsoft.Network/virtualNetworks/read", vnetId) ?? (vnet ? json(200, vnetJson(vnet)) : vnetMissing());
    if (ctx.method !== "PUT") return undefined;
    const denied = requireAction(req, "Microsoft.Network/virtualNetworks/write", vnetId);
    if (denied) return denied;
    if (!rg) return rgNotFound(rgName);
    const body = armBody(ctx);
    if (isReply(body)) return body;
    if (typeof body["location"] !== "string" || !isKnownLocation(body["location"])) return armError(400, "LocationRequired", "The location property is required for this definition.");
    const props = isObject(body["properties"]) ? body["properties"] : {};
    const space = isObject(props["addressSpace"]) && Array.isArray(props["addressSpace"]["addressPrefixes"]) ? (props["addressSpace"]["addressPrefixes"] as unknown[]).map(String) : [];
    if (space.length === 0) return armError(400, "InvalidRequestFormat", "Cannot parse the request. properties.addressSpace.addressPrefixes is required.");
    const subnets: SubnetRecord[] = [];
    for (const s of Array.isArray(props["subnets"]) ? (props["subnets"] as unknown[]) : []) {
      if (!isObject(s) || typeof s["name"] !== "string") return armError(400, "InvalidRequestFormat", "Cannot parse the request. Every subnet needs a name.");
      const sub = subnetFrom(vnetId, s["name"], s["properties"]);
      if (isReply(sub)) return sub;
      subnets.push(sub);
    }
    const record: VirtualNetworkRecord = {
      id: vnetId,
      name: vnetName,
      subscriptionId: st.subscription.id,
      resourceGroup: rg.name,
      location: normLocation(body["location"]),
      tags: isObject(body["tags"]) ? (body["tags"] as Record<string, string>) : {},
      addressSpace: { addressPrefixes: space },
      subnets,
    };
    const status = vnet ? 200 : 201;
    st.virtualNetworks = st.virtualNetworks.filter((v) => v !== vnet).concat(record);
    const headers = asyncHeaders(req, record.location);
    core.store.save();
    return json(status, vnetJson(record), headers);
  }
  if (low.length === 10 && low[8] === "subnets") {
    const subnetName = segs[9] ?? "";
    const subnetId = `${vnetId}/subnets/${subnetName}`;
    const existing = vnet?.subnets.find((s) => s.name.toLowerCase() === subnetName.toLowerCase());
    if (ctx.method === "GET") {
      const denied = requireAction(req, "Microsoft.Network/virtualNetworks/subnets/read", subnetId);
      if (denied) return denied;
      if (!vnet) return vnetMissing();
      return existing ? json(200, subnetJson(existing, vnet.location)) : armError(404, "NotFound", `Resource ${subnetId} not found.`);
    }
    if (ctx.method !== "PUT") return undefined;
    const denied = requireAction(req, "Microsoft.Network/virtualNetworks/subnets/write", subnetId);
    if (denied) return denied;
    if (!vnet) return vnetMissing();
    const body = armBody(ctx);
    if (isReply(body)) return body;
    const sub = subnetFrom(vnet.id, existing?.name ?? subnetName, body["properties"]);
    if (isReply(sub)) return sub;
    vnet.subnets = vnet.subnets.filter((s) => s !== existing).concat(sub);
    const headers = asyncHeaders(req, vnet.location);
    core.store.save();
    return json(existing ? 200 : 201, subnetJson(sub, vnet.location), headers);
  }
  return undefined;
}
