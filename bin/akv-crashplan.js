#!/usr/bin/env node
// Thin launcher: refuse old Node before anything else loads, then hand over to the bundled CLI (dist/bundle, made
// by `npm run build`). Only this file turns a result into an exit code.
// CommonJS on purpose (bin/package.json): an ES-module entry alone costs ~2.5 ms of every start.
"use strict";
const args = process.argv.slice(2);

/** A failure before the CLI runs: one line (and a JSON document with --json), never a stack trace. */
function refuse(exitCode, code, message, hint) {
  process.stderr.write(`✖ ${message}\n  ${hint}\n`);
  if (args.includes("--json")) process.stdout.write(JSON.stringify({ ok: false, error: { message, code, exitCode, hint } }, null, 2) + "\n");
  process.exit(exitCode);
}

const [major, minor] = process.versions.node.split(".").map(Number);
// 22.19: the first Node 22 that can trust the sandbox's CA at run time (tls.setDefaultCACertificates); since 22.13
// require() loads ES modules (chalk, the prompt library) without a warning.
if (major < 22 || (major === 22 && minor < 19)) {
  refuse(2, "NodeTooOld", `akv-crashplan needs Node.js 22.19 or newer; this is ${process.version}.`,
    "Install Node 22 LTS, or without admin rights: `npm install --prefix .tools node@22` and put .tools/node_modules/.bin first on PATH.");
}
let cwd;
try {
  cwd = process.cwd();
} catch (error) {
  refuse(7, "NoWorkingFolder", `The current folder is gone (${error.code}).`, "Change to a folder that exists and run the command again.");
}
const path = require("node:path");
const start = path.join(__dirname, "..", "dist", "bundle", "start.cjs");
if (!require("node:fs").existsSync(start)) {
  refuse(1, "NotBuilt", `akv-crashplan is not built: ${start} is missing.`, "Run `npm run build` (`npm ci` builds too) and try again.");
}
// Node's on-disk compile cache makes later starts skip re-parsing the dependencies (the SDKs, forge).
// (Not with a relative TMPDIR: Node would make its cache folder inside whatever folder this runs in.)
if (process.env.AKV_CRASHPLAN_CODE_CACHE !== "0" && path.isAbsolute(require("node:os").tmpdir())) require("node:module").enableCompileCache?.();

// The streams are made on first use: creating process.stderr and process.stdin costs ~2 ms of a start that, for
// --help or status, never touches them. A reader that went away (`| head`, `| grep -q`) is not an error: the rest
// of the output is dropped and the exit code is still the command's. Output that cannot be written (a full disk)
// is said once on the other stream, and a command that otherwise succeeded exits 7.
let outputFailed = false;
const guarded = new WeakSet();
const guard = (stream, other) => {
  if (!guarded.has(stream)) {
    guarded.add(stream);
    let broken = false;
    stream.on("error", (error) => {
      // After the first error the stream is destroyed and every later write fails too: say it once.
      if (broken) return;
      broken = true;
      if (error.code === "EPIPE") return;
      outputFailed = true;
      try {
        other().write(`✖ Could not write the output (${error.code ?? error.message}); it is incomplete.\n`);
      } catch {
        // both streams are gone: the exit code says it
      }
    });
  }
  return stream;
};
const proc = {
  get stdin() {
    return process.stdin;
  },
  get stdout() {
    return guard(process.stdout, () => process.stderr);
  },
  get stderr() {
    return guard(process.stderr, () => process.stdout);
  },
  env: process.env,
  cwd: () => cwd,
  // node:tty loads net and the stream stack (~2.5 ms); only asked when a decision needs it.
  isTerminal: (stream) => require("node:tty").isatty(stream === "stdin" ? 0 : 2),
  on: (event, listener) => process.on(event, listener),
};

// The start chunk (commander, the command tree, the runtime) with a code cache of a previous run: bin/code-cache.js.
const { requireWithCodeCache } = require("./code-cache.js");
// What this run does, for the caches: the first lowercase word, usually the command. An option's value can stand
// there instead (`--workdir mydir status`); that costs one extra cache write, never a wrong result.
const runKey = args.find((word) => /^[a-z][a-z-]{0,30}$/.test(word)) ?? "(none)";
const { main } = requireWithCodeCache(start, { env: process.env, runKey });
main(args, proc).then((code) => {
  process.exitCode = code === 0 && outputFailed ? 7 : code;
});
