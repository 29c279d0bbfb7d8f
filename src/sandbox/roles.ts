/** Built-in Azure role definitions the product may meet, with their real GUIDs and permissions. */

export interface BuiltInRole {
  guid: string;
  roleName: string;
  description: string;
  actions: string[];
  notActions: string[];
  dataActions: string[];
  notDataActions: string[];
}

const keyVaultManagementReadActions = [
  "Microsoft.Authorization/*/read",
  "Microsoft.Insights/alertRules/*",
  "Microsoft.Resources/deployments/*",
  "Microsoft.Resources/subscriptions/resourceGroups/read",
  "Microsoft.Support/*",
  "Microsoft.KeyVault/checkNameAvailability/read",
  "Microsoft.KeyVault/deletedVaults/read",
  "Microsoft.KeyVault/locations/*/read",
  "Microsoft.KeyVault/vaults/*/read",
  "Microsoft.KeyVault/operations/read",
];

export const builtInRoles: readonly BuiltInRole[] = [
  {
    guid: "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
    roleName: "Owner",
    description: "Grants full access to manage all resources, including the ability to assign roles in Azure RBAC.",
    actions: ["*"],
    notActions: [],
    dataActions: [],
    notDataActions: [],
  },
  {
    guid: "b24988ac-6180-42a0-ab88-20f7382dd24c",
    roleName: "Contributor",
    description:
      "Grants full access to manage all resources, but does not allow you to assign roles in Azure RBAC, manage assignments in Azure Blueprints, or share image galleries.",
    actions: ["*"],
    notActions: [
      "Microsoft.Authorization/*/Delete",
      "Microsoft.Authorization/*/Write",
      "Microsoft.Authorization/elevateAccess/Action",
      "Microsoft.Blueprint/blueprintAssignments/write",
      "Microsoft.Blueprint/blueprintAssignments/delete",
      "Microsoft.Compute/galleries/share/action",
      "Microsoft.Purview/consents/write",
      "Microsoft.Purview/consents/delete",
      "Microsoft.Resources/deploymentStacks/manageDenySetting/action",
      "Microsoft.Subscription/cancel/action",
      "Microsoft.Subscription/enable/action",
    ],
    dataActions: [],
    notDataActions: [],
  },
  {
    guid: "acdd72a7-3385-48ef-bd42-f606fba81ae7",
    roleName: "Reader",
    description: "View all resources, but does not allow you to make any changes.",
    actions: ["*/read"],
    notActions: [],
    dataActions: [],
    notDataActions: [],
  },
  {
    guid: "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",
    roleName: "User Access Administrator",
    description: "Lets you manage user access to Azure resources.",
    actions: ["*/read", "Microsoft.Authorization/*", "Microsoft.Support/*"],
    notActions: [],
    dataActions: [],
    notDataActions: [],
  },
  {
    guid: "00482a5a-887f-4fb3-b363-3b7fe8e74483",
    roleName: "Key Vault Administrator",
    description:
      "Perform all data plane operations on a key vault and all objects in it, including certificates, keys, and secrets. Cannot manage key vault resources or manage role assignments. Only works for key vaults that use the 'Azure role-based access control' permission model.",
    actions: keyVaultManagementReadActions,
    notActions: [],
    dataActions: ["Microsoft.KeyVault/vaults/*"],
    notDataActions: [],
  },
  {
    guid: "21090545-7ca7-4776-b22c-e363652d74d2",
    roleName: "Key Vault Reader",
    description:
      "Read metadata of key vaults and its certificates, keys, and secrets. Cannot read sensitive values such as secret contents or key material. Only works for key vaults that use the 'Azure role-based access control' permission model.",
    actions: keyVaultManagementReadActions,
    notActions: [],
    dataActions: ["Microsoft.KeyVault/vaults/*/read", "Microsoft.KeyVault/vaults/secrets/readMetadata/action"],
    notDataActions: [],
  },
  {
    guid: "b86a8fe4-44ce-4948-aee5-eccb2c155cd7",
    roleName: "Key Vault Secrets Officer",
    description:
      "Perform any action on the secrets of a key vault, except manage permissions. Only works for key vaults that use the 'Azure role-based access control' permission model.",
    actions: keyVaultManagementReadActions,
    notActions: [],
    dataActions: ["Microsoft.KeyVault/vaults/secrets/*"],
    notDataActions: [],
  },
  {
    guid: "4633458b-17de-408a-b874-0445c86b69e6",
    roleName: "Key Vault Secrets User",
    description:
      "Read secret contents including secret portion of a certificate with private key. Only works for key vaults that use the 'Azure role-based access control' permission model.",
    actions: [],
    notActions: [],
    dataActions: ["Microsoft.KeyVault/vaults/secrets/getSecret/action", "Microsoft.KeyVault/vaults/secrets/readMetadata/action"],
    notDataActions: [],
  },
  {
    guid: "14b46e9e-c2b7-41b4-b07b-48a6ebf60603",
    roleName: "Key Vault Crypto Officer",
    description:
      "Perform any action on the keys of a key vault, except manage permissions. Only works for key vaults that use the 'Azure role-based access control' permission model.",
    actions: keyVaultManagementReadActions,
    notActions: [],
    dataActions: ["Microsoft.KeyVault/vaults/keys/*", "Microsoft.KeyVault/vaults/keyrotationpolicies/*"],
    notDataActions: [],
  },
];

export const roleGuids = {
  owner: "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
  reader: "acdd72a7-3385-48ef-bd42-f606fba81ae7",
} as const;

export function findRole(guid: string): BuiltInRole | undefined {
  const g = guid.toLowerCase();
  return builtInRoles.find((r) => r.guid === g);
}

/** Azure action wildcard match: `*` spans any characters, comparison is case-insensitive. */
export function actionMatches(pattern: string, action: string): boolean {
  const source = pattern
    .split("*")
    .map((part) => part.replace(/[.+?^${}()|[\]\\/]/g, "\\$&"))
    .join(".*");
  return new RegExp(`^${source}$`, "i").test(action);
}

export function permits(allowed: readonly string[], denied: readonly string[], action: string): boolean {
  return allowed.some((p) => actionMatches(p, action)) && !denied.some((p) => actionMatches(p, action));
}
