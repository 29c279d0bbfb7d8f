import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { CloudProfile } from "../azure/services.js";
import type { Runtime, SandboxRuntime } from "./runtime.js";

/**
 * `--sandbox`: start the emulator inside this process, with its data in <workdir>/sandbox so a later run
 * (or a resumed one) sees the same "Azure", and hand the CLI an ordinary custom-cloud profile plus the
 * operator's credentials as AZURE_* variables. Nothing below this point knows it is a sandbox.
 */
export async function startSandboxForCli(runtime: Runtime): Promise<{ handle: SandboxRuntime; cloud: CloudProfile; operatorEnv: Record<string, string> }> {
  const { startSandbox, loadSandboxConfigFile } = await import("../sandbox/index.js");
  const { trustSandboxCa } = await import("../sandbox/trust.js");
  const { cloudFromSandbox } = await import("../azure/cloud.js");
  const configPath = runtime.globals.sandboxConfig ?? runtime.config.sandboxConfig ?? runtime.io.env.AKV_CRASHPLAN_SANDBOX_CONFIG;
  const config = configPath ? loadSandboxConfigFile(resolve(runtime.io.cwd, configPath)) : {};
  const handle = await startSandbox({ dataDir: join(runtime.workdir, "sandbox"), config });
  const caPem = await readFile(handle.cloud.caCertPath, "utf8");
  trustSandboxCa(caPem);
  const who = runtime.io.env.AKV_CRASHPLAN_SANDBOX_OPERATOR === "limited" ? handle.limitedOperator : handle.operator;
  runtime.ui.line(runtime.ui.c.dim(`Sandbox: a local emulator of Azure (data in ${handle.dataDir}); nothing here touches a real tenant.`));
  // Register the sandbox operator's secret so it can never reach output or logs.
  runtime.ui.redactor.register(who.clientSecret);
  return {
    handle: {
      close: () => handle.close(),
      tenantId: handle.tenantId,
      subscriptionId: handle.subscriptionId,
      adminUrl: handle.adminUrl,
    },
    cloud: cloudFromSandbox(handle.cloud, caPem),
    operatorEnv: {
      AZURE_TENANT_ID: handle.tenantId,
      AZURE_CLIENT_ID: who.clientId,
      AZURE_CLIENT_SECRET: who.clientSecret,
      AZURE_SUBSCRIPTION_ID: handle.subscriptionId,
    },
  };
}
