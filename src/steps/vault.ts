import { STEP_TITLES, stepNumber } from "../state/step-ids.js";
import { AkvError } from "../errors.js";
import type { Step, StepContext } from "../engine/step.js";
import type { NetworkRules, VaultInfo } from "../azure/services.js";
import { MANAGED_BY_TAG, confirm, hasCode, setupTag, vaultUrlWithoutSlash } from "./shared.js";

function vaultOutputs(vault: VaultInfo, adopted: boolean) {
  return {
    vaultId: vault.id,
    vaultName: vault.name,
    resourceGroup: vault.resourceGroup,
    location: vault.location,
    vaultUri: vault.vaultUri,
    vaultUrl: vaultUrlWithoutSlash(vault.vaultUri),
    rbac: vault.enableRbacAuthorization,
    purgeProtection: vault.enablePurgeProtection,
    defaultAction: vault.networkAcls.defaultAction,
    virtualNetworkRules: vault.networkAcls.virtualNetworkRules,
    adopted,
  };
}

function isOurs(vault: VaultInfo, lineage: string): boolean {
  return vault.tags["akv-crashplan-setup"] === lineage;
}

export const vaultStep: Step = {
  id: "vault",
  number: stepNumber("vault"),
  title: STEP_TITLES.vault,
  explanation:
    "CrashPlan keeps its archive-encryption keystore as secrets in this vault. It is created in RBAC mode (access by role\n" +
    "assignment, not access policies), with soft delete and purge protection (a lost keystore makes backups unrecoverable),\n" +
    "and with public access limited to selected networks: nothing reaches it until the firewall step allows it.",
  inputs: ["resourceGroup", "location", "vaultName", "purgeProtection", "subnetId", "createVnet", "vnetAddressPrefix", "subnetName", "subnetPrefix", "switchToRbac"],
  reapplies: ["subnetId", "createVnet", "vnetAddressPrefix", "subnetName", "subnetPrefix"],
  needs: [],
  remote: true,

  plan(ctx) {
    const name = ctx.inputs.string("vaultName");
    const lines = [
      `Resource group ${ctx.inputs.string("resourceGroup")} in ${ctx.inputs.string("location")} (created if it does not exist)`,
      `Key Vault ${name} (https://${name}.vault.azure.net): RBAC, soft delete, purge protection ${ctx.inputs.boolean("purgeProtection") ? "on" : "OFF"}, public access on selected networks (default Deny, trusted Azure services allowed)`,
    ];
    const subnet = ctx.inputs.string("subnetId");
    if (subnet) lines.push(`Virtual-network rule for subnet ${subnet} (adds the Microsoft.KeyVault service endpoint if missing)`);
    const vnet = ctx.inputs.string("createVnet");
    if (vnet) {
      lines.push(
        `Virtual network ${vnet} (${ctx.inputs.string("vnetAddressPrefix")}) with subnet ${ctx.inputs.string("subnetName")} (${ctx.inputs.string("subnetPrefix")}) and the Microsoft.KeyVault service endpoint (an existing one is reused; its other subnets are left alone), and a vault network rule for it`,
      );
    }
    return lines;
  },

  async check(ctx) {
    const rg = ctx.previous.outputs.resourceGroup as string | undefined;
    const name = ctx.previous.outputs.vaultName as string | undefined;
    if (!rg || !name) return { status: "missing" };
    const vault = await ctx.azure.keyVault.getVault(rg, name);
    if (!vault) return { status: "drift", detail: `vault ${name} is missing in Azure` };
    if (!vault.enableRbacAuthorization) return { status: "drift", detail: `vault ${name} is no longer in RBAC mode` };
    if (vault.networkAcls.defaultAction !== "Deny") return { status: "drift", detail: `vault ${name} allows all networks (default action ${vault.networkAcls.defaultAction})` };
    return { status: "done", detail: vaultUrlWithoutSlash(vault.vaultUri) };
  },

  async apply(ctx) {
    const name = ctx.inputs.requireString("vaultName");
    const resourceGroup = ctx.inputs.requireString("resourceGroup");
    const location = ctx.inputs.requireString("location");
    const purgeProtection = ctx.inputs.boolean("purgeProtection");
    const lineage = ctx.state.lineage;
    const identity = await ctx.azure.identity();
    const kv = ctx.azure.keyVault;

    const inGroup = await kv.getVault(resourceGroup, name);
    if (inGroup) return vaultOutputs(await withSubnetRule(ctx, await adoptExisting(ctx, inGroup, lineage)), !isOurs(inGroup, lineage));

    // The name is checked before anything else exists, so a taken name leaves nothing behind.
    const availability = await kv.checkNameAvailability(name);
    let recover = false;
    if (!availability.available) {
      // Taken: perhaps by a vault of ours in another resource group of this subscription (only then is it worth a list).
      const elsewhere = await kv.findVault(name);
      if (elsewhere) return vaultOutputs(await withSubnetRule(ctx, await adoptExisting(ctx, elsewhere, lineage)), !isOurs(elsewhere, lineage));
      const deleted = await kv.findDeletedVault(name);
      if (deleted) {
        const when = `deleted ${deleted.deletionDate?.slice(0, 10) ?? "at an unknown date"}, scheduled for purge ${deleted.scheduledPurgeDate?.slice(0, 10) ?? "at an unknown date"}`;
        if (!deleted.inThisSubscription) {
          throw AkvError.usage(`The vault name "${name}" is held by a soft-deleted vault in another subscription (${when}).`, {
            code: "VaultNameSoftDeleted",
            hint: "Choose another --vault-name; only that subscription's owner can recover or purge it.",
          });
        }
        ctx.ui.warn(`The name "${name}" is held by a soft-deleted vault in this subscription (${when}, location ${deleted.location}).`);
        const wantRecover = ctx.flags.recoverDeleted === true || (ctx.ui.interactive && (await ctx.ui.prompt.confirm({ message: `Recover the deleted vault ${name} (its secrets come back too)?`, default: false })));
        if (!wantRecover) {
          throw AkvError.usage(`The vault name "${name}" is held by a soft-deleted vault (${when}).`, {
            code: "VaultNameSoftDeleted",
            hint: "Pass --recover-deleted to recover it, or choose another --vault-name. akv-crashplan never purges a vault on its own.",
          });
        }
        recover = true;
      } else {
        throw AkvError.usage(`The vault name "${name}" is not available: ${availability.message ?? availability.reason ?? "already in use"}.`, {
          code: availability.reason === "AccountNameInvalid" ? "VaultNameNotValid" : "VaultAlreadyExists",
          hint: "Vault names are global across Azure; choose another --vault-name.",
        });
      }
    }

    assertOneSubnetSource(ctx);
    const group = await ctx.azure.resources.getResourceGroup(resourceGroup);
    if (!group) {
      await ctx.saveMarker({ resourceGroupCreated: resourceGroup });
      await ctx.azure.resources.createResourceGroup(resourceGroup, location, { "managed-by": MANAGED_BY_TAG });
    }
    const subnetForRule = await prepareSubnet(ctx, resourceGroup, location);
    const virtualNetworkRules = subnetForRule ? [subnetForRule] : [];
    if (!purgeProtection) ctx.ui.warn("Purge protection is OFF: a deleted vault (and CrashPlan's keystore in it) could be purged for good during the retention period.");

    const networkAcls: NetworkRules = { defaultAction: "Deny", bypass: "AzureServices", ipRules: [], virtualNetworkRules };
    await ctx.saveMarker({ vaultName: name, resourceGroup, creating: true });
    let vault: VaultInfo;
    try {
      vault = await ctx.ui.wait(`${recover ? "Recovering" : "Creating"} Key Vault ${name}`, () =>
        kv.createVault({
          resourceGroup,
          name,
          location,
          tenantId: identity.tenantId,
          purgeProtection,
          networkAcls,
          tags: { "managed-by": MANAGED_BY_TAG, "akv-crashplan-setup": lineage },
          recover,
        }),
      );
    } catch (error) {
      // Lost the answer of an earlier attempt? The vault may be ours already.
      if (hasCode(error, "VaultAlreadyExists", "ConflictError")) {
        const ours = await kv.getVault(resourceGroup, name);
        if (ours && isOurs(ours, lineage)) return vaultOutputs(ours, false);
      }
      throw error;
    }
    if (!vault.enableRbacAuthorization) {
      // Recovering an old access-policy vault keeps its mode; a new one is RBAC at this api-version.
      vault = await kv.updateVault(resourceGroup, name, { enableRbacAuthorization: true });
    }
    ctx.ui.info(`  Vault URL for CrashPlan: ${vaultUrlWithoutSlash(vault.vaultUri)}`);
    return { ...vaultOutputs(vault, false), setupTag: setupTag(lineage) };
  },
};

async function adoptExisting(ctx: StepContext, vault: VaultInfo, lineage: string): Promise<VaultInfo> {
  if (isOurs(vault, lineage)) return vault;
  if (vault.resourceGroup.toLowerCase() !== ctx.inputs.requireString("resourceGroup").toLowerCase()) {
    ctx.ui.warn(`A vault named ${vault.name} already exists in resource group ${vault.resourceGroup} of this subscription.`);
  }
  if (!vault.enableRbacAuthorization) {
    const explanation =
      `The existing vault ${vault.name} uses access policies, not RBAC. Switching it to RBAC changes who can read it: ` +
      "every access policy stops working and only role assignments count.";
    if (!ctx.inputs.boolean("switchToRbac")) {
      throw AkvError.precondition(explanation, {
        code: "VaultUsesAccessPolicies",
        hint: "Review who relies on its access policies. To switch anyway, pass --switch-to-rbac (and confirm); or choose another --vault-name.",
      });
    }
    if (!(await confirm(ctx, `${explanation} Switch ${vault.name} to RBAC`))) throw AkvError.cancelled("Vault left unchanged.");
    vault = await ctx.azure.keyVault.updateVault(vault.resourceGroup, vault.name, { enableRbacAuthorization: true });
  }
  if (!(await confirm(ctx, `Use the existing vault ${vault.name} (${vault.location}, resource group ${vault.resourceGroup}) for CrashPlan`))) {
    throw AkvError.cancelled("Existing vault not adopted; choose another --vault-name.");
  }
  if (vault.networkAcls.defaultAction !== "Deny") {
    ctx.ui.warn(`The vault ${vault.name} accepts all networks; the firewall step will set it to selected networks.`);
  }
  return vault;
}

function assertOneSubnetSource(ctx: StepContext): void {
  if (ctx.inputs.string("createVnet") && ctx.inputs.string("subnetId")) {
    throw AkvError.usage("--subnet-id and --create-vnet both name a subnet for the vault; give one of them.", { code: "ConflictingInputs" });
  }
}

/** The subnet for the vault's network rule, with the Microsoft.KeyVault service endpoint (checked or added). */
async function prepareSubnet(ctx: StepContext, resourceGroup: string, location: string): Promise<string | undefined> {
  const subnetId = ctx.inputs.string("subnetId");
  const createVnet = ctx.inputs.string("createVnet");
  if (subnetId) {
    const subnet = await ctx.azure.resources.getSubnet(subnetId);
    if (!subnet) throw AkvError.usage(`The subnet ${subnetId} (--subnet-id) does not exist or is not visible to you.`, { code: "SubnetNotFound" });
    if (!subnet.serviceEndpoints.some((s) => s.toLowerCase() === "microsoft.keyvault")) {
      if (!(await confirm(ctx, `The subnet ${subnetId} has no Microsoft.KeyVault service endpoint, which a vault network rule needs. Add it`))) {
        throw AkvError.cancelled("The subnet needs the Microsoft.KeyVault service endpoint; nothing was changed.");
      }
      await ctx.ui.wait("Adding the Microsoft.KeyVault service endpoint to the subnet", () => ctx.azure.resources.addKeyVaultServiceEndpoint(subnetId));
    }
    return subnetId;
  }
  if (!createVnet) return undefined;
  const subnetName = ctx.inputs.string("subnetName") ?? "snet-keyvault";
  await ctx.saveMarker({ virtualNetwork: createVnet, subnet: subnetName });
  const subnet = await ctx.ui.wait(`Preparing subnet ${createVnet}/${subnetName} with the Microsoft.KeyVault service endpoint`, () =>
    ctx.azure.resources.ensureKeyVaultSubnet({
      resourceGroup,
      virtualNetwork: createVnet,
      location,
      addressPrefix: ctx.inputs.string("vnetAddressPrefix") ?? "10.42.0.0/16",
      subnet: subnetName,
      subnetPrefix: ctx.inputs.string("subnetPrefix") ?? "10.42.0.0/24",
      tags: { "managed-by": MANAGED_BY_TAG, "akv-crashplan-setup": ctx.state.lineage },
    }),
  );
  return subnet.id;
}

/** An existing vault (ours from an earlier run, or adopted) gets the asked-for network rule too, beside its others. */
async function withSubnetRule(ctx: StepContext, vault: VaultInfo): Promise<VaultInfo> {
  assertOneSubnetSource(ctx);
  if (!ctx.inputs.string("subnetId") && !ctx.inputs.string("createVnet")) return vault;
  const subnet = await prepareSubnet(ctx, vault.resourceGroup, vault.location);
  if (!subnet || vault.networkAcls.virtualNetworkRules.some((rule) => rule.toLowerCase() === subnet.toLowerCase())) return vault;
  return ctx.ui.wait(`Adding the virtual-network rule to ${vault.name}`, () =>
    ctx.azure.keyVault.updateVault(vault.resourceGroup, vault.name, {
      networkAcls: { ...vault.networkAcls, virtualNetworkRules: [...vault.networkAcls.virtualNetworkRules, subnet] },
    }),
  );
}
