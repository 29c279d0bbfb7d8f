/** Crash-safe file writes: a reader (or a later run after SIGKILL) sees the old content or the new, never half. */
import { closeSync, fsyncSync, openSync, renameSync, writeSync } from "node:fs";
import { dirname, basename, join } from "node:path";

export function writeFileAtomic(path: string, content: string, mode = 0o644): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  const fd = openSync(tmp, "w", mode);
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  // fsync the directory so the rename itself survives a power cut (best effort: not every FS allows it).
  try {
    const dirFd = openSync(dirname(path), "r");
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
  } catch {
    /* directory fsync unsupported */
  }
}
