import type { Command } from "commander";
import type { StepId } from "../state/step-ids.js";
import type { Runtime } from "./runtime.js";

// Command modules (and through them zod, the steps and the SDK adapters) load only when their command runs.
const runSteps = () => import("./commands/run-steps.js");

type MakeRuntime = (command: Command) => Promise<Runtime>;
type SetExit = (code: number) => void;

type Handler = (rt: Runtime, flags: Record<string, unknown>, command: Command) => Promise<number>;

const single = (path: string, id: StepId): Handler => async (rt, flags) => (await runSteps()).runStepsCommand(rt, { command: path, ids: [id], flags });

/** Commands are thin: they turn flags into a request and return an exit code. */
const HANDLERS: Record<string, Handler> = {
  setup: async (rt, flags) => {
    const { runStepsCommand, selectSetupSteps } = await runSteps();
    return runStepsCommand(rt, {
      command: "setup",
      ids: selectSetupSteps(flags as { from?: string; only?: string[] }),
      flags,
      plan: flags.plan === true,
      wizard: true,
      confirmPlan: true,
    });
  },
  status: async (rt, flags) => (await import("./commands/status.js")).statusCommand(rt, flags),
  "vault create": single("vault create", "vault"),
  "app register": single("app register", "app"),
  "firewall configure": single("firewall configure", "firewall"),
  "cert generate": single("cert generate", "cert"),
  "cert upload": single("cert upload", "upload"),
  grant: single("grant", "grant"),
  "pfx export": single("pfx export", "pfx"),
  validate: single("validate", "validate"),
  migrate: single("migrate", "migrate"),
  doctor: async (rt) => (await import("./commands/doctor.js")).doctorCommand(rt),
  teardown: async (rt, flags) => (await import("./commands/teardown.js")).teardownCommand(rt, flags),
  "cert rotate": async (rt, flags) => (await import("./commands/rotate.js")).rotateCommand(rt, flags),
  "cert import": async (rt, flags) => (await import("./commands/cert-import.js")).certImportCommand(rt, flags),
  "cert show": async (rt) => (await import("./commands/cert-show.js")).certShowCommand(rt),
  "sandbox start": async (rt, flags) => (await import("./commands/sandbox.js")).sandboxStartCommand(rt, flags),
  "sandbox crashplan-migrate": async (rt, flags) => (await import("./commands/sandbox.js")).crashplanMigrateCommand(rt, flags),
};

/** Gives the command at `path` its action; every runnable command of program.ts has one. */
export function attachAction(command: Command, path: string, makeRuntime: MakeRuntime, setExit: SetExit): void {
  const handler = HANDLERS[path];
  if (!handler) throw new Error(`internal: no action for the command "${path}"`);
  command.action(async (...args: unknown[]) => {
    const invoked = args[args.length - 1] as Command;
    setExit(await handler(await makeRuntime(invoked), invoked.opts(), invoked));
  });
}

export const COMMANDS_WITH_ACTIONS: readonly string[] = Object.keys(HANDLERS);
