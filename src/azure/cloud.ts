/**
 * Cloud profiles: where each Azure service lives and which token audience it wants. The public and national clouds
 * are fixed presets; custom clouds (Azure Stack, the sandbox) come from endpoints the operator gives. Only custom
 * clouds turn off instance discovery and challenge-resource verification: on a public cloud those checks protect
 * the token, and the SDK defaults already match the real hosts.
 */
import { AkvError } from "../errors.js";
import type { CloudProfile } from "./services.js";

export type CloudName = "AzureCloud" | "AzureUSGovernment" | "AzureChinaCloud";

export const AZURE_CLOUD: CloudProfile = Object.freeze({
  name: "AzureCloud",
  authorityHost: "https://login.microsoftonline.com",
  armEndpoint: "https://management.azure.com",
  armAudience: "https://management.azure.com",
  graphEndpoint: "https://graph.microsoft.com",
  keyVaultDnsSuffix: ".vault.azure.net",
  keyVaultAudience: "https://vault.azure.net",
  disableInstanceDiscovery: false,
  disableChallengeResourceVerification: false,
});

export const AZURE_US_GOVERNMENT: CloudProfile = Object.freeze({
  name: "AzureUSGovernment",
  authorityHost: "https://login.microsoftonline.us",
  armEndpoint: "https://management.usgovcloudapi.net",
  armAudience: "https://management.usgovcloudapi.net",
  graphEndpoint: "https://graph.microsoft.us",
  keyVaultDnsSuffix: ".vault.usgovcloudapi.net",
  keyVaultAudience: "https://vault.usgovcloudapi.net",
  disableInstanceDiscovery: false,
  disableChallengeResourceVerification: false,
});

export const AZURE_CHINA_CLOUD: CloudProfile = Object.freeze({
  name: "AzureChinaCloud",
  authorityHost: "https://login.chinacloudapi.cn",
  armEndpoint: "https://management.chinacloudapi.cn",
  armAudience: "https://management.chinacloudapi.cn",
  graphEndpoint: "https://microsoftgraph.chinacloudapi.cn",
  keyVaultDnsSuffix: ".vault.azure.cn",
  keyVaultAudience: "https://vault.azure.cn",
  disableInstanceDiscovery: false,
  disableChallengeResourceVerification: false,
});

export const CLOUD_PRESETS: Readonly<Record<CloudName, CloudProfile>> = Object.freeze({
  AzureCloud: AZURE_CLOUD,
  AzureUSGovernment: AZURE_US_GOVERNMENT,
  AzureChinaCloud: AZURE_CHINA_CLOUD,
});

export function isCloudName(name: string): name is CloudName {
  return Object.hasOwn(CLOUD_PRESETS, name);
}

/** The preset for `--cloud <name>` (case-insensitive), or a usage error listing the names. */
export function cloudByName(name: string): CloudProfile {
  const match = (Object.keys(CLOUD_PRESETS) as CloudName[]).find((n) => n.toLowerCase() === name.trim().toLowerCase());
  if (!match) {
    throw AkvError.usage(`Unknown cloud "${name}".`, {
      code: "UnknownCloud",
      hint: `Use one of ${Object.keys(CLOUD_PRESETS).join(", ")}, or give custom endpoints (authority host, ARM, Graph, Key Vault audience).`,
    });
  }
  return CLOUD_PRESETS[match];
}

export interface CustomCloudEndpoints {
  authorityHost: string;
  armEndpoint: string;
  /** Defaults to armEndpoint (the SDKs ask for `${endpoint}/.default`). */
  armAudience?: string;
  graphEndpoint: string;
  keyVaultAudience: string;
  /** Defaults to "." + the Key Vault audience's host name. */
  keyVaultDnsSuffix?: string;
  caPem?: string;
}

/** A custom cloud (Azure Stack, the sandbox): every endpoint must be https, stored without a trailing slash. */
export function customCloud(endpoints: CustomCloudEndpoints): CloudProfile {
  const armEndpoint = httpsEndpoint("ARM endpoint", endpoints.armEndpoint);
  const keyVaultAudience = httpsEndpoint("Key Vault audience", endpoints.keyVaultAudience);
  const profile: CloudProfile = {
    name: "custom",
    authorityHost: httpsEndpoint("authority host", endpoints.authorityHost),
    armEndpoint,
    armAudience: endpoints.armAudience === undefined ? armEndpoint : httpsEndpoint("ARM audience", endpoints.armAudience),
    // Graph paths carry their own version; a pasted ".../v1.0" would double it.
    graphEndpoint: httpsEndpoint("Graph endpoint", endpoints.graphEndpoint).replace(/\/v1\.0$/i, ""),
    keyVaultDnsSuffix: endpoints.keyVaultDnsSuffix ?? `.${new URL(keyVaultAudience).hostname}`,
    keyVaultAudience,
    disableInstanceDiscovery: true,
    disableChallengeResourceVerification: true,
  };
  if (endpoints.caPem !== undefined) profile.caPem = endpoints.caPem;
  return profile;
}

/** Structurally the `SandboxCloud` that src/sandbox exports (kept local so this module does not load the sandbox). */
export interface SandboxCloudEndpoints {
  authorityHost: string;
  armEndpoint: string;
  graphEndpoint: string;
  keyVaultAudience: string;
  caCertPath: string;
}

/** The sandbox reached through the same custom-cloud path as any sovereign cloud; `caPem` is the sandbox CA. */
export function cloudFromSandbox(cloud: SandboxCloudEndpoints, caPem: string): CloudProfile {
  return customCloud({
    authorityHost: cloud.authorityHost,
    armEndpoint: cloud.armEndpoint,
    armAudience: cloud.armEndpoint,
    graphEndpoint: cloud.graphEndpoint,
    keyVaultAudience: cloud.keyVaultAudience,
    caPem,
  });
}

/** The Graph client sends a token only to known Graph hosts or hosts listed here (bare host name, no port). */
export function graphCustomHosts(cloud: CloudProfile): Set<string> | undefined {
  if (cloud.name !== "custom") return undefined;
  return new Set([new URL(cloud.graphEndpoint).hostname]);
}

function httpsEndpoint(what: string, value: string): string {
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    throw AkvError.usage(`The ${what} "${value}" is not a URL.`, { code: "InvalidCloudEndpoint" });
  }
  if (url.protocol !== "https:") {
    throw AkvError.usage(`The ${what} "${value}" must use https.`, {
      code: "InvalidCloudEndpoint",
      hint: "Azure's SDKs refuse plain-http endpoints; give the https address.",
    });
  }
  return url.href.replace(/\/+$/, "");
}
