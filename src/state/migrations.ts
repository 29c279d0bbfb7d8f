import { CURRENT_SCHEMA_VERSION } from "./version.js";

/**
 * One function per schema version, upgrading a parsed document from version N to N+1, as Terraform does:
 * a state file is never read by code that expects another shape.
 */
type Migration = (doc: Record<string, unknown>) => Record<string, unknown>;

const migrations: Record<number, Migration> = {
  // Version 0 was the pre-release layout: steps were a list and answers were called "inputs".
  0: (doc) => {
    const steps: Record<string, unknown> = {};
    const list = Array.isArray(doc.steps) ? (doc.steps as Array<Record<string, unknown>>) : [];
    for (const entry of list) {
      if (typeof entry.id === "string") {
        const { id, ...rest } = entry;
        steps[id] = { outputs: {}, ...rest };
      }
    }
    const { inputs, ...rest } = doc;
    return { ...rest, schemaVersion: 1, steps, answers: inputs ?? {}, operations: {} };
  },
};

export function migrateForward(doc: Record<string, unknown>, fromVersion: number): Record<string, unknown> {
  let current = doc;
  for (let version = fromVersion; version < CURRENT_SCHEMA_VERSION; version++) {
    const migrate = migrations[version];
    if (!migrate) throw new Error(`no migration from state schema version ${version}`);
    current = migrate(current);
  }
  return current;
}
