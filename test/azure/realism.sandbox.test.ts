/** The adapters under the sandbox's realism knobs: throttling, outages, replication and RBAC propagation delays. */
import { afterEach, describe, expect, it } from "vitest";
import { ExitCode } from "../../src/errors.js";
import type { SandboxConfig } from "../../src/sandbox/index.js";
import { type AzureTestBed, makeCertificate, startAzureTestBed, rejection } from "./helpers/sandbox.js";

const SECRETS_OFFICER = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7";

describe("adapters under realism knobs", () => {
  let t: AzureTestBed | undefined;
  const start = async (config: SandboxConfig): Promise<AzureTestBed> => {
    t = await startAzureTestBed(config);
    return t;
  };
  afterEach(async () => {
    await t?.dispose();
    t = undefined;
  });

  it("429 with Retry-After is waited out by the SDK's own retry (not surfaced)", async () => {
    const bed = await start({ faults: [{ service: "arm", method: "GET", pathPattern: "/resourcegroups/rg-crashplan\\?", status: 429, retryAfterSeconds: 1, times: 1 }] });
    await bed.services.identity();
    const started = Date.now();
    expect(await bed.services.resources.getResourceGroup(bed.sb.resourceGroup)).toMatchObject({ name: bed.sb.resourceGroup });
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
  });

  it("503 beyond the retries surfaces as exit 6 with Azure's status", async () => {
    const bed = await start({ faults: [{ service: "arm", method: "POST", pathPattern: "checkNameAvailability", status: 503, times: 10 }] });
    const error = await rejection(bed.services.keyVault.checkNameAvailability("kv-any"));
    expect(error.exitCode).toBe(ExitCode.azure);
    expect(error.details).toMatchObject({ status: 503 });
  });

  it("Graph: a service principal right after its application fails with Azure's code while the directory replicates", async () => {
    const bed = await start({ replicationDelayMs: 60_000 });
    const app = await bed.services.directory.createApplication({ displayName: "replicating", tags: [] });
    const error = await rejection(bed.services.directory.createServicePrincipal(app.appId, []));
    expect(error.code).toBe("Request_BadRequest");
    expect(error.details?.azureMessage).toMatch(/does not reference a valid application object/);
  });

  it("a sign-in failure reaches the caller as the credential's AkvError, also through the Graph client", async () => {
    const bed = await start({});
    const bad = bed.servicesAs({ ...bed.sb.operator, clientSecret: "wrong" });
    const viaGraph = await rejection(bad.directory.organization());
    expect(viaGraph).toMatchObject({ code: "AADSTS7000215", exitCode: ExitCode.auth });
    const viaArm = await rejection(bad.resources.listSubscriptions());
    expect(viaArm).toMatchObject({ code: "AADSTS7000215", exitCode: ExitCode.auth });
  });

  it("ForbiddenByRbac until the propagation delay has passed", async () => {
    const bed = await start({ rbacPropagationDelayMs: 1_500 });
    const id = await bed.services.identity();
    const vault = await bed.services.keyVault.createVault({
      resourceGroup: bed.sb.resourceGroup,
      name: "kv-propagation",
      location: bed.sb.location,
      tenantId: id.tenantId,
      purgeProtection: false,
      networkAcls: { defaultAction: "Allow", bypass: "AzureServices", ipRules: [], virtualNetworkRules: [] },
      tags: {},
    });
    const app = await bed.services.directory.createApplication({ displayName: "propagation", tags: [] });
    const cert = makeCertificate("propagation");
    await bed.services.directory.setKeyCredentials(app.id, [{ type: "AsymmetricX509Cert", usage: "Verify", key: cert.derBase64 }]);
    const sp = await bed.services.directory.createServicePrincipal(app.appId, []);
    await bed.services.roles.createRoleAssignment({
      scope: vault.id,
      name: "5d2c3a52-0d7e-4a8a-9b8e-0c7d9f3e2a11",
      roleDefinitionId: `/providers/Microsoft.Authorization/roleDefinitions/${SECRETS_OFFICER}`,
      principalId: sp.id,
      principalType: "ServicePrincipal",
    });
    const secrets = bed.services.secrets.asServicePrincipal({ vaultUrl: vault.vaultUri, tenantId: id.tenantId, clientId: app.appId, certificatePem: cert.pem });
    expect(await rejection(secrets.setSecret("probe", "v"))).toMatchObject({ code: "ForbiddenByRbac", exitCode: ExitCode.permission });
    await new Promise((r) => setTimeout(r, 1_600));
    expect((await secrets.setSecret("probe", "v")).name).toBe("probe");
  });
});
