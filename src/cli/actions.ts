import type { Command } from "commander";
import type { StepId } from "../state/step-ids.js";
import type { Runtime } from "./runtime.js";

// Command modules (and through them zod, the steps and the SDK adapters) load only when their command runs.
const runSteps = () => import("./commands/run-steps.js");

type MakeRuntime = (command: Command) => Promise<Runtime>;
type SetExit = (code: number) => void;

function find(program: Command, path: string): Command {
  let current: Command | undefined = program;
  for (const part of path.split(" ")) current = current?.commands.find((c) => c.name() === part);
  if (!current) throw new Error(`internal: no command ${path}`);
  return current;
}

/** Commands are thin: they turn flags into a request and return an exit code. */
export function attachActions(program: Command, makeRuntime: MakeRuntime, setExit: SetExit): void {
  const on = (path: string, handler: (rt: Runtime, flags: Record<string, unknown>, command: Command) => Promise<number>) => {
    find(program, path).action(async (...args: unknown[]) => {
      const command = args[args.length - 1] as Command;
      const flags = command.opts();
      setExit(await handler(await makeRuntime(command), flags, command));
    });
  };
  const single = (path: string, id: StepId) =>
    on(path, async (rt, flags) => (await runSteps()).runStepsCommand(rt, { command: path, ids: [id], flags }));

  on("setup", async (rt, flags) => {
    const { runStepsCommand, selectSetupSteps } = await runSteps();
    return runStepsCommand(rt, {
      command: "setup",
      ids: selectSetupSteps(flags as { from?: string; only?: string[] }),
      flags,
      plan: flags.plan === true,
      wizard: true,
      confirmPlan: true,
    });
  });
  on("status", async (rt, flags) => (await import("./commands/status.js")).statusCommand(rt, flags));
  single("vault create", "vault");
  single("app register", "app");
  single("firewall configure", "firewall");
  single("cert generate", "cert");
  single("cert upload", "upload");
  single("grant", "grant");
  single("pfx export", "pfx");
  single("validate", "validate");
  single("migrate", "migrate");
  on("doctor", async (rt) => (await import("./commands/doctor.js")).doctorCommand(rt));
  on("teardown", async (rt, flags) => (await import("./commands/teardown.js")).teardownCommand(rt, flags));
  on("cert rotate", async (rt, flags) => (await import("./commands/rotate.js")).rotateCommand(rt, flags));
  on("cert import", async (rt, flags) => (await import("./commands/cert-import.js")).certImportCommand(rt, flags));
  on("cert show", async (rt) => (await import("./commands/cert-show.js")).certShowCommand(rt));
  on("sandbox start", async (rt, flags) => (await import("./commands/sandbox.js")).sandboxStartCommand(rt, flags));
  on("sandbox crashplan-migrate", async (rt, flags) => (await import("./commands/sandbox.js")).crashplanMigrateCommand(rt, flags));
}
