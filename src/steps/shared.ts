import { createHash } from "node:crypto";
import { AkvError, isAkvError } from "../errors.js";
import type { StepContext } from "../engine/step.js";

export const MANAGED_BY_TAG = "akv-crashplan";

/** The tag written onto everything we create, so a resumed run finds what *this* setup made. */
export function setupTag(lineage: string): string {
  return `akv-crashplan:${lineage}`;
}

/** The SHA-1 thumbprint (upper-case hex) a key credential carries as its custom key identifier, as we upload it. */
export function credentialThumbprint(credential: { customKeyIdentifier?: string | null }): string | undefined {
  return credential.customKeyIdentifier ? Buffer.from(credential.customKeyIdentifier, "base64").toString("hex").toUpperCase() : undefined;
}

export function str(outputs: Record<string, unknown>, key: string): string | undefined {
  const value = outputs[key];
  return typeof value === "string" ? value : undefined;
}

export function requireOutput(ctx: StepContext, step: Parameters<StepContext["outputsOf"]>[0], key: string): string {
  const value = str(ctx.outputsOf(step), key);
  if (!value) {
    throw AkvError.precondition(`Step "${step}" has not recorded ${key} yet.`, { code: "StepNotReady", hint: `Run \`akv-crashplan setup --from ${step}\` first.` });
  }
  return value;
}

/** CrashPlan's form refuses a path or a trailing slash; ARM returns the URI with one. */
export function vaultUrlWithoutSlash(vaultUri: string): string {
  const url = new URL(vaultUri);
  return `${url.protocol}//${url.host}`;
}

/** A GUID derived from its inputs (SHA-1 based, RFC 4122 v5 layout): the same triple always names the same assignment. */
export function deterministicGuid(...parts: string[]): string {
  const hash = createHash("sha1").update(parts.map((p) => p.toLowerCase()).join("|")).digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** Asks, or takes --yes, or fails naming the flag that approves it. */
export async function confirm(ctx: StepContext, message: string, approvingFlag = "--yes", defaultAnswer = false): Promise<boolean> {
  if (ctx.yes) return true;
  if (ctx.ui.interactive) return ctx.ui.prompt.confirm({ message, default: defaultAnswer });
  throw AkvError.usage(`${message} — this needs a confirmation, and prompting is off.`, { code: "ConfirmationNeeded", hint: `Pass ${approvingFlag} to approve.` });
}

export function hasCode(error: unknown, ...codes: string[]): boolean {
  return isAkvError(error) && error.code !== undefined && codes.includes(error.code);
}

/**
 * Retries `attempt` while `retryable(error)` holds, with capped exponential backoff, until `timeoutMs`.
 * Polls promptly at first (what was slow in Azure is usually done within seconds) and never sleeps past the deadline.
 */
export async function retryWhile<T>(
  ctx: StepContext,
  attempt: () => Promise<T>,
  retryable: (error: unknown) => boolean,
  options: { timeoutMs: number; firstDelayMs?: number; maxDelayMs?: number; onRetry?: (error: unknown, elapsedMs: number) => void },
): Promise<T> {
  const started = Date.now();
  let delay = options.firstDelayMs ?? 250;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      const elapsed = Date.now() - started;
      if (!retryable(error) || elapsed >= options.timeoutMs) throw error;
      options.onRetry?.(error, elapsed);
      await ctx.sleep(Math.min(delay, Math.max(0, options.timeoutMs - elapsed)));
      delay = Math.min(delay * 2, options.maxDelayMs ?? 500);
    }
  }
}
