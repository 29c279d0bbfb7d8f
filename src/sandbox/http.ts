/** Request context, replies and the Azure-shaped error envelopes of each service. */
import { randomUUID } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import type { SandboxService } from "./types.js";

export interface Reply {
  status: number;
  headers?: Record<string, string>;
  /** Objects are sent as JSON; strings as they are; undefined sends no body. */
  body?: unknown;
}

export interface RequestContext {
  service: SandboxService;
  seq: number;
  method: string;
  /** Path with leading `//` collapsed (arm-authorization sends `//subscriptions/...`), no query. */
  path: string;
  /** Query with keys decoded (`api%2Dversion` → `api-version`). */
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  bodyText: string;
  /** Apparent public address of the caller (config knob or `x-sandbox-client-ip`). */
  clientIp: string;
  /** `https://localhost:<port>` of the listener that took the request. */
  origin: string;
  now: number;
}

export function header(ctx: RequestContext, name: string): string | undefined {
  const v = ctx.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

export function json(status: number, body: unknown, headers?: Record<string, string>): Reply {
  return headers ? { status, body, headers } : { status, body };
}

export function noContent(status = 204, headers?: Record<string, string>): Reply {
  return headers ? { status, headers } : { status };
}

/** Parses the body as a JSON object; undefined for an empty body; an Error describing the fault otherwise. */
export function parseJsonObject(ctx: RequestContext): Record<string, unknown> | undefined | Error {
  if (ctx.bodyText.trim() === "") return undefined;
  try {
    const parsed = JSON.parse(ctx.bodyText) as unknown;
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return new Error("The request body must be a JSON object.");
    return parsed as Record<string, unknown>;
  } catch (e) {
    return new Error((e as Error).message);
  }
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

// --- ARM ---------------------------------------------------------------------------------------------------------
export function armError(status: number, code: string, message: string, headers?: Record<string, string>): Reply {
  return { status, body: { error: { code, message } }, headers: { "x-ms-request-id": randomUUID(), ...headers } };
}

// --- Graph -------------------------------------------------------------------------------------------------------
export function graphError(ctx: RequestContext, status: number, code: string, message: string): Reply {
  return {
    status,
    body: {
      error: {
        code,
        message,
        innerError: {
          date: new Date(ctx.now).toISOString().replace(/\.\d+Z$/, ""),
          "request-id": randomUUID(),
          "client-request-id": header(ctx, "client-request-id") ?? randomUUID(),
        },
      },
    },
  };
}

// --- Key Vault data plane ----------------------------------------------------------------------------------------
export function kvError(status: number, code: string, message: string, innerCode?: string, headers?: Record<string, string>): Reply {
  const error: Record<string, unknown> = { code, message };
  if (innerCode) error["innererror"] = { code: innerCode };
  return { status, body: { error }, headers: headers ?? {} };
}

// --- Entra (AADSTS) ----------------------------------------------------------------------------------------------
function aadTimestamp(now: number): string {
  return new Date(now).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

export function aadError(ctx: RequestContext, status: number, error: string, code: number, text: string, headers?: Record<string, string>): Reply {
  const traceId = randomUUID();
  const correlationId = header(ctx, "client-request-id") ?? ctx.query.get("client-request-id") ?? randomUUID();
  const timestamp = aadTimestamp(ctx.now);
  return {
    status,
    headers: { "cache-control": "no-store, no-cache", pragma: "no-cache", ...headers },
    body: {
      error,
      error_description: `AADSTS${code}: ${text}\r\nTrace ID: ${traceId}\r\nCorrelation ID: ${correlationId}\r\nTimestamp: ${timestamp}`,
      error_codes: [code],
      timestamp,
      trace_id: traceId,
      correlation_id: correlationId,
      error_uri: `https://login.microsoftonline.com/error?code=${code}`,
    },
  };
}

/** The error a fault injects, in the envelope of the service it hits. */
export function faultReply(ctx: RequestContext, status: number, retryAfterSeconds: number | undefined): Reply {
  const headers: Record<string, string> = {};
  if (retryAfterSeconds !== undefined) headers["retry-after"] = String(retryAfterSeconds);
  const throttled = status === 429;
  switch (ctx.service) {
    case "arm":
      return armError(
        status,
        throttled ? "TooManyRequests" : status === 503 ? "ServiceUnavailable" : "InternalServerError",
        throttled
          ? "The request is being throttled as the limit has been reached for operation type. Please retry after the time in the Retry-After header."
          : "The server encountered an internal error. Please retry the request.",
        headers,
      );
    case "graph": {
      const r = graphError(ctx, status, throttled ? "TooManyRequests" : "serviceNotAvailable", throttled ? "Too many requests." : "The service is temporarily unavailable. Please retry.");
      r.headers = headers;
      return r;
    }
    case "keyvault":
      return kvError(status, throttled ? "Throttled" : "ServiceUnavailable", throttled ? "Request was not processed because too many requests were received. Reason: VaultRequestTypeLimitReached" : "The service is temporarily unavailable.", undefined, headers);
    case "entra":
      return aadError(ctx, status, "temporarily_unavailable", 90033, "A transient error has occurred. Please try again.", headers);
  }
}
