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

  static async open(workdir: string, options: { command: string; lock: boolean; now?: () => Date }): Promise<StateSession> {
    const clock = options.now ?? (() => new Date());
    const lock = options.lock ? await acquireStateLock(workdir, options.command) : undefined;
    try {
      const { state, existed } = await loadState(workdir, clock());
      return new StateSession(workdir, state, existed, lock, clock);
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
