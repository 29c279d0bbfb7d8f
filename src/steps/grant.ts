import { STEP_TITLES, stepNumber } from "../state/step-ids.js";
import { AkvError } from "../errors.js";
import type { Step } from "../engine/step.js";
import { deterministicGuid, hasCode, requireOutput, retryWhile } from "./shared.js";

export const SECRETS_OFFICER_ROLE_ID = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7";
export const KEY_VAULT_ADMINISTRATOR_ROLE_ID = "00482a5a-887f-4fb3-b363-3b7fe8e74483";

const REFUSED_ROLES: Record<string, string> = {
  "key vault reader": "it can read metadata only, not secret values",
  "key vault secrets user": "it can read secret values but not write them, and CrashPlan writes its keystore",
  "key vault crypto officer": "it manages keys, not secrets",
  "key vault crypto user": "it uses keys, not secrets",
  "key vault certificates officer": "it manages certificates, not secrets",
  contributor: "it manages the vault resource but gives no access to secret values under RBAC",
  owner: "it is far broader than needed and gives no data-plane access to secrets by itself",
  reader: "it gives no access to secret values",
};

/** Only roles that can read and write secret values; the id is fixed, so a renamed or custom role cannot sneak in. */
export function resolveRole(name: string): { roleId: string; roleName: string; warning?: string } {
  const normalised = name.trim().toLowerCase();
  if (normalised === "key vault secrets officer" || normalised === SECRETS_OFFICER_ROLE_ID) return { roleId: SECRETS_OFFICER_ROLE_ID, roleName: "Key Vault Secrets Officer" };
  if (normalised === "key vault administrator" || normalised === KEY_VAULT_ADMINISTRATOR_ROLE_ID) {
    return {
      roleId: KEY_VAULT_ADMINISTRATOR_ROLE_ID,
      roleName: "Key Vault Administrator",
      warning: "Key Vault Administrator is broader than CrashPlan needs (keys, certificates and vault settings too); Key Vault Secrets Officer is enough.",
    };
  }
  const reason = REFUSED_ROLES[normalised];
  throw AkvError.usage(`--role has the value "${name}", which cannot be used${reason ? `: ${reason}` : ""}.`, {
    code: "InvalidRole",
    hint: 'Use "Key Vault Secrets Officer" (recommended) or "Key Vault Administrator".',
  });
}

export const grantStep: Step = {
  id: "grant",
  number: stepNumber("grant"),
  title: STEP_TITLES.grant,
  explanation:
    "The service principal gets the role Key Vault Secrets Officer on this vault only (not the resource group or the\n" +
    "subscription): it can write and read CrashPlan's keystore secrets there, and nothing else.",
  inputs: ["role"],
  needs: ["vault", "app"],
  remote: true,

  plan(ctx) {
    return [`Role "${ctx.inputs.string("role") ?? "Key Vault Secrets Officer"}" for the service principal, scoped to the vault only`];
  },

  async check(ctx) {
    const scope = requireOutput(ctx, "vault", "vaultId");
    const name = ctx.previous.outputs.roleAssignmentName as string | undefined;
    if (!name) return { status: "missing" };
    const principalId = requireOutput(ctx, "app", "servicePrincipalId");
    if (ctx.previous.outputs.principalId && ctx.previous.outputs.principalId !== principalId) {
      return { status: "drift", detail: "the role is assigned to an older service principal, not the current one" };
    }
    const assignment = await ctx.azure.roles.getRoleAssignment(scope, name);
    if (assignment && assignment.principalId !== principalId) return { status: "drift", detail: "the role assignment names another principal" };
    if (!assignment) {
      const roleId = String(ctx.previous.outputs.roleId ?? SECRETS_OFFICER_ROLE_ID);
      const others = await ctx.azure.roles.listRoleAssignments(scope, principalId);
      if (others.some((a) => a.roleDefinitionId.toLowerCase().endsWith(roleId) && a.scope.toLowerCase() === scope.toLowerCase())) return { status: "done" };
      return { status: "drift", detail: "role assignment missing in Azure" };
    }
    return { status: "done", detail: String(ctx.previous.outputs.roleName ?? "") };
  },

  async apply(ctx) {
    const scope = requireOutput(ctx, "vault", "vaultId");
    const principalId = requireOutput(ctx, "app", "servicePrincipalId");
    const role = resolveRole(ctx.inputs.string("role") ?? "Key Vault Secrets Officer");
    if (role.warning) ctx.ui.warn(role.warning);
    const subscriptionId = scope.split("/")[2]!;
    const roleDefinitionId = `/subscriptions/${subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${role.roleId}`;
    // Deterministic name: a re-run (or a run resumed after a crash) PUTs the same assignment, never a second one.
    const name = deterministicGuid(scope, role.roleId, principalId);
    const done = { roleAssignmentName: name, roleId: role.roleId, roleName: role.roleName, scope, principalId };
    // A first attempt goes straight to the PUT (a duplicate answers RoleAssignmentExists, handled below);
    // only a resumed attempt looks first.
    if (ctx.previous.marker?.roleAssignmentName === name) {
      const existing = await ctx.azure.roles.getRoleAssignment(scope, name);
      if (existing) return { ...done, roleAssignmentId: existing.id };
    }
    await ctx.saveMarker({ roleAssignmentName: name });
    try {
      const created = await ctx.ui.wait(`Assigning ${role.roleName} on the vault`, (wait) =>
        retryWhile(
          ctx,
          () => ctx.azure.roles.createRoleAssignment({ scope, name, roleDefinitionId, principalId, principalType: "ServicePrincipal", description: "CrashPlan keystore (akv-crashplan)" }),
          (e) => hasCode(e, "PrincipalNotFound"),
          { timeoutMs: 180_000, firstDelayMs: 500, onRetry: () => wait.update("Waiting for the service principal to replicate to Azure RBAC") },
        ),
      );
      return { ...done, roleAssignmentId: created.id };
    } catch (error) {
      if (hasCode(error, "RoleAssignmentExists")) {
        const found = (await ctx.azure.roles.listRoleAssignments(scope, principalId)).find(
          (a) => a.roleDefinitionId.toLowerCase().endsWith(role.roleId) && a.scope.toLowerCase() === scope.toLowerCase(),
        );
        if (found) return { ...done, roleAssignmentName: found.name, roleAssignmentId: found.id };
      }
      if (hasCode(error, "AuthorizationFailed")) {
        throw AkvError.permission(`The signed-in identity cannot create role assignments on ${scope}.`, {
          code: "AuthorizationFailed",
          hint: "Ask an Owner for 'User Access Administrator' (or 'Role Based Access Control Administrator') on that vault, then run `akv-crashplan grant`.",
          cause: error,
        });
      }
      throw error;
    }
  },
};
