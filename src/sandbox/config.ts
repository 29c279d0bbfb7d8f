/** The realism knobs: one zod schema for `--sandbox-config <file>`, `sandbox start` and `startSandbox`. */
import { readFileSync } from "node:fs";
import { z } from "zod";
import { AkvError } from "../errors.js";
import type { SandboxConfig } from "./types.js";

const ipv4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const nonNegativeInt = z.number().int("must be a whole number").min(0, "must be 0 or more");

const faultSchema = z
  .object({
    service: z.enum(["entra", "arm", "graph", "keyvault"]).optional(),
    method: z.string().regex(/^[A-Za-z]+$/, "must be an HTTP method such as GET or PUT").optional(),
    pathPattern: z
      .string()
      .refine((s) => {
        try {
          new RegExp(s);
          return true;
        } catch {
          return false;
        }
      }, "must be a valid regular expression")
      .optional(),
    status: z.number().int("must be a whole number").min(400, "must be an HTTP error status (400-599)").max(599, "must be an HTTP error status (400-599)").optional(),
    retryAfterSeconds: nonNegativeInt.optional(),
    times: z.number().int("must be a whole number").min(1, "must be 1 or more").optional(),
    resetConnection: z.boolean().optional(),
  })
  .strict()
  .refine((f) => f.status !== undefined || f.resetConnection === true, { message: "needs a status or resetConnection: true" });

export const sandboxConfigSchema = z
  .object({
    replicationDelayMs: nonNegativeInt.optional(),
    rbacPropagationDelayMs: nonNegativeInt.optional(),
    clientIp: z.string().regex(ipv4, "must be an IPv4 address such as 198.51.100.23").optional(),
    latencyMs: nonNegativeInt.optional(),
    faults: z.array(faultSchema).optional(),
    crashAfterRequest: z.number().int("must be a whole number").min(1, "must be 1 or more").optional(),
  })
  .strict();

/** Validates a config object; a bad one throws AkvError.usage naming the field and the rule it breaks. */
export function parseSandboxConfig(input: unknown, source = "sandbox config"): SandboxConfig {
  const result = sandboxConfigSchema.safeParse(input);
  if (result.success) return result.data as SandboxConfig;
  const issues = result.error.issues.map((i) => {
    const field = i.path.length ? i.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("").replace(/^\./, "") : "(top level)";
    const message = i.code === "unrecognized_keys" ? `unknown field(s) ${(i as { keys?: string[] }).keys?.join(", ") ?? ""}` : i.message;
    return `${field}: ${message}`;
  });
  throw AkvError.usage(`Invalid ${source}: ${issues.join("; ")}.`, {
    code: "SandboxConfigInvalid",
    hint: "Fields: replicationDelayMs, rbacPropagationDelayMs, latencyMs (ms, >= 0), clientIp (IPv4), crashAfterRequest (>= 1), faults [{service, method, pathPattern, status, retryAfterSeconds, times, resetConnection}].",
  });
}

export function loadSandboxConfigFile(path: string): SandboxConfig {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw AkvError.usage(`Cannot read the sandbox config file ${path}: ${(e as Error).message}`, { code: "SandboxConfigUnreadable", cause: e });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw AkvError.usage(`The sandbox config file ${path} is not valid JSON: ${(e as Error).message}`, { code: "SandboxConfigInvalid", cause: e });
  }
  return parseSandboxConfig(parsed, `sandbox config file ${path}`);
}
