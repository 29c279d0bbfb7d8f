import fs from "node:fs/promises";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { checkSecretFilePermissions, writePublicFile, writeSecretFile } from "../../src/cert/index.js";
import { fileError } from "../../src/cert/files.js";
import { tempDir } from "./helpers.js";

const mode = async (p: string): Promise<number> => (await fs.stat(p)).mode & 0o7777;
const original = process.umask();
afterEach(() => {
  process.umask(original);
});

describe.each([0o000, 0o077, 0o022])("with umask %o", (umask) => {
  it("writeSecretFile makes a 0600 file in a 0700 folder, created or tightened", async () => {
    process.umask(umask);
    const root = await tempDir();
    const created = path.join(root, "new", "work");
    await writeSecretFile(path.join(created, "service-principal.key"), "secret\n");
    expect(await mode(path.join(created, "service-principal.key"))).toBe(0o600);
    expect(await mode(created)).toBe(0o700);
    expect(await mode(path.join(root, "new"))).toBe(0o700);

    const existing = path.join(root, "existing");
    await fs.mkdir(existing);
    await fs.chmod(existing, 0o755);
    await writeSecretFile(path.join(existing, "a.pfx"), Buffer.from([1, 2, 3]));
    expect(await mode(existing)).toBe(0o700);
    expect(await fs.readFile(path.join(existing, "a.pfx"))).toEqual(Buffer.from([1, 2, 3]));
    expect(checkSecretFilePermissions(path.join(existing, "a.pfx"))).toEqual({ ok: true, mode: 0o600 });
  });

  it("writePublicFile makes a 0644 file", async () => {
    process.umask(umask);
    const root = await tempDir();
    await writePublicFile(path.join(root, "service-principal.crt"), "cert\n");
    expect(await mode(path.join(root, "service-principal.crt"))).toBe(0o644);
  });
});

describe("writeSecretFile", () => {
  it("replaces atomically, leaves no temp files, and keeps 0600 over a looser existing file", async () => {
    const root = await tempDir();
    const file = path.join(root, "k");
    await fs.writeFile(file, "old", { mode: 0o644 });
    await writeSecretFile(file, "new");
    expect(await fs.readFile(file, "utf8")).toBe("new");
    expect(await mode(file)).toBe(0o600);
    expect(await fs.readdir(root)).toEqual(["k"]);
  });
  it("leaves a shared sticky folder (like /tmp) and, with create-only, any existing folder alone", async () => {
    const root = await tempDir();
    await fs.chmod(root, 0o1777);
    await writeSecretFile(path.join(root, "x"), "1");
    expect(await mode(root)).toBe(0o1777);
    await fs.chmod(root, 0o755);
    await writeSecretFile(path.join(root, "y"), "1", { parentMode: "create-only" });
    expect(await mode(root)).toBe(0o755);
    expect(await mode(path.join(root, "y"))).toBe(0o600);
  });
  it("fails clearly when the target is a folder or the parent is a file, without leaving a temp file", async () => {
    const root = await tempDir();
    await fs.mkdir(path.join(root, "dir"));
    await expect(writeSecretFile(path.join(root, "dir"), "x")).rejects.toMatchObject({ name: "AkvError", exitCode: 2, message: expect.stringContaining("dir") });
    expect(await fs.readdir(root)).toEqual(["dir"]);
    await fs.writeFile(path.join(root, "file"), "");
    await expect(writeSecretFile(path.join(root, "file", "k"), "x")).rejects.toMatchObject({ code: "NotAFolder" });
  });
});

describe("fileError", () => {
  // The real EACCES path is exercised in import.test.ts when not running as root.
  it("names the file and the rule for each errno", () => {
    const err = (code: string) => Object.assign(new Error(code), { code });
    expect(fileError(err("EACCES"), "a.key")).toMatchObject({ code: "FilePermissionDenied", message: "a.key cannot be accessed (permission denied)." });
    expect(fileError(err("ENOENT"), "a.key")).toMatchObject({ code: "FileNotFound", message: "a.key does not exist." });
    expect(fileError(err("EISDIR"), "a.key")).toMatchObject({ code: "FileIsFolder" });
  });
});
