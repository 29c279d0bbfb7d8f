import { promises as fs } from "node:fs";
import { dirname } from "node:path";

/**
 * mkdir -p, one level at a time. Node's recursive mkdir retries forever where mkdir keeps failing with ENOENT
 * (a workdir under /proc spun at 100% CPU); here the first failure is the answer, with its path.
 */
export async function makeFolder(path: string, mode: number): Promise<void> {
  const missing: string[] = [];
  for (let folder = path; ; folder = dirname(folder)) {
    const exists = await fs.stat(folder).then(
      () => true,
      () => false,
    );
    if (exists || dirname(folder) === folder) break;
    missing.unshift(folder);
  }
  for (const folder of missing) {
    try {
      await fs.mkdir(folder, { mode });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
  }
  // A file where the folder should be: say so as mkdir would have.
  const info = await fs.stat(path);
  if (!info.isDirectory()) throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${path}'`), { code: "ENOTDIR", syscall: "mkdir", path });
}
