/** What every adapter shares: the cloud, the credential, the resolved subscription, and SDK client options. */
import type { TokenCredential } from "@azure/core-auth";
import type { CloudProfile } from "./services.js";

export interface RetryOptions {
  maxRetries?: number;
  retryDelayInMs?: number;
  maxRetryDelayInMs?: number;
}

export interface AdapterContext {
  cloud: CloudProfile;
  credential: TokenCredential;
  /** The signed-in subscription (signs in on first use). */
  subscriptionId(): Promise<string>;
  /** LRO and delete-poller interval. */
  pollIntervalMs: number;
  /** Undefined keeps the SDK defaults (3 retries; 429/503 wait exactly Retry-After). */
  retryOptions?: RetryOptions;
  userAgentPrefix: string;
}

export const DEFAULT_POLL_INTERVAL_MS = 500;

/** One value computed on first use; a failure is not cached. */
export function lazy<T>(create: () => Promise<T>): () => Promise<T> {
  let value: Promise<T> | undefined;
  return () => {
    value ??= create().catch((error: unknown) => {
      value = undefined;
      throw error;
    });
    return value;
  };
}

/** Per-key memo (e.g. one network client per subscription). */
export function lazyBy<T>(create: (key: string) => Promise<T>): (key: string) => Promise<T> {
  const values = new Map<string, () => Promise<T>>();
  return (key) => {
    let entry = values.get(key);
    if (!entry) {
      entry = lazy(() => create(key));
      values.set(key, entry);
    }
    return entry();
  };
}

/** Options for the TypeSpec ("modular") ARM clients: arm-keyvault 5, arm-resources 8, subscriptions 3, arm-network 39. */
export function modularArmOptions(ctx: AdapterContext): {
  endpoint: string;
  credentials: { scopes: string[] };
  retryOptions?: RetryOptions;
  userAgentOptions: { userAgentPrefix: string };
} {
  return {
    endpoint: ctx.cloud.armEndpoint,
    // arm-network asks for the public ARM scope whatever the endpoint; every client gets the cloud's audience.
    credentials: { scopes: [`${ctx.cloud.armAudience}/.default`] },
    ...(ctx.retryOptions ? { retryOptions: ctx.retryOptions } : {}),
    userAgentOptions: { userAgentPrefix: ctx.userAgentPrefix },
  };
}

/** A resource id's parts; undefined when it is not of the expected shape. */
export function parseResourceId(id: string): { subscriptionId: string; resourceGroup?: string; providerPath?: string[] } | undefined {
  const parts = id.replace(/^\/+/, "").split("/");
  if (parts[0]?.toLowerCase() !== "subscriptions" || !parts[1]) return undefined;
  const result: { subscriptionId: string; resourceGroup?: string; providerPath?: string[] } = { subscriptionId: parts[1] };
  if (parts[2]?.toLowerCase() === "resourcegroups" && parts[3]) {
    result.resourceGroup = parts[3];
    if (parts[4]?.toLowerCase() === "providers") result.providerPath = parts.slice(5);
  }
  return result;
}
