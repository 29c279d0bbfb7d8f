/** KeyVaultManagement over @azure/arm-keyvault 5 (the TypeSpec "modular" client, api-version 2026-02-01). */
import type { DeletedVault, KeyVaultManagementClient, NetworkRuleSet, Vault } from "@azure/arm-keyvault";
import { type AdapterContext, lazyBy, modularArmOptions, parseResourceId } from "./context.js";
import { azureCall, azureGet } from "./errors.js";
import type {
  CreateVaultParams,
  DeletedVaultInfo,
  KeyVaultManagement,
  NameAvailability,
  NetworkRules,
  VaultInfo,
} from "./services.js";

export function toNetworkRuleSet(rules: NetworkRules): NetworkRuleSet {
  return {
    defaultAction: rules.defaultAction,
    bypass: rules.bypass,
    ipRules: rules.ipRules.map((value) => ({ value })),
    virtualNetworkRules: rules.virtualNetworkRules.map((id) => ({ id, ignoreMissingVnetServiceEndpoint: false })),
  };
}

export function fromNetworkRuleSet(acls: NetworkRuleSet | undefined): NetworkRules {
  // A vault without networkAcls is open to every network (Azure's default).
  return {
    defaultAction: acls?.defaultAction === "Deny" ? "Deny" : "Allow",
    bypass: acls?.bypass === "None" ? "None" : "AzureServices",
    ipRules: (acls?.ipRules ?? []).map((r) => r.value),
    virtualNetworkRules: (acls?.virtualNetworkRules ?? []).map((r) => r.id),
  };
}

export function toVaultInfo(vault: Vault): VaultInfo {
  const p = vault.properties;
  const id = vault.id ?? "";
  return {
    id,
    name: vault.name ?? "",
    resourceGroup: parseResourceId(id)?.resourceGroup ?? "",
    location: vault.location ?? "",
    vaultUri: p.vaultUri ?? "",
    tenantId: p.tenantId,
    // Unset on vaults created with old api-versions: those use access policies.
    enableRbacAuthorization: p.enableRbacAuthorization === true,
    enableSoftDelete: p.enableSoftDelete !== false,
    enablePurgeProtection: p.enablePurgeProtection === true,
    softDeleteRetentionInDays: p.softDeleteRetentionInDays ?? 90,
    publicNetworkAccess: p.publicNetworkAccess ?? "Enabled",
    networkAcls: fromNetworkRuleSet(p.networkAcls),
    provisioningState: p.provisioningState ?? "Succeeded",
    tags: { ...(vault.tags ?? {}) },
  };
}

function toDeletedVaultInfo(deleted: DeletedVault, subscriptionId: string): DeletedVaultInfo {
  const p = deleted.properties ?? {};
  const vaultId = p.vaultId ?? "";
  const info: DeletedVaultInfo = {
    name: deleted.name ?? "",
    location: p.location ?? "",
    vaultId,
    purgeProtectionEnabled: p.purgeProtectionEnabled === true,
    inThisSubscription: parseResourceId(vaultId)?.subscriptionId.toLowerCase() === subscriptionId.toLowerCase(),
  };
  if (p.deletionDate) info.deletionDate = p.deletionDate.toISOString();
  if (p.scheduledPurgeDate) info.scheduledPurgeDate = p.scheduledPurgeDate.toISOString();
  return info;
}

export function createKeyVaultAdapter(ctx: AdapterContext): KeyVaultManagement {
  const clientFor = lazyBy(async (subscriptionId: string): Promise<KeyVaultManagementClient> => {
    const { KeyVaultManagementClient } = await import("@azure/arm-keyvault");
    return new KeyVaultManagementClient(ctx.credential, subscriptionId, modularArmOptions(ctx));
  });
  const client = async (): Promise<{ client: KeyVaultManagementClient; subscriptionId: string }> => {
    const subscriptionId = await ctx.subscriptionId();
    return { client: await clientFor(subscriptionId), subscriptionId };
  };
  const poll = { updateIntervalInMs: ctx.pollIntervalMs };

  return {
    async checkNameAvailability(name: string): Promise<NameAvailability> {
      const { client: kv } = await client();
      const result = await azureCall(`check whether the vault name '${name}' is available`, () =>
        kv.vaults.checkNameAvailability({ name, type: "Microsoft.KeyVault/vaults" }),
      );
      const answer: NameAvailability = { available: result.nameAvailable === true };
      if (result.reason) answer.reason = result.reason;
      if (result.message) answer.message = result.message;
      return answer;
    },

    async getVault(resourceGroup: string, name: string): Promise<VaultInfo | undefined> {
      const { client: kv } = await client();
      const vault = await azureGet(`read the Key Vault '${name}'`, () => kv.vaults.get(resourceGroup, name));
      return vault ? toVaultInfo(vault) : undefined;
    },

    async findVault(name: string): Promise<VaultInfo | undefined> {
      const { client: kv } = await client();
      const wanted = name.toLowerCase();
      return azureCall(`look for the Key Vault '${name}' in the subscription`, async () => {
        for await (const vault of kv.vaults.listBySubscription()) {
          if (vault.name?.toLowerCase() === wanted) return toVaultInfo(vault);
        }
        return undefined;
      });
    },

    async findDeletedVault(name: string): Promise<DeletedVaultInfo | undefined> {
      const { client: kv, subscriptionId } = await client();
      const wanted = name.toLowerCase();
      const listed = await azureCall(`look for a soft-deleted vault named '${name}'`, async () => {
        for await (const deleted of kv.vaults.listDeleted()) {
          if (deleted.name?.toLowerCase() === wanted) return deleted;
        }
        return undefined;
      });
      if (!listed) return undefined;
      const location = listed.properties?.location;
      // The list may lag; the item read by its location is authoritative.
      const fresh = location
        ? await azureGet(`read the soft-deleted vault '${name}'`, () => kv.vaults.getDeleted(listed.name ?? name, location))
        : undefined;
      return toDeletedVaultInfo(fresh ?? listed, subscriptionId);
    },

    async createVault(params: CreateVaultParams): Promise<VaultInfo> {
      const { client: kv } = await client();
      const vault = await azureCall(
        params.recover ? `recover the Key Vault '${params.name}'` : `create the Key Vault '${params.name}'`,
        () =>
          kv.vaults.beginCreateOrUpdateAndWait(
            params.resourceGroup,
            params.name,
            {
              location: params.location,
              tags: params.tags,
              properties: {
                tenantId: params.tenantId,
                sku: { family: "A", name: "standard" },
                enableRbacAuthorization: true,
                enableSoftDelete: true,
                // Purge protection can only be turned on (and never off): omit it rather than send false.
                ...(params.purgeProtection ? { enablePurgeProtection: true } : {}),
                publicNetworkAccess: "Enabled",
                networkAcls: toNetworkRuleSet(params.networkAcls),
                ...(params.recover ? { createMode: "recover" } : {}),
              },
            },
            poll,
          ),
      );
      return toVaultInfo(vault);
    },

    async updateVault(resourceGroup, name, patch): Promise<VaultInfo> {
      if (patch.networkAcls === undefined && patch.enableRbacAuthorization === undefined) {
        throw new Error("updateVault called with nothing to change");
      }
      const { client: kv } = await client();
      const vault = await azureCall(`update the Key Vault '${name}'`, () =>
        kv.vaults.update(resourceGroup, name, {
          properties: {
            ...(patch.networkAcls ? { networkAcls: toNetworkRuleSet(patch.networkAcls) } : {}),
            ...(patch.enableRbacAuthorization === undefined ? {} : { enableRbacAuthorization: patch.enableRbacAuthorization }),
          },
        }),
      );
      return toVaultInfo(vault);
    },

    async deleteVault(resourceGroup: string, name: string): Promise<void> {
      const { client: kv } = await client();
      await azureCall(`delete the Key Vault '${name}'`, () => kv.vaults.delete(resourceGroup, name));
    },

    async purgeDeletedVault(name: string, location: string): Promise<void> {
      const { client: kv } = await client();
      await azureCall(`purge the soft-deleted vault '${name}'`, () => kv.vaults.beginPurgeDeletedAndWait(name, location, poll));
    },
  };
}
