/** Bad requests get Azure-shaped 400s, unknown routes a 404 naming them, wrong tokens each service's 401. */
import { createSign, randomUUID } from "node:crypto";
import forge from "node-forge";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, createVault, graph, registerAppWithCert, secretCredential, startTestSandbox, tokenFor, type TestSandbox } from "./helpers.js";

describe("sandbox error handling", () => {
  let t: TestSandbox;
  beforeAll(async () => {
    t = await startTestSandbox();
  });
  afterAll(async () => t.dispose());

  it("malformed JSON and missing fields → 400 in each service's envelope; the sandbox keeps serving", async () => {
    const { sb } = t;
    const armToken = await tokenFor(sb, sb.cloud.armEndpoint);
    const rg = `${sb.cloud.armEndpoint}/subscriptions/${sb.subscriptionId}/resourceGroups/${sb.resourceGroup}`;
    const bad = await call("PUT", `${rg}/providers/Microsoft.KeyVault/vaults/kv-bad-1?api-version=2026-02-01`, { token: armToken, body: "{not json" });
    expect([bad.status, bad.body.error.code]).toEqual([400, "InvalidRequestContent"]);
    const noSku = await call("PUT", `${rg}/providers/Microsoft.KeyVault/vaults/kv-bad-1?api-version=2026-02-01`, { token: armToken, body: { location: sb.location, properties: { tenantId: sb.tenantId } } });
    expect([noSku.status, noSku.body.error.message]).toEqual([400, "The parameter properties.sku cannot be null."]);
    const noLoc = await call("PUT", `${rg}/providers/Microsoft.KeyVault/vaults/kv-bad-1?api-version=2026-02-01`, { token: armToken, body: { properties: {} } });
    expect(noLoc.body.error.code).toBe("LocationRequired");
    const apiVersion = await call("GET", `${rg}?api-version=garbage`, { token: armToken });
    expect([apiVersion.status, apiVersion.body.error.code]).toEqual([400, "InvalidApiVersionParameter"]);
    const noApi = await call("GET", rg, { token: armToken });
    expect(noApi.body.error.code).toBe("MissingApiVersionParameter");

    const gToken = await tokenFor(sb, sb.cloud.graphEndpoint);
    const gBad = await call("POST", `${sb.cloud.graphEndpoint}/v1.0/applications`, { token: gToken, body: "[[" });
    expect([gBad.status, gBad.body.error.code]).toEqual([400, "BadRequest"]);
    const gMissing = await call("POST", `${sb.cloud.graphEndpoint}/v1.0/applications`, { token: gToken, body: {} });
    expect([gMissing.status, gMissing.body.error.code]).toEqual([400, "Request_BadRequest"]);
    const gKey = await call("PATCH", `${sb.cloud.graphEndpoint}/v1.0/applications/${randomUUID()}`, { token: gToken, body: { keyCredentials: [{ key: "bm90IGEgY2VydA==" }] } });
    expect(gKey.status).toBe(404);

    const e = await call("POST", `${sb.cloud.authorityHost}/${sb.tenantId}/oauth2/v2.0/token`, { body: "client_id=x", headers: { "content-type": "application/x-www-form-urlencoded" } });
    expect([e.status, e.body.error_codes]).toEqual([400, [900144]]);

    const vault = await createVault(sb, "kv-bad-2");
    const kvToken = await tokenFor(sb, "https://vault.azure.net");
    const kvBad = await call("PUT", `${vault.uri}secrets/x?api-version=2026-04-01`, { token: kvToken, body: "nope" });
    // RBAC comes before the body: the operator (Owner) has no data role.
    expect(kvBad.body.error.innererror.code).toBe("ForbiddenByRbac");
    expect((await call("GET", `${sb.cloud.armEndpoint}/subscriptions?api-version=2022-12-01`, { token: armToken })).status).toBe(200);
  });

  it("unknown routes → 404 naming the route, in every service", async () => {
    const { sb } = t;
    const arm = await call("GET", `${sb.cloud.armEndpoint}/subscriptions/${sb.subscriptionId}/providers/Microsoft.Nope/things?api-version=2026-02-01`, { token: await tokenFor(sb, sb.cloud.armEndpoint) });
    expect(arm.status).toBe(404);
    expect(arm.body.error.message).toContain("/providers/Microsoft.Nope/things");
    const g = await call("GET", `${sb.cloud.graphEndpoint}/v1.0/groups`, { token: await tokenFor(sb, sb.cloud.graphEndpoint) });
    expect(g.status).toBe(404);
    expect(g.body.error.message).toContain("GET /v1.0/groups");
    const e = await call("GET", `${sb.cloud.authorityHost}/${sb.tenantId}/nothing`);
    expect(e.status).toBe(404);
    expect(e.body.error_description).toContain("/nothing");
    const admin = await call("GET", `${sb.adminUrl}/nothing`);
    expect(admin.status).toBe(404);
  });

  it("each service rejects a token meant for another with its own 401", async () => {
    const { sb } = t;
    const graphToken = await tokenFor(sb, sb.cloud.graphEndpoint);
    const arm = await call("GET", `${sb.cloud.armEndpoint}/subscriptions?api-version=2022-12-01`, { token: graphToken });
    expect([arm.status, arm.body.error.code]).toEqual([401, "InvalidAuthenticationTokenAudience"]);
    const armToken = await tokenFor(sb, sb.cloud.armEndpoint);
    const g = await call("GET", `${sb.cloud.graphEndpoint}/v1.0/organization`, { token: armToken });
    expect([g.status, g.body.error.code]).toEqual([401, "InvalidAuthenticationToken"]);
    const vault = await createVault(sb, "kv-aud-1");
    const kv = await call("GET", `${vault.uri}secrets?api-version=2026-04-01`, { token: armToken });
    expect(kv.status).toBe(401);
    expect(kv.body.error.message).toMatch(/^AKV10022: Invalid audience/);
    expect(kv.headers.get("www-authenticate")).toContain('resource="https://vault.azure.net"');
    const forged = await call("GET", `${sb.cloud.armEndpoint}/subscriptions?api-version=2022-12-01`, { token: `${armToken.slice(0, -4)}AAAA` });
    expect(forged.body.error.code).toBe("InvalidAuthenticationToken");
  });

  it("the limited operator may not create applications nor role assignments; permissions read shows why", async () => {
    const { sb } = t;
    const limitedGraph = graph(sb, secretCredential(sb, sb.limitedOperator));
    await expect(limitedGraph.api("/applications").post({ displayName: "nope" })).rejects.toMatchObject({ statusCode: 403, code: "Authorization_RequestDenied" });
    const token = await tokenFor(sb, sb.cloud.armEndpoint, sb.limitedOperator);
    const perms = await call("GET", `${sb.cloud.armEndpoint}/subscriptions/${sb.subscriptionId}/providers/Microsoft.Authorization/permissions?api-version=2022-04-01`, { token });
    expect(perms.body.value).toEqual([{ actions: ["*/read"], notActions: [], dataActions: [], notDataActions: [] }]);
    const rg = `${sb.cloud.armEndpoint}/subscriptions/${sb.subscriptionId}/resourceGroups/${sb.resourceGroup}`;
    const put = await call("PUT", `${rg}/providers/Microsoft.KeyVault/vaults/kv-limited-1?api-version=2026-02-01`, { token, body: { location: sb.location, properties: { tenantId: sb.tenantId, sku: { family: "A", name: "standard" } } } });
    expect([put.status, put.body.error.code]).toEqual([403, "AuthorizationFailed"]);
    expect(put.body.error.message).toContain("'Microsoft.KeyVault/vaults/write'");
  });

  it("certificate sign-in: an assertion outside its time window → AADSTS700024; a bad signature → AADSTS50013", async () => {
    const { sb } = t;
    const app = await registerAppWithCert(sb, "time-window");
    const url = `${sb.cloud.authorityHost}/${sb.tenantId}/oauth2/v2.0/token`;
    const der = Buffer.from(app.cert.derBase64, "base64");
    const x5t = (await import("node:crypto")).createHash("sha256").update(der).digest("base64url");
    const keyPem = forge.pki.privateKeyToPem(app.cert.key);
    const assertion = (payload: Record<string, unknown>, alg = "RS256"): string => {
      const input = `${Buffer.from(JSON.stringify({ alg, typ: "JWT", "x5t#S256": x5t })).toString("base64url")}.${Buffer.from(JSON.stringify(payload)).toString("base64url")}`;
      return `${input}.${createSign("sha256").update(input).sign(keyPem).toString("base64url")}`;
    };
    const now = Math.floor(Date.now() / 1000);
    const send = (a: string) => call("POST", url, { body: new URLSearchParams({ grant_type: "client_credentials", client_id: app.appId, scope: "https://vault.azure.net/.default", client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", client_assertion: a }).toString(), headers: { "content-type": "application/x-www-form-urlencoded" } });
    const base = { aud: url, iss: app.appId, sub: app.appId, jti: randomUUID() };
    const ok = await send(assertion({ ...base, nbf: now, exp: now + 600 }));
    expect(ok.status).toBe(200);
    const expired = await send(assertion({ ...base, nbf: now - 7200, exp: now - 3600 }));
    expect(expired.body.error_codes).toEqual([700024]);
    const tampered = assertion({ ...base, nbf: now, exp: now + 600 }).replace(/\.[^.]+$/, ".AAAA");
    expect((await send(tampered)).body.error_codes).toEqual([50013]);
    const wrongAud = await send(assertion({ ...base, aud: "https://elsewhere/token", nbf: now, exp: now + 600 }));
    expect(wrongAud.status).toBe(400);
  });
});
