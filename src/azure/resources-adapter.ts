/**
 * ResourceManagement over @azure/arm-resources-subscriptions (subscriptions, locations), @azure/arm-resources
 * (resource groups, providers) and @azure/arm-network (subnets for the optional virtual-network rule).
 */
import type { NetworkManagementClient, Subnet } from "@azure/arm-network";
import type { ResourceManagementClient } from "@azure/arm-resources";
import type { SubscriptionClient } from "@azure/arm-resources-subscriptions";
import { AkvError } from "../errors.js";
import { type AdapterContext, lazy, lazyBy, modularArmOptions, parseResourceId } from "./context.js";
import { azureCall, azureGet } from "./errors.js";
import type { ResourceManagement, SubnetInfo, SubscriptionInfo } from "./services.js";

const KEY_VAULT_SERVICE = "Microsoft.KeyVault";

interface SubnetRef {
  subscriptionId: string;
  resourceGroup: string;
  virtualNetwork: string;
  subnet: string;
}

export function parseSubnetId(subnetId: string): SubnetRef {
  const parsed = parseResourceId(subnetId);
  const path = parsed?.providerPath ?? [];
  if (
    !parsed?.resourceGroup ||
    path.length !== 5 ||
    path[0]?.toLowerCase() !== "microsoft.network" ||
    path[1]?.toLowerCase() !== "virtualnetworks" ||
    path[3]?.toLowerCase() !== "subnets"
  ) {
    throw AkvError.usage(`"${subnetId}" is not a subnet resource id.`, {
      code: "InvalidSubnetId",
      hint: "Give it as /subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.Network/virtualNetworks/<vnet>/subnets/<subnet>.",
    });
  }
  return {
    subscriptionId: parsed.subscriptionId,
    resourceGroup: parsed.resourceGroup,
    virtualNetwork: path[2] ?? "",
    subnet: path[4] ?? "",
  };
}

function toSubnetInfo(subnet: Subnet, fallbackId: string): SubnetInfo {
  return {
    id: subnet.id ?? fallbackId,
    serviceEndpoints: (subnet.serviceEndpoints ?? []).map((e) => e.service ?? "").filter((s) => s.length > 0),
  };
}

function hasKeyVaultEndpoint(subnet: Subnet): boolean {
  return (subnet.serviceEndpoints ?? []).some((e) => e.service?.toLowerCase() === KEY_VAULT_SERVICE.toLowerCase());
}

export function createResourcesAdapter(ctx: AdapterContext): ResourceManagement {
  const subscriptions = lazy(async (): Promise<SubscriptionClient> => {
    const { SubscriptionClient } = await import("@azure/arm-resources-subscriptions");
    return new SubscriptionClient(ctx.credential, modularArmOptions(ctx));
  });
  const resourcesFor = lazyBy(async (subscriptionId: string): Promise<ResourceManagementClient> => {
    const { ResourceManagementClient } = await import("@azure/arm-resources");
    return new ResourceManagementClient(ctx.credential, subscriptionId, modularArmOptions(ctx));
  });
  // A subnet may live in another subscription than the vault: one client per subscription.
  const networkFor = lazyBy(async (subscriptionId: string): Promise<NetworkManagementClient> => {
    const { NetworkManagementClient } = await import("@azure/arm-network");
    return new NetworkManagementClient(ctx.credential, subscriptionId, modularArmOptions(ctx));
  });
  const resources = async (): Promise<ResourceManagementClient> => resourcesFor(await ctx.subscriptionId());

  const adapter: ResourceManagement = {
    async listSubscriptions(): Promise<SubscriptionInfo[]> {
      const client = await subscriptions();
      return azureCall("list the subscriptions", async () => {
        const found: SubscriptionInfo[] = [];
        for await (const s of client.subscriptions.list()) {
          found.push({ id: s.subscriptionId ?? "", name: s.displayName ?? "", tenantId: s.tenantId ?? "", state: s.state ?? "" });
        }
        return found;
      });
    },

    async listLocations(): Promise<Array<{ name: string; displayName: string }>> {
      const subscriptionId = await ctx.subscriptionId();
      const client = await subscriptions();
      return azureCall("list the Azure regions", async () => {
        const found: Array<{ name: string; displayName: string }> = [];
        for await (const l of client.subscriptions.listLocations(subscriptionId)) {
          if (l.type !== undefined && l.type !== "Region") continue;
          if (l.name) found.push({ name: l.name, displayName: l.displayName ?? l.name });
        }
        return found;
      });
    },

    async getResourceGroup(name: string): Promise<{ name: string; location: string } | undefined> {
      const client = await resources();
      const group = await azureGet(`read the resource group '${name}'`, () => client.resourceGroups.get(name));
      return group ? { name: group.name ?? name, location: group.location } : undefined;
    },

    async createResourceGroup(name: string, location: string, tags: Record<string, string>): Promise<{ name: string; location: string }> {
      const client = await resources();
      const group = await azureCall(`create the resource group '${name}'`, () =>
        client.resourceGroups.createOrUpdate(name, { location, tags }),
      );
      return { name: group.name ?? name, location: group.location };
    },

    async isProviderRegistered(namespace: string): Promise<boolean> {
      const client = await resources();
      const provider = await azureCall(`read the registration of the resource provider ${namespace}`, () =>
        client.providers.get(namespace),
      );
      return provider.registrationState?.toLowerCase() === "registered";
    },

    async getSubnet(subnetId: string): Promise<SubnetInfo | undefined> {
      const ref = parseSubnetId(subnetId);
      const client = await networkFor(ref.subscriptionId);
      const subnet = await azureGet(`read the subnet '${ref.virtualNetwork}/${ref.subnet}'`, () =>
        client.subnets.get(ref.resourceGroup, ref.virtualNetwork, ref.subnet),
      );
      return subnet ? toSubnetInfo(subnet, subnetId) : undefined;
    },

    async addKeyVaultServiceEndpoint(subnetId: string): Promise<SubnetInfo> {
      const ref = parseSubnetId(subnetId);
      const client = await networkFor(ref.subscriptionId);
      const what = `add the ${KEY_VAULT_SERVICE} service endpoint to the subnet '${ref.virtualNetwork}/${ref.subnet}'`;
      const current = await azureCall(what, () => client.subnets.get(ref.resourceGroup, ref.virtualNetwork, ref.subnet));
      if (hasKeyVaultEndpoint(current)) return toSubnetInfo(current, subnetId);
      // A subnet PUT replaces the subnet: send it back whole, with the endpoints it had plus ours.
      const updated: Subnet = {
        ...current,
        serviceEndpoints: [
          ...(current.serviceEndpoints ?? []).map((e) => ({ service: e.service, ...(e.locations ? { locations: e.locations } : {}) })),
          { service: KEY_VAULT_SERVICE },
        ],
      };
      const result = await azureCall(what, () =>
        client.subnets.beginCreateOrUpdateAndWait(ref.resourceGroup, ref.virtualNetwork, ref.subnet, updated, {
          updateIntervalInMs: ctx.pollIntervalMs,
        }),
      );
      return toSubnetInfo(result, subnetId);
    },

    async ensureKeyVaultSubnet(params) {
      const subscriptionId = await ctx.subscriptionId();
      const vnetId = `/subscriptions/${subscriptionId}/resourceGroups/${params.resourceGroup}/providers/Microsoft.Network/virtualNetworks/${params.virtualNetwork}`;
      const subnetId = `${vnetId}/subnets/${params.subnet}`;
      const existing = await adapter.getSubnet(subnetId);
      if (existing) return { ...(await adapter.addKeyVaultServiceEndpoint(subnetId)), createdVirtualNetwork: false, createdSubnet: false };
      const client = await networkFor(subscriptionId);
      const subnetBody = { addressPrefix: params.subnetPrefix, serviceEndpoints: [{ service: KEY_VAULT_SERVICE }] };
      const vnet = await azureGet(`read the virtual network '${params.virtualNetwork}'`, () => client.virtualNetworks.get(params.resourceGroup, params.virtualNetwork));
      if (vnet) {
        // A PUT of the virtual network would replace its subnets; add ours on its own.
        const created = await azureCall(`create the subnet '${params.virtualNetwork}/${params.subnet}'`, () =>
          client.subnets.beginCreateOrUpdateAndWait(params.resourceGroup, params.virtualNetwork, params.subnet, subnetBody, { updateIntervalInMs: ctx.pollIntervalMs }),
        );
        return { ...toSubnetInfo(created, subnetId), createdVirtualNetwork: false, createdSubnet: true };
      }
      await azureCall(`create the virtual network '${params.virtualNetwork}'`, () =>
        client.virtualNetworks.beginCreateOrUpdateAndWait(
          params.resourceGroup,
          params.virtualNetwork,
          { location: params.location, tags: params.tags, addressSpace: { addressPrefixes: [params.addressPrefix] }, subnets: [{ name: params.subnet, ...subnetBody }] },
          { updateIntervalInMs: ctx.pollIntervalMs },
        ),
      );
      const subnet = await azureCall(`read the subnet '${params.virtualNetwork}/${params.subnet}'`, () => client.subnets.get(params.resourceGroup, params.virtualNetwork, params.subnet));
      return { ...toSubnetInfo(subnet, subnetId), createdVirtualNetwork: true, createdSubnet: true };
    },
  };
  return adapter;
}
