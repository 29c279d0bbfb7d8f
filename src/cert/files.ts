import crypto from "node:crypto";
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { AkvError } from "../errors.js";

export interface WriteFileOptions {
  /**
   * "ensure" (default for secrets): create the parent folder 0700, and tighten an existing one to 0700 when it
   * belongs to us and is not a shared sticky folder such as /tmp. "create-only": create missing folders 0700
   * but leave an existing parent alone (for `--out` paths the operator chose).
   */
  parentMode?: "ensure" | "create-only";
}

/** Atomic write (temp file in the same folder, fsync, rename), mode 0600 whatever the umask. */
export async function writeSecretFile(file: string, data: string | Buffer, opts: WriteFileOptions = {}): Promise<void> {
  await ensureParent(file, 0o700, opts.parentMode ?? "ensure");
  await writeAtomic(file, data, 0o600);
}

/** Atomic write, mode 0644. */
export async function writePublicFile(file: string, data: string | Buffer): Promise<void> {
  await ensureParent(file, 0o755, "create-only");
  await writeAtomic(file, data, 0o644);
}

async function ensureParent(file: string, mode: number, parentMode: "ensure" | "create-only"): Promise<void> {
  const parent = path.dirname(path.resolve(file));
  const missing: string[] = [];
  for (let dir = parent; ; dir = path.dirname(dir)) {
    const st = await fsp.stat(dir).catch((e: NodeJS.ErrnoException) => (e.code === "ENOENT" ? undefined : Promise.reject(fileError(e, dir))));
    if (st) {
      if (!st.isDirectory()) throw AkvError.usage(`${dir} is not a folder, so ${path.basename(file)} cannot be written inside it.`, { code: "NotAFolder" });
      break;
    }
    missing.unshift(dir);
    if (path.dirname(dir) === dir) break;
  }
  for (const dir of missing) {
    await fsp.mkdir(dir).catch((e: NodeJS.ErrnoException) => (e.code === "EEXIST" ? undefined : Promise.reject(fileError(e, dir))));
    await fsp.chmod(dir, mode); // mkdir's mode is filtered by the umask
  }
  if (parentMode === "ensure" && !missing.includes(parent)) {
    const st = await fsp.stat(parent);
    const ours = typeof process.getuid !== "function" || st.uid === process.getuid();
    const sticky = (st.mode & 0o1000) !== 0;
    if (ours && !sticky && (st.mode & 0o777) !== mode) await fsp.chmod(parent, mode);
  }
}

async function writeAtomic(file: string, data: string | Buffer, mode: number): Promise<void> {
  const target = path.resolve(file);
  const tmp = path.join(path.dirname(target), `.${path.basename(target)}.${crypto.randomBytes(6).toString("hex")}.tmp`);
  let handle: fsp.FileHandle | undefined;
  try {
    handle = await fsp.open(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, mode);
    await handle.chmod(mode); // open's mode is filtered by the umask, so set it explicitly before any data lands
    await handle.writeFile(data);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await fsp.rename(tmp, target);
  } catch (error) {
    await handle?.close().catch(() => undefined);
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
    if (error instanceof AkvError) throw error;
    throw fileError(error as NodeJS.ErrnoException, target);
  }
  // Make the rename itself durable.
  const dir = await fsp.open(path.dirname(target), "r").catch(() => undefined);
  await dir?.sync().catch(() => undefined);
  await dir?.close();
}

export interface PermissionCheck {
  ok: boolean;
  mode: number;
  message?: string;
}

export function checkSecretFilePermissions(file: string): PermissionCheck {
  const mode = fs.statSync(file).mode & 0o777;
  if ((mode & 0o077) === 0) return { ok: true, mode };
  const who = [mode & 0o070 ? "group" : "", mode & 0o007 ? "others" : ""].filter(Boolean).join(" and ");
  return {
    ok: false,
    mode,
    message: `${path.basename(file)} holds a private key but is readable by ${who} (mode ${mode.toString(8).padStart(4, "0")}); it should be 0600.`,
  };
}

export async function fixKeyFilePermissions(file: string): Promise<void> {
  await fsp.chmod(file, 0o600).catch((e: NodeJS.ErrnoException) => Promise.reject(fileError(e, file)));
}

/** Turns a file-system error into a message that names the file and what is wrong with it. */
export function fileError(error: NodeJS.ErrnoException, file: string): AkvError {
  const name = file;
  switch (error.code) {
    case "ENOENT":
      return AkvError.usage(`${name} does not exist.`, { code: "FileNotFound", cause: error, hint: "Check the path." });
    case "EISDIR":
      return AkvError.usage(`${name} is a folder, not a file.`, { code: "FileIsFolder", cause: error });
    case "EACCES":
    case "EPERM":
      return AkvError.usage(`${name} cannot be accessed (permission denied).`, { code: "FilePermissionDenied", cause: error, hint: "Check the file's owner and mode." });
    case "ENOTDIR":
      return AkvError.usage(`${name}: a part of the path is not a folder.`, { code: "NotAFolder", cause: error });
    default:
      return AkvError.usage(`${name} could not be accessed (${error.code ?? error.message}).`, { code: "FileError", cause: error });
  }
}
