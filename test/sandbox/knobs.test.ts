/** One test per realism knob, each showing its effect. Delays are small (300 ms) to keep the suite fast. */
import { afterEach, describe, expect, it } from "vitest";
import { loadSandboxConfigFile } from "../../src/sandbox/index.js";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import {
  SECRETS_OFFICER,
  assignRole,
  call,
  certificateCredential,
  createVault,
  graph,
  kvArm,
  registerAppWithCert,
  secrets,
  sleep,
  startTestSandbox,
  tokenFor,
  type TestSandbox,
} from "./helpers.js";

const DELAY = 300;
let t: TestSandbox | undefined;
afterEach(async () => {
  await t?.dispose();
  t = undefined;
});

describe("realism knobs", () => {
  it("replicationDelayMs: a new app is invisible to Graph-by-id, SP creation, the token endpoint and ARM for a while", async () => {
    t = await startTestSandbox({ replicationDelayMs: DELAY });
    const { sb } = t;
    const gToken = await tokenFor(sb, sb.cloud.graphEndpoint);
    const created = await call("POST", `${sb.cloud.graphEndpoint}/v1.0/applications`, { token: gToken, body: { displayName: "repl-app" } });
    expect(created.status).toBe(201);
    const app = created.body as { id: string; appId: string };
    const early = await call("GET", `${sb.cloud.graphEndpoint}/v1.0/applications/${app.id}`, { token: gToken });
    expect(early.status).toBe(404);
    expect(early.body.error.code).toBe("Request_ResourceNotFound");
    const spEarly = await call("POST", `${sb.cloud.graphEndpoint}/v1.0/servicePrincipals`, { token: gToken, body: { appId: app.appId } });
    expect(spEarly.status).toBe(400);
    expect(spEarly.body.error.message).toContain("does not reference a valid application object");
    await sleep(DELAY + 50);
    expect((await call("GET", `${sb.cloud.graphEndpoint}/v1.0/applications/${app.id}`, { token: gToken })).status).toBe(200);
    const sp = await call("POST", `${sb.cloud.graphEndpoint}/v1.0/servicePrincipals`, { token: gToken, body: { appId: app.appId } });
    expect(sp.status).toBe(201);

    // ARM: without principalType, the just-created SP is not found; with it, ARM accepts the assignment.
    const vault = await createVault(sb, "kv-repl-1");
    await expect(assignRole(sb, vault.id, SECRETS_OFFICER, sp.body.id, null)).rejects.toMatchObject({ statusCode: 400, code: "PrincipalNotFound" });
    await assignRole(sb, vault.id, SECRETS_OFFICER, sp.body.id, "ServicePrincipal");

    // Token endpoint: the uploaded certificate is not usable until it has replicated.
    const withCert = await registerAppWithCert(sb, "repl-cert", DELAY + 50);
    const cred = certificateCredential(sb, withCert.appId, withCert.cert.pem);
    await expect(cred.getToken("https://vault.azure.net/.default")).rejects.toThrow(/700027/);
    await sleep(DELAY + 50);
    const fresh = certificateCredential(sb, withCert.appId, withCert.cert.pem);
    expect((await fresh.getToken("https://vault.azure.net/.default")).token).toBeTruthy();
  });

  it("rbacPropagationDelayMs: a new role assignment is denied on the data plane until it has propagated", async () => {
    t = await startTestSandbox({ rbacPropagationDelayMs: DELAY });
    const { sb } = t;
    const app = await registerAppWithCert(sb, "rbac-app");
    const vault = await createVault(sb, "kv-rbac-1");
    await assignRole(sb, vault.id, SECRETS_OFFICER, app.spId);
    const kv = secrets(vault.uri, certificateCredential(sb, app.appId, app.cert.pem));
    const denied = await kv.setSecret("early", "x").catch((e: unknown) => e);
    expect(denied).toMatchObject({ statusCode: 403, code: "Forbidden" });
    expect((denied as { message: string }).message).toContain("please observe propagation time");
    expect((denied as { message: string }).message).toContain("Microsoft.KeyVault/vaults/secrets/setSecret/action");
    await sleep(DELAY + 50);
    expect((await kv.setSecret("late", "x")).name).toBe("late");
  });

  it("clientIp: the firewall sees the configured address (and x-sandbox-client-ip overrides it)", async () => {
    t = await startTestSandbox({ clientIp: "192.0.2.50" });
    const { sb } = t;
    const vault = await createVault(sb, "kv-ip-1", { networkAcls: { defaultAction: "Deny", ipRules: [{ value: "203.0.113.0/24" }] } });
    const token = await tokenFor(sb, "https://vault.azure.net");
    const blocked = await call("GET", `${vault.uri}secrets?api-version=2026-04-01`, { token });
    expect(blocked.status).toBe(403);
    expect(blocked.body.error.innererror.code).toBe("ForbiddenByFirewall");
    expect(blocked.body.error.message).toContain("Client address: 192.0.2.50");
    const passed = await call("GET", `${vault.uri}secrets?api-version=2026-04-01`, { token, headers: { "x-sandbox-client-ip": "203.0.113.77" } });
    // Through the firewall; the operator (Owner) then meets RBAC, which is the next check.
    expect(passed.body.error.innererror.code).toBe("ForbiddenByRbac");
  });

  it("latencyMs: every answer is delayed", async () => {
    t = await startTestSandbox({ latencyMs: 200 });
    const start = Date.now();
    const res = await call("GET", `${t.sb.cloud.armEndpoint}/subscriptions?api-version=2022-12-01`);
    expect(res.status).toBe(401);
    expect(Date.now() - start).toBeGreaterThanOrEqual(190);
  });

  it("faults: 429 with Retry-After is retried by the SDK; times counts down; the log records both", async () => {
    t = await startTestSandbox({ faults: [{ service: "arm", method: "GET", pathPattern: "/vaults/kv-fault-1", status: 429, retryAfterSeconds: 0, times: 2 }] });
    const { sb } = t;
    await createVault(sb, "kv-fault-1").catch(() => undefined); // the LRO's GET polls meet the faults
    const v = await kvArm(sb).vaults.get(sb.resourceGroup, "kv-fault-1");
    expect(v.name).toBe("kv-fault-1");
    const statuses = sb.requestLog().filter((e) => e.method === "GET" && e.path.includes("/vaults/kv-fault-1")).map((e) => e.status);
    expect(statuses.filter((s) => s === 429)).toHaveLength(2);
    expect(statuses.at(-1)).toBe(200);
    const body = await call("GET", `${sb.cloud.armEndpoint}/subscriptions?api-version=2022-12-01`); // fault used up: normal 401
    expect(body.status).toBe(401);
  });

  it("faults: Azure-shaped bodies per service, and resetConnection destroys the socket", async () => {
    t = await startTestSandbox({
      faults: [
        { service: "graph", status: 429, retryAfterSeconds: 7 },
        { service: "entra", pathPattern: "oauth2", status: 503, retryAfterSeconds: 1 },
        { service: "keyvault", resetConnection: true },
      ],
    });
    const { sb } = t;
    const g = await call("GET", `${sb.cloud.graphEndpoint}/v1.0/organization`);
    expect(g.status).toBe(429);
    expect(g.headers.get("retry-after")).toBe("7");
    expect(g.body.error.code).toBe("TooManyRequests");
    const e = await call("POST", `${sb.cloud.authorityHost}/${sb.tenantId}/oauth2/v2.0/token`, { body: "grant_type=client_credentials", headers: { "content-type": "application/x-www-form-urlencoded" } });
    expect(e.status).toBe(503);
    expect(e.body.error_codes).toEqual([90033]);
    const vault = await createVault(sb, "kv-reset-1");
    await expect(call("GET", `${vault.uri}secrets?api-version=2026-04-01`)).rejects.toThrow();
    expect((await call("GET", `${vault.uri}secrets?api-version=2026-04-01`)).status).toBe(401);
    expect(sb.requestLog().some((l) => l.service === "keyvault" && l.status === 0)).toBe(true);
  });

  it("a config file is validated; a bad field is named with its rule", () => {
    const good = join(tmpdir(), `sandbox-cfg-${process.pid}.json`);
    writeFileSync(good, JSON.stringify({ replicationDelayMs: 10, faults: [{ service: "arm", status: 429 }] }));
    expect(loadSandboxConfigFile(good)).toEqual({ replicationDelayMs: 10, faults: [{ service: "arm", status: 429 }] });
    writeFileSync(good, JSON.stringify({ replicationDelayMs: -1, clientIp: "nope", faults: [{ pathPattern: "(" , status: 429 }], extra: 1 }));
    let err: unknown;
    try {
      loadSandboxConfigFile(good);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ name: "AkvError", exitCode: 2 });
    const msg = (err as Error).message;
    expect(msg).toContain("replicationDelayMs: must be 0 or more");
    expect(msg).toContain("clientIp: must be an IPv4 address");
    expect(msg).toContain("faults[0].pathPattern: must be a valid regular expression");
    expect(msg).toContain("unknown field(s) extra");
    void graph;
  });
});
