import { STEP_TITLES, stepNumber } from "../state/step-ids.js";
import { AkvError } from "../errors.js";
import type { Step, StepContext } from "../engine/step.js";
import type { ApplicationInfo, ServicePrincipalInfo } from "../azure/services.js";
import { MANAGED_BY_TAG, hasCode, retryWhile, setupTag } from "./shared.js";

const REPLICATION_TIMEOUT_MS = 120_000;

export const appStep: Step = {
  id: "app",
  number: stepNumber("app"),
  title: STEP_TITLES.app,
  explanation:
    "CrashPlan signs in to your vault as an application of your own directory (a service principal), with a certificate\n" +
    "rather than a password. This creates the single-tenant app registration and its service principal.",
  inputs: ["appName", "adoptAppId"],
  needs: [],
  remote: true,

  plan(ctx) {
    const adopt = ctx.inputs.string("adoptAppId");
    if (adopt) return [`Adopt the existing app registration ${adopt} and make sure it has a service principal`];
    return [`App registration "${ctx.inputs.string("appName")}" (single tenant) and its service principal`];
  },

  async check(ctx) {
    const objectId = ctx.previous.outputs.appObjectId as string | undefined;
    const appId = ctx.previous.outputs.clientId as string | undefined;
    if (!objectId || !appId) return { status: "missing" };
    const app = await ctx.azure.directory.getApplication(objectId);
    if (!app) return { status: "drift", detail: "application missing in Entra ID" };
    const sp = await ctx.azure.directory.findServicePrincipal(appId);
    if (!sp) return { status: "drift", detail: "service principal missing in Entra ID" };
    return { status: "done", detail: `client id ${appId}` };
  },

  async apply(ctx) {
    const identity = await ctx.azure.identity();
    const { app, createdNow } = await findOrCreateApplication(ctx);
    await ctx.saveOutputs({ appObjectId: app.id, clientId: app.appId, tenantId: identity.tenantId, displayName: app.displayName });
    const sp = await ensureServicePrincipal(ctx, app, createdNow);
    ctx.ui.info(`  Application (client) ID ${app.appId} · tenant ID ${identity.tenantId}`);
    return {
      appObjectId: app.id,
      clientId: app.appId,
      tenantId: identity.tenantId,
      servicePrincipalId: sp.id,
      displayName: app.displayName,
      adopted: !app.tags.includes(setupTag(ctx.state.lineage)),
    };
  },
};

async function findOrCreateApplication(ctx: StepContext): Promise<{ app: ApplicationInfo; createdNow: boolean }> {
  const found = await findApplication(ctx);
  if (found) return { app: found, createdNow: false };
  const tag = setupTag(ctx.state.lineage);
  const name = ctx.inputs.requireString("appName");
  return { app: await createApplication(ctx, name, tag), createdNow: true };
}

/** Ours by record or marker, the one named by --adopt-app-id, or (asked) a same-name one; undefined: create it. */
async function findApplication(ctx: StepContext): Promise<ApplicationInfo | undefined> {
  const directory = ctx.azure.directory;
  const tag = setupTag(ctx.state.lineage);
  const recorded = ctx.previous.outputs.appObjectId as string | undefined;
  if (recorded) {
    const app = await directory.getApplication(recorded);
    if (app) return app;
  }
  const adoptAppId = ctx.inputs.string("adoptAppId");
  if (adoptAppId) {
    const app = await directory.getApplicationByAppId(adoptAppId);
    if (!app) throw AkvError.usage(`No application with application (client) id ${adoptAppId} (--adopt-app-id) exists in this tenant.`, { code: "AppNotFound" });
    return app;
  }
  // Ours by marker: a run that died after creating finds it here, never by its display name.
  let ours = await directory.findApplicationsByTag(tag);
  if (ours.length === 0 && ctx.previous.marker?.creatingApp) {
    // It may have been created but not yet replicated to the directory's query side.
    ours = await retryWhile(
      ctx,
      async () => {
        const found = await directory.findApplicationsByTag(tag);
        if (found.length === 0) throw new AkvError(6, "not visible yet", { code: "NotYetVisible" });
        return found;
      },
      (e) => hasCode(e, "NotYetVisible"),
      { timeoutMs: 10_000, firstDelayMs: 500 },
    ).catch(() => []);
  }
  if (ours.length > 0) {
    if (ours.length > 1) ctx.ui.warn(`Several applications carry this setup's marker (${ours.map((a) => a.appId).join(", ")}); using the oldest.`);
    return ours[0]!;
  }
  const name = ctx.inputs.requireString("appName");
  const sameName = await directory.findApplicationsByDisplayName(name);
  if (sameName.length > 0) {
    const list = sameName.map((a) => a.appId).join(", ");
    const message = `An application named "${name}" already exists (application id ${list}) and was not created by this setup.`;
    if (!ctx.ui.interactive) {
      throw AkvError.usage(message, {
        code: "AppNameTaken",
        hint: "To use it, pass --adopt-app-id <application id> (its credentials are kept); otherwise pass --app-name with another name.",
      });
    }
    ctx.ui.warn(message);
    const choice = await ctx.ui.prompt.select({
      message: "What now?",
      choices: [
        ...sameName.map((a) => ({ value: `adopt:${a.appId}`, name: `Adopt ${a.appId} (its existing credentials are kept)` })),
        { value: "rename", name: "Create a new one under another name" },
      ],
    });
    if (choice.startsWith("adopt:")) return (await directory.getApplicationByAppId(choice.slice(6)))!;
    const newName = await ctx.ui.prompt.input({ message: "Name for the new app registration", default: `${name}-2` });
    ctx.inputs.set("appName", newName, "prompt");
    return undefined;
  }
  return undefined;
}

async function createApplication(ctx: StepContext, displayName: string, tag: string): Promise<ApplicationInfo> {
  await ctx.saveMarker({ creatingApp: true, appTag: tag, displayName });
  return ctx.ui.wait(`Creating app registration ${displayName}`, () =>
    ctx.azure.directory.createApplication({
      displayName,
      tags: [MANAGED_BY_TAG, tag],
      notes: `Created by akv-crashplan for CrashPlan's keystore in Azure Key Vault (setup ${ctx.state.lineage}). The tag ${tag} identifies it.`,
    }),
  );
}

async function ensureServicePrincipal(ctx: StepContext, app: ApplicationInfo, createdNow: boolean): Promise<ServicePrincipalInfo> {
  const directory = ctx.azure.directory;
  // An application created a moment ago by this very run cannot have a service principal yet.
  const existing = createdNow ? undefined : await directory.findServicePrincipal(app.appId);
  if (existing) return existing;
  // Right after the application is created the directory may not know it yet; retry, never re-create the app.
  return ctx.ui.wait("Creating the service principal", (wait) =>
    retryWhile(
      ctx,
      async () => {
        try {
          return await directory.createServicePrincipal(app.appId, [MANAGED_BY_TAG, setupTag(ctx.state.lineage)]);
        } catch (error) {
          const found = await directory.findServicePrincipal(app.appId).catch(() => undefined);
          if (found) return found;
          throw error;
        }
      },
      (error) => hasCode(error, "Request_BadRequest", "Request_ResourceNotFound", "NotFound") && /valid application|does not exist|not found/i.test((error as Error).message + JSON.stringify((error as AkvError).details ?? {})),
      { timeoutMs: REPLICATION_TIMEOUT_MS, firstDelayMs: 300, onRetry: () => wait.update("Waiting for the directory to replicate the new application") },
    ),
  );
}
