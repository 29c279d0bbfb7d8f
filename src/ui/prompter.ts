import type { Readable, Writable } from "node:stream";
import { AkvError } from "../errors.js";

export interface Choice<T extends string = string> {
  value: T;
  name?: string;
  description?: string;
}

/** All prompts go through this interface; tests pass a scripted one, the CLI the inquirer one. */
export interface Prompter {
  input(opts: { message: string; default?: string; validate?: (value: string) => string | true | Promise<string | true> }): Promise<string>;
  select<T extends string>(opts: { message: string; choices: Choice<T>[]; default?: T }): Promise<T>;
  confirm(opts: { message: string; default?: boolean }): Promise<boolean>;
  password(opts: { message: string; validate?: (value: string) => string | true }): Promise<string>;
}

function isPromptCancel(error: unknown): boolean {
  const name = (error as { name?: string } | undefined)?.name;
  return name === "ExitPromptError" || name === "AbortPromptError" || name === "CancelPromptError";
}

async function guarded<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (isPromptCancel(error)) throw AkvError.cancelled("Cancelled at a prompt.");
    throw error;
  }
}

/** @inquirer/prompts, loaded only when a prompt is really shown (it is slow to import). */
export function inquirerPrompter(input: Readable, output: Writable): Prompter {
  const context = { input, output, clearPromptOnDone: false } as const;
  const load = () => import("@inquirer/prompts");
  return {
    input: (opts) =>
      guarded(async () => {
        const { input: ask } = await load();
        return ask({ message: opts.message, default: opts.default, validate: opts.validate }, context);
      }),
    select: (opts) =>
      guarded(async () => {
        const { select } = await load();
        return select({ message: opts.message, choices: opts.choices, default: opts.default, pageSize: 12 }, context);
      }),
    confirm: (opts) =>
      guarded(async () => {
        const { confirm } = await load();
        return confirm({ message: opts.message, default: opts.default }, context);
      }),
    password: (opts) =>
      guarded(async () => {
        const { password } = await load();
        return password({ message: opts.message, mask: "*", validate: opts.validate }, context);
      }),
  };
}

/** What runs when nobody can answer: every call is a bug in the caller, which must resolve inputs first. */
export const noPrompter: Prompter = {
  input: (opts) => Promise.reject(AkvError.usage(`An answer is needed but prompting is off: ${opts.message}`)),
  select: (opts) => Promise.reject(AkvError.usage(`An answer is needed but prompting is off: ${opts.message}`)),
  confirm: (opts) => Promise.reject(AkvError.usage(`A confirmation is needed but prompting is off: ${opts.message}`, { hint: "Pass --yes to approve." })),
  password: (opts) => Promise.reject(AkvError.usage(`A password is needed but prompting is off: ${opts.message}`)),
};
