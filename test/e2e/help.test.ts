// A command's options are added only when that command runs (src/cli/program.ts), and the CLI runs from a bundle
// (scripts/bundle.mjs). These tests hold the built CLI's help to the full command tree built in-process.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Command } from "commander";
import { buildProgram, configureAll } from "../../src/cli/program.js";
import { COMMANDS_WITH_ACTIONS } from "../../src/cli/actions.js";
import { spawnSync } from "node:child_process";
import { BIN, runCli } from "../helpers/cli.js";

const cwd = mkdtempSync(join(tmpdir(), "akv-help-"));
const { program } = buildProgram();
const everyCommand = configureAll(program);
const pathOf = (command: Command): string[] => (command.parent ? [...pathOf(command.parent), command.name()] : []);
const leaves = everyCommand.filter((command) => command.parent && command.commands.length === 0);

describe("help of the built CLI", () => {
  it.each(leaves.map((command) => [pathOf(command).join(" "), command] as const))("`%s --help` lists every visible option of the command", async (path, command) => {
    const r = await runCli([...path.split(" "), "--help"], { cwd });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Usage: akv-crashplan ${path}`);
    const visible = command.options.filter((option) => !(option as unknown as { hidden: boolean }).hidden);
    expect(visible.length).toBeGreaterThanOrEqual(0);
    for (const option of visible) expect(r.stdout, `${path}: ${option.flags}`).toContain(option.flags);
  });

  it("`help <command>` prints what `<command> --help` prints, options included", async () => {
    for (const path of [["setup"], ["cert", "generate"], ["pfx", "export"]]) {
      const viaFlag = await runCli([...path, "--help"], { cwd });
      const viaHelp = await runCli([...path.slice(0, -1), "help", path.at(-1)!], { cwd });
      const viaTopHelp = await runCli(["help", ...path], { cwd });
      expect(viaHelp.stdout).toBe(viaFlag.stdout);
      expect(viaTopHelp.stdout).toBe(viaFlag.stdout);
      expect(viaHelp.stdout).toMatch(/--\w[\w-]+ <value>/);
    }
  });

  it("a parent's list shows [options] exactly for the commands that have options", async () => {
    for (const parent of [program, ...everyCommand.filter((command) => command.parent && command.commands.length > 0)]) {
      const r = await runCli([...pathOf(parent), "--help"], { cwd });
      for (const child of parent.commands) {
        const line = r.stdout.split("\n").find((l) => l.trimStart().startsWith(`${child.name()} `));
        expect(line, `${child.name()} in the help of ${parent.name()}`).toBeDefined();
        expect(line!.includes(`${child.name()} [options]`), `${pathOf(child).join(" ")}`).toBe(child.options.length > 0);
      }
    }
  });

  it("every runnable command has an action, and no action is left without its command", () => {
    expect([...COMMANDS_WITH_ACTIONS].sort()).toEqual(leaves.map((command) => pathOf(command).join(" ")).sort());
  });

  it("every command that may open the firewall for this machine takes --allow-my-ip, which its hint names", async () => {
    for (const path of [["setup"], ["validate"], ["migrate"], ["cert", "rotate"]]) {
      const r = await runCli([...path, "--help"], { cwd });
      expect(r.stdout, path.join(" ")).toContain("--allow-my-ip <value>");
      expect(r.stdout, path.join(" ")).toContain("--keep-my-ip");
    }
  });

  it("an unknown option of a subcommand is still a usage error with a suggestion", async () => {
    const r = await runCli(["cert", "generate", "--key-siz", "3072"], { cwd });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown option '--key-siz'");
    expect(r.stderr).toContain("--key-size");
  });
});

describe("the launcher on an old Node", () => {
  // This machine's system Node (Debian's) is older than 22.19; where it is not, there is nothing to run it on.
  const oldNode = ["/usr/bin/node", "/usr/local/bin/node"].find((path) => {
    const version = spawnSync(path, ["-p", "process.versions.node"], { encoding: "utf8" }).stdout?.trim();
    if (!version) return false;
    const [major, minor] = version.split(".").map(Number);
    return major! < 22 || (major === 22 && minor! < 19);
  });
  it.skipIf(!oldNode)("refuses with exit 2 and says how to get Node 22, before loading anything", () => {
    const r = spawnSync(oldNode!, [BIN, "--help"], { encoding: "utf8" });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/needs Node\.js 22\.19 or newer; this is v\d+/);
    expect(r.stderr).toContain("npm install --prefix .tools node@22");
    expect(r.stdout).toBe("");
    const json = spawnSync(oldNode!, [BIN, "status", "--json"], { encoding: "utf8" });
    expect(json.status).toBe(2);
    expect(JSON.parse(json.stdout).error.code).toBe("NodeTooOld");
  });
});
