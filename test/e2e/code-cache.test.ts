// bin/code-cache.js: V8 code caches of the bundle's chunks, taken after a run, in a private per-user folder.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";

const scratch = mkdtempSync(join(tmpdir(), "akv-code-cache-"));
const fresh = (name: string) => {
  const base = join(scratch, name);
  mkdirSync(base, { recursive: true });
  return { base, root: join(base, "akv-crashplan", "code-cache"), cwd: mkdtempSync(join(scratch, `${name}-cwd-`)) };
};
const run = (args: string[], where: { base: string; cwd: string }, env: Record<string, string> = {}) =>
  runCli(args, { cwd: where.cwd, env: { XDG_CACHE_HOME: where.base, ...env } });
/** The one installation folder under code-cache/ (named by a hash of the bundle's path). */
const folderOf = (where: { root: string }) => {
  const [only, ...more] = readdirSync(where.root);
  expect(more).toEqual([]);
  return join(where.root, only!);
};

describe("the bundle's code caches", () => {
  it("are written after the first run into 0700 folders as 0600 files, and later runs print the same", async () => {
    const where = fresh("first");
    const first = await run(["--help"], where);
    expect(first.code).toBe(0);
    const dir = folderOf(where);
    for (const folder of [where.root, dir]) expect(statSync(folder).mode & 0o777).toBe(0o700);
    const written = readdirSync(dir);
    expect(written).toContain(written.find((f) => /^start\.cjs\..+\.bin$/.test(f)));
    for (const f of written) expect(statSync(join(dir, f)).mode & 0o777).toBe(0o600);
    const second = await run(["--help"], where);
    expect(second.stdout).toBe(first.stdout);
    // A command a chunk's cache has not seen adds to it; one it has seen leaves it alone.
    const seenFile = join(dir, written.find((f) => /^start\.cjs\..+\.json$/.test(f))!);
    expect(JSON.parse(readFileSync(seenFile, "utf8")).seen).toEqual(["(none)"]);
    expect((await run(["status"], where)).code).toBe(0);
    expect(JSON.parse(readFileSync(seenFile, "utf8")).seen).toEqual(["(none)", "status"]);
  });

  it("cover the chunks a command loads (cert generate: the certificate code too), which then work from the cache", async () => {
    const where = fresh("chunks");
    const args = ["cert", "generate", "--key-size", "2048"];
    expect((await run(args, where)).code).toBe(0);
    const names = readdirSync(folderOf(where));
    expect(names.some((f) => /^cert-.+\.cjs\..+\.bin$/.test(f))).toBe(true);
    const again = await run([...args, "--workdir", "second"], where);
    expect(again.code, again.stderr).toBe(0);
    expect(existsSync(join(where.cwd, "second", "service-principal.key"))).toBe(true);
  });

  it("a first full setup, which caches a dozen chunks at exit, prints no warning and leaves a cache per chunk", async () => {
    const where = fresh("setup");
    const args = ["setup", "--sandbox", "--yes", "--location", "eastus", "--crashplan-ip", "203.0.113.0/24", "--crashplan-ips-source", "test"];
    const r = await run(args, where);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/Warning|\(node:\d+\)/);
    expect(readdirSync(folderOf(where)).filter((f) => f.endsWith(".bin")).length).toBeGreaterThanOrEqual(10);
  });

  it("a run that writes caches sweeps away other builds' caches and those of chunks no longer in the bundle", async () => {
    const where = fresh("sweep");
    await run(["--help"], where);
    const dir = folderOf(where);
    writeFileSync(join(dir, "start.cjs.v0.0.0-x64-old.bin"), "old build");
    writeFileSync(join(dir, "gone-XYZ.cjs.v22.0.0-x64-1.bin"), "a chunk of an earlier build");
    expect((await run(["status"], where)).code).toBe(0); // a command the cache has not seen: it writes
    expect(readdirSync(dir).filter((f) => f.includes("old") || f.startsWith("gone-"))).toEqual([]);
    expect(readdirSync(dir).some((f) => /^start\.cjs\..+\.bin$/.test(f))).toBe(true);
  });

  it("a corrupt cache is rejected by V8 and rewritten; the command still works", async () => {
    const where = fresh("corrupt");
    await run(["--help"], where);
    const dir = folderOf(where);
    const bin = readdirSync(dir).find((f) => /^start\.cjs\..+\.bin$/.test(f))!;
    writeFileSync(join(dir, bin), Buffer.alloc(4096, 7));
    writeFileSync(join(dir, bin.replace(/\.bin$/, ".json")), "{not json");
    const r = await run(["status", "--json"], where);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).ok).toBe(true);
    expect(readFileSync(join(dir, bin)).equals(Buffer.alloc(4096, 7))).toBe(false);
  });

  it("a cache folder that others can write to is not used", async () => {
    const where = fresh("shared");
    mkdirSync(where.root, { recursive: true });
    chmodSync(where.root, 0o777);
    const r = await run(["--help"], where);
    expect(r.code).toBe(0);
    const [folder] = readdirSync(where.root);
    expect(folder === undefined || readdirSync(join(where.root, folder)).length === 0).toBe(true);
  });

  it("AKV_CRASHPLAN_CODE_CACHE=0 turns it off", async () => {
    const where = fresh("off");
    expect((await run(["--help"], where, { AKV_CRASHPLAN_CODE_CACHE: "0" })).code).toBe(0);
    expect(existsSync(where.root)).toBe(false);
  });
});
