/**
 * The sandbox's "Azure": one JSON document in the data dir, rewritten atomically after every change, so a later
 * process (or one resumed after a SIGKILL) sees exactly what the previous one applied.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "./persist.js";
import { findRole, permits, roleGuids } from "./roles.js";
import type {
  ApplicationRecord,
  RoleAssignmentRecord,
  SandboxSnapshot,
  SandboxState,
  ServicePrincipalRecord,
} from "./types.js";

export const seedDefaults = {
  tenantDisplayName: "Contoso Sandbox",
  tenantDomain: "contososandbox.onmicrosoft.com",
  subscriptionName: "Sandbox Subscription",
  resourceGroup: "rg-crashplan",
  location: "eastus",
  foreignVaultNames: ["contoso-taken-kv"],
} as const;

export function newSecret(): string {
  // Shaped like an Entra client secret: 3-char id, "8Q~", then random text.
  return `${randomBytes(2).toString("hex").slice(0, 3)}8Q~${randomBytes(27).toString("base64url")}`;
}

function seedState(): SandboxState {
  const now = Date.now();
  const iso = new Date(now - 24 * 3600 * 1000).toISOString();
  const far = new Date(now + 2 * 365 * 24 * 3600 * 1000).toISOString();
  const tenantId = randomUUID();
  const subscriptionId = randomUUID();
  const principals = [
    { name: "akv-crashplan sandbox operator", canCreate: true, role: roleGuids.owner },
    { name: "akv-crashplan sandbox limited operator", canCreate: false, role: roleGuids.reader },
  ].map((p) => {
    const app: ApplicationRecord = {
      id: randomUUID(),
      appId: randomUUID(),
      displayName: p.name,
      signInAudience: "AzureADMyOrg",
      tags: [],
      notes: "Pre-seeded by the sandbox.",
      description: null,
      identifierUris: [],
      keyCredentials: [],
      passwordCredentials: [
        {
          keyId: randomUUID(),
          displayName: "sandbox",
          secretText: newSecret(),
          hint: "",
          startDateTime: iso,
          endDateTime: far,
          addedAt: 0,
        },
      ],
      extra: {},
      owners: [],
      createdDateTime: iso,
      createdAt: 0,
    };
    const secret = app.passwordCredentials[0];
    if (secret) secret.hint = secret.secretText.slice(0, 3);
    const sp: ServicePrincipalRecord = {
      id: randomUUID(),
      appId: app.appId,
      displayName: p.name,
      tags: [],
      canCreateApplications: p.canCreate,
      createdDateTime: iso,
      createdAt: 0,
    };
    const assignment: RoleAssignmentRecord = {
      id: "",
      name: randomUUID(),
      scope: `/subscriptions/${subscriptionId}`,
      roleDefinitionGuid: p.role,
      principalId: sp.id,
      principalType: "ServicePrincipal",
      description: null,
      createdOn: iso,
      createdBy: "sandbox",
      createdAt: 0,
    };
    assignment.id = `${assignment.scope}/providers/Microsoft.Authorization/roleAssignments/${assignment.name}`;
    return { app, sp, assignment };
  });
  const [op, limited] = principals as [(typeof principals)[0], (typeof principals)[0]];
  return {
    schema: 1,
    tenant: { id: tenantId, displayName: seedDefaults.tenantDisplayName, domain: seedDefaults.tenantDomain },
    subscription: { id: subscriptionId, displayName: seedDefaults.subscriptionName },
    foreignVaultNames: [...seedDefaults.foreignVaultNames],
    servicePorts: {},
    resourceGroups: [
      {
        id: `/subscriptions/${subscriptionId}/resourceGroups/${seedDefaults.resourceGroup}`,
        name: seedDefaults.resourceGroup,
        subscriptionId,
        location: seedDefaults.location,
        tags: {},
      },
    ],
    vaults: [],
    deletedVaults: [],
    virtualNetworks: [],
    applications: principals.map((p) => p.app),
    servicePrincipals: principals.map((p) => p.sp),
    roleAssignments: principals.map((p) => p.assignment),
    secrets: {},
    operations: [],
    operatorIds: { operator: op.sp.id, limitedOperator: limited.sp.id },
  };
}

export class Store {
  readonly state: SandboxState;
  readonly file: string;
  /** Set by every mutation; the request layer reads and clears it to log `write`. */
  dirty = false;

  readonly dataDir: string;

  constructor(dataDir: string) {
    this.dataDir = dataDir;
    // Its secrets and keystore entries are test data, but still not for other users of the machine.
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    chmodSync(dataDir, 0o700);
    this.file = join(dataDir, "sandbox-state.json");
    if (existsSync(this.file)) {
      const parsed = JSON.parse(readFileSync(this.file, "utf8")) as SandboxState;
      if (parsed.schema !== 1) throw new Error(`Unsupported sandbox state schema ${String(parsed.schema)} in ${this.file}`);
      this.state = parsed;
    } else {
      this.state = seedState();
      this.save();
    }
  }

  /** Persists the whole document. Call after every change, before answering. */
  save(): void {
    writeFileAtomic(this.file, JSON.stringify(this.state, null, 2), 0o600);
    this.dirty = true;
  }

  snapshot(): SandboxSnapshot {
    const s = structuredClone(this.state);
    return {
      tenant: s.tenant,
      subscription: s.subscription,
      resourceGroups: s.resourceGroups,
      vaults: s.vaults,
      deletedVaults: s.deletedVaults,
      virtualNetworks: s.virtualNetworks,
      applications: s.applications,
      servicePrincipals: s.servicePrincipals,
      roleAssignments: s.roleAssignments,
      secrets: s.secrets,
    };
  }

  app(objectId: string): ApplicationRecord | undefined {
    return this.state.applications.find((a) => a.id === objectId.toLowerCase());
  }

  appByAppId(appId: string): ApplicationRecord | undefined {
    return this.state.applications.find((a) => a.appId === appId.toLowerCase());
  }

  spById(objectId: string): ServicePrincipalRecord | undefined {
    return this.state.servicePrincipals.find((s) => s.id === objectId.toLowerCase());
  }

  spByAppId(appId: string): ServicePrincipalRecord | undefined {
    return this.state.servicePrincipals.find((s) => s.appId === appId.toLowerCase());
  }

  /**
   * Role assignments that apply at `scope`: those on the scope itself or on a parent of it. With `effectiveAfter`,
   * only those created before that moment (RBAC propagation on the data plane).
   */
  assignmentsCovering(principalId: string, scope: string, effectiveBefore = Number.POSITIVE_INFINITY): RoleAssignmentRecord[] {
    const target = scope.toLowerCase().replace(/\/+$/, "");
    return this.state.roleAssignments.filter((ra) => {
      if (ra.principalId !== principalId.toLowerCase()) return false;
      if (ra.createdAt > effectiveBefore) return false;
      const s = ra.scope.toLowerCase().replace(/\/+$/, "");
      return s === "" || target === s || target.startsWith(`${s}/`);
    });
  }

  /** Whether `principalId` may perform the control-plane `action` at `scope` (ARM RBAC, effective at once). */
  mayPerform(principalId: string, scope: string, action: string): boolean {
    return this.assignmentsCovering(principalId, scope).some((ra) => {
      const role = findRole(ra.roleDefinitionGuid);
      return role !== undefined && permits(role.actions, role.notActions, action);
    });
  }
}
