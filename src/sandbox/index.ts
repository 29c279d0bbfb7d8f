/** The sandbox: a local HTTPS emulator of the Azure services akv-crashplan uses, for the real, unmodified SDKs. */
export type {
  SandboxFault,
  SandboxConfig,
  SandboxCloud,
  SandboxPrincipal,
  SandboxHandle,
  SandboxSnapshot,
  SandboxRequestLogEntry,
  SandboxService,
  StartSandboxOptions,
} from "./types.js";
export { startSandbox } from "./server.js";
export { loadSandboxConfigFile, parseSandboxConfig } from "./config.js";
export { trustSandboxCa } from "./trust.js";
export { simulateCrashPlanMigration, CRASHPLAN_DEFAULT_IP, type CrashPlanMigrationOptions } from "./crashplan.js";
