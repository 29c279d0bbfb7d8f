/** What the service emulations need from the running sandbox (implemented in server.ts). */
import type { TokenSigner } from "./jwt.js";
import type { Store } from "./store.js";
import type { VaultRecord } from "./types.js";

export interface SandboxEndpoints {
  authorityHost: string;
  armEndpoint: string;
  graphEndpoint: string;
  keyVaultAudience: string;
}

export interface SandboxCore {
  readonly store: Store;
  readonly signer: TokenSigner;
  readonly endpoints: SandboxEndpoints;
  readonly replicationDelayMs: number;
  readonly rbacPropagationDelayMs: number;
  /** Binds the vault's own HTTPS listener (on `preferredPort` if free) and returns its port. */
  openVaultListener(vaultName: string, preferredPort?: number): Promise<number>;
  closeVaultListener(vaultName: string): Promise<void>;
}

/** A directory object is visible to other services only once replication is over. */
export function replicated(core: SandboxCore, createdAt: number, now: number): boolean {
  return createdAt + core.replicationDelayMs <= now;
}

export function vaultUri(port: number): string {
  return `https://localhost:${port}/`;
}

export function findVault(core: SandboxCore, name: string): VaultRecord | undefined {
  const n = name.toLowerCase();
  return core.store.state.vaults.find((v) => v.name.toLowerCase() === n);
}
