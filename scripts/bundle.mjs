// Second half of `npm run build`: bundles the compiled CLI (dist/, from tsc) into CommonJS chunks in dist/bundle/.
// Why: a start of `akv-crashplan --help` or `status` was ~1.9x a bare `node -e 0`, and most of the difference was
// loading: the ESM loader itself, ~40 small files resolved one by one, commander through the ESM-to-CommonJS
// interop, and commander's eager require of node:child_process (used only for executable subcommands, which we
// do not have). One CommonJS entry chunk with commander inside, the rest split per command and loaded on first
// use, brings the start near the floor (BENCHMARKS.md). Packages other than commander stay external.
import { rm } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "rolldown";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const outDir = path.join(root, "dist", "bundle");

// What every start needs: the command tree (all of --help), the runtime, the state code and `status`.
const START_MODULES = new RegExp(
  String.raw`[\/]dist[\/](errors|cli[\/](main|program|actions|runtime|commands[\/]status)|engine[\/](inputs|validators|session)|` +
    String.raw`state[\/](step-ids|store|lock|atomic-file|migrations|new-state|version)|ui[\/](ui|redact|terminal|prompter))\.js$`,
);

await rm(outDir, { recursive: true, force: true });
await build({
  input: { "akv-crashplan": path.join(root, "dist", "cli", "main.js") },
  platform: "node",
  // Every package stays a require()/import() of node_modules except commander (part of the start chunk) and zod:
  // required from node_modules, zod's ~100 CommonJS files cost ~30 ms of every command that reads a state file;
  // bundled from its ES build they are one chunk of ~180 KB and ~10 ms. (node-forge bundled was measured slower.)
  external: (id) => id.startsWith("node:") || (/^[@a-z]/.test(id) && !/^(commander|zod)(\/|$)/.test(id)),
  plugins: [
    {
      // commander requires node:child_process when it loads (~1.5 ms: it pulls in net, dgram and streams) but uses
      // it only to run executable subcommands, which this CLI has none of; load it on first use instead.
      name: "lazy-child-process-for-commander",
      transform(code, id) {
        if (!id.endsWith(path.join("node_modules", "commander", "lib", "command.js"))) return null;
        const eager = "const childProcess = require('node:child_process');";
        if (!code.includes(eager)) throw new Error(`commander changed: "${eager}" is no longer in ${id}; update scripts/bundle.mjs`);
        return code.replace(eager, "let loadedChildProcess; const childProcess = new Proxy({}, { get: (_, key) => (loadedChildProcess ??= require('node:child_process'))[key] });");
      },
    },
  ],
  output: {
    dir: outDir,
    format: "cjs",
    // import() of a package becomes require(), which loads ES modules on Node >= 22.12 (bin/ checks): a chunk run
    // through vm.Script (bin/code-cache.js) may not use import() without an experimental loader flag and warning.
    dynamicImportInCjs: false,
    entryFileNames: "[name].cjs",
    // The start chunk has a fixed name: the launcher loads it directly, with its own code cache (bin/code-cache.js).
    chunkFileNames: (chunk) => (chunk.name === "start" ? "start.cjs" : "[name]-[hash].cjs"),
    // What a start needs, in as few files as possible: each is another resolve, stat and read. (Splitting
    // the command tree from the runtime was measured: --help gained nothing and status lost ~1 ms.)
    codeSplitting: {
      groups: [{ name: "start", test: START_MODULES }],
    },
  },
  logLevel: "warn",
});
