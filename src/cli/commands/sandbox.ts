import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { AkvError } from "../../errors.js";
import { readSecretFrom } from "../../steps/local-files.js";
import type { Runtime } from "../runtime.js";

/** `sandbox start`: the emulator as a long-running server, with everything a client needs printed. */
export async function sandboxStartCommand(rt: Runtime, flags: Record<string, unknown>): Promise<number> {
  const { startSandbox, loadSandboxConfigFile } = await import("../../sandbox/index.js");
  const port = Number(flags.port ?? 0);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw AkvError.usage(`--port has the value "${String(flags.port)}", but it must be a port number from 0 to 65535.`);
  const configPath = rt.globals.sandboxConfig ?? rt.io.env.AKV_CRASHPLAN_SANDBOX_CONFIG;
  const config = configPath ? loadSandboxConfigFile(resolve(rt.io.cwd, configPath)) : {};
  const dataDir = resolve(rt.io.cwd, (flags.data as string | undefined) ?? join(rt.workdir, "sandbox"));
  const handle = await startSandbox({ dataDir, config, basePort: port });
  const info = {
    dataDir: handle.dataDir,
    caCertPath: handle.cloud.caCertPath,
    authorityHost: handle.cloud.authorityHost,
    armEndpoint: handle.cloud.armEndpoint,
    graphEndpoint: handle.cloud.graphEndpoint,
    adminUrl: handle.adminUrl,
    tenantId: handle.tenantId,
    subscriptionId: handle.subscriptionId,
    resourceGroup: handle.resourceGroup,
    location: handle.location,
    operator: handle.operator,
    limitedOperator: handle.limitedOperator,
  };
  if (rt.ui.json) rt.ui.data({ ok: true, ...info });
  else {
    // These are the sandbox's own throw-away credentials, printed on purpose: they open nothing real.
    rt.io.stdout.write(
      [
        `Sandbox running (data in ${handle.dataDir}). Ctrl-C to stop.`,
        "",
        `  Entra ID (authority host)  ${handle.cloud.authorityHost}`,
        `  Azure Resource Manager     ${handle.cloud.armEndpoint}`,
        `  Microsoft Graph            ${handle.cloud.graphEndpoint}`,
        `  Inspection (read-only)     ${handle.adminUrl}/resources  ${handle.adminUrl}/requests`,
        `  CA certificate             ${handle.cloud.caCertPath}`,
        "",
        "Environment for a client:",
        `  export NODE_EXTRA_CA_CERTS=${handle.cloud.caCertPath} REQUESTS_CA_BUNDLE=${handle.cloud.caCertPath}`,
        `  export AZURE_AUTHORITY_HOST=${handle.cloud.authorityHost} AZURE_TENANT_ID=${handle.tenantId}`,
        `  export AZURE_CLIENT_ID=${handle.operator.clientId} AZURE_CLIENT_SECRET=${handle.operator.clientSecret}`,
        `  export AZURE_SUBSCRIPTION_ID=${handle.subscriptionId}`,
        `  akv-crashplan setup --authority-host ${handle.cloud.authorityHost} --arm-endpoint ${handle.cloud.armEndpoint} --graph-endpoint ${handle.cloud.graphEndpoint} --ca-file ${handle.cloud.caCertPath} --auth env`,
        "",
      ].join("\n"),
    );
  }
  await new Promise<void>(() => undefined); // until Ctrl-C
  return 0;
}

/** Plays CrashPlan's Migrate keystore: the PFX and password, as the console gets them, against the sandbox. */
export async function crashplanMigrateCommand(rt: Runtime, flags: Record<string, unknown>): Promise<number> {
  const { ui } = rt;
  const vaultUrl = String(flags.vaultUrl);
  if (/^https:\/\/[^/]+\/./.test(vaultUrl) || vaultUrl.endsWith("/")) {
    // CrashPlan's form takes scheme and host only; playing it faithfully means refusing what it refuses.
    throw AkvError.usage(`CrashPlan refuses the Vault URL "${vaultUrl}": it must have no path and no trailing slash.`, {
      code: "VaultUrlHasPath",
      hint: `Use ${vaultUrl.replace(/^(https:\/\/[^/]+).*$/, "$1")}.`,
    });
  }
  const pfxPath = resolve(rt.io.cwd, String(flags.pfx));
  const pfx = await readFile(pfxPath).catch(() => {
    throw AkvError.usage(`The PFX ${pfxPath} (--pfx) cannot be read.`, { code: "FileNotFound" });
  });
  const password = await readSecretFrom({
    file: flags.passwordFile as string | undefined,
    stdin: flags.passwordStdin === true ? (rt.io.stdin as NodeJS.ReadableStream) : undefined,
    what: "PFX password",
    fileFlag: "--password-file",
  }) ?? (ui.interactive ? await ui.prompt.password({ message: "PFX password" }) : undefined);
  if (password === undefined) throw AkvError.usage("The PFX password is needed.", { hint: "Pass --password-file <file> or --password-stdin." });
  ui.redactor.register(password);
  const { simulateCrashPlanMigration } = await import("../../sandbox/crashplan.js");
  const target = await migrationTarget(rt);
  if (!target.adminUrl && !flags.clientId) {
    await target.close();
    throw AkvError.usage("Against a running sandbox, crashplan-migrate needs --client-id (the application id in state.json, step app).", { code: "MissingInput" });
  }
  try {
    const result = await ui.wait("CrashPlan (simulated): Migrate keystore", () =>
      simulateCrashPlanMigration({
        vaultUrl: String(flags.vaultUrl),
        pfx,
        password,
        cloud: target.cloud,
        tenantId: target.tenantId,
        ...(flags.clientId ? { clientId: String(flags.clientId) } : {}),
        ...(target.adminUrl ? { sandboxAdminUrl: target.adminUrl } : {}),
      }),
    );
    if (ui.json) ui.data({ ok: true, secretsWritten: result.secretsWritten });
    else ui.success(`CrashPlan (simulated) migrated its keystore: ${result.secretsWritten.length} secrets written to ${String(flags.vaultUrl)}.`);
    return 0;
  } catch (error) {
    if (error instanceof AkvError) throw error;
    if (/password is wrong|not a PKCS#12/i.test((error as Error).message)) {
      throw AkvError.usage(`CrashPlan (simulated) could not open the PFX: ${(error as Error).message}`, { code: "PfxWrongPassword", hint: "Check --password-file and --pfx." });
    }
    throw AkvError.azure(`CrashPlan (simulated) could not migrate the keystore: ${(error as Error).message}`, { code: "CrashPlanMigrationFailed" });
  } finally {
    await target.close();
  }
}

interface MigrationTarget {
  cloud: { authorityHost: string; armEndpoint: string; graphEndpoint: string; keyVaultAudience: string; caCertPath: string };
  tenantId: string;
  adminUrl?: string;
  close(): Promise<void>;
}

/**
 * A sandbox started by `sandbox start` is reached through the custom-cloud flags (as `setup` reaches it); without
 * them the in-process sandbox of the workdir plays Azure. Starting a second sandbox on a running one's data dir
 * would answer with another process's Entra, so the flags win.
 */
async function migrationTarget(rt: Runtime): Promise<MigrationTarget> {
  const env = rt.io.env;
  const authorityHost = rt.globals.authorityHost ?? env.AKV_CRASHPLAN_AUTHORITY_HOST;
  if (authorityHost) {
    const caFile = rt.globals.caFile ?? env.AKV_CRASHPLAN_CA_FILE;
    const tenantId = rt.globals.tenant ?? env.AKV_CRASHPLAN_TENANT ?? env.AZURE_TENANT_ID;
    if (!caFile || !tenantId) {
      throw AkvError.usage("Against a running sandbox, crashplan-migrate needs --ca-file and the tenant (--tenant or AZURE_TENANT_ID).", { code: "MissingInput" });
    }
    return {
      cloud: {
        authorityHost,
        armEndpoint: rt.globals.armEndpoint ?? env.AKV_CRASHPLAN_ARM_ENDPOINT ?? "",
        graphEndpoint: rt.globals.graphEndpoint ?? env.AKV_CRASHPLAN_GRAPH_ENDPOINT ?? "",
        keyVaultAudience: "https://vault.azure.net",
        caCertPath: resolve(rt.io.cwd, caFile),
      },
      tenantId,
      close: async () => undefined,
    };
  }
  const { startSandbox } = await import("../../sandbox/index.js");
  const handle = await startSandbox({ dataDir: join(rt.workdir, "sandbox") });
  return { cloud: handle.cloud, tenantId: handle.tenantId, adminUrl: handle.adminUrl, close: () => handle.close() };
}
