// node:net is fetched on first use: loading it costs about 2 ms of every start, --help included.
const net = () => process.getBuiltinModule("node:net");
const isIPv4 = (text: string) => net().isIPv4(text);
const isIPv6 = (text: string) => net().isIPv6(text);

/** Each validator returns undefined when the value is fine, or the rule it breaks, in words. */
export type Validator<T = string> = (value: T) => string | undefined;

export const VAULT_NAME_RULE =
  "3–24 characters: letters, digits and hyphens; starts with a letter, ends with a letter or digit, no two hyphens in a row";

export const validateVaultName: Validator = (name) => {
  if (!/^[A-Za-z0-9-]{3,24}$/.test(name) || !/^[A-Za-z]/.test(name) || !/[A-Za-z0-9]$/.test(name) || name.includes("--")) {
    return VAULT_NAME_RULE;
  }
  return undefined;
};

export const RESOURCE_GROUP_RULE = "1–90 characters: letters, digits, underscores, hyphens, periods and parentheses; must not end with a period";
export const validateResourceGroupName: Validator = (name) =>
  /^[-\w.()]{1,90}$/u.test(name) && !name.endsWith(".") ? undefined : RESOURCE_GROUP_RULE;

export const LOCATION_RULE = "an Azure region name such as eastus or westeurope (lower-case letters and digits)";
export const validateLocation: Validator = (name) => (/^[a-z][a-z0-9]{2,30}$/.test(name) ? undefined : LOCATION_RULE);

/** Only roles that can read and write secret values (the grant step maps them to their fixed ids). */
export const ROLE_RULE =
  'either "Key Vault Secrets Officer" (recommended) or "Key Vault Administrator", a role that can read and write secret values';
export const validateRole: Validator = (value) =>
  ["key vault secrets officer", "b86a8fe4-44ce-4948-aee5-eccb2c155cd7", "key vault administrator", "00482a5a-887f-4fb3-b363-3b7fe8e74483"].includes(
    value.trim().toLowerCase(),
  )
    ? undefined
    : ROLE_RULE;

export const GUID_RULE = "a GUID such as 00000000-0000-0000-0000-000000000000";
export const validateGuid: Validator = (value) =>
  /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value) ? undefined : GUID_RULE;

export const APP_NAME_RULE = "1–120 characters, no control characters";
export const validateAppName: Validator = (value) =>
  value.trim().length >= 1 && value.length <= 120 && !/\p{Cc}/u.test(value) ? undefined : APP_NAME_RULE;

export function validateIntegerInRange(min: number, max: number): Validator<string> {
  return (value) => (/^\d+$/.test(value) && Number(value) >= min && Number(value) <= max ? undefined : `a whole number from ${min} to ${max}`);
}

export function validateOneOf(allowed: readonly string[]): Validator<string> {
  return (value) => (allowed.includes(value) ? undefined : `one of ${allowed.join(", ")}`);
}

export const SUBNET_ID_RULE =
  "a subnet resource id: /subscriptions/<id>/resourceGroups/<rg>/providers/Microsoft.Network/virtualNetworks/<vnet>/subnets/<subnet>";
export const validateSubnetId: Validator = (value) =>
  /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.Network\/virtualNetworks\/[^/]+\/subnets\/[^/]+$/i.test(value)
    ? undefined
    : SUBNET_ID_RULE;

export const IPV4_RULE = "an IPv4 address or CIDR range such as 203.0.113.7 or 203.0.113.0/24 (Key Vault accepts IPv4 only)";

/** Normalises an IPv4 address or range to CIDR, as Key Vault stores it; explains what is wrong otherwise. */
export function parseIpv4Rule(raw: string): { cidr: string } | { error: string } {
  const value = raw.trim();
  const [address, prefix, ...rest] = value.split("/");
  if (rest.length > 0 || !address) return { error: `"${value}" is not ${IPV4_RULE}` };
  if (isIPv6(address)) return { error: `"${value}" is an IPv6 address; Key Vault firewall rules accept IPv4 addresses and ranges only` };
  if (!isIPv4(address)) {
    if (/^[a-z0-9.-]+\.[a-z]{2,}$/i.test(address)) {
      return {
        error: `"${value}" is a domain name; Key Vault firewall rules take IPv4 addresses only. Resolve it at your perimeter (or ask CrashPlan for the published address list) and pass the addresses`,
      };
    }
    return { error: `"${value}" is not ${IPV4_RULE}` };
  }
  if (prefix === undefined) return { cidr: `${address}/32` };
  if (!/^\d{1,2}$/.test(prefix) || Number(prefix) > 32 || Number(prefix) < 8) {
    return { error: `"${value}" has prefix length /${prefix}; use /8 to /32` };
  }
  const bits = Number(prefix);
  const octets = address.split(".").map(Number);
  const asNumber = ((octets[0]! << 24) >>> 0) + (octets[1]! << 16) + (octets[2]! << 8) + octets[3]!;
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  if ((asNumber & mask) >>> 0 !== asNumber) {
    const network = (asNumber & mask) >>> 0;
    const networkText = [24, 16, 8, 0].map((shift) => (network >>> shift) & 255).join(".");
    return { error: `"${value}" has host bits set; the range is ${networkText}/${bits}` };
  }
  return { cidr: `${address}/${bits}` };
}

export function ipInCidr(ip: string, cidr: string): boolean {
  const [network, prefixText] = cidr.split("/");
  if (!network || !isIPv4(ip) || !isIPv4(network)) return false;
  const bits = prefixText === undefined ? 32 : Number(prefixText);
  const toNumber = (text: string) => text.split(".").reduce((acc, octet) => ((acc << 8) >>> 0) + Number(octet), 0);
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return ((toNumber(ip) & mask) >>> 0) === ((toNumber(network) & mask) >>> 0);
}

export const DURATION_RULE = "a duration such as 90s, 10m or 1h (at most 24h)";
export function parseDurationMs(value: string): number | undefined {
  const match = /^(\d+)(ms|s|m|h)?$/.exec(value.trim());
  if (!match) return undefined;
  const amount = Number(match[1]);
  const unit = match[2] ?? "s";
  const ms = unit === "ms" ? amount : unit === "s" ? amount * 1000 : unit === "m" ? amount * 60_000 : amount * 3_600_000;
  return ms <= 86_400_000 ? ms : undefined;
}

const NON_PUBLIC_RANGES: Array<[string, string]> = [
  ["0.0.0.0/8", "\"this network\""],
  ["10.0.0.0/8", "private (RFC 1918)"],
  ["100.64.0.0/10", "carrier-grade NAT (RFC 6598)"],
  ["127.0.0.0/8", "loopback"],
  ["169.254.0.0/16", "link-local"],
  ["172.16.0.0/12", "private (RFC 1918)"],
  ["192.168.0.0/16", "private (RFC 1918)"],
  ["224.0.0.0/3", "multicast or reserved"],
];

function rangesOverlap(a: string, b: string): boolean {
  const [aNet, aBits] = a.split("/");
  const [bNet, bBits] = b.split("/");
  return Number(aBits) <= Number(bBits) ? ipInCidr(bNet!, a) : ipInCidr(aNet!, b);
}

/**
 * Key Vault's IP rules see callers by their public address: private, loopback and reserved ranges are refused
 * (Key Vault rejects RFC 1918 ranges in IP rules; subnets go through virtual-network rules instead).
 */
export function parsePublicIpv4Rule(raw: string): { cidr: string } | { error: string } {
  const parsed = parseIpv4Rule(raw);
  if ("error" in parsed) return parsed;
  const clash = NON_PUBLIC_RANGES.find(([range]) => rangesOverlap(parsed.cidr, range));
  if (clash) {
    return { error: `"${raw.trim()}" is in ${clash[1]} address space (${clash[0]}); Key Vault IP rules take public IPv4 addresses only — use a virtual-network rule for private networks` };
  }
  return parsed;
}

export const validatePublicIpRule: Validator = (value) => {
  const parsed = parsePublicIpv4Rule(value);
  return "error" in parsed ? parsed.error : undefined;
};

/** Drops exact duplicates and ranges inside a wider one of the same list; returns what was dropped, and why. */
export function simplifyRules(rules: string[]): { rules: string[]; dropped: string[] } {
  const unique = [...new Set(rules)];
  const dropped: string[] = [];
  const kept = unique.filter((rule) => {
    const wider = unique.find((other) => other !== rule && Number(other.split("/")[1]) < Number(rule.split("/")[1]) && ipInCidr(rule.split("/")[0]!, other));
    if (wider) dropped.push(`${rule} (inside ${wider})`);
    return !wider;
  });
  for (const rule of rules) if (rules.indexOf(rule) !== rules.lastIndexOf(rule) && !dropped.some((d) => d.startsWith(`${rule} (listed`))) dropped.push(`${rule} (listed twice)`);
  return { rules: kept, dropped };
}
