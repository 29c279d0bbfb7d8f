// node:fs/promises is reached through fs.promises so that it loads on first use, not with this module.
import { promises as fs } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { AkvError } from "../errors.js";
import { makeFolder } from "./folders.js";
// node:crypto takes ~3 ms to load; only taking the lock needs it, so fetch it then.
const randomBytes = (size: number) => process.getBuiltinModule("node:crypto").randomBytes(size);

export const LOCK_FILE_NAME = "state.lock";

interface LockOwner {
  pid: number;
  hostname: string;
  command: string;
  since: string;
}

export interface StateLock {
  release(): Promise<void>;
  releaseSync(): void;
}

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * An exclusive-create lock file that records who holds it. A lock library such as proper-lockfile judges
 * staleness by mtime only; here the holder's pid and host are recorded so the message can name the holder
 * and a lock left by a killed process on this host is recognised at once.
 */
export async function acquireStateLock(workdir: string, command: string): Promise<StateLock> {
  await makeFolder(workdir, 0o700);
  const path = join(workdir, LOCK_FILE_NAME);
  const me: LockOwner = { pid: process.pid, hostname: hostname(), command, since: new Date().toISOString() };
  for (let attempt = 0; attempt < 3; attempt++) {
    if (await createLockFile(path, me)) {
      await removeLeftovers(workdir);
      return makeLock(path);
    }
    const owner = await readOwner(path);
    if (owner && owner.hostname === me.hostname && !processIsAlive(owner.pid)) {
      // Stale: move it aside atomically so two runs taking over at once cannot both win.
      const aside = `${path}.stale.${process.pid}`;
      try {
        await fs.rename(path, aside);
        await fs.unlink(aside).catch(() => undefined);
      } catch {
        // someone else took it over first; loop and see
      }
      continue;
    }
    if (!owner) {
      // Being written right now (between create and write), or unreadable garbage: give it a moment.
      await new Promise((resolve) => setTimeout(resolve, 100));
      const again = await readOwner(path);
      if (!again) {
        throw AkvError.state(`The state in ${workdir} is locked (${path}), and the lock file does not say by whom.`, {
          code: "StateLocked",
          hint: `If no other akv-crashplan is running, delete ${path} and run again.`,
        });
      }
      continue;
    }
    throw AkvError.state(
      `Another akv-crashplan run holds the state in ${workdir}: pid ${owner.pid} on ${owner.hostname} (${owner.command}), since ${owner.since}.`,
      {
        code: "StateLocked",
        hint: `Wait for it to finish. If that process is gone${owner.hostname === me.hostname ? "" : " (it ran on another machine)"}, delete ${path} and run again.`,
        details: { holder: owner },
      },
    );
  }
  throw AkvError.state(`Could not take the lock ${path} after several attempts.`, { code: "StateLocked", hint: "Run the command again." });
}

/**
 * Creates the lock file whole, or not at all: the owner is written to a temp file first and hard-linked into place
 * (link fails with EEXIST like an exclusive create). Creating the lock and then writing it left an empty lock when
 * the process was killed in between, and an empty lock names no holder, so it was never recognised as stale.
 * A file system without hard links gets the exclusive create. Returns false when the lock exists.
 */
async function createLockFile(path: string, me: LockOwner): Promise<boolean> {
  const content = JSON.stringify(me) + "\n";
  const temp = `${path}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  try {
    const handle = await fs.open(temp, "wx", 0o600);
    try {
      await handle.writeFile(content);
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await fs.link(temp, path);
      return true;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "EEXIST") return false;
      if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EOPNOTSUPP" && code !== "ENOSYS") throw error;
    }
  } finally {
    await fs.unlink(temp).catch(() => undefined);
  }
  try {
    const handle = await fs.open(path, "wx", 0o600);
    await handle.writeFile(content);
    await handle.sync();
    await handle.close();
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  }
}

/**
 * Holding the lock, nobody else writes in the workdir: a hidden temp file of an atomic write (.state.json.…tmp, or
 * .service-principal.key.…tmp with a private key in it) is what a killed run left behind, and a lock temp file of a
 * dead process what a killed acquire left. Both are removed (best effort).
 */
async function removeLeftovers(workdir: string): Promise<void> {
  const names = await fs.readdir(workdir).catch(() => [] as string[]);
  for (const name of names) {
    const lockTemp = /^state\.lock\.(\d+)\.[0-9a-f]+\.tmp$/.exec(name);
    const writeTemp = /^\..+\.[0-9a-f]{8,12}\.tmp$/.test(name);
    if (writeTemp || (lockTemp && !processIsAlive(Number(lockTemp[1])))) await fs.unlink(join(workdir, name)).catch(() => undefined);
  }
}

async function readOwner(path: string): Promise<LockOwner | undefined> {
  try {
    const parsed = JSON.parse(await fs.readFile(path, "utf8")) as Partial<LockOwner>;
    if (typeof parsed.pid === "number" && typeof parsed.hostname === "string") {
      return { pid: parsed.pid, hostname: parsed.hostname, command: String(parsed.command ?? "?"), since: String(parsed.since ?? "?") };
    }
  } catch {
    // fallthrough
  }
  return undefined;
}

function makeLock(path: string): StateLock {
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      await fs.unlink(path).catch(() => undefined);
    },
    releaseSync() {
      if (released) return;
      released = true;
      try {
        process.getBuiltinModule("node:fs").unlinkSync(path);
      } catch {
        // already gone
      }
    },
  };
}
