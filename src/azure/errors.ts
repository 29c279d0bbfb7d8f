/**
 * The one place that turns what the Azure SDKs throw into an AkvError people can act on.
 *
 * Sources, by shape rather than by class (several copies of RestError live in node_modules):
 * - RestError (core-rest-pipeline / ts-http-runtime): `statusCode`, `code`, `details` (the parsed error body,
 *   e.g. `{error:{code,message,innerError:{code}}}`), `response.bodyAsText`, and a `request` we never copy.
 * - GraphError (microsoft-graph-client): `statusCode`, `code`, `body` (the stringified `error` object).
 * - @azure/identity errors (AuthenticationError, CredentialUnavailableError, AggregateAuthenticationError,
 *   AuthenticationRequiredError): the AADSTS code is in the message.
 * - Network failures: `code` ECONNRESET/ECONNREFUSED/ENOTFOUND/ETIMEDOUT, on the error or in its `cause` chain
 *   (undici fetch wraps them in `TypeError: fetch failed`).
 *
 * The SDK error itself is never attached: its `request` holds the Authorization header and, for setSecret, the
 * secret value. The cause we attach is a scrubbed copy of name, message and stack.
 */
import { AkvError, ExitCode, isAkvError, type ExitCodeValue } from "../errors.js";

export interface AzureErrorDetails {
  status?: number;
  /** The service's top-level code ("Forbidden", "invalid_client", "VaultAlreadyExists"). */
  azureCode?: string;
  /** The innermost specific code ("ForbiddenByFirewall", "AADSTS700027"), when there is one. */
  innerCode?: string;
  azureMessage?: string;
  /** From a ForbiddenByFirewall message ("Client address: 203.0.113.7"). */
  clientAddress?: string;
  requestId?: string;
}

export type AzureErrorKind = "http" | "identity" | "network" | "operation";

export interface ParsedAzureError extends AzureErrorDetails {
  kind: AzureErrorKind;
  /** What the AkvError's `code` will be: the innermost specific code, else the top-level one. */
  code?: string;
}

const NETWORK_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ENOTFOUND",
  "ETIMEDOUT",
  "ESOCKETTIMEDOUT",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EPIPE",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_SOCKET",
  "REQUEST_SEND_ERROR",
]);

const IDENTITY_ERROR_NAMES = new Set([
  "AuthenticationError",
  "CredentialUnavailableError",
  "AggregateAuthenticationError",
  "AuthenticationRequiredError",
]);

/** Top-level codes that say nothing by themselves; a nested code is preferred. */
const GENERIC_CODES = new Set([
  "Forbidden",
  "BadRequest",
  "Conflict",
  "Unauthorized",
  "InvalidRequest",
  "DeploymentFailed",
  "InternalServerError",
  "ResourceDeploymentFailure",
]);

/** 4xx codes that mean the operator's input is wrong (exit 2) rather than Azure refusing (exit 6). */
const BAD_INPUT_CODES = new Set([
  "VaultNameNotValid",
  "AccountNameInvalid",
  "InvalidResourceName",
  "InvalidResourceGroupName",
  "InvalidResourceGroupLocation",
  "LocationNotAvailableForResourceType",
  "LocationNotAvailableForResourceGroup",
  "NoRegisteredProviderFound",
  "InvalidSubscriptionId",
  "InvalidParameter",
  "InvalidParameterValue",
  "InvalidRoleDefinitionId",
  "SubnetNotFound",
  "InvalidResourceReference",
  "LinkedInvalidPropertyId",
]);

// ------------------------------------------------------------------------------------------------------------------
// Scrubbing

/** Removes anything that could be a credential from text that is about to be shown or logged. */
export function scrubSecrets(text: string): string {
  return text
    .replace(/-----BEGIN [A-Z0-9 ]+-----[\s\S]*?(-----END [A-Z0-9 ]+-----|$)/g, "[redacted PEM]")
    .replace(/\b(Bearer|PoP)\s+[A-Za-z0-9._~+/=-]+/gi, "$1 [redacted]")
    .replace(/\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+\.?[A-Za-z0-9_-]*/g, "[redacted token]")
    .replace(
      /\b(client_secret|client_assertion|access_token|refresh_token|id_token|password|assertion)(["']?\s*[=:]\s*["']?)[^"'&\s,}]+/gi,
      "$1$2[redacted]",
    )
    .replace(/\b(authorization|x-ms-authorization-auxiliary)(["']?\s*:\s*["']?)[^"'\r\n,}]+/gi, "$1$2[redacted]");
}

function scrubbedCause(error: unknown): Error | undefined {
  if (!(error instanceof Error)) return undefined;
  const copy = new Error(scrubSecrets(error.message));
  copy.name = error.name;
  copy.stack = error.stack === undefined ? undefined : scrubSecrets(error.stack);
  return copy;
}

// ------------------------------------------------------------------------------------------------------------------
// Parsing

type Obj = Record<string, unknown>;

function isObj(value: unknown): value is Obj {
  return typeof value === "object" && value !== null;
}

function str(value: unknown): string | undefined {
  return typeof value === "string" && value.length > 0 ? value : undefined;
}

function parseJson(text: unknown): unknown {
  if (typeof text !== "string" || text.length === 0) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function networkCodeOf(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 6 && isObj(current); depth++) {
    const code = str(current.code) ?? str(current.errno);
    if (code && NETWORK_CODES.has(code)) return code === "REQUEST_SEND_ERROR" ? networkCodeOf(current.cause) ?? code : code;
    current = current.cause;
  }
  if (error instanceof Error) {
    const inMessage = /\b(ECONNRESET|ECONNREFUSED|ENOTFOUND|ETIMEDOUT|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH)\b/.exec(error.message);
    if (inMessage) return inMessage[1];
  }
  return undefined;
}

function aadstsCode(text: string): string | undefined {
  return /\bAADSTS(\d{4,})\b/.exec(text)?.[0];
}

function clientAddressIn(message: string | undefined): string | undefined {
  return message ? /Client address:\s*([0-9]{1,3}(?:\.[0-9]{1,3}){3}|[0-9a-fA-F:]*:[0-9a-fA-F:]+)/.exec(message)?.[1] : undefined;
}

/** Codes along innerError/innererror, outermost first. */
function innerCodes(errorBody: Obj): string[] {
  const codes: string[] = [];
  let inner: unknown = errorBody.innerError ?? errorBody.innererror;
  for (let depth = 0; depth < 8 && isObj(inner); depth++) {
    const code = str(inner.code);
    if (code) codes.push(code);
    inner = inner.innerError ?? inner.innererror;
  }
  return codes;
}

function fromErrorBody(body: unknown): Pick<AzureErrorDetails, "azureCode" | "innerCode" | "azureMessage"> {
  if (!isObj(body)) return {};
  const errorBody = isObj(body.error) ? body.error : body;
  const azureCode = str(errorBody.code);
  const azureMessage = str(errorBody.message);
  let innerCode = innerCodes(errorBody).at(-1);
  if (!innerCode && (azureCode === undefined || GENERIC_CODES.has(azureCode)) && Array.isArray(errorBody.details)) {
    const first: unknown = errorBody.details.find((d) => isObj(d) && str(d.code));
    if (isObj(first)) innerCode = str(first.code);
  }
  const result: Pick<AzureErrorDetails, "azureCode" | "innerCode" | "azureMessage"> = {};
  if (azureCode) result.azureCode = azureCode;
  if (innerCode && innerCode !== azureCode) result.innerCode = innerCode;
  if (azureMessage) result.azureMessage = azureMessage;
  return result;
}

function headerOf(error: Obj, name: string): string | undefined {
  const response = isObj(error.response) ? error.response : undefined;
  const headers = response?.headers ?? error.headers;
  if (!isObj(headers)) return undefined;
  if (typeof headers.get === "function") {
    const value: unknown = (headers.get as (n: string) => unknown).call(headers, name);
    return str(value);
  }
  return str(headers[name]) ?? str(headers[name.toLowerCase()]);
}

function withCode(parsed: ParsedAzureError): ParsedAzureError {
  const code = parsed.innerCode ?? parsed.azureCode;
  if (code) parsed.code = code;
  if (parsed.code === "ForbiddenByFirewall") {
    const address = clientAddressIn(parsed.azureMessage);
    if (address) parsed.clientAddress = address;
  }
  return parsed;
}

/** What the error says, by the fields the SDKs set; undefined when it is not an Azure/identity/network error. */
export function parseAzureError(error: unknown): ParsedAzureError | undefined {
  if (!isObj(error)) return undefined;
  const name = str(error.name) ?? "";
  const message = error instanceof Error ? error.message : (str(error.message) ?? "");

  if (IDENTITY_ERROR_NAMES.has(name)) {
    const nested = Array.isArray(error.errors) ? (error.errors as unknown[]) : [];
    const texts = [message, ...nested.map((e) => (e instanceof Error ? e.message : ""))];
    const aadsts = texts.map(aadstsCode).find((c) => c !== undefined);
    const network = aadsts ? undefined : (networkCodeOf(error) ?? nested.map(networkCodeOf).find((c) => c !== undefined));
    if (network) return withCode({ kind: "network", azureCode: network, azureMessage: scrubSecrets(message) });
    const response = isObj(error.errorResponse) ? error.errorResponse : undefined;
    const parsed: ParsedAzureError = { kind: "identity", azureCode: str(response?.error) ?? name, azureMessage: scrubSecrets(message) };
    if (typeof error.statusCode === "number") parsed.status = error.statusCode;
    if (aadsts) parsed.innerCode = aadsts;
    return withCode(parsed);
  }

  const statusCode = typeof error.statusCode === "number" && error.statusCode > 0 ? error.statusCode : undefined;
  const isRest = name === "RestError";
  const isGraph = name === "GraphError" || (isObj(error) && "body" in error && "requestId" in error);

  if (statusCode === undefined) {
    const network = networkCodeOf(error);
    if (network) return withCode({ kind: "network", azureCode: network, azureMessage: scrubSecrets(message) });
    // The Graph client keeps only the text of a fetch failure ("TypeError: fetch failed"), not its cause.
    const graphText = `${message} ${typeof error.body === "string" ? error.body : ""}`;
    if (isGraph && /fetch failed|socket hang up|network|ECONN|ETIMEDOUT|ENOTFOUND/i.test(graphText)) {
      return withCode({ kind: "network", azureCode: "NetworkError", azureMessage: scrubSecrets(graphText.trim()) });
    }
    if (isRest || isGraph) {
      const parsed: ParsedAzureError = { kind: "http", azureMessage: scrubSecrets(message) };
      const code = str(error.code);
      if (code) parsed.azureCode = code;
      return withCode(parsed);
    }
    // core-lro reports a failed long-running operation as a plain Error.
    const lro = /^The long-running operation has failed\.\s*([A-Za-z0-9_]+)?\.?\s*(.*)$/s.exec(message);
    if (lro) {
      const parsed: ParsedAzureError = { kind: "operation", azureMessage: scrubSecrets(lro[2] || message) };
      if (lro[1]) parsed.azureCode = lro[1];
      return withCode(parsed);
    }
    return undefined;
  }

  if (!isRest && !isGraph && !("code" in error) && !("details" in error)) return undefined;

  const response = isObj(error.response) ? error.response : undefined;
  const body = isGraph
    ? (parseJson(error.body) ?? error.body)
    : (error.details ?? parseJson(response?.bodyAsText));
  const parsed: ParsedAzureError = { kind: "http", status: statusCode, ...fromErrorBody(body) };
  if (!parsed.azureCode && str(error.code)) parsed.azureCode = str(error.code);
  if (!parsed.azureMessage && message) parsed.azureMessage = message;
  if (parsed.azureMessage) parsed.azureMessage = scrubSecrets(parsed.azureMessage);
  const aadsts = parsed.azureMessage ? aadstsCode(parsed.azureMessage) : undefined;
  if (aadsts && !parsed.innerCode) parsed.innerCode = aadsts;
  const requestId = headerOf(error, "x-ms-request-id") ?? headerOf(error, "request-id") ?? str(error.requestId);
  if (requestId) parsed.requestId = requestId;
  return withCode(parsed);
}

// ------------------------------------------------------------------------------------------------------------------
// Classification

export function exitCodeFor(parsed: ParsedAzureError): ExitCodeValue {
  if (parsed.kind === "identity") return ExitCode.auth;
  if (parsed.kind === "network" || parsed.kind === "operation") return ExitCode.azure;
  const status = parsed.status;
  if (status === 401 || parsed.code?.startsWith("AADSTS")) return ExitCode.auth;
  if (status === 403) return ExitCode.permission;
  if (status === undefined || status === 429 || status >= 500) return ExitCode.azure;
  if (status >= 400 && parsed.code && BAD_INPUT_CODES.has(parsed.code)) return ExitCode.usage;
  return ExitCode.azure;
}

/** True for a 404 from any service (used by the get-or-undefined adapter methods). */
export function isNotFoundError(error: unknown): boolean {
  const parsed = parseAzureError(error);
  return parsed?.kind === "http" && parsed.status === 404;
}

export function hasAzureCode(error: unknown, ...codes: string[]): boolean {
  if (isAkvError(error)) return error.code !== undefined && codes.includes(error.code);
  const parsed = parseAzureError(error);
  return parsed !== undefined && [parsed.code, parsed.azureCode, parsed.innerCode].some((c) => c !== undefined && codes.includes(c));
}

function quoted(message: string, pattern: RegExp): string | undefined {
  return pattern.exec(message)?.[1];
}

/** One or two sentences on what to do next, for the codes we know. */
export function hintFor(parsed: ParsedAzureError): string | undefined {
  const message = parsed.azureMessage ?? "";
  switch (parsed.code) {
    case "VaultAlreadyExists":
      return "Key Vault names are global across Azure: choose another name (a vault deleted recently may still hold it in another subscription).";
    case "ConflictError":
      if (/deleted state/i.test(message)) return "A soft-deleted vault holds this name: recover it, or choose another name.";
      return "Another change to the same resource was in progress; run the command again.";
    case "VaultNameNotValid":
    case "AccountNameInvalid":
      return "A vault name has 3-24 letters, digits and hyphens, starts with a letter, ends with a letter or digit, and has no two hyphens in a row.";
    case "MissingSubscriptionRegistration": {
      const ns = quoted(message, /namespace '([^']+)'/i) ?? "Microsoft.KeyVault";
      return `Register the resource provider first: az provider register --namespace ${ns}`;
    }
    case "AuthorizationFailed":
    case "LinkedAuthorizationFailed": {
      const action = quoted(message, /perform action '([^']+)'/);
      const scope = quoted(message, /over scope '([^']+)'/)?.replace(/\/providers\/Microsoft\.Authorization\/roleAssignments\/[^/]+$/i, "");
      const role = action?.startsWith("Microsoft.Authorization/roleAssignments/")
        ? "'User Access Administrator' or 'Owner'"
        : "a role that allows it";
      return `Ask an Owner${scope ? ` of ${scope}` : ""} for ${role}${action ? ` ('${action}')` : ""}, then run the command again.`;
    }
    case "Authorization_RequestDenied":
      return "Your account lacks the directory permission for this: ask a Entra ID administrator for the 'Application Developer' role (or to create the app for you), then run the command again.";
    case "ForbiddenByFirewall":
      return parsed.clientAddress
        ? `The vault's firewall does not allow your address ${parsed.clientAddress}: allow it (temporarily) with --allow-my-ip ${parsed.clientAddress}, or run from an allowed network.`
        : "The vault's firewall does not allow your address: allow it with --allow-my-ip <address>, or run from an allowed network.";
    case "ForbiddenByConnection":
      return "The vault's public network access is disabled: enable access from selected networks, or run from its private network.";
    case "ForbiddenByRbac":
      return "The identity has no Key Vault data role on this vault yet; a new role assignment can take up to ~10 minutes to take effect.";
    case "AADSTS700027":
      return "Entra ID does not know this certificate for the application: compare the thumbprints registered on the app with the local certificate (run `akv-crashplan upload`).";
    case "AADSTS700016":
      return "The application id is not known in this tenant: check --tenant and the application id (replication of a new app can take a minute).";
    case "AADSTS7000215":
      return "The client secret is wrong: use the secret's value, not its id (AZURE_CLIENT_SECRET).";
    case "AADSTS700024":
      return "The client assertion is outside its time window: check this machine's clock (it must be within a few minutes of the real time).";
    case "AADSTS50076":
    case "AADSTS50079":
    case "AADSTS53003":
      return "Your tenant requires multi-factor or conditional access: sign in interactively with `az login --tenant <tenant>`, then run again.";
    case "AADSTS90002":
      return "The tenant was not found: check --tenant (id or domain) and --cloud.";
    default:
      break;
  }
  if (parsed.kind === "network") return "Azure could not be reached: check the network, proxy and DNS for this machine, then run the same command again (it resumes).";
  if (parsed.status === 429) return "Azure is throttling requests: wait a minute, then run the same command again (it resumes).";
  if (parsed.status !== undefined && parsed.status >= 500) return "Azure reported a server error after retries: run the same command again (it resumes).";
  if (parsed.status === 401) return "The sign-in was not accepted: sign in again (e.g. `az login`), then run the command again.";
  return undefined;
}

export interface AzureErrorContext {
  /** What was being done, as a phrase after "Could not": "create the Key Vault 'kv1'". */
  operation: string;
  /** Replaces the default hint. */
  hint?: string;
}

/**
 * Maps anything an Azure call threw. AkvErrors pass through; errors that are not from Azure (a TypeError inside an
 * SDK, say) are returned unchanged so they surface as bugs.
 */
export function toAkvError(error: unknown, context: AzureErrorContext): unknown {
  if (isAkvError(error)) return error;
  const parsed = parseAzureError(error);
  if (!parsed) return error;
  const details: Record<string, unknown> = {};
  for (const key of ["status", "azureCode", "innerCode", "azureMessage", "clientAddress", "requestId"] as const) {
    if (parsed[key] !== undefined) details[key] = parsed[key];
  }
  const firstLine = (parsed.azureMessage ?? "").split(/\r?\n/)[0]?.trim() ?? "";
  const label = [parsed.code, parsed.status === undefined ? undefined : `HTTP ${parsed.status}`].filter(Boolean).join(", ");
  const message = `Could not ${context.operation}: ${firstLine || "Azure returned an error"}${label ? ` (${label})` : ""}`;
  const hint = context.hint ?? hintFor(parsed);
  const cause = scrubbedCause(error);
  return new AkvError(exitCodeFor(parsed), scrubSecrets(message), {
    ...(hint === undefined ? {} : { hint }),
    ...(parsed.code === undefined ? {} : { code: parsed.code }),
    ...(cause === undefined ? {} : { cause }),
    details,
  });
}

/** Runs one Azure call and maps whatever it throws. */
export async function azureCall<T>(operation: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw toAkvError(error, { operation });
  }
}

/** Runs a read that answers 404 for "absent": undefined instead of an error. */
export async function azureGet<T>(operation: string, call: () => Promise<T>): Promise<T | undefined> {
  try {
    return await call();
  } catch (error) {
    if (isNotFoundError(error)) return undefined;
    throw toAkvError(error, { operation });
  }
}
