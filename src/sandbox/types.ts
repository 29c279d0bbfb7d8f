/**
 * Public contract of the sandbox (what the CLI and tests code against) and the shapes of its persisted store.
 * Kept free of runtime code so every other sandbox module can import it with `import type`.
 */

export type SandboxService = "entra" | "arm" | "graph" | "keyvault";

export interface SandboxFault {
  service?: SandboxService;
  method?: string;
  /** Regular-expression source, tested against the request path (with its query string). */
  pathPattern?: string;
  status?: number;
  retryAfterSeconds?: number;
  /** How many matching requests this fault answers; default 1. */
  times?: number;
  resetConnection?: boolean;
}

export interface SandboxConfig {
  replicationDelayMs?: number;
  rbacPropagationDelayMs?: number;
  clientIp?: string;
  latencyMs?: number;
  faults?: SandboxFault[];
  crashAfterRequest?: number;
}

export interface SandboxCloud {
  authorityHost: string;
  armEndpoint: string;
  graphEndpoint: string;
  keyVaultAudience: string;
  caCertPath: string;
}

export interface SandboxPrincipal {
  clientId: string;
  clientSecret: string;
  objectId: string;
  displayName: string;
}

export interface SandboxRequestLogEntry {
  seq: number;
  time: string;
  service: SandboxService | "admin";
  method: string;
  path: string;
  status: number;
  /** True when the request changed the sandbox's store. */
  write: boolean;
}

// ---------------------------------------------------------------------------------------------------------------
// Store records. Times are epoch milliseconds unless the field name says otherwise.

export interface PasswordCredentialRecord {
  keyId: string;
  displayName: string | null;
  secretText: string;
  hint: string;
  startDateTime: string;
  endDateTime: string;
  addedAt: number;
}

export interface KeyCredentialRecord {
  keyId: string;
  type: string;
  usage: string;
  /** Base64 DER of the certificate (public part). */
  key: string;
  displayName: string | null;
  customKeyIdentifier: string | null;
  startDateTime: string;
  endDateTime: string;
  /** Upper-case hex thumbprints of the DER, for the token endpoint. */
  sha1: string;
  sha256: string;
  addedAt: number;
}

export interface ApplicationRecord {
  id: string;
  appId: string;
  displayName: string;
  signInAudience: string;
  tags: string[];
  notes: string | null;
  description: string | null;
  identifierUris: string[];
  keyCredentials: KeyCredentialRecord[];
  passwordCredentials: PasswordCredentialRecord[];
  /** Other top-level properties a client PATCHed or POSTed that the sandbox keeps verbatim. */
  extra: Record<string, unknown>;
  owners: string[];
  createdDateTime: string;
  createdAt: number;
}

export interface ServicePrincipalRecord {
  id: string;
  appId: string;
  displayName: string;
  tags: string[];
  /** Directory right to register applications (the operator's "Application Developer"-like role). */
  canCreateApplications: boolean;
  createdDateTime: string;
  createdAt: number;
}

export interface NetworkAcls {
  bypass: string;
  defaultAction: string;
  ipRules: { value: string }[];
  virtualNetworkRules: { id: string; ignoreMissingVnetServiceEndpoint?: boolean }[];
}

export interface VaultRecord {
  id: string;
  name: string;
  subscriptionId: string;
  resourceGroup: string;
  location: string;
  tags: Record<string, string>;
  /** ARM `properties` as returned (vaultUri included). */
  properties: Record<string, unknown> & { networkAcls?: NetworkAcls };
  systemData: Record<string, string>;
  port: number;
  /** provisioningState reads RegisteringDns until this moment. */
  dnsReadyAt: number;
}

export interface DeletedVaultRecord {
  vault: VaultRecord;
  deletionDate: string;
  scheduledPurgeDate: string;
}

export interface ResourceGroupRecord {
  id: string;
  name: string;
  subscriptionId: string;
  location: string;
  tags: Record<string, string>;
}

export interface SubnetRecord {
  id: string;
  name: string;
  properties: Record<string, unknown>;
}

export interface VirtualNetworkRecord {
  id: string;
  name: string;
  subscriptionId: string;
  resourceGroup: string;
  location: string;
  tags: Record<string, string>;
  addressSpace: { addressPrefixes: string[] };
  subnets: SubnetRecord[];
}

export interface RoleAssignmentRecord {
  id: string;
  name: string;
  scope: string;
  roleDefinitionGuid: string;
  principalId: string;
  principalType: string;
  description: string | null;
  createdOn: string;
  createdBy: string;
  createdAt: number;
}

export interface SecretVersionRecord {
  version: string;
  value: string;
  contentType: string | null;
  tags: Record<string, string> | null;
  enabled: boolean;
  nbf: number | null;
  exp: number | null;
  created: number;
  updated: number;
}

export interface SecretRecord {
  name: string;
  versions: SecretVersionRecord[];
  deleted: { deletedDate: number; scheduledPurgeDate: number; visibleAt: number } | null;
}

export interface OperationRecord {
  id: string;
  kind: "purgeVault" | "network";
  status: "InProgress" | "Succeeded";
  /** Polls before this moment still see InProgress. */
  doneAt: number;
}

export interface SandboxState {
  schema: 1;
  tenant: { id: string; displayName: string; domain: string };
  subscription: { id: string; displayName: string };
  /** Names held by vaults of other tenants/subscriptions (global uniqueness). */
  foreignVaultNames: string[];
  servicePorts: { entra?: number; arm?: number; graph?: number; admin?: number };
  resourceGroups: ResourceGroupRecord[];
  vaults: VaultRecord[];
  deletedVaults: DeletedVaultRecord[];
  virtualNetworks: VirtualNetworkRecord[];
  applications: ApplicationRecord[];
  servicePrincipals: ServicePrincipalRecord[];
  roleAssignments: RoleAssignmentRecord[];
  /** Secrets per vault name (lower case); kept while the vault is soft-deleted. */
  secrets: Record<string, SecretRecord[]>;
  operations: OperationRecord[];
  operatorIds: { operator: string; limitedOperator: string };
}

/** What the admin endpoint shows: everything but the sandbox's own bookkeeping. */
export type SandboxSnapshot = Pick<
  SandboxState,
  "tenant" | "subscription" | "resourceGroups" | "vaults" | "deletedVaults" | "virtualNetworks" | "applications" | "servicePrincipals" | "roleAssignments" | "secrets"
>;

export interface SandboxHandle {
  cloud: SandboxCloud;
  tenantId: string;
  tenantDisplayName: string;
  subscriptionId: string;
  subscriptionName: string;
  resourceGroup: string;
  location: string;
  operator: SandboxPrincipal;
  limitedOperator: SandboxPrincipal;
  adminUrl: string;
  dataDir: string;
  snapshot(): SandboxSnapshot;
  requestLog(): SandboxRequestLogEntry[];
  close(): Promise<void>;
}

export interface StartSandboxOptions {
  dataDir: string;
  config?: SandboxConfig;
  listenHost?: string;
  basePort?: number;
}
