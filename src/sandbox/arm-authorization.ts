/** Microsoft.Authorization: role definitions, role assignments and the caller's permissions at a scope. */
import { armError, json, noContent, isObject, type Reply } from "./http.js";
import { armBody, isReply, requireAction, rgNotFound, type ArmRequest } from "./arm.js";
import { builtInRoles, findRole, type BuiltInRole } from "./roles.js";
import { findVault, replicated } from "./core.js";
import type { RoleAssignmentRecord } from "./types.js";

const guidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function scopeOf(req: ArmRequest, authIdx: number): string {
  return `/${req.segs.slice(0, authIdx).join("/")}`;
}

function roleDefinitionJson(role: BuiltInRole, subscriptionId: string | undefined): Record<string, unknown> {
  const prefix = subscriptionId ? `/subscriptions/${subscriptionId}` : "";
  return {
    id: `${prefix}/providers/Microsoft.Authorization/roleDefinitions/${role.guid}`,
    name: role.guid,
    type: "Microsoft.Authorization/roleDefinitions",
    properties: {
      roleName: role.roleName,
      type: "BuiltInRole",
      description: role.description,
      assignableScopes: ["/"],
      permissions: [{ actions: role.actions, notActions: role.notActions, dataActions: role.dataActions, notDataActions: role.notDataActions }],
      createdOn: "2015-02-02T21:55:09.8806423Z",
      updatedOn: "2025-01-01T00:00:00.0000000Z",
      createdBy: null,
      updatedBy: null,
    },
  };
}

export function assignmentJson(ra: RoleAssignmentRecord, subscriptionId: string): Record<string, unknown> {
  return {
    properties: {
      roleDefinitionId: `/subscriptions/${subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${ra.roleDefinitionGuid}`,
      principalId: ra.principalId,
      principalType: ra.principalType,
      scope: ra.scope,
      condition: null,
      conditionVersion: null,
      createdOn: ra.createdOn,
      updatedOn: ra.createdOn,
      createdBy: ra.createdBy,
      updatedBy: ra.createdBy,
      delegatedManagedIdentityResourceId: null,
      description: ra.description,
    },
    id: ra.id,
    type: "Microsoft.Authorization/roleAssignments",
    name: ra.name,
  };
}

const norm = (s: string): string => s.toLowerCase().replace(/\/+$/, "");
const isAtOrAbove = (assignmentScope: string, scope: string): boolean => {
  const a = norm(assignmentScope);
  const s = norm(scope);
  return a === "" || a === s || s.startsWith(`${a}/`);
};
const isBelow = (assignmentScope: string, scope: string): boolean => norm(assignmentScope).startsWith(`${norm(scope)}/`);

/** 404 when the scope names a subscription, resource group or vault the sandbox does not hold. */
function checkScopeExists(req: ArmRequest, scope: string): Reply | undefined {
  const parts = scope.split("/").filter((p) => p !== "");
  const low = parts.map((p) => p.toLowerCase());
  const st = req.core.store.state;
  if (low[0] !== "subscriptions") return undefined;
  if (low[1] !== st.subscription.id) return armError(404, "SubscriptionNotFound", `The subscription '${parts[1] ?? ""}' could not be found.`);
  if (low[2] !== "resourcegroups" || !parts[3]) return undefined;
  const rg = st.resourceGroups.find((r) => r.name.toLowerCase() === low[3]);
  if (!rg) return rgNotFound(parts[3]);
  if (low[4] === "providers" && low[5] === "microsoft.keyvault" && low[6] === "vaults" && parts[7]) {
    const v = findVault(req.core, parts[7]);
    if (!v || v.resourceGroup.toLowerCase() !== low[3]) {
      return armError(404, "ResourceNotFound", `The Resource 'Microsoft.KeyVault/vaults/${parts[7]}' under resource group '${parts[3]}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`);
    }
  }
  return undefined;
}

function listRoleDefinitions(req: ArmRequest, scope: string): Reply {
  const filter = req.ctx.query.get("$filter") ?? "";
  const byName = /roleName\s+eq\s+'([^']*)'/i.exec(filter);
  const byType = /type\s+eq\s+'([^']*)'/i.exec(filter);
  const sub = scope.toLowerCase().startsWith("/subscriptions/") ? req.segs[1] : undefined;
  const value = builtInRoles
    .filter((r) => !byName || r.roleName.toLowerCase() === (byName[1] ?? "").toLowerCase())
    .filter(() => !byType || (byType[1] ?? "").toLowerCase() === "builtinrole")
    .map((r) => roleDefinitionJson(r, sub));
  return json(200, { value });
}

function listAssignments(req: ArmRequest, scope: string): Reply {
  const st = req.core.store.state;
  const filter = req.ctx.query.get("$filter") ?? "";
  const clauses = filter.split(/\s+and\s+/i).map((c) => c.trim()).filter((c) => c !== "");
  let atScopeOnly = false;
  let principal: string | undefined;
  for (const c of clauses) {
    if (/^atScope\(\)$/i.test(c)) atScopeOnly = true;
    else {
      const m = /^(?:principalId\s+eq\s+'([^']*)'|assignedTo\('([^']*)'\))$/i.exec(c);
      if (!m) return armError(400, "InvalidFilterInQueryString", `The filter '${filter}' is not supported. Supported filters are 'atScope()', 'principalId eq '{id}'' and 'assignedTo('{id}')'.`);
      principal = (m[1] ?? m[2] ?? "").toLowerCase();
    }
  }
  const value = st.roleAssignments
    .filter((ra) => isAtOrAbove(ra.scope, scope) || (!atScopeOnly && isBelow(ra.scope, scope)))
    .filter((ra) => principal === undefined || ra.principalId === principal)
    .map((ra) => assignmentJson(ra, st.subscription.id));
  return json(200, { value });
}

function createAssignment(req: ArmRequest, scope: string, name: string): Reply {
  const { core, ctx } = req;
  const st = core.store.state;
  const assignmentId = `${scope}/providers/Microsoft.Authorization/roleAssignments/${name}`;
  const denied = requireAction(req, "Microsoft.Authorization/roleAssignments/write", assignmentId);
  if (denied) return denied;
  if (!guidPattern.test(name)) {
    return armError(400, "InvalidRoleAssignmentId", `The role assignment ID '${name}' is not valid. The role assignment ID must be a GUID.`);
  }
  const body = armBody(ctx);
  if (isReply(body)) return body;
  const props = body["properties"];
  if (!isObject(props)) return armError(400, "InvalidRequestContent", "The request content was invalid and could not be deserialized: 'Required property 'properties' not found in JSON.'.");
  const roleDefinitionId = props["roleDefinitionId"];
  const principalId = props["principalId"];
  if (typeof roleDefinitionId !== "string" || roleDefinitionId === "") {
    return armError(400, "InvalidRequestContent", "The request content was invalid and could not be deserialized: 'Required property 'roleDefinitionId' not found in JSON.'.");
  }
  if (typeof principalId !== "string" || !guidPattern.test(principalId)) {
    return armError(400, "InvalidPrincipalId", "A valid principal ID must be provided for role assignment.");
  }
  const scopeMissing = checkScopeExists(req, scope);
  if (scopeMissing) return scopeMissing;
  const roleGuid = roleDefinitionId.split("/").pop() ?? "";
  const role = findRole(roleGuid);
  if (!role) return armError(400, "RoleDefinitionDoesNotExist", `The specified role definition with ID '${roleGuid}' does not exist.`);
  const principalType = typeof props["principalType"] === "string" ? props["principalType"] : undefined;
  const pid = principalId.toLowerCase();
  const sp = core.store.spById(pid);
  if (!principalType && (!sp || !replicated(core, sp.createdAt, ctx.now))) {
    return armError(
      400,
      "PrincipalNotFound",
      `Principal ${pid.replace(/-/g, "")} does not exist in the directory ${st.tenant.id}. Check that you have the correct principal ID. If you are creating this principal and then immediately assigning a role, this error might be related to a replication delay. In this case, set the role assignment principalType property to a value, such as ServicePrincipal, User, or Group.  See https://aka.ms/docs-principaltype`,
    );
  }
  const sameTriple = st.roleAssignments.find((ra) => norm(ra.scope) === norm(scope) && ra.roleDefinitionGuid === role.guid && ra.principalId === pid);
  if (sameTriple) return armError(409, "RoleAssignmentExists", "The role assignment already exists.");
  if (st.roleAssignments.some((ra) => ra.name === name.toLowerCase())) {
    return armError(409, "RoleAssignmentUpdateNotPermitted", "Tenant ID, application ID, principal ID, and scope are not allowed to be updated.");
  }
  const created: RoleAssignmentRecord = {
    id: assignmentId,
    name: name.toLowerCase(),
    scope,
    roleDefinitionGuid: role.guid,
    principalId: pid,
    principalType: principalType ?? "ServicePrincipal",
    description: typeof props["description"] === "string" ? props["description"] : null,
    createdOn: new Date(ctx.now).toISOString(),
    createdBy: req.callerOid,
    createdAt: ctx.now,
  };
  st.roleAssignments.push(created);
  core.store.save();
  return json(201, assignmentJson(created, st.subscription.id));
}

export function handleAuthorization(req: ArmRequest, authIdx: number): Reply | undefined {
  const { core, ctx, low, segs } = req;
  const st = core.store.state;
  const scope = scopeOf(req, authIdx);
  const kind = low[authIdx + 2];
  const id = segs[authIdx + 3];
  const extra = low.length > authIdx + 4;
  if (extra) return undefined;
  if (kind === "roledefinitions") {
    if (ctx.method !== "GET") return undefined;
    if (id === undefined) return listRoleDefinitions(req, scope);
    const role = findRole(id);
    if (!role) return armError(404, "RoleDefinitionDoesNotExist", `The specified role definition with ID '${id}' does not exist.`);
    return json(200, roleDefinitionJson(role, scope.toLowerCase().startsWith("/subscriptions/") ? segs[1] : undefined));
  }
  if (kind === "permissions" && id === undefined && ctx.method === "GET") {
    const value = core.store.assignmentsCovering(req.callerOid, scope).flatMap((ra) => {
      const role = findRole(ra.roleDefinitionGuid);
      return role ? [{ actions: role.actions, notActions: role.notActions, dataActions: role.dataActions, notDataActions: role.notDataActions }] : [];
    });
    return json(200, { value });
  }
  if (kind !== "roleassignments") return undefined;
  if (id === undefined) {
    if (ctx.method !== "GET") return undefined;
    const denied = requireAction(req, "Microsoft.Authorization/roleAssignments/read", scope);
    return denied ?? checkScopeExists(req, scope) ?? listAssignments(req, scope);
  }
  const existing = st.roleAssignments.find((ra) => ra.name === id.toLowerCase() && norm(ra.scope) === norm(scope));
  if (ctx.method === "PUT") return createAssignment(req, scope, id);
  if (ctx.method === "GET") {
    const denied = requireAction(req, "Microsoft.Authorization/roleAssignments/read", scope);
    if (denied) return denied;
    if (!existing) return armError(404, "RoleAssignmentNotFound", `The role assignment '${id}' is not found.`);
    return json(200, assignmentJson(existing, st.subscription.id));
  }
  if (ctx.method === "DELETE") {
    const denied = requireAction(req, "Microsoft.Authorization/roleAssignments/delete", `${scope}/providers/Microsoft.Authorization/roleAssignments/${id}`);
    if (denied) return denied;
    if (!existing) return noContent(204);
    st.roleAssignments = st.roleAssignments.filter((ra) => ra !== existing);
    core.store.save();
    return json(200, assignmentJson(existing, st.subscription.id));
  }
  return undefined;
}
