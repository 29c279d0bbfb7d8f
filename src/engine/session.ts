import { AkvError } from "../errors.js";
import { acquireStateLock, type StateLock } from "../state/lock.js";
import type { StateFile, StepRecord } from "../state/schema.js";
import { STEP_IDS, type StepId } from "../state/step-ids.js";
import { loadState, saveState, stepRecord } from "../state/store.js";

/** One run's hold on the workdir: the loaded state, the lock, and a save that is always atomic. */
export class StateSession {
  private constructor(
    readonly workdir: string,
    readonly state: StateFile,
    readonly existed: boolean,
    private readonly lock: StateLock | undefined,
    private readonly clock: () => Date,
  ) {}

  /** Set when the state was last used in another folder (a copied or moved workdir). */
  movedFrom: string | undefined;

  static async open(workdir: string, options: { command: string; lock: boolean; now?: () => Date }): Promise<StateSession> {
    const clock = options.now ?? (() => new Date());
    const lock = options.lock ? await acquireStateLock(workdir, options.command) : undefined;
    try {
      // Without the lock the session cannot save (see save()), so a missing state needs no real lineage.
      const { state, existed } = await loadState(workdir, clock(), options.lock ? undefined : () => "unsaved");
      const session = new StateSession(workdir, state, existed, lock, clock);
      const previous = state.workdir;
      if (previous && previous !== workdir) {
        // Recorded file paths point into the old folder; following them would read, overwrite or delete another
        // workdir's key and PFX. Re-base every one of them onto this folder.
        session.movedFrom = previous;
        state.steps = rebase(state.steps, previous, workdir);
        state.operations = rebase(state.operations, previous, workdir);
      }
      state.workdir = workdir;
      return session;
    } catch (error) {
      await lock?.release();
      throw error;
    }
  }

  step(id: StepId): StepRecord {
    return stepRecord(this.state, id);
  }

  async save(): Promise<void> {
    if (!this.lock) throw new AkvError(1, "internal: state saved without holding the lock");
    await saveState(this.workdir, this.state, this.clock());
  }

  async release(): Promise<void> {
    await this.lock?.release();
  }

  releaseSync(): void {
    this.lock?.releaseSync();
  }

  summary(): Array<{ id: StepId; record: StepRecord }> {
    return STEP_IDS.map((id) => ({ id, record: this.step(id) }));
  }
}

function rebase<T>(value: T, from: string, to: string): T {
  if (typeof value === "string") {
    return (value === from || value.includes(`${from}/`) ? value.split(`${from}/`).join(`${to}/`).replace(new RegExp(`^${escapeRegExp(from)}$`), to) : value) as T;
  }
  if (Array.isArray(value)) return value.map((item) => rebase(item, from, to)) as T;
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, rebase(item, from, to)])) as T;
  }
  return value;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
