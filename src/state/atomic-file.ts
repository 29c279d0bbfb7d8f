// node:fs/promises is reached through fs.promises so that it loads on first use, not with this module.
import { promises as fs } from "node:fs";
import { dirname, basename, join } from "node:path";
// node:crypto takes ~3 ms to load; fetched on the first write.
const randomBytes = (size: number) => process.getBuiltinModule("node:crypto").randomBytes(size);

/**
 * Write a file so that a reader sees either the old content or the new, never a torn mix:
 * temp file in the same folder (rename is only atomic within one file system), fsync, rename, fsync the folder.
 */
export async function writeFileAtomic(path: string, data: string | Buffer, mode = 0o600): Promise<void> {
  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  const handle = await fs.open(temp, "wx", mode);
  try {
    await handle.writeFile(data);
    // The umask may have narrowed or (with 000) not narrowed the mode; set it exactly.
    await handle.chmod(mode);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await fs.unlink(temp).catch(() => undefined);
    throw error;
  }
  await handle.close();
  try {
    await fs.rename(temp, path);
  } catch (error) {
    await fs.unlink(temp).catch(() => undefined);
    throw error;
  }
  await fs.chmod(path, mode).catch(() => undefined);
  const dirHandle = await fs.open(dir, "r").catch(() => undefined);
  if (dirHandle) {
    await dirHandle.sync().catch(() => undefined);
    await dirHandle.close();
  }
}
