#!/usr/bin/env node
// Thin launcher: refuse old Node before anything else loads (the Azure SDKs need 22), then hand over to the
// bundled CLI (dist/bundle, made by `npm run build`). Only this file turns a result into an exit code.
// CommonJS on purpose (bin/package.json): an ES-module entry alone costs ~2.5 ms of every start.
"use strict";
const [major, minor] = process.versions.node.split(".").map(Number);
// 22.12 is the first Node 22 whose require() loads ES modules (chalk, the prompt library) without a flag.
if (major < 22 || (major === 22 && minor < 12)) {
  process.stderr.write(
    `akv-crashplan needs Node.js 22.12 or newer; this is ${process.version}. Install Node 22 LTS (or, without admin rights:` +
      " `npm install --prefix .tools node@22` and put .tools/node_modules/.bin first on PATH) and run again.\n",
  );
  process.exit(2);
}
// Node's on-disk compile cache makes later starts skip re-parsing the dependencies (zod, the SDKs).
if (process.env.AKV_CRASHPLAN_CODE_CACHE !== "0") require("node:module").enableCompileCache?.();

// A reader that went away (e.g. `| head`) is not an error of ours. The streams are made on first use: creating
// process.stderr and process.stdin costs ~2 ms of a start that, for --help or status, never touches them.
const guarded = new WeakSet();
const quietOnEpipe = (stream) => {
  if (!guarded.has(stream)) {
    guarded.add(stream);
    stream.on("error", (error) => {
      if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
      throw error;
    });
  }
  return stream;
};
const proc = {
  get stdin() {
    return process.stdin;
  },
  get stdout() {
    return quietOnEpipe(process.stdout);
  },
  get stderr() {
    return quietOnEpipe(process.stderr);
  },
  env: process.env,
  cwd: () => process.cwd(),
  // node:tty loads net and the stream stack (~2.5 ms); only asked when a decision needs it.
  isTerminal: (stream) => require("node:tty").isatty(stream === "stdin" ? 0 : 2),
  on: (event, listener) => process.on(event, listener),
};

// The start chunk (commander, the command tree, the runtime) with a code cache of a previous run: bin/code-cache.js.
const { requireWithCodeCache } = require("./code-cache.js");
const runKey = process.argv.slice(2).find((word) => /^[a-z][a-z-]{0,30}$/.test(word)) ?? "(none)";
const { main } = requireWithCodeCache(require("node:path").join(__dirname, "..", "dist", "bundle", "start.cjs"), { env: process.env, runKey });
main(process.argv.slice(2), proc).then((code) => {
  process.exitCode = code;
});
