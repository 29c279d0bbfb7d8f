import { AkvError } from "../errors.js";
import type { Ui } from "../ui/ui.js";
import { INPUTS, type InputKey, type InputSpec, type PromptHelpers } from "./inputs.js";

export type InputOrigin = "flag" | "environment" | "config" | "saved answer" | "prompt" | "default";

export interface InputSources {
  /** Commander option values, keyed by the camelCase of the flag. */
  flags: Record<string, unknown>;
  env: Record<string, string | undefined>;
  config: Record<string, unknown>;
  configPath?: string;
  answers: Record<string, unknown>;
}

export interface ResolvedValue {
  value: unknown;
  origin: InputOrigin;
}

export class ResolvedInputs {
  constructor(private readonly values: Map<InputKey, ResolvedValue>) {}

  has(key: InputKey): boolean {
    return this.values.get(key)?.value !== undefined;
  }
  string(key: InputKey): string | undefined {
    const value = this.values.get(key)?.value;
    return value === undefined ? undefined : String(value);
  }
  requireString(key: InputKey): string {
    const value = this.string(key);
    if (value === undefined) throw AkvError.usage(`Missing input ${describeSource(INPUTS[key])}.`);
    return value;
  }
  number(key: InputKey): number | undefined {
    const value = this.values.get(key)?.value;
    return value === undefined ? undefined : Number(value);
  }
  boolean(key: InputKey): boolean {
    return this.values.get(key)?.value === true;
  }
  list(key: InputKey): string[] {
    const value = this.values.get(key)?.value;
    return Array.isArray(value) ? value.map(String) : [];
  }
  origin(key: InputKey): InputOrigin | undefined {
    return this.values.get(key)?.origin;
  }
  set(key: InputKey, value: unknown, origin: InputOrigin): void {
    this.values.set(key, { value, origin });
  }
  /**
   * The answers worth saving so a re-run asks nothing twice. A generated default (the random vault name) is saved
   * too: a run resumed after a crash must not generate another one and create a second vault.
   */
  rememberable(onlyKeys?: readonly InputKey[]): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [key, resolved] of this.values) {
      if (onlyKeys && !onlyKeys.includes(key)) continue;
      // Defaults are saved too: a resumed or repaired step must use what the first run used, even if a later
      // release changes a default (and a generated vault name must never be generated twice).
      if (INPUTS[key].remember && resolved.value !== undefined) out[key] = resolved.value;
    }
    return out;
  }
  entries(): Array<[InputKey, ResolvedValue]> {
    return [...this.values.entries()];
  }
}

export function flagName(spec: InputSpec): string {
  return spec.flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

export function describeSource(spec: InputSpec): string {
  return `${spec.key} (--${spec.flag}, ${spec.env.join(" or ")}, config field "${spec.key}")`;
}

function coerce(spec: InputSpec, raw: unknown, where: string): unknown {
  if (raw === undefined || raw === null) return undefined;
  const fail = (rule: string): never => {
    throw AkvError.usage(`${where} has the value ${JSON.stringify(raw)}, but ${spec.key} must be ${rule}.`, { code: "InvalidInput" });
  };
  switch (spec.kind) {
    case "boolean":
      if (typeof raw === "boolean") return raw;
      if (typeof raw === "string") {
        const text = raw.trim().toLowerCase();
        if (["true", "1", "yes", "on"].includes(text)) return true;
        if (["false", "0", "no", "off"].includes(text)) return false;
      }
      return fail("true or false");
    case "integer": {
      const text = String(raw).trim();
      if (!/^-?\d+$/.test(text)) return fail(spec.validate?.("x") ?? "a whole number");
      const rule = spec.validate?.(text);
      if (rule) fail(rule);
      return Number(text);
    }
    case "list": {
      const items = Array.isArray(raw) ? raw.map(String) : String(raw).split(/[\s,]+/);
      const cleaned = items.map((item) => item.trim()).filter((item) => item.length > 0);
      for (const item of cleaned) {
        const rule = spec.validate?.(item);
        if (rule) throw AkvError.usage(`${where}: ${rule}.`, { code: "InvalidInput" });
      }
      return cleaned;
    }
    case "string": {
      const text = String(raw);
      const rule = spec.validate?.(text);
      // An address validator explains itself, quoting the value ("… is an IPv6 address; …"): not "must be <that>".
      if (rule?.startsWith('"')) throw AkvError.usage(`${where}: ${rule}.`, { code: "InvalidInput" });
      if (rule) fail(rule);
      return text;
    }
  }
}

function fromSources(spec: InputSpec, sources: InputSources): ResolvedValue | undefined {
  const flag = sources.flags[flagName(spec)];
  if (flag !== undefined && !(Array.isArray(flag) && flag.length === 0)) {
    return { value: coerce(spec, flag, `--${spec.flag}`), origin: "flag" };
  }
  for (const name of spec.env) {
    const value = sources.env[name];
    if (value !== undefined && value !== "") return { value: coerce(spec, value, `Environment variable ${name}`), origin: "environment" };
  }
  const fromConfig = sources.config[spec.key];
  if (fromConfig !== undefined) {
    return { value: coerce(spec, fromConfig, `Config field "${spec.key}"${sources.configPath ? ` in ${sources.configPath}` : ""}`), origin: "config" };
  }
  const saved = sources.answers[spec.key];
  if (saved !== undefined) {
    try {
      return { value: coerce(spec, saved, `Saved answer "${spec.key}"`), origin: "saved answer" };
    } catch {
      return undefined; // an answer saved by an older release that no longer passes: ask again
    }
  }
  return undefined;
}

async function ask(spec: InputSpec, ui: Ui, helpers: PromptHelpers, suggestion: unknown): Promise<unknown> {
  const prompt = spec.prompt!;
  const validateText = async (text: string): Promise<string | true> => {
    const items = spec.kind === "list" ? text.split(/[\s,]+/).filter(Boolean) : [text];
    if (spec.kind !== "list" && text.trim() === "" && spec.required) return "A value is needed.";
    for (const item of items) {
      const rule = spec.validate?.(item.trim());
      if (rule) return spec.kind === "list" ? rule : `${spec.key} must be ${rule}`;
    }
    if (prompt.asyncValidate && spec.kind !== "list") {
      const problem = await prompt.asyncValidate(text.trim(), helpers);
      if (problem) return problem;
    }
    return true;
  };
  if (prompt.kind === "select") {
    const choices = (await prompt.choices?.(helpers)) ?? [];
    if (choices.length > 0) {
      const defaultValue = typeof suggestion === "string" && choices.some((c) => c.value === suggestion) ? suggestion : undefined;
      return coerce(spec, await ui.prompt.select({ message: prompt.message, choices, default: defaultValue }), "Your answer");
    }
  }
  if (prompt.kind === "confirm") {
    return ui.prompt.confirm({ message: prompt.message, default: suggestion === undefined ? true : Boolean(suggestion) });
  }
  const defaultText = Array.isArray(suggestion) ? suggestion.join(", ") : suggestion === undefined ? undefined : String(suggestion);
  const answer = await ui.prompt.input({ message: prompt.message, default: defaultText, validate: validateText });
  if (answer.trim() === "" && !spec.required) return spec.kind === "list" ? [] : undefined;
  return coerce(spec, answer.trim(), "Your answer");
}

export interface ResolveOptions {
  ui: Ui;
  helpers?: Omit<PromptHelpers, "value">;
  /** Ask again (with the saved answer as default) instead of taking saved answers silently. */
  reask?: boolean;
  /** --yes: take suggested defaults (such as a generated vault name) instead of calling them missing. */
  acceptDefaults?: boolean;
  /** Take what the sources give; never prompt and never fail for a missing input (for steps already done). */
  lenient?: boolean;
}

/**
 * Flags > environment > config file > saved answers > prompt (terminal only) > default.
 * With prompting off, every missing required input is listed in one error, before anything changes in Azure.
 */
export async function resolveInputs(keys: InputKey[], sources: InputSources, options: ResolveOptions): Promise<ResolvedInputs> {
  const values = new Map<InputKey, ResolvedValue>();
  const resolved = new ResolvedInputs(values);
  const helpers: PromptHelpers = { ...options.helpers, value: (key) => values.get(key)?.value };
  const missing: InputSpec[] = [];
  const unique = [...new Set(keys)];
  for (const key of unique) {
    const spec = INPUTS[key];
    let found = fromSources(spec, sources);
    if (found?.origin === "saved answer" && options.reask && options.ui.interactive && spec.prompt) {
      found = { value: await ask(spec, options.ui, helpers, found.value), origin: "prompt" };
    }
    if (found) {
      values.set(key, found);
      continue;
    }
    if (options.lenient) {
      // A done step being repaired still needs its inputs; a plain default is as good as it was the first time.
      if (spec.default !== undefined && typeof spec.default !== "function") values.set(key, { value: coerce(spec, spec.default, `The default for ${spec.key}`), origin: "default" });
      continue;
    }
    const fallback = typeof spec.default === "function" ? spec.default(helpers) : spec.default;
    if (options.ui.interactive && spec.prompt) {
      values.set(key, { value: await ask(spec, options.ui, helpers, fallback), origin: "prompt" });
      continue;
    }
    // A generated name is only a suggestion: it is used when someone accepted defaults (--yes), never silently.
    const suggestionOnly = typeof spec.default === "function";
    if (fallback !== undefined && (!suggestionOnly || options.acceptDefaults)) {
      values.set(key, { value: coerce(spec, fallback, `The default for ${spec.key}`), origin: "default" });
      continue;
    }
    if (spec.required) missing.push(spec);
  }
  if (missing.length > 0) {
    const lines = missing.map((spec) => `  - ${spec.key}: ${spec.description} (--${spec.flag} or ${spec.env[0]}, or "${spec.key}" in --config)`);
    throw AkvError.usage(`Missing input${missing.length > 1 ? "s" : ""}, and prompting is off:\n${lines.join("\n")}`, {
      code: "MissingInputs",
      hint: `Pass ${missing.length > 1 ? "them" : "it"} as a flag, an environment variable or in a --config file, or run in a terminal to be asked.`,
      details: { missing: missing.map((spec) => ({ key: spec.key, flag: `--${spec.flag}`, env: spec.env[0] })) },
    });
  }
  return resolved;
}
