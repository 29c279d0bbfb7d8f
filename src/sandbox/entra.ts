/**
 * Entra ID: OIDC metadata, instance discovery and the client-credentials token endpoint, with real certificate
 * verification (x5t#S256 → keyCredentials, PS256 signature, aud/nbf/exp, credential dates) and AADSTS errors.
 */
import { X509Certificate, createHash, createPublicKey, randomUUID } from "node:crypto";
import { aadError, json, type Reply, type RequestContext } from "./http.js";
import { decodeJwt, verifyAssertionSignature } from "./jwt.js";
import { replicated, type SandboxCore } from "./core.js";
import type { ApplicationRecord } from "./types.js";

const JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
export const TOKEN_LIFETIME_SECONDS = 86399;

function knownTenant(core: SandboxCore, segment: string): boolean {
  const t = core.store.state.tenant;
  const s = segment.toLowerCase();
  return s === t.id || s === t.domain.toLowerCase() || s === "organizations" || s === "common";
}

function tenantNotFound(ctx: RequestContext, segment: string): Reply {
  return aadError(ctx, 400, "invalid_tenant", 90002, `Tenant '${segment}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.`);
}

function openIdConfiguration(core: SandboxCore, ctx: RequestContext, tenantSegment: string): Reply {
  const base = `${ctx.origin}/${tenantSegment}`;
  const tid = core.store.state.tenant.id;
  return json(
    200,
    {
      token_endpoint: `${base}/oauth2/v2.0/token`,
      token_endpoint_auth_methods_supported: ["client_secret_post", "private_key_jwt", "client_secret_basic"],
      jwks_uri: `${ctx.origin}/${tid}/discovery/v2.0/keys`,
      response_modes_supported: ["query", "fragment", "form_post"],
      subject_types_supported: ["pairwise"],
      id_token_signing_alg_values_supported: ["RS256"],
      response_types_supported: ["code", "id_token", "code id_token", "id_token token"],
      scopes_supported: ["openid", "profile", "email", "offline_access"],
      // MSAL requires the issuer on the same origin as the authority.
      issuer: `${ctx.origin}/${tid}/v2.0`,
      request_uri_parameter_supported: false,
      userinfo_endpoint: `${core.endpoints.graphEndpoint}/oidc/userinfo`,
      kerberos_endpoint: `${base}/kerberos`,
      http_logout_supported: true,
      frontchannel_logout_supported: true,
      cloud_graph_host_name: new URL(core.endpoints.graphEndpoint).host,
      rbac_url: core.endpoints.armEndpoint,
      authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
      device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
      end_session_endpoint: `${base}/oauth2/v2.0/logout`,
      claims_supported: ["sub", "iss", "aud", "exp", "iat", "tid", "ver"],
      tenant_region_scope: "WW",
      cloud_instance_name: "sandbox",
      msgraph_host: new URL(core.endpoints.graphEndpoint).host,
    },
    { "cache-control": "max-age=86400, private" },
  );
}

function instanceDiscovery(ctx: RequestContext): Reply {
  const host = new URL(ctx.origin).host;
  const authEndpoint = ctx.query.get("authorization_endpoint") ?? "";
  let tenant = "common";
  try {
    tenant = new URL(authEndpoint).pathname.split("/")[1] || "common";
  } catch {
    /* keep "common" */
  }
  return json(200, {
    tenant_discovery_endpoint: `${ctx.origin}/${tenant}/v2.0/.well-known/openid-configuration`,
    "api-version": "1.1",
    metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
  });
}

/** Resource (token audience) named by a `…/.default` scope, or undefined if the sandbox does not host it. */
function resolveResource(core: SandboxCore, resource: string): string | undefined {
  const r = resource.replace(/\/+$/, "");
  const known = [
    core.endpoints.armEndpoint,
    "https://management.azure.com",
    "https://management.core.windows.net",
    core.endpoints.graphEndpoint,
    "https://graph.microsoft.com",
    core.endpoints.keyVaultAudience,
  ];
  return known.find((k) => k.toLowerCase() === r.toLowerCase());
}

type CredentialResult = { ok: true; appidacr: "1" | "2" } | { ok: false; reply: Reply };

function checkSecret(core: SandboxCore, ctx: RequestContext, app: ApplicationRecord, secret: string): CredentialResult {
  const ok = app.passwordCredentials.some(
    (p) =>
      replicated(core, p.addedAt, ctx.now) &&
      p.secretText === secret &&
      Date.parse(p.startDateTime) <= ctx.now &&
      ctx.now <= Date.parse(p.endDateTime),
  );
  if (ok) return { ok: true, appidacr: "1" };
  return {
    ok: false,
    reply: aadError(ctx, 401, "invalid_client", 7000215, `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${app.appId}'.`),
  };
}

function checkAssertion(core: SandboxCore, ctx: RequestContext, app: ApplicationRecord, assertion: string, assertionType: string | null): CredentialResult {
  const invalid = (text: string): CredentialResult => ({ ok: false, reply: aadError(ctx, 400, "invalid_request", 50027, text) });
  if (assertionType !== JWT_BEARER) {
    return { ok: false, reply: aadError(ctx, 400, "invalid_request", 700023, `Invalid client assertion type '${assertionType ?? ""}'. It must be '${JWT_BEARER}'.`) };
  }
  const jwt = decodeJwt(assertion);
  if (!jwt) return invalid("JWT token is invalid or malformed.");
  const x5tS256 = typeof jwt.header["x5t#S256"] === "string" ? Buffer.from(jwt.header["x5t#S256"], "base64url").toString("hex").toUpperCase() : undefined;
  const x5t = typeof jwt.header["x5t"] === "string" ? Buffer.from(jwt.header["x5t"], "base64url").toString("hex").toUpperCase() : undefined;
  const thumbprint = x5tS256 ?? x5t ?? "";
  const notFound = (reason: string): CredentialResult => ({
    ok: false,
    reply: aadError(
      ctx,
      401,
      "invalid_client",
      700027,
      `Client assertion contains an invalid signature. [Reason - ${reason}, Thumbprint of key used by client: '${thumbprint}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '${app.appId}'. Review the documentation at https://docs.microsoft.com/en-us/graph/deployments to determine the corresponding service endpoint and https://docs.microsoft.com/en-us/graph/api/application-get?view=graph-rest-1.0&tabs=http to build a query request URL, such as 'https://graph.microsoft.com/beta/applications/${app.id}']`,
    ),
  });
  const credential = app.keyCredentials.find(
    (k) => replicated(core, k.addedAt, ctx.now) && ((x5tS256 !== undefined && k.sha256 === x5tS256) || (x5t !== undefined && k.sha1 === x5t)),
  );
  if (!credential) return notFound("The key was not found.");
  if (ctx.now < Date.parse(credential.startDateTime)) return notFound("The key is not yet valid.");
  if (ctx.now > Date.parse(credential.endDateTime)) return notFound("The key used is expired.");
  let publicKey;
  try {
    publicKey = createPublicKey(new X509Certificate(Buffer.from(credential.key, "base64")).publicKey.export({ type: "spki", format: "pem" }));
  } catch {
    return notFound("The key was not found.");
  }
  if (!verifyAssertionSignature(jwt, publicKey)) {
    return {
      ok: false,
      reply: aadError(
        ctx,
        401,
        "invalid_client",
        50013,
        `Assertion failed signature validation. [Reason - Key was found, but use of the key to verify the signature failed., Thumbprint of key used by client: '${thumbprint}', Found key 'Start=${credential.startDateTime}, End=${credential.endDateTime}']`,
      ),
    };
  }
  const p = jwt.payload;
  const expectedAud = `${ctx.origin}${ctx.path}`.toLowerCase();
  const tokenUrls = [expectedAud, `${ctx.origin}/${core.store.state.tenant.id}/oauth2/v2.0/token`.toLowerCase()];
  if (typeof p["aud"] !== "string" || !tokenUrls.includes(p["aud"].toLowerCase())) {
    return invalid(`The audience claim value '${String(p["aud"])}' is invalid. It must be the token endpoint '${ctx.origin}${ctx.path}'.`);
  }
  if (p["iss"] !== app.appId || p["sub"] !== app.appId) {
    return invalid(`The 'iss' and 'sub' claims of the client assertion must be the client id '${app.appId}'.`);
  }
  const nowSec = ctx.now / 1000;
  const nbf = Number(p["nbf"] ?? 0);
  const exp = Number(p["exp"] ?? 0);
  const skew = 300;
  if (!Number.isFinite(exp) || exp === 0 || exp + skew < nowSec || nbf - skew > nowSec) {
    return {
      ok: false,
      reply: aadError(
        ctx,
        400,
        "invalid_client",
        700024,
        `Client assertion is not within its valid time range. Current time: ${new Date(ctx.now).toISOString()}, assertion valid from ${new Date(nbf * 1000).toISOString()}, expiry time of assertion ${new Date(exp * 1000).toISOString()}. Review the documentation at https://docs.microsoft.com/azure/active-directory/develop/active-directory-certificate-credentials .`,
      ),
    };
  }
  return { ok: true, appidacr: "2" };
}

function token(core: SandboxCore, ctx: RequestContext, tenantSegment: string): Reply {
  const form = new URLSearchParams(ctx.bodyText);
  const need = (name: string): string | Reply => {
    const v = form.get(name);
    return v ? v : aadError(ctx, 400, "invalid_request", 900144, `The request body must contain the following parameter: '${name}'.`);
  };
  const grantType = need("grant_type");
  if (typeof grantType !== "string") return grantType;
  if (grantType !== "client_credentials") {
    return aadError(ctx, 400, "unsupported_grant_type", 70003, `The app requested an unsupported grant type '${grantType}'.`);
  }
  const clientId = need("client_id");
  if (typeof clientId !== "string") return clientId;
  const scope = need("scope");
  if (typeof scope !== "string") return scope;
  const scopes = scope.split(" ").filter((s) => s !== "");
  const defaultScope = scopes.find((s) => s.endsWith("/.default"));
  if (scopes.length !== 1 || !defaultScope) {
    return aadError(ctx, 400, "invalid_scope", 1002012, `The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`);
  }
  const tenant = core.store.state.tenant;
  const app = core.store.appByAppId(clientId);
  if (!app || !replicated(core, app.createdAt, ctx.now)) {
    return aadError(ctx, 400, "unauthorized_client", 700016, `Application with identifier '${clientId}' was not found in the directory '${tenant.displayName}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`);
  }
  const secret = form.get("client_secret");
  const assertion = form.get("client_assertion");
  let result: CredentialResult;
  if (secret) result = checkSecret(core, ctx, app, secret);
  else if (assertion) result = checkAssertion(core, ctx, app, assertion, form.get("client_assertion_type"));
  else return aadError(ctx, 401, "invalid_client", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.");
  if (!result.ok) return result.reply;
  const resource = resolveResource(core, defaultScope.slice(0, -"/.default".length));
  if (!resource) {
    return aadError(ctx, 400, "invalid_resource", 500011, `The resource principal named ${defaultScope.slice(0, -"/.default".length)} was not found in the tenant named ${tenant.displayName}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.`);
  }
  const sp = core.store.spByAppId(app.appId);
  if (!sp || !replicated(core, sp.createdAt, ctx.now)) {
    return aadError(ctx, 400, "invalid_client", 7000229, `The client application ${app.appId} is missing service principal in the tenant ${tenant.id}. See instructions here: https://go.microsoft.com/fwlink/?linkid=2225119`);
  }
  void tenantSegment;
  const iat = Math.floor(ctx.now / 1000);
  const accessToken = core.signer.sign({
    aud: resource,
    iss: `https://sts.windows.net/${tenant.id}/`,
    iat,
    nbf: iat,
    exp: iat + TOKEN_LIFETIME_SECONDS,
    aio: randomUUID(),
    appid: app.appId,
    appidacr: result.appidacr,
    azp: app.appId,
    idp: `https://sts.windows.net/${tenant.id}/`,
    idtyp: "app",
    oid: sp.id,
    rh: "0.sandbox",
    sub: sp.id,
    tid: tenant.id,
    uti: createHash("sha256").update(randomUUID()).digest("base64url").slice(0, 22),
    ver: "1.0",
  });
  return json(
    200,
    { token_type: "Bearer", expires_in: TOKEN_LIFETIME_SECONDS, ext_expires_in: TOKEN_LIFETIME_SECONDS, access_token: accessToken },
    { "cache-control": "no-store, no-cache", pragma: "no-cache", expires: "-1" },
  );
}

export function handleEntra(core: SandboxCore, ctx: RequestContext): Reply {
  const parts = ctx.path.split("/").filter((p) => p !== "");
  if (ctx.method === "GET" && parts.length === 3 && parts[0]?.toLowerCase() === "common" && parts[1] === "discovery" && parts[2] === "instance") {
    return instanceDiscovery(ctx);
  }
  const tenantSegment = parts[0] ?? "";
  const rest = parts.slice(1).join("/").toLowerCase();
  const known = rest === "v2.0/.well-known/openid-configuration" || rest === "oauth2/v2.0/token" || rest === "discovery/v2.0/keys";
  if (!known) return aadError(ctx, 404, "not_found", 90011, `The sandbox's Entra emulation has no route '${ctx.method} ${ctx.path}'.`);
  if (!knownTenant(core, tenantSegment)) return tenantNotFound(ctx, tenantSegment);
  if (rest === "v2.0/.well-known/openid-configuration" && ctx.method === "GET") return openIdConfiguration(core, ctx, tenantSegment);
  if (rest === "discovery/v2.0/keys" && ctx.method === "GET") {
    return json(200, { keys: [{ kty: "RSA", use: "sig", kid: "sandbox-1", ...core.signer.jwk() }] });
  }
  if (rest === "oauth2/v2.0/token" && ctx.method === "POST") return token(core, ctx, tenantSegment);
  return aadError(ctx, 405, "invalid_request", 900561, `The endpoint only accepts ${rest === "oauth2/v2.0/token" ? "POST" : "GET"} requests. Received a ${ctx.method} request.`);
}
