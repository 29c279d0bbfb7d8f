import { existsSync } from "node:fs";
import { join } from "node:path";
import { CommanderError, type Command } from "commander";
import { ExitCode, isAkvError } from "../errors.js";
import { buildProgram, configureHelpTargets } from "./program.js";
import type { GlobalOptions, Io, Runtime } from "./runtime.js";
import { attachAction } from "./actions.js";

interface ProcessLike {
  stdin: Io["stdin"];
  stdout: Io["stdout"];
  stderr: Io["stderr"];
  env: Record<string, string | undefined>;
  cwd(): string;
  isTerminal(stream: "stdin" | "stderr"): boolean;
  on(event: "SIGINT" | "SIGTERM", listener: () => void): unknown;
}

/**
 * The composition root below bin/: builds the runtime from the real process and returns an exit code.
 * It never calls process.exit itself, except on Ctrl-C where the state is already safe on disk.
 */
export async function main(args: string[], proc: ProcessLike, overrides: Partial<Io> = {}): Promise<number> {
  // commander's `help` command takes one word; `help cert rotate` means `cert rotate --help`.
  const argv = args[0] === "help" && args.length > 2 ? [...args.slice(1), "--help"] : args;
  // The standard streams are created on first use: making process.stderr (and stdin) costs ~2 ms of a start
  // that, for --help, never writes to them.
  const io: Io = {
    get stdin() {
      return proc.stdin;
    },
    get stdout() {
      return proc.stdout;
    },
    get stderr() {
      return proc.stderr;
    },
    env: proc.env,
    cwd: proc.cwd(),
    isTerminal: (stream) => (overrides[stream] ? Boolean(overrides[stream].isTTY) : proc.isTerminal(stream)),
  };
  for (const [key, value] of Object.entries(overrides)) Object.defineProperty(io, key, { value, enumerable: true });
  let runtime: Runtime | undefined;
  let exitCode: number = ExitCode.ok;
  const makeRuntime = async (command: Command): Promise<Runtime> => {
    const { Runtime } = await import("./runtime.js");
    runtime ??= new Runtime(io, command.optsWithGlobals() as GlobalOptions);
    return runtime;
  };
  const { program } = buildProgram({
    // Set on the root before any subcommand exists, so every command inherits them; without the exit override an
    // unknown option of `setup` makes commander call process.exit(1) itself.
    prepareRoot: (root) =>
      root.exitOverride().configureOutput({
        writeOut: (text) => io.stdout.write(text),
        writeErr: (text) => io.stderr.write(text),
      }),
    onConfigure: (command, path) => attachAction(command, path, makeRuntime, (code: number) => (exitCode = code)),
  });
  configureHelpTargets(program, argv);

  const onSignal = () => {
    const rt = runtime;
    const held = rt?.sessionToRelease;
    held?.releaseSync();
    // Only a command that holds the state has something to resume; `sandbox start` just stops.
    io.stderr.write(
      held && existsSync(join(rt!.workdir, "state.json"))
        ? `\nInterrupted. Everything done so far is saved in ${rt!.workdir}/state.json; run the same command again to resume` +
            " (it also removes a temporary firewall rule for this machine, if validation had opened one).\n"
        : held
          ? "\nInterrupted before anything was saved or changed.\n"
          : "\nStopped.\n",
    );
    process.exit(ExitCode.cancelled);
  };
  proc.on("SIGINT", onSignal);
  proc.on("SIGTERM", onSignal);

  try {
    await program.parseAsync(argv, { from: "user" });
  } catch (error) {
    exitCode = report(error, runtime, io, argv.includes("--json"));
  } finally {
    await runtime?.sessionToRelease?.release();
    await runtime?.close();
  }
  return exitCode;
}

function report(error: unknown, runtime: Runtime | undefined, io: Io, jsonRequested: boolean): number {
  if (error instanceof CommanderError) {
    if (error.code === "commander.helpDisplayed" || error.code === "commander.version" || error.code === "commander.help") return ExitCode.ok;
    // commander already printed its message on stderr; usage errors are exit 2, not commander's 1, and --json still gets its document.
    if (jsonRequested) {
      io.stdout.write(JSON.stringify({ ok: false, error: { message: error.message.replace(/^error: /, ""), code: error.code, exitCode: ExitCode.usage, hint: "See --help." } }, null, 2) + "\n");
    }
    return ExitCode.usage;
  }
  const ui = runtime?.ui;
  const redact = (text: string) => (ui ? ui.redactor.redact(text) : text);
  if (isAkvError(error)) {
    if (error.exitCode === ExitCode.cancelled) {
      io.stderr.write(`${redact(error.message)} The state is saved; run the same command again to resume.\n`);
    } else {
      io.stderr.write(`${ui?.c.red("✖") ?? "✖"} ${redact(error.message)}\n`);
      if (error.hint) io.stderr.write(`  ${redact(ui ? ui.withCommandPrefix(error.hint) : error.hint)}\n`);
      if (ui?.verbose && error.cause instanceof Error && error.cause.stack) io.stderr.write(redact(error.cause.stack) + "\n");
    }
    runtime?.log(`error ${error.exitCode} ${error.code ?? ""}: ${error.message}`);
    if (runtime?.globals.json) {
      io.stdout.write(
        redact(JSON.stringify({ ok: false, error: { message: error.message, code: error.code ?? null, exitCode: error.exitCode, hint: error.hint ?? null, ...(error.details ? { details: error.details } : {}) } }, null, 2)) + "\n",
      );
    }
    return error.exitCode;
  }
  const err = error instanceof Error ? error : new Error(String(error));
  runtime?.enableLog();
  runtime?.log(`internal error: ${err.stack ?? err.message}`);
  const logNote = runtime ? ` Details are in ${runtime.debugLogPath}.` : "";
  io.stderr.write(`✖ Internal error (a bug in akv-crashplan): ${redact(err.message)}.${logNote} Please report it with that log.\n`);
  if (ui?.verbose && err.stack) io.stderr.write(redact(err.stack) + "\n");
  if (runtime?.globals.json) {
    io.stdout.write(redact(JSON.stringify({ ok: false, error: { message: err.message, code: "InternalError", exitCode: 1 } }, null, 2)) + "\n");
  }
  return ExitCode.internal;
}

