#!/usr/bin/env node
// Thin launcher: refuse old Node before anything else loads (the Azure SDKs need 22),
// then hand over to the built CLI. Only this file turns a result into an exit code.
const major = Number(process.versions.node.split(".")[0]);
if (major < 22) {
  process.stderr.write(`akv-crashplan needs Node.js 22 or newer; this is ${process.version}. Install Node 22 LTS and run again.\n`);
  process.exit(2);
}
// Node's on-disk compile cache makes later starts skip re-parsing the dependencies (zod, commander, the SDKs).
const { enableCompileCache } = await import("node:module");
enableCompileCache?.();
// A reader that went away (e.g. `| head`) is not an error of ours.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (error) => {
    if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw error;
  });
}
const { main } = await import("../dist/cli/main.js");
process.exitCode = await main(process.argv.slice(2), process);
