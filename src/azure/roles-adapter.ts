/**
 * RoleManagement over @azure/arm-authorization 9 (the older AutoRest client, api-version 2022-04-01).
 *
 * Its `scope` parameters are inserted into `/{scope}/providers/...` verbatim, so a resource id ("/subscriptions/…")
 * would become "//subscriptions/…": every scope and assignment id is passed without its leading slash.
 */
import type { AuthorizationManagementClient, RoleAssignment, RoleDefinition } from "@azure/arm-authorization";
import { type AdapterContext, lazyBy } from "./context.js";
import { azureCall, azureGet, isNotFoundError, toAkvError } from "./errors.js";
import type { PermissionSet, RoleAssignmentInfo, RoleDefinitionInfo, RoleManagement } from "./services.js";

const AUTHORIZATION_API_VERSION = "2022-04-01";

/** "/subscriptions/x/…" → "subscriptions/x/…" (see the module comment). */
export function sdkScope(scope: string): string {
  return scope.trim().replace(/^\/+/, "").replace(/\/+$/, "");
}

function odataString(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

function toRoleDefinitionInfo(d: RoleDefinition): RoleDefinitionInfo {
  const permissions = d.permissions ?? [];
  return {
    id: d.id ?? "",
    name: d.name ?? "",
    roleName: d.roleName ?? "",
    actions: permissions.flatMap((p) => p.actions ?? []),
    dataActions: permissions.flatMap((p) => p.dataActions ?? []),
  };
}

function toRoleAssignmentInfo(a: RoleAssignment): RoleAssignmentInfo {
  const info: RoleAssignmentInfo = {
    id: a.id ?? "",
    name: a.name ?? "",
    scope: a.scope ?? "",
    roleDefinitionId: a.roleDefinitionId ?? "",
    principalId: a.principalId ?? "",
  };
  if (a.principalType) info.principalType = a.principalType;
  return info;
}

export function createRolesAdapter(ctx: AdapterContext): RoleManagement {
  const clientFor = lazyBy(async (subscriptionId: string): Promise<AuthorizationManagementClient> => {
    const { AuthorizationManagementClient } = await import("@azure/arm-authorization");
    return new AuthorizationManagementClient(ctx.credential, subscriptionId, {
      // This client builds URLs from `$host`, and its token scope from `credentialScopes` (else endpoint).
      $host: ctx.cloud.armEndpoint,
      endpoint: ctx.cloud.armEndpoint,
      credentialScopes: [`${ctx.cloud.armAudience}/.default`],
      ...(ctx.retryOptions ? { retryOptions: ctx.retryOptions } : {}),
      userAgentOptions: { userAgentPrefix: ctx.userAgentPrefix },
    });
  });
  const client = async (): Promise<AuthorizationManagementClient> => clientFor(await ctx.subscriptionId());

  return {
    async getRoleDefinition(scope: string, roleDefinitionGuid: string): Promise<RoleDefinitionInfo | undefined> {
      const c = await client();
      const d = await azureGet(`read the role definition ${roleDefinitionGuid}`, () =>
        c.roleDefinitions.get(sdkScope(scope), roleDefinitionGuid),
      );
      return d ? toRoleDefinitionInfo(d) : undefined;
    },

    async findRoleDefinitionByName(scope: string, roleName: string): Promise<RoleDefinitionInfo | undefined> {
      const c = await client();
      return azureCall(`look up the role '${roleName}'`, async () => {
        for await (const d of c.roleDefinitions.list(sdkScope(scope), { filter: `roleName eq ${odataString(roleName)}` })) {
          if (d.roleName?.toLowerCase() === roleName.toLowerCase()) return toRoleDefinitionInfo(d);
        }
        return undefined;
      });
    },

    async getRoleAssignment(scope: string, assignmentName: string): Promise<RoleAssignmentInfo | undefined> {
      const c = await client();
      const a = await azureGet(`read the role assignment ${assignmentName}`, () =>
        c.roleAssignments.get(sdkScope(scope), assignmentName),
      );
      return a ? toRoleAssignmentInfo(a) : undefined;
    },

    async listRoleAssignments(scope: string, principalId?: string): Promise<RoleAssignmentInfo[]> {
      const c = await client();
      return azureCall(`list the role assignments on ${scope}`, async () => {
        const found: RoleAssignmentInfo[] = [];
        const options = principalId ? { filter: `principalId eq ${odataString(principalId)}` } : {};
        for await (const a of c.roleAssignments.listForScope(sdkScope(scope), options)) found.push(toRoleAssignmentInfo(a));
        return found;
      });
    },

    async createRoleAssignment(params): Promise<RoleAssignmentInfo> {
      const c = await client();
      const a = await azureCall(`assign the role to ${params.principalId} on ${params.scope}`, () =>
        c.roleAssignments.create(sdkScope(params.scope), params.name, {
          roleDefinitionId: params.roleDefinitionId,
          principalId: params.principalId,
          principalType: params.principalType,
          ...(params.description === undefined ? {} : { description: params.description }),
        }),
      );
      return toRoleAssignmentInfo(a);
    },

    async deleteRoleAssignment(assignmentId: string): Promise<void> {
      const c = await client();
      try {
        await c.roleAssignments.deleteById(sdkScope(assignmentId));
      } catch (error) {
        if (isNotFoundError(error)) return; // already gone
        throw toAkvError(error, { operation: `delete the role assignment ${assignmentId}` });
      }
    },

    async permissionsAt(scope: string): Promise<PermissionSet[]> {
      // The SDK has permissions.listForResourceGroup/listForResource only (the latter with a parent path that turns
      // into "//" when empty); the same GET at any scope goes through the client's own pipeline instead.
      const c = await client();
      const { createPipelineRequest, RestError } = await import("@azure/core-rest-pipeline");
      return azureCall(`read your permissions on ${scope}`, async () => {
        const sets: PermissionSet[] = [];
        let url: string | undefined =
          `${ctx.cloud.armEndpoint}/${sdkScope(scope)}/providers/Microsoft.Authorization/permissions?api-version=${AUTHORIZATION_API_VERSION}`;
        for (let page = 0; url && page < 50; page++) {
          const response = await c.sendRequest(createPipelineRequest({ url, method: "GET" }));
          let body: unknown;
          try {
            body = response.bodyAsText ? JSON.parse(response.bodyAsText) : undefined;
          } catch {
            body = undefined;
          }
          if (response.status < 200 || response.status >= 300) {
            const errorBody = (body as { error?: { code?: string; message?: string } } | undefined)?.error;
            const error = new RestError(errorBody?.message ?? `Unexpected status code: ${response.status}`, {
              statusCode: response.status,
              ...(errorBody?.code ? { code: errorBody.code } : {}),
              response,
            });
            error.details = body;
            throw error;
          }
          const result = (body ?? {}) as { value?: Array<Partial<PermissionSet>>; nextLink?: string };
          for (const p of result.value ?? []) {
            sets.push({
              actions: p.actions ?? [],
              notActions: p.notActions ?? [],
              dataActions: p.dataActions ?? [],
              notDataActions: p.notDataActions ?? [],
            });
          }
          url = result.nextLink ?? undefined;
        }
        return sets;
      });
    },
  };
}
