/** identity(), credentials and ResourceManagement against the in-process sandbox, real SDKs over HTTPS. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NetworkManagementClient } from "@azure/arm-network";
import { ExitCode } from "../../src/errors.js";
import { createOperatorCredential } from "../../src/azure/credential.js";
import { createAzureServices, resolveSubscription } from "../../src/azure/index.js";
import { type AzureTestBed, operatorEnv, startAzureTestBed, rejection } from "./helpers/sandbox.js";

describe("identity and resources against the sandbox", () => {
  let t: AzureTestBed;
  beforeAll(async () => {
    t = await startAzureTestBed();
  });
  afterAll(async () => {
    await t?.dispose();
  });

  it("identity(): tenant from the token, the only subscription, the operator as a service principal", async () => {
    const id = await t.services.identity();
    expect(id).toEqual({
      tenantId: t.sb.tenantId,
      tenantName: t.sb.tenantDisplayName,
      subscriptionId: t.sb.subscriptionId,
      subscriptionName: t.sb.subscriptionName,
      principalObjectId: t.sb.operator.objectId,
      principalName: expect.any(String),
      principalType: "ServicePrincipal",
      authMethod: "env (client secret)",
    });
    expect(await t.services.identity()).toBe(id); // signed in once
  });

  it("identity(): subscription by name or id; an unknown one is a usage error listing the choices", async () => {
    const byName = t.servicesAs(t.sb.operator, { subscription: t.sb.subscriptionName.toLowerCase() });
    expect((await byName.identity()).subscriptionId).toBe(t.sb.subscriptionId);
    const byId = t.servicesAs(t.sb.operator, { subscription: t.sb.subscriptionId.toUpperCase() });
    expect((await byId.identity()).subscriptionId).toBe(t.sb.subscriptionId);
    const wrong = t.servicesAs(t.sb.operator, { subscription: "Production" });
    const error = await rejection(wrong.identity());
    expect(error).toMatchObject({ exitCode: ExitCode.usage, code: "SubscriptionNotFound" });
    expect(error.hint).toContain(t.sb.subscriptionId);
  });

  it("resolveSubscription: several without a choice asks; two with one name is ambiguous", () => {
    const subs = [
      { id: "a", name: "Prod", tenantId: "t", state: "Enabled" },
      { id: "b", name: "Prod", tenantId: "t", state: "Enabled" },
    ];
    expect(resolveSubscription(subs, undefined)).toBe("choose");
    expect(() => resolveSubscription(subs, "Prod")).toThrow(/Several subscriptions are named "Prod"/);
    expect(resolveSubscription(subs, "b")).toBe(subs[1]);
  });

  it("env sign-in with missing variables: exit 4 naming them; a wrong secret: exit 4 with AADSTS7000215", async () => {
    const incomplete = createOperatorCredential({ auth: "env", cloud: t.cloud, env: { AZURE_TENANT_ID: t.sb.tenantId }, canPrompt: false });
    const missing = await rejection(createAzureServices({ cloud: t.cloud, credential: incomplete }).identity());
    expect(missing).toMatchObject({ exitCode: ExitCode.auth, code: "EnvironmentCredentialIncomplete" });
    expect(missing.message).toContain("AZURE_CLIENT_ID");

    const env = { ...operatorEnv(t.sb), AZURE_CLIENT_SECRET: "not-the-secret" };
    const wrongSecret = createOperatorCredential({ auth: "env", cloud: t.cloud, env, canPrompt: false });
    const bad = await rejection(createAzureServices({ cloud: t.cloud, credential: wrongSecret }).identity());
    expect(bad).toMatchObject({ exitCode: ExitCode.auth, code: "AADSTS7000215" });
    expect(`${bad.message} ${bad.hint} ${JSON.stringify(bad.details)}`).not.toContain("not-the-secret");
  });

  it("device code without a person to answer is refused up front (exit 4, names the alternatives)", async () => {
    const credential = createOperatorCredential({ auth: "device-code", cloud: t.cloud, env: {}, canPrompt: false });
    const error = await rejection(Promise.resolve(credential.getToken(`${t.cloud.armAudience}/.default`)));
    expect(error).toMatchObject({ exitCode: ExitCode.auth, code: "DeviceCodeNeedsPrompt" });
    expect(error.hint).toMatch(/az login/);
  });

  it("auto without az and with the AZURE_* environment signs in from the environment", async () => {
    const credential = createOperatorCredential({ auth: "auto", cloud: t.cloud, env: operatorEnv(t.sb), canPrompt: false });
    const id = await createAzureServices({ cloud: t.cloud, credential }).identity();
    expect(id.principalObjectId).toBe(t.sb.operator.objectId);
    expect(id.authMethod).toMatch(/^auto: (cli|env \(client secret\))$/);
  });

  it("subscriptions, locations, resource groups and providers", async () => {
    const { resources } = t.services;
    expect(await resources.listSubscriptions()).toEqual([
      { id: t.sb.subscriptionId, name: t.sb.subscriptionName, tenantId: t.sb.tenantId, state: "Enabled" },
    ]);
    const locations = await resources.listLocations();
    expect(locations.map((l) => l.name)).toContain(t.sb.location);
    expect(await resources.getResourceGroup(t.sb.resourceGroup)).toEqual({ name: t.sb.resourceGroup, location: t.sb.location });
    expect(await resources.getResourceGroup("rg-missing")).toBeUndefined();
    expect(await resources.createResourceGroup("rg-new", "westeurope", { purpose: "test" })).toEqual({ name: "rg-new", location: "westeurope" });
    expect(await resources.getResourceGroup("rg-new")).toMatchObject({ name: "rg-new" });
    expect(await resources.isProviderRegistered("Microsoft.KeyVault")).toBe(true);
  });

  it("subnets: read, add the Microsoft.KeyVault service endpoint keeping the others, idempotently", async () => {
    const id = await t.services.identity();
    const network = new NetworkManagementClient(
      { getToken: (s, o) => createOperatorCredential({ auth: "env", cloud: t.cloud, env: operatorEnv(t.sb), canPrompt: false }).getToken(s, o) },
      id.subscriptionId,
      { endpoint: t.cloud.armEndpoint, credentials: { scopes: [`${t.cloud.armAudience}/.default`] } },
    );
    await network.virtualNetworks.beginCreateOrUpdateAndWait(
      t.sb.resourceGroup,
      "vnet1",
      {
        location: t.sb.location,
        addressSpace: { addressPrefixes: ["10.0.0.0/16"] },
        subnets: [{ name: "sn1", addressPrefix: "10.0.1.0/24", serviceEndpoints: [{ service: "Microsoft.Storage" }] }],
      },
      { updateIntervalInMs: 20 },
    );
    const subnetId = `/subscriptions/${id.subscriptionId}/resourceGroups/${t.sb.resourceGroup}/providers/Microsoft.Network/virtualNetworks/vnet1/subnets/sn1`;
    const before = await t.services.resources.getSubnet(subnetId);
    expect(before?.serviceEndpoints).toEqual(["Microsoft.Storage"]);
    const after = await t.services.resources.addKeyVaultServiceEndpoint(subnetId);
    expect(after.serviceEndpoints).toEqual(["Microsoft.Storage", "Microsoft.KeyVault"]);
    const writes = t.sb.requestLog().filter((r) => r.write).length;
    expect((await t.services.resources.addKeyVaultServiceEndpoint(subnetId)).serviceEndpoints).toContain("Microsoft.KeyVault");
    expect(t.sb.requestLog().filter((r) => r.write).length).toBe(writes);
    expect(await t.services.resources.getSubnet(subnetId.replace("sn1", "nope"))).toBeUndefined();
    await expect(t.services.resources.getSubnet("/subscriptions/x/nope")).rejects.toMatchObject({ exitCode: ExitCode.usage });
  });
});
