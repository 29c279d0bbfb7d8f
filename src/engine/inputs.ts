import type { StepId } from "../state/step-ids.js";
import {
  DURATION_RULE,
  parseDurationMs,
  parseIpv4Rule,
  validateAppName,
  validateGuid,
  validateIntegerInRange,
  validateLocation,
  validateOneOf,
  validateResourceGroupName,
  validateRole,
  validateSubnetId,
  validateVaultName,
  validatePublicIpRule,
  type Validator,
} from "./validators.js";
import type { Choice } from "../ui/prompter.js";

export type InputKind = "string" | "integer" | "boolean" | "list";

/** Everything a prompt may need to offer good choices; reads only. */
export interface PromptHelpers {
  listLocations?(): Promise<Choice[]>;
  listResourceGroups?(): Promise<Choice[]>;
  listSubscriptions?(): Promise<Choice[]>;
  checkVaultName?(name: string): Promise<string | undefined>;
  value(key: InputKey): unknown;
}

export interface InputSpec {
  key: InputKey;
  /** Long flag without dashes, e.g. "vault-name". */
  flag: string;
  /** AKV_CRASHPLAN_* variable (and any standard Azure variable that also supplies it). */
  env: string[];
  kind: InputKind;
  description: string;
  /** Steps that need it; the engine resolves the inputs of every step it is about to run. */
  neededBy: StepId[];
  required: boolean;
  default?: string | number | boolean | string[] | ((helpers: PromptHelpers) => unknown);
  /** Returns the rule broken, or undefined. Applied to each element of a list. */
  validate?: Validator;
  prompt?: {
    kind: "input" | "select" | "confirm" | "list";
    message: string;
    choices?: (helpers: PromptHelpers) => Promise<Choice[]> | undefined;
    asyncValidate?: (value: string, helpers: PromptHelpers) => Promise<string | undefined>;
  };
  /** Remembered in state.answers (all inputs are non-secret; secrets never pass through here). */
  remember: boolean;
}

export const INPUT_KEYS = [
  "subscription",
  "tenant",
  "resourceGroup",
  "location",
  "vaultName",
  "purgeProtection",
  "subnetId",
  "switchToRbac",
  "createVnet",
  "vnetAddressPrefix",
  "subnetName",
  "subnetPrefix",
  "appName",
  "adoptAppId",
  "crashplanIps",
  "crashplanIpsFile",
  "crashplanIpsSource",
  "allowMyIp",
  "keepMyIp",
  "replaceRules",
  "keySize",
  "days",
  "subject",
  "role",
  "pfxCipher",
  "pfxOut",
  "wait",
  "crashplanCloud",
] as const;
export type InputKey = (typeof INPUT_KEYS)[number];

const validatePublicRule: Validator = validatePublicIpRule;

const validateIpRule: Validator = (value) => {
  const parsed = parseIpv4Rule(value);
  return "error" in parsed ? parsed.error : undefined;
};

export const CRASHPLAN_CLOUDS: Record<string, string> = {
  us: "https://console.us1.crashplan.com",
  "us2": "https://console.us2.crashplan.com",
  eu: "https://console.eu5.crashplan.com",
  au: "https://console.au1.crashplan.com",
};

const env = (name: string, ...more: string[]) => [`AKV_CRASHPLAN_${name}`, ...more];

export const INPUTS: Record<InputKey, InputSpec> = {
  subscription: {
    key: "subscription", flag: "subscription", env: env("SUBSCRIPTION", "AZURE_SUBSCRIPTION_ID"), kind: "string",
    description: "Subscription id or name to create the vault in", neededBy: [], required: false, remember: false,
    prompt: { kind: "select", message: "Subscription", choices: (h) => h.listSubscriptions?.() },
  },
  tenant: {
    key: "tenant", flag: "tenant", env: env("TENANT", "AZURE_TENANT_ID"), kind: "string",
    description: "Entra tenant id to sign in to", neededBy: [], required: false, validate: validateGuid, remember: false,
  },
  resourceGroup: {
    key: "resourceGroup", flag: "resource-group", env: env("RESOURCE_GROUP"), kind: "string",
    description: "Resource group for the vault (created if missing)", neededBy: ["vault"], required: true,
    validate: validateResourceGroupName, remember: true, default: "rg-crashplan-keystore",
    prompt: { kind: "input", message: "Resource group (an existing one, or a new name to create)" },
  },
  location: {
    key: "location", flag: "location", env: env("LOCATION"), kind: "string",
    description: "Azure region of the vault, e.g. eastus", neededBy: ["vault"], required: true, validate: validateLocation, remember: true,
    prompt: { kind: "select", message: "Region for the vault", choices: (h) => h.listLocations?.() },
  },
  vaultName: {
    key: "vaultName", flag: "vault-name", env: env("VAULT_NAME"), kind: "string",
    description: "Key Vault name (globally unique; becomes https://<name>.vault.azure.net)", neededBy: ["vault"], required: true,
    validate: validateVaultName, remember: true,
    default: () => `kv-crashplan-${Math.random().toString(36).slice(2, 8)}`,
    prompt: { kind: "input", message: "Key Vault name", asyncValidate: (name, h) => h.checkVaultName?.(name) ?? Promise.resolve(undefined) },
  },
  purgeProtection: {
    key: "purgeProtection", flag: "purge-protection", env: env("PURGE_PROTECTION"), kind: "boolean",
    description: "Purge protection on the vault (default on; --no-purge-protection warns)", neededBy: ["vault"], required: false, default: true, remember: true,
  },
  subnetId: {
    key: "subnetId", flag: "subnet-id", env: env("SUBNET_ID"), kind: "string",
    description: "Optional subnet resource id for a virtual-network rule (needs the Microsoft.KeyVault service endpoint)", neededBy: ["vault"], required: false,
    validate: validateSubnetId, remember: true,
  },
  createVnet: {
    key: "createVnet", flag: "create-vnet", env: env("CREATE_VNET"), kind: "string",
    description: "Name of a virtual network (in the vault's resource group) to create or reuse for a virtual-network rule, instead of --subnet-id",
    neededBy: ["vault"], required: false, remember: true,
    validate: (v) => (/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}[A-Za-z0-9_]$/.test(v) ? undefined : "2–64 characters: letters, digits, underscores, periods and hyphens; starts with a letter or digit"),
  },
  vnetAddressPrefix: {
    key: "vnetAddressPrefix", flag: "vnet-address-prefix", env: env("VNET_ADDRESS_PREFIX"), kind: "string",
    description: "Address space of a new virtual network", neededBy: ["vault"], required: false, default: "10.42.0.0/16", validate: validateIpRule, remember: true,
  },
  subnetName: {
    key: "subnetName", flag: "subnet-name", env: env("SUBNET_NAME"), kind: "string",
    description: "Subnet (in --create-vnet) that gets the Microsoft.KeyVault service endpoint", neededBy: ["vault"], required: false, default: "snet-keyvault",
    validate: (v) => (/^[A-Za-z0-9][A-Za-z0-9_.-]{0,78}[A-Za-z0-9_]$/.test(v) ? undefined : "2–80 characters: letters, digits, underscores, periods and hyphens"), remember: true,
  },
  subnetPrefix: {
    key: "subnetPrefix", flag: "subnet-prefix", env: env("SUBNET_PREFIX"), kind: "string",
    description: "Address range of that subnet (inside the virtual network's)", neededBy: ["vault"], required: false, default: "10.42.0.0/24", validate: validateIpRule, remember: true,
  },
  switchToRbac: {
    key: "switchToRbac", flag: "switch-to-rbac", env: env("SWITCH_TO_RBAC"), kind: "boolean",
    description: "Allow switching an adopted access-policy vault to RBAC (changes who can read it)", neededBy: ["vault"], required: false, default: false, remember: false,
  },
  appName: {
    key: "appName", flag: "app-name", env: env("APP_NAME"), kind: "string",
    description: "Display name of the app registration", neededBy: ["app"], required: true, default: "key-vault-crashplan",
    validate: validateAppName, remember: true, prompt: { kind: "input", message: "App registration name" },
  },
  adoptAppId: {
    key: "adoptAppId", flag: "adopt-app-id", env: env("ADOPT_APP_ID"), kind: "string",
    description: "Adopt an existing app registration by its application (client) id", neededBy: ["app"], required: false, validate: validateGuid, remember: true,
  },
  crashplanIps: {
    key: "crashplanIps", flag: "crashplan-ip", env: env("CRASHPLAN_IPS"), kind: "list",
    description: "CrashPlan service address or CIDR for the vault firewall (repeatable; env: comma-separated)", neededBy: ["firewall"], required: false,
    validate: validatePublicRule, remember: true,
    prompt: { kind: "list", message: "CrashPlan service addresses (IPv4 or CIDR, separated by commas or spaces; from CrashPlan's published list)" },
  },
  crashplanIpsFile: {
    key: "crashplanIpsFile", flag: "crashplan-ips-file", env: env("CRASHPLAN_IPS_FILE"), kind: "string",
    description: "File with one CrashPlan address or CIDR per line (# comments)", neededBy: ["firewall"], required: false, remember: false,
  },
  crashplanIpsSource: {
    key: "crashplanIpsSource", flag: "crashplan-ips-source", env: env("CRASHPLAN_IPS_SOURCE"), kind: "string",
    description: "Where the CrashPlan addresses came from (document and date), recorded in state", neededBy: ["firewall"], required: false, remember: true,
    prompt: { kind: "input", message: "Where do these addresses come from (document and date)?" },
  },
  allowMyIp: {
    key: "allowMyIp", flag: "allow-my-ip", env: env("ALLOW_MY_IP"), kind: "string",
    description: "This machine's public IPv4 address, allowed temporarily while validating", neededBy: ["firewall", "validate", "migrate"], required: false,
    validate: validatePublicRule, remember: false,
  },
  keepMyIp: {
    key: "keepMyIp", flag: "keep-my-ip", env: env("KEEP_MY_IP"), kind: "boolean",
    description: "Keep the temporary rule for this machine after validation", neededBy: ["validate", "migrate"], required: false, default: false, remember: false,
  },
  replaceRules: {
    key: "replaceRules", flag: "replace", env: env("REPLACE_RULES"), kind: "boolean",
    description: "Replace the vault's IP rules instead of merging with them", neededBy: ["firewall"], required: false, default: false, remember: false,
  },
  keySize: {
    key: "keySize", flag: "key-size", env: env("KEY_SIZE"), kind: "integer",
    description: "RSA key size: 2048, 3072 or 4096", neededBy: ["cert"], required: true, default: 4096,
    validate: validateOneOf(["2048", "3072", "4096"]), remember: true,
  },
  days: {
    key: "days", flag: "days", env: env("DAYS"), kind: "integer",
    description: "Certificate validity in days (1–3650)", neededBy: ["cert"], required: true, default: 365,
    validate: validateIntegerInRange(1, 3650), remember: true,
  },
  subject: {
    key: "subject", flag: "subject", env: env("SUBJECT"), kind: "string",
    description: "Certificate subject CN (default: the app name)", neededBy: ["cert"], required: false, validate: validateAppName, remember: true,
  },
  role: {
    key: "role", flag: "role", env: env("ROLE"), kind: "string",
    description: "Role for the service principal on the vault: \"Key Vault Secrets Officer\" (default) or \"Key Vault Administrator\"",
    neededBy: ["grant"], required: true, default: "Key Vault Secrets Officer", validate: validateRole, remember: true,
  },
  pfxCipher: {
    key: "pfxCipher", flag: "pfx-cipher", env: env("PFX_CIPHER"), kind: "string",
    description: "PFX encryption: 3des (default; readable by every Java release incl. Java 8) or aes256 (OpenSSL 3 default; Java 8u301+/11.0.12+)",
    neededBy: ["pfx"], required: true, default: "3des", validate: validateOneOf(["3des", "aes256"]), remember: true,
    prompt: {
      kind: "select",
      message: "PFX encryption",
      choices: async () => [
        { value: "3des", name: "3DES (recommended)", description: "Readable by every Java release CrashPlan may run, including old Java 8" },
        { value: "aes256", name: "AES-256", description: "Stronger; needs Java 8u301+ or 11.0.12+ on CrashPlan's side" },
      ],
    },
  },
  pfxOut: {
    key: "pfxOut", flag: "out", env: env("PFX_OUT"), kind: "string",
    description: "Where to write the PFX (default <workdir>/service-principal.pfx)", neededBy: ["pfx"], required: false, remember: true,
  },
  wait: {
    key: "wait", flag: "wait", env: env("WAIT"), kind: "string",
    description: "How long to wait for role propagation during validation", neededBy: ["validate"], required: false, default: "10m",
    validate: (v) => (parseDurationMs(v) === undefined ? DURATION_RULE : undefined), remember: false,
  },
  crashplanCloud: {
    key: "crashplanCloud", flag: "crashplan-cloud", env: env("CRASHPLAN_CLOUD"), kind: "string",
    description: `CrashPlan console: ${Object.keys(CRASHPLAN_CLOUDS).join(", ")} or a https URL`, neededBy: ["migrate"], required: false, default: "us",
    prompt: {
      kind: "select",
      message: "Which CrashPlan console do you use?",
      choices: async () => Object.entries(CRASHPLAN_CLOUDS).map(([value, url]) => ({ value, name: `${value.toUpperCase()} (${url})` })),
    },
    validate: (v) => (v in CRASHPLAN_CLOUDS || /^https:\/\/[^\s/]+/.test(v) ? undefined : `one of ${Object.keys(CRASHPLAN_CLOUDS).join(", ")} or a https:// URL`),
    remember: true,
  },
};

export function envNameFor(key: InputKey): string {
  return INPUTS[key].env[0]!;
}
