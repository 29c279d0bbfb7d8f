/**
 * Who the CLI signs in as. The operator's credential comes from `--auth` (Azure CLI, the standard AZURE_*
 * environment, device code, managed identity, or `auto` trying them in that order); the service principal's from its
 * certificate. @azure/identity is imported on the first token request, so `--help` never loads it.
 *
 * Both credentials turn a failed sign-in into an AkvError (exit 4) whose hint names the command or variables that
 * fix it; the SDK clients call getToken inside their pipelines and pass that error through unchanged.
 */
import type { AccessToken, GetTokenOptions, TokenCredential } from "@azure/core-auth";
import { AkvError, ExitCode } from "../errors.js";
import { hintFor, parseAzureError, scrubSecrets, toAkvError } from "./errors.js";
import type { CloudProfile } from "./services.js";
import { trustExtraCa } from "./tls.js";

export type AuthMode = "auto" | "cli" | "env" | "device-code" | "managed-identity";

export const AUTH_MODES: readonly AuthMode[] = ["auto", "cli", "env", "device-code", "managed-identity"];

export interface DeviceCodePrompt {
  message: string;
  userCode: string;
  verificationUri: string;
}

export interface OperatorCredentialOptions {
  auth: AuthMode;
  cloud: CloudProfile;
  tenantId?: string;
  /** The environment to read AZURE_* from (the composition root passes process.env). */
  env: Readonly<Record<string, string | undefined>>;
  /** Whether a person can answer a device-code prompt. */
  canPrompt: boolean;
  onDeviceCode?: (prompt: DeviceCodePrompt) => void;
}

export interface OperatorCredential extends TokenCredential {
  readonly mode: AuthMode;
  /** The method that produced the last token ("cli", "env (client secret)", …); the requested mode before that. */
  readonly authMethod: string;
}

type Identity = typeof import("@azure/identity");

let identityModule: Promise<Identity> | undefined;
function loadIdentity(): Promise<Identity> {
  identityModule ??= import("@azure/identity");
  return identityModule;
}

function authorityOptions(cloud: CloudProfile): { authorityHost: string; disableInstanceDiscovery: boolean } {
  return { authorityHost: cloud.authorityHost, disableInstanceDiscovery: cloud.disableInstanceDiscovery };
}

// ------------------------------------------------------------------------------------------------------------------
// The AZURE_* environment, read from the env object we are given (EnvironmentCredential would read process.env).

interface EnvSignIn {
  kind: "client secret" | "client certificate";
  tenantId: string;
  clientId: string;
  secret?: string;
  certificatePath?: string;
  certificatePassword?: string;
  sendCertificateChain: boolean;
}

const ENV_HINT =
  "Set AZURE_TENANT_ID, AZURE_CLIENT_ID and either AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH (with AZURE_CLIENT_CERTIFICATE_PASSWORD if the file is encrypted).";

function envValue(env: OperatorCredentialOptions["env"], name: string): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

/** The service-principal sign-in the environment describes, or the names of the variables that are missing. */
export function envSignIn(env: OperatorCredentialOptions["env"], tenantOverride?: string): EnvSignIn | { missing: string[] } {
  const tenantId = tenantOverride ?? envValue(env, "AZURE_TENANT_ID");
  const clientId = envValue(env, "AZURE_CLIENT_ID");
  const secret = envValue(env, "AZURE_CLIENT_SECRET");
  const certificatePath = envValue(env, "AZURE_CLIENT_CERTIFICATE_PATH");
  const missing: string[] = [];
  if (!tenantId) missing.push("AZURE_TENANT_ID");
  if (!clientId) missing.push("AZURE_CLIENT_ID");
  if (!secret && !certificatePath) missing.push("AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH");
  if (missing.length > 0 || !tenantId || !clientId) return { missing };
  const sendCertificateChain = /^(1|true)$/i.test(envValue(env, "AZURE_CLIENT_SEND_CERTIFICATE_CHAIN") ?? "");
  if (secret) return { kind: "client secret", tenantId, clientId, secret, sendCertificateChain };
  const signIn: EnvSignIn = { kind: "client certificate", tenantId, clientId, sendCertificateChain };
  if (certificatePath) signIn.certificatePath = certificatePath;
  const password = envValue(env, "AZURE_CLIENT_CERTIFICATE_PASSWORD");
  if (password) signIn.certificatePassword = password;
  return signIn;
}

// ------------------------------------------------------------------------------------------------------------------
// Operator credential

interface NamedSource {
  name: string;
  credential: TokenCredential;
}

/** Records which source of a chain produced the token. */
class RecordingCredential implements TokenCredential {
  constructor(
    private readonly source: NamedSource,
    private readonly onSuccess: (name: string) => void,
  ) {}
  async getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken | null> {
    const token = await this.source.credential.getToken(scopes, options);
    if (token) this.onSuccess(this.source.name);
    return token;
  }
}

function signInHint(mode: AuthMode, options: OperatorCredentialOptions, error: unknown): string {
  const parsed = parseAzureError(error);
  const specific = parsed?.code?.startsWith("AADSTS") ? hintFor(parsed) : undefined;
  if (specific) return specific;
  const tenant = options.tenantId ? ` --tenant ${options.tenantId}` : "";
  const azCloud =
    options.cloud.name !== "custom" && options.cloud.name !== "AzureCloud" ? `az cloud set --name ${options.cloud.name} && ` : "";
  const azLogin = `${azCloud}az login${tenant}`;
  const message = error instanceof Error ? error.message : "";
  switch (mode) {
    case "cli":
      if (/Azure CLI could not be found|az: not found|not recognized/i.test(message)) {
        return `Install the Azure CLI and run \`${azLogin}\`, or choose --auth env or --auth device-code.`;
      }
      return `Run \`${azLogin}\`, then run the command again.`;
    case "env":
      return ENV_HINT;
    case "device-code":
      return options.canPrompt
        ? "Complete the device-code sign-in in a browser within the time shown, then run the command again."
        : `Device-code sign-in needs someone at a terminal: run \`${azLogin}\` and use --auth cli, or set the AZURE_* variables and use --auth env.`;
    case "managed-identity":
      return "Run on an Azure resource with a managed identity (set AZURE_CLIENT_ID for a user-assigned one), or choose another --auth.";
    case "auto":
      return `Run \`${azLogin}\`, or ${ENV_HINT.charAt(0).toLowerCase()}${ENV_HINT.slice(1)}`;
  }
}

function signInError(mode: AuthMode, options: OperatorCredentialOptions, error: unknown): AkvError {
  if (error instanceof AkvError) return error;
  const mapped = toAkvError(error, { operation: `sign in (--auth ${mode})`, hint: signInHint(mode, options, error) });
  if (mapped instanceof AkvError) {
    if (mapped.exitCode === ExitCode.auth || mapped.exitCode === ExitCode.azure) return mapped;
    return new AkvError(ExitCode.auth, mapped.message, {
      ...(mapped.hint === undefined ? {} : { hint: mapped.hint }),
      ...(mapped.code === undefined ? {} : { code: mapped.code }),
      ...(mapped.details === undefined ? {} : { details: mapped.details }),
      cause: mapped.cause,
    });
  }
  const text = error instanceof Error ? scrubSecrets(error.message) : String(error);
  return AkvError.auth(`Could not sign in (--auth ${mode}): ${text.split(/\r?\n/)[0] ?? ""}`, {
    code: "SignInFailed",
    hint: signInHint(mode, options, error),
  });
}

async function operatorSources(options: OperatorCredentialOptions, identity: Identity): Promise<NamedSource[]> {
  const { cloud, tenantId, env } = options;
  const authority = authorityOptions(cloud);
  const sources: NamedSource[] = [];
  const mode = options.auth;

  const cli = (): NamedSource => ({
    name: "cli",
    credential: new identity.AzureCliCredential(tenantId ? { tenantId } : {}),
  });
  const fromEnv = (signIn: EnvSignIn): NamedSource => {
    const common = { ...authority, sendCertificateChain: signIn.sendCertificateChain };
    if (signIn.kind === "client secret" && signIn.secret) {
      return {
        name: "env (client secret)",
        credential: new identity.ClientSecretCredential(signIn.tenantId, signIn.clientId, signIn.secret, authority),
      };
    }
    const config = signIn.certificatePassword
      ? { certificatePath: signIn.certificatePath ?? "", certificatePassword: signIn.certificatePassword }
      : { certificatePath: signIn.certificatePath ?? "" };
    return {
      name: "env (client certificate)",
      credential: new identity.ClientCertificateCredential(signIn.tenantId, signIn.clientId, config, common),
    };
  };
  const deviceCode = (): NamedSource => ({
    name: "device-code",
    credential: new identity.DeviceCodeCredential({
      ...authority,
      ...(tenantId ? { tenantId } : {}),
      userPromptCallback: (info) => {
        options.onDeviceCode?.({ message: info.message, userCode: info.userCode, verificationUri: info.verificationUri });
      },
    }),
  });

  if (mode === "cli") sources.push(cli());
  if (mode === "env") {
    const signIn = envSignIn(env, tenantId);
    if ("missing" in signIn) {
      throw AkvError.auth(`Cannot sign in from the environment: ${signIn.missing.join(", ")} not set.`, {
        code: "EnvironmentCredentialIncomplete",
        hint: ENV_HINT,
        details: { missing: signIn.missing },
      });
    }
    sources.push(fromEnv(signIn));
  }
  if (mode === "device-code") {
    if (!options.canPrompt) {
      throw AkvError.auth("Device-code sign-in needs someone at a terminal, and prompting is off.", {
        code: "DeviceCodeNeedsPrompt",
        hint: signInHint("device-code", options, undefined),
      });
    }
    sources.push(deviceCode());
  }
  if (mode === "managed-identity") {
    const clientId = envValue(env, "AZURE_CLIENT_ID");
    sources.push({
      name: "managed-identity",
      credential: clientId ? new identity.ManagedIdentityCredential({ clientId }) : new identity.ManagedIdentityCredential(),
    });
  }
  if (mode === "auto") {
    sources.push(cli());
    const signIn = envSignIn(env, tenantId);
    if (!("missing" in signIn)) sources.push(fromEnv(signIn));
    if (options.canPrompt) sources.push(deviceCode());
  }
  return sources;
}

/** The operator's credential for `--auth`; nothing is loaded or asked until the first token request. */
export function createOperatorCredential(options: OperatorCredentialOptions): OperatorCredential {
  let used: string | undefined;
  let inner: Promise<TokenCredential> | undefined;
  const build = async (): Promise<TokenCredential> => {
    if (options.cloud.caPem) trustExtraCa(options.cloud.caPem);
    const identity = await loadIdentity();
    const sources = await operatorSources(options, identity);
    const record = (name: string): void => {
      used = name;
    };
    if (sources.length === 1 && sources[0]) return new RecordingCredential(sources[0], record);
    return new identity.ChainedTokenCredential(...sources.map((s) => new RecordingCredential(s, record)));
  };
  return {
    mode: options.auth,
    get authMethod(): string {
      if (used === undefined) return options.auth;
      return options.auth === "auto" ? `auto: ${used}` : used;
    },
    async getToken(scopes: string | string[], getTokenOptions?: GetTokenOptions): Promise<AccessToken | null> {
      try {
        inner ??= build();
        const credential = await inner;
        return await credential.getToken(scopes, getTokenOptions);
      } catch (error) {
        // A failed build (missing variables) should be reported again next time, not cached as a rejection.
        if (error instanceof AkvError && inner) inner = undefined;
        throw signInError(options.auth, options, error);
      }
    },
  };
}

// ------------------------------------------------------------------------------------------------------------------
// Service principal (certificate)

export interface ServicePrincipalCredentialOptions {
  tenantId: string;
  clientId: string;
  /** Private key and certificate in one PEM string, as @azure/identity wants it. */
  certificatePem: string;
  cloud: CloudProfile;
}

/** The service principal signing in with its certificate (PS256 assertion with x5t#S256). */
export function createServicePrincipalCredential(options: ServicePrincipalCredentialOptions): TokenCredential {
  let inner: Promise<TokenCredential> | undefined;
  const build = async (): Promise<TokenCredential> => {
    if (options.cloud.caPem) trustExtraCa(options.cloud.caPem);
    const identity = await loadIdentity();
    return new identity.ClientCertificateCredential(
      options.tenantId,
      options.clientId,
      { certificate: options.certificatePem },
      authorityOptions(options.cloud),
    );
  };
  return {
    async getToken(scopes: string | string[], getTokenOptions?: GetTokenOptions): Promise<AccessToken | null> {
      try {
        inner ??= build();
        return await (await inner).getToken(scopes, getTokenOptions);
      } catch (error) {
        const mapped = toAkvError(error, {
          operation: `sign in as the service principal ${options.clientId} with its certificate`,
        });
        throw mapped instanceof AkvError && mapped.exitCode !== ExitCode.azure && mapped.exitCode !== ExitCode.auth
          ? new AkvError(ExitCode.auth, mapped.message, {
              ...(mapped.hint === undefined ? {} : { hint: mapped.hint }),
              ...(mapped.code === undefined ? {} : { code: mapped.code }),
              ...(mapped.details === undefined ? {} : { details: mapped.details }),
            })
          : mapped;
      }
    },
  };
}

// ------------------------------------------------------------------------------------------------------------------
// Token claims

export interface TokenClaims {
  tid?: string;
  oid?: string;
  appid?: string;
  azp?: string;
  idtyp?: string;
  upn?: string;
  unique_name?: string;
  preferred_username?: string;
  name?: string;
  app_displayname?: string;
  aud?: string;
  exp?: number;
}

/** The payload of a JWT access token, unverified (we only read who we are); undefined for opaque tokens. */
export function decodeTokenClaims(token: string): TokenClaims | undefined {
  const payload = token.split(".")[1];
  if (!payload) return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
    return typeof value === "object" && value !== null ? (value as TokenClaims) : undefined;
  } catch {
    return undefined;
  }
}
