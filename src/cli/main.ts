import { existsSync } from "node:fs";
import { join } from "node:path";
import { CommanderError, type Command } from "commander";
import { ExitCode, isAkvError } from "../errors.js";
import { argvToParse, buildProgram } from "./program.js";
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
export async function main(argv: string[], proc: ProcessLike, overrides: Partial<Io> = {}): Promise<number> {
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

  const onSignal = () => {
    const rt = runtime;
    const held = rt?.sessionToRelease;
    held?.releaseSync();
    // A spinner's half-drawn line would otherwise stay on the screen above the message.
    if (rt?.ui.animate) io.stderr.write("\r\x1b[2K");
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
    await program.parseAsync(argvToParse(program, argv), { from: "user" });
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
    // Help that was asked for (--help, `help <command>`) and --version succeed; help shown because no command was
    // given (`akv-crashplan`, `akv-crashplan cert`) comes with commander's exit code 1: that is a usage error.
    if (error.code === "commander.helpDisplayed" || error.code === "commander.version") return ExitCode.ok;
    if (error.code === "commander.help") return error.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
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
        redact(
          JSON.stringify(
            // The hint's commands carry --workdir as in the text (withCommandPrefix).
            { ok: false, error: { message: error.message, code: error.code ?? null, exitCode: error.exitCode, hint: error.hint ? ui!.withCommandPrefix(error.hint) : null, ...(error.details ? { details: error.details } : {}) } },
            null,
            2,
          ),
        ) + "\n",
      );
    }
    return error.exitCode;
  }
  const local = localFileProblem(error);
  if (local) {
    // A folder that cannot be created or written, a full disk: the machine's problem to fix, not a bug of ours.
    io.stderr.write(`${ui?.c.red("✖") ?? "✖"} ${redact(local.message)}\n  ${redact(local.hint)}\n`);
    if (runtime?.globals.json) {
      io.stdout.write(redact(JSON.stringify({ ok: false, error: { message: local.message, code: local.code, exitCode: ExitCode.state, hint: local.hint } }, null, 2)) + "\n");
    }
    return ExitCode.state;
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


const LOCAL_FILE_ERRORS: Record<string, string> = {
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EROFS: "the file system is read-only",
  ENOSPC: "no space left on the device",
  EDQUOT: "the disk quota is used up",
  ENOTDIR: "a part of the path is a file, not a folder",
  EISDIR: "it is a folder, not a file",
  ENAMETOOLONG: "the path is too long",
  EEXIST: "a file of that name is in the way",
};

/** A file-system error from writing the workdir (or another local file), in words, with what to do. */
function localFileProblem(error: unknown): { message: string; hint: string; code: string } | undefined {
  const e = error as NodeJS.ErrnoException | undefined;
  if (!(e instanceof Error) || typeof e.code !== "string" || !e.path) return undefined;
  // mkdir's ENOENT where the parent exists: the file system refuses new folders there (/proc, a deleted folder).
  const reason = e.code === "ENOENT" && e.syscall === "mkdir" ? "no folder can be created there" : LOCAL_FILE_ERRORS[e.code];
  if (!reason) return undefined;
  const doing = e.syscall === "mkdir" ? "create the folder" : e.syscall === "open" || e.syscall === "write" ? "write" : (e.syscall ?? "use");
  return {
    code: `Local${e.code}`,
    message: `Cannot ${doing} ${e.path}: ${reason} (${e.code}).`,
    hint: "Use a workdir you can write to (--workdir <folder>, default ./akv-crashplan), or free space / fix the permissions, then run again.",
  };
}
