/**
 * What the steps need from Azure, named after the need, with no SDK type in sight. The implementations
 * (src/azure/*-adapter.ts) are the only modules that import the Azure SDKs, and they load them lazily.
 * Every failure surfaces as an AkvError whose `code` is Azure's own error code (e.g. "VaultAlreadyExists",
 * "RoleAssignmentExists", "ForbiddenByFirewall", "AADSTS700027") and whose details carry
 * { status, azureCode, innerCode, azureMessage, ... } — see src/azure/errors.ts.
 */

export interface CloudProfile {
  name: string; // "AzureCloud", "AzureUSGovernment", "AzureChinaCloud" or "custom"
  authorityHost: string;
  armEndpoint: string; // no trailing slash
  /** Token audience for ARM; public cloud: https://management.azure.com */
  armAudience: string;
  graphEndpoint: string; // no trailing slash, without /v1.0
  keyVaultDnsSuffix: string; // ".vault.azure.net"; informative for custom clouds
  keyVaultAudience: string; // "https://vault.azure.net"
  /** Custom clouds only (the sandbox, Azure Stack): never for the public clouds. */
  disableInstanceDiscovery: boolean;
  disableChallengeResourceVerification: boolean;
  /** Extra CA to trust (PEM), e.g. the sandbox's. */
  caPem?: string;
}

export interface SignedInIdentity {
  tenantId: string;
  tenantName?: string;
  subscriptionId: string;
  subscriptionName: string;
  principalObjectId: string;
  principalName: string;
  principalType: "User" | "ServicePrincipal";
  authMethod: string;
}

export interface NetworkRules {
  defaultAction: "Allow" | "Deny";
  bypass: "AzureServices" | "None";
  /** CIDR form, as Key Vault stores them ("a.b.c.d/32"). */
  ipRules: string[];
  /** Subnet resource ids (lower-cased by Azure). */
  virtualNetworkRules: string[];
}

export interface VaultInfo {
  id: string;
  name: string;
  resourceGroup: string;
  location: string;
  /** As ARM returns it (with a trailing slash). */
  vaultUri: string;
  tenantId: string;
  enableRbacAuthorization: boolean;
  enableSoftDelete: boolean;
  enablePurgeProtection: boolean;
  softDeleteRetentionInDays: number;
  publicNetworkAccess: string;
  networkAcls: NetworkRules;
  provisioningState: string;
  tags: Record<string, string>;
}

export interface DeletedVaultInfo {
  name: string;
  location: string;
  vaultId: string;
  deletionDate?: string;
  scheduledPurgeDate?: string;
  purgeProtectionEnabled: boolean;
  /** True when the deleted vault was in the signed-in subscription (so it can be recovered here). */
  inThisSubscription: boolean;
}

export interface NameAvailability {
  available: boolean;
  reason?: string;
  message?: string;
}

export interface CreateVaultParams {
  resourceGroup: string;
  name: string;
  location: string;
  tenantId: string;
  purgeProtection: boolean;
  networkAcls: NetworkRules;
  tags: Record<string, string>;
  /** createMode "recover": bring back a soft-deleted vault of this name. */
  recover?: boolean;
}

export interface KeyVaultManagement {
  checkNameAvailability(name: string): Promise<NameAvailability>;
  getVault(resourceGroup: string, name: string): Promise<VaultInfo | undefined>;
  /** A vault of that name anywhere in the subscription. */
  findVault(name: string): Promise<VaultInfo | undefined>;
  findDeletedVault(name: string): Promise<DeletedVaultInfo | undefined>;
  createVault(params: CreateVaultParams): Promise<VaultInfo>;
  updateVault(resourceGroup: string, name: string, patch: { networkAcls?: NetworkRules; enableRbacAuthorization?: boolean }): Promise<VaultInfo>;
  deleteVault(resourceGroup: string, name: string): Promise<void>;
  purgeDeletedVault(name: string, location: string): Promise<void>;
}

export interface SubscriptionInfo {
  id: string;
  name: string;
  tenantId: string;
  state: string;
}

export interface SubnetInfo {
  id: string;
  serviceEndpoints: string[];
}

export interface ResourceManagement {
  listSubscriptions(): Promise<SubscriptionInfo[]>;
  listLocations(): Promise<Array<{ name: string; displayName: string }>>;
  getResourceGroup(name: string): Promise<{ name: string; location: string } | undefined>;
  createResourceGroup(name: string, location: string, tags: Record<string, string>): Promise<{ name: string; location: string }>;
  isProviderRegistered(namespace: string): Promise<boolean>;
  getSubnet(subnetId: string): Promise<SubnetInfo | undefined>;
  /** Adds the Microsoft.KeyVault service endpoint, keeping the others. */
  addKeyVaultServiceEndpoint(subnetId: string): Promise<SubnetInfo>;
  /**
   * A subnet with the Microsoft.KeyVault service endpoint: created in an existing virtual network (whose other
   * subnets are left alone), or with a new virtual network around it; an existing subnet only gets the endpoint.
   */
  ensureKeyVaultSubnet(params: {
    resourceGroup: string;
    virtualNetwork: string;
    location: string;
    addressPrefix: string;
    subnet: string;
    subnetPrefix: string;
    tags: Record<string, string>;
  }): Promise<SubnetInfo & { createdVirtualNetwork: boolean; createdSubnet: boolean }>;
}

export interface RoleDefinitionInfo {
  /** Full id as ARM returns it. */
  id: string;
  /** The GUID. */
  name: string;
  roleName: string;
  actions: string[];
  dataActions: string[];
}

export interface RoleAssignmentInfo {
  id: string;
  name: string;
  scope: string;
  roleDefinitionId: string;
  principalId: string;
  principalType?: string;
}

export interface PermissionSet {
  actions: string[];
  notActions: string[];
  dataActions: string[];
  notDataActions: string[];
}

export interface RoleManagement {
  getRoleDefinition(scope: string, roleDefinitionGuid: string): Promise<RoleDefinitionInfo | undefined>;
  findRoleDefinitionByName(scope: string, roleName: string): Promise<RoleDefinitionInfo | undefined>;
  getRoleAssignment(scope: string, assignmentName: string): Promise<RoleAssignmentInfo | undefined>;
  /** Assignments at the scope (and inherited), optionally for one principal. */
  listRoleAssignments(scope: string, principalId?: string): Promise<RoleAssignmentInfo[]>;
  createRoleAssignment(params: {
    scope: string;
    name: string;
    roleDefinitionId: string;
    principalId: string;
    principalType: "ServicePrincipal" | "User" | "Group";
    description?: string;
  }): Promise<RoleAssignmentInfo>;
  deleteRoleAssignment(assignmentId: string): Promise<void>;
  /** The caller's effective permissions at a scope (read-only; no trial writes). */
  permissionsAt(scope: string): Promise<PermissionSet[]>;
}

export interface KeyCredentialInfo {
  keyId?: string;
  type: string;
  usage: string;
  /** Base64 DER of the certificate; only present when read with $select=keyCredentials. */
  key?: string | null;
  displayName?: string;
  startDateTime?: string;
  endDateTime?: string;
  /** Base64 as Graph stores it. */
  customKeyIdentifier?: string | null;
}

export interface ApplicationInfo {
  /** Object id (used in /applications/{id}). */
  id: string;
  /** Application (client) id. */
  appId: string;
  displayName: string;
  signInAudience: string;
  tags: string[];
  notes?: string | null;
  keyCredentials: KeyCredentialInfo[];
}

export interface ServicePrincipalInfo {
  id: string;
  appId: string;
  displayName: string;
}

export interface Directory {
  organization(): Promise<{ id: string; displayName: string }>;
  findApplicationsByDisplayName(displayName: string): Promise<ApplicationInfo[]>;
  findApplicationsByTag(tag: string): Promise<ApplicationInfo[]>;
  getApplicationByAppId(appId: string): Promise<ApplicationInfo | undefined>;
  /** By object id, with keyCredentials including their `key`. */
  getApplication(objectId: string): Promise<ApplicationInfo | undefined>;
  createApplication(params: { displayName: string; tags: string[]; notes?: string }): Promise<ApplicationInfo>;
  /** Replaces the whole collection, exactly as Graph does: pass every credential to keep. */
  setKeyCredentials(objectId: string, credentials: KeyCredentialInfo[]): Promise<void>;
  findServicePrincipal(appId: string): Promise<ServicePrincipalInfo | undefined>;
  createServicePrincipal(appId: string, tags: string[]): Promise<ServicePrincipalInfo>;
  deleteServicePrincipal(objectId: string): Promise<void>;
  deleteApplication(objectId: string): Promise<void>;
}

export interface SecretProperties {
  name: string;
  createdOn?: string;
  updatedOn?: string;
  contentType?: string;
  tags: Record<string, string>;
  enabled: boolean;
}

export interface VaultSecrets {
  setSecret(name: string, value: string, tags?: Record<string, string>): Promise<{ name: string; version: string }>;
  getSecret(name: string): Promise<{ value: string; version: string } | undefined>;
  /** Soft delete (without waiting for it unless `wait`), then purge when `purge` (and allowed). */
  deleteSecret(name: string, options?: { purge?: boolean; wait?: boolean }): Promise<void>;
  listSecretProperties(): Promise<SecretProperties[]>;
}

export interface ServicePrincipalSignIn {
  vaultUrl: string;
  tenantId: string;
  clientId: string;
  /** PEM holding the private key and the certificate (as @azure/identity wants it). Never logged. */
  certificatePem: string;
}

export interface SecretsAccess {
  /** A data-plane client that signs in as the service principal with its certificate. */
  asServicePrincipal(signIn: ServicePrincipalSignIn): VaultSecrets;
  /** Sign in as the service principal and return the token's claims (proves the certificate is accepted). */
  signInAsServicePrincipal(signIn: Omit<ServicePrincipalSignIn, "vaultUrl">): Promise<{ oid?: string; appid?: string; tid?: string }>;
  /** Milliseconds the local clock is ahead of the server's Date header (negative: behind). */
  clockSkewMs(url: string): Promise<number | undefined>;
}

export interface AzureServices {
  readonly cloud: CloudProfile;
  /** Signs in (once) and resolves the subscription; every later call reuses it. */
  identity(): Promise<SignedInIdentity>;
  readonly keyVault: KeyVaultManagement;
  readonly resources: ResourceManagement;
  readonly roles: RoleManagement;
  readonly directory: Directory;
  readonly secrets: SecretsAccess;
}
