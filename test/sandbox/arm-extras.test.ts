/** Further SDK paths: subscriptions, resource groups, vaults.list, recover, Graph filters. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SubscriptionClient } from "@azure/arm-resources-subscriptions";
import { ResourceManagementClient } from "@azure/arm-resources";
import { createVault, graph, kvArm, secretCredential, startTestSandbox, type TestSandbox } from "./helpers.js";

describe("sandbox: more SDK paths", () => {
  let t: TestSandbox;
  beforeAll(async () => {
    t = await startTestSandbox();
  });
  afterAll(async () => t.dispose());

  it("subscriptions, locations and resource groups through the ARM resource SDKs", async () => {
    const { sb } = t;
    const cred = secretCredential(sb);
    const subs = new SubscriptionClient(cred, { endpoint: sb.cloud.armEndpoint });
    const list = [];
    for await (const s of subs.subscriptions.list()) list.push(s);
    expect(list.map((s) => [s.subscriptionId, s.tenantId, s.displayName])).toEqual([[sb.subscriptionId, sb.tenantId, sb.subscriptionName]]);
    const locs = [];
    for await (const l of subs.subscriptions.listLocations(sb.subscriptionId)) locs.push(l.name);
    expect(locs).toContain(sb.location);
    const res = new ResourceManagementClient(cred, sb.subscriptionId, { endpoint: sb.cloud.armEndpoint });
    const rg = await res.resourceGroups.createOrUpdate("rg-extra", { location: "westeurope", tags: { a: "b" } });
    expect(rg.location).toBe("westeurope");
    expect((await res.resourceGroups.checkExistence("rg-extra")).body).toBe(true);
    expect((await res.resourceGroups.checkExistence("rg-missing")).body).toBe(false);
    const rgs = [];
    for await (const r of res.resourceGroups.list()) rgs.push(r.name);
    expect(rgs).toEqual([sb.resourceGroup, "rg-extra"]);
  });

  it("vaults.list, and createMode recover brings a deleted vault back on the same URI", async () => {
    const { sb } = t;
    const arm = kvArm(sb);
    const v = await createVault(sb, "kv-recover-1");
    const names = [];
    for await (const r of arm.vaults.list()) names.push(r.name);
    expect(names).toContain("kv-recover-1");
    await arm.vaults.delete(sb.resourceGroup, "kv-recover-1");
    const deleted = [];
    for await (const d of arm.vaults.listDeleted()) deleted.push(d.name);
    expect(deleted).toEqual(["kv-recover-1"]);
    const back = await arm.vaults.beginCreateOrUpdateAndWait(
      sb.resourceGroup,
      "kv-recover-1",
      { location: sb.location, properties: { tenantId: sb.tenantId, sku: { family: "A", name: "standard" }, createMode: "recover" } },
      { updateIntervalInMs: 10 },
    );
    expect(back.properties.vaultUri).toBe(v.uri);
    expect(sb.snapshot().deletedVaults).toEqual([]);
  });

  it("Graph filters: displayName, appId, tags/any; $select; notes and tags round-trip", async () => {
    const { sb } = t;
    const g = graph(sb);
    const app = (await g.api("/applications").post({ displayName: "tagged-app", tags: ["akv-crashplan:setup-1"], notes: "marker" })) as { id: string; appId: string };
    const byTag = (await g.api("/applications").filter("tags/any(t:t eq 'akv-crashplan:setup-1')").get()) as { value: { id: string }[] };
    expect(byTag.value.map((a) => a.id)).toEqual([app.id]);
    const byAppId = (await g.api("/applications").filter(`appId eq '${app.appId}'`).select("id,notes").get()) as { value: Record<string, unknown>[] };
    expect(byAppId.value).toEqual([{ id: app.id, notes: "marker" }]);
    await g.api(`/applications/${app.id}`).patch({ notes: "changed" });
    expect(((await g.api(`/applications/${app.id}`).get()) as { notes: string; tags: string[] })).toMatchObject({ notes: "changed", tags: ["akv-crashplan:setup-1"] });
    const sp = (await g.api("/servicePrincipals").post({ appId: app.appId })) as { id: string };
    const sps = (await g.api("/servicePrincipals").filter(`appId eq '${app.appId}'`).get()) as { value: { id: string }[] };
    expect(sps.value.map((s) => s.id)).toEqual([sp.id]);
    await g.api(`/applications/${app.id}`).delete();
    expect(sb.snapshot().servicePrincipals.some((s) => s.id === sp.id)).toBe(false);
  });
});
