import { spawn } from "node:child_process";
import { mkdtemp, readFile, writeFile, readdir, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { AkvError } from "../../src/errors.js";
import { acquireStateLock } from "../../src/state/lock.js";
import { CURRENT_SCHEMA_VERSION } from "../../src/state/schema.js";
import { assertStateOwnership, loadState, saveState, statePath } from "../../src/state/store.js";

const tempDir = () => mkdtemp(join(tmpdir(), "akv-state-"));

async function expectAkvError(promise: Promise<unknown>, exitCode: number, pattern: RegExp): Promise<AkvError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(AkvError);
    expect((error as AkvError).exitCode).toBe(exitCode);
    expect((error as AkvError).message).toMatch(pattern);
    return error as AkvError;
  }
  throw new Error("expected an AkvError");
}

describe("state file", () => {
  it("round-trips, keeps the previous good snapshot as a backup, and is 0600", async () => {
    const dir = await tempDir();
    const { state, existed } = await loadState(dir);
    expect(existed).toBe(false);
    state.answers.vaultName = "kv-one";
    await saveState(dir, state);
    state.answers.vaultName = "kv-two";
    await saveState(dir, state);
    const again = await loadState(dir);
    expect(again.existed).toBe(true);
    expect(again.state.answers.vaultName).toBe("kv-two");
    const backup = JSON.parse(await readFile(join(dir, "state.json.backup"), "utf8"));
    expect(backup.answers.vaultName).toBe("kv-one");
    expect((await stat(statePath(dir))).mode & 0o777).toBe(0o600);
  });

  it("refuses a corrupt file with exit 7, names it, and leaves it untouched", async () => {
    const dir = await tempDir();
    await writeFile(statePath(dir), '{"schemaVersion": 1, "lineage": "x", "steps": ');
    const before = await readFile(statePath(dir), "utf8");
    const error = await expectAkvError(loadState(dir), 7, /state\.json is damaged: it is not valid JSON/);
    expect(error.hint).toMatch(/backup/);
    expect(await readFile(statePath(dir), "utf8")).toBe(before);
  });

  it("refuses a file that is not ours, and a newer schema", async () => {
    const dir = await tempDir();
    await writeFile(statePath(dir), JSON.stringify({ hello: "world" }));
    await expectAkvError(loadState(dir), 7, /no valid schemaVersion/);
    await writeFile(statePath(dir), JSON.stringify({ schemaVersion: CURRENT_SCHEMA_VERSION + 1 }));
    await expectAkvError(loadState(dir), 7, /newer than this akv-crashplan understands/);
  });

  it("names the broken field of a file that parses but does not validate", async () => {
    const dir = await tempDir();
    const { state } = await loadState(dir);
    await saveState(dir, state);
    const doc = JSON.parse(await readFile(statePath(dir), "utf8"));
    doc.steps.vault.status = "halfway";
    await writeFile(statePath(dir), JSON.stringify(doc));
    await expectAkvError(loadState(dir), 7, /steps\.vault\.status/);
  });

  it("migrates a version-0 file forward", async () => {
    const dir = await tempDir();
    const old = {
      schemaVersion: 0,
      lineage: "0b4e1c8e-4a51-4d54-9d7c-1c2f6f6c1a11",
      createdAt: "2026-01-01T00:00:00.000Z",
      updatedAt: "2026-01-01T00:00:00.000Z",
      inputs: { vaultName: "kv-old" },
      steps: [{ id: "vault", status: "done", outputs: { vaultId: "/x" } }],
    };
    await writeFile(statePath(dir), JSON.stringify(old));
    const { state } = await loadState(dir);
    expect(state.schemaVersion).toBe(CURRENT_SCHEMA_VERSION);
    expect(state.answers.vaultName).toBe("kv-old");
    expect(state.steps.vault?.status).toBe("done");
    expect(state.steps.grant?.status).toBe("pending");
  });

  it("refuses a state of another tenant or subscription, naming both", async () => {
    const dir = await tempDir();
    const { state } = await loadState(dir);
    state.tenantId = "11111111-1111-1111-1111-111111111111";
    state.subscriptionId = "sub-a";
    expect(() => assertStateOwnership(state, "22222222-2222-2222-2222-222222222222", "sub-a", dir)).toThrow(/11111111.*22222222/);
    expect(() => assertStateOwnership(state, state.tenantId, "sub-b", dir)).toThrow(/sub-a.*sub-b/);
    expect(() => assertStateOwnership(state, state.tenantId, "SUB-A", dir)).not.toThrow();
  });

  it("survives SIGKILL at random moments during writes: the file always parses", async () => {
    const dir = await tempDir();
    const { state } = await loadState(dir);
    await saveState(dir, state);
    const writer = `
      const { loadState, saveState } = await import(${JSON.stringify(new URL("../../dist/state/store.js", import.meta.url).pathname)});
      const dir = ${JSON.stringify(dir)};
      let n = 0;
      for (;;) { const { state } = await loadState(dir); state.answers.counter = ++n; state.answers.padding = "x".repeat(20000 + (n % 7) * 5000); await saveState(dir, state); }
    `;
    for (let trial = 0; trial < 8; trial++) {
      const child = spawn(process.execPath, ["--input-type=module", "-e", writer], { stdio: ["ignore", "ignore", "pipe"] });
      let stderr = "";
      child.stderr.on("data", (d) => (stderr += d));
      const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
      await new Promise((resolve) => setTimeout(resolve, 250 + ((trial * 37) % 200)));
      child.kill("SIGKILL");
      const code = await exited;
      expect(stderr).toBe("");
      expect(code).toBeNull(); // it was still writing when killed
      const { state: after } = await loadState(dir);
      expect(typeof after.answers.counter === "number" || after.answers.counter === undefined).toBe(true);
    }
    const leftovers = (await readdir(dir)).filter((f) => f.endsWith(".tmp"));
    // Temp files of killed writers may remain; they are never the state file itself.
    expect(leftovers.every((f) => f.startsWith(".state.json."))).toBe(true);
  });
});

describe("lock", () => {
  it("lets one run in and tells the second who holds it (exit 7)", async () => {
    const dir = await tempDir();
    const first = await acquireStateLock(dir, "setup");
    const error = await expectAkvError(acquireStateLock(dir, "setup"), 7, new RegExp(`pid ${process.pid}.*\\(setup\\), since`));
    expect(error.code).toBe("StateLocked");
    await first.release();
    const again = await acquireStateLock(dir, "status");
    await again.release();
  });

  it("takes over a stale lock left by a killed process", async () => {
    const dir = await tempDir();
    const child = spawn(process.execPath, ["-e", "setTimeout(()=>{}, 10000)"]);
    const exited = new Promise((resolve) => child.once("exit", resolve));
    const pid = child.pid!;
    child.kill("SIGKILL");
    await exited;
    const { hostname } = await import("node:os");
    await writeFile(join(dir, "state.lock"), JSON.stringify({ pid, hostname: hostname(), command: "setup", since: "2026-01-01T00:00:00Z" }));
    const lock = await acquireStateLock(dir, "setup");
    const owner = JSON.parse(await readFile(join(dir, "state.lock"), "utf8"));
    expect(owner.pid).toBe(process.pid);
    await lock.release();
  });
});
