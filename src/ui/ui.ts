import { createRequire } from "node:module";
import type { ChalkInstance } from "chalk";
import type { Readable, Writable } from "node:stream";
import { Redactor } from "./redact.js";
import { canAnimate, canColour, canPrompt, type TerminalFacts } from "./terminal.js";
import { inquirerPrompter, noPrompter, type Prompter } from "./prompter.js";

export interface UiOptions {
  /** Read on each use (the CLI's are getters that create process streams lazily). */
  streams: { readonly stdin: Readable; readonly stdout: Writable; readonly stderr: Writable };
  facts: TerminalFacts;
  json: boolean;
  nonInteractive: boolean;
  noColor: boolean;
  verbose: boolean;
  /** Tests inject a scripted prompter. */
  prompter?: Prompter;
  /** Every line also goes (redacted) to this sink, e.g. the debug log. */
  logSink?: (line: string) => void;
}

export interface WaitHandle {
  update(label: string): void;
}

export function formatElapsed(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, "0")}s`;
}

/** The only door to the terminal: colour, prompts, spinners and redaction are decided here once. */
export class Ui {
  readonly json: boolean;
  readonly verbose: boolean;
  readonly colour: boolean;
  readonly animate: boolean;
  readonly c: ChalkInstance;
  readonly redactor = new Redactor();
  readonly warnings: string[] = [];
  private readonly logSink: ((line: string) => void) | undefined;

  // The streams and terminal facts are read on use, not here: creating process.stdin or .stderr, or asking
  // whether one is a terminal, loads Node's stream and tty modules (~5 ms), which a `status` piped to a file
  // never needs.
  constructor(private readonly options: UiOptions) {
    this.json = options.json;
    this.verbose = options.verbose;
    this.colour = canColour(options.facts, options.noColor);
    this.animate = canAnimate(options.facts, this.colour);
    this.c = this.colour ? colours() : plain;
    this.logSink = options.logSink;
  }

  private interactiveAnswer: boolean | undefined;
  get interactive(): boolean {
    return (this.interactiveAnswer ??= canPrompt(this.options.facts, this.options.nonInteractive));
  }
  private prompter: Prompter | undefined;
  get prompt(): Prompter {
    return (this.prompter ??= this.interactive
      ? this.pauseSpinnerWhileAsking(this.options.prompter ?? inquirerPrompter(this.options.streams.stdin, this.options.streams.stderr))
      : noPrompter);
  }

  get stdin(): Readable {
    return this.options.streams.stdin;
  }
  get stderrIsTTY(): boolean {
    return this.options.facts.stderrIsTTY;
  }
  private get stdout(): Writable {
    return this.options.streams.stdout;
  }
  private get stderr(): Writable {
    return this.options.streams.stderr;
  }

  /** A spinner redrawing its line would scribble over a question asked in the middle of a wait. */
  private activeSpinner: { pause(): void; resume(): void } | undefined;
  private pauseSpinnerWhileAsking(inner: Prompter): Prompter {
    const around =
      <A extends unknown[], R>(ask: (...args: A) => Promise<R>) =>
      async (...args: A): Promise<R> => {
        const spinner = this.activeSpinner;
        spinner?.pause();
        try {
          return await ask(...args);
        } finally {
          spinner?.resume();
        }
      };
    return {
      input: around(inner.input.bind(inner)),
      select: around(inner.select.bind(inner)) as Prompter["select"],
      confirm: around(inner.confirm.bind(inner)),
      password: around(inner.password.bind(inner)),
    };
  }

  /**
   * With a non-default --workdir, every command the tool suggests must carry it, or following a hint verbatim
   * would act on another setup (the one in ./akv-crashplan).
   */
  private commandPrefix: string | undefined;
  useCommandPrefix(prefix: string): void {
    this.commandPrefix = prefix;
  }
  withCommandPrefix(text: string): string {
    if (!this.commandPrefix) return text;
    return text.replace(/`akv-crashplan (?=[a-z])/g, `\`${this.commandPrefix} `).replace(/(^|\s)akv-crashplan (?=(setup|status|vault|app|firewall|cert|grant|pfx|validate|migrate|doctor|teardown|sandbox)\b(?! —))/g, `$1${this.commandPrefix} `);
  }

  /** People's text: always stderr, so stdout stays data. */
  line(text = ""): void {
    const safe = this.redactor.redact(this.withCommandPrefix(text));
    this.stderr.write(safe + "\n");
    this.logSink?.(safe);
  }
  info(text: string): void {
    this.line(text);
  }
  heading(text: string): void {
    this.line("");
    this.line(this.c.bold(text));
  }
  success(text: string): void {
    this.line(`${this.c.green("✔")} ${text}`);
  }
  warn(text: string): void {
    this.warnings.push(this.redactor.redact(this.withCommandPrefix(text)));
    this.line(`${this.c.yellow("!")} ${this.c.yellow(text)}`);
  }
  debug(text: string): void {
    const safe = this.redactor.redact(text);
    this.logSink?.(`[debug] ${safe}`);
    if (this.verbose) this.stderr.write(this.c.dim(safe) + "\n");
  }

  /**
   * Shows a secret once, on the terminal only: never on a pipe, never in the log. Returns false when there is
   * no terminal to show it on (the caller must then put it somewhere safe).
   */
  revealOnce(label: string, secret: string): boolean {
    if (!this.stderrIsTTY || !this.interactive) return false;
    this.stderr.write(`${label}: ${this.c.bold(secret)}\n`);
    this.logSink?.(`${label}: [shown on the terminal, not logged]`);
    return true;
  }

  /** Machine output: one JSON document on stdout. */
  data(document: unknown): void {
    this.stdout.write(this.redactor.redact(JSON.stringify(document, null, 2)) + "\n");
  }
  /** Plain output a person asked for on stdout (e.g. a table when not --json). */
  print(text: string): void {
    this.stdout.write(this.redactor.redact(text) + "\n");
  }

  table(rows: string[][], header?: string[]): string {
    const all = header ? [header, ...rows] : rows;
    const widths: number[] = [];
    for (const row of all) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, visibleLength(cell))));
    const render = (row: string[]) => row.map((cell, i) => (i === row.length - 1 ? cell : pad(cell, widths[i] ?? 0))).join("  ");
    const lines = all.map(render);
    if (header) lines.splice(1, 0, widths.map((w) => "─".repeat(w)).join("  "));
    return lines.join("\n");
  }

  /**
   * Every remote wait shows what it waits for and for how long; on a terminal it animates,
   * elsewhere it prints one plain line when it starts and one when it ends.
   */
  async wait<T>(label: string, work: (handle: WaitHandle) => Promise<T>): Promise<T> {
    const started = Date.now();
    let current = label;
    if (!this.animate) {
      this.line(`… ${label}`);
      // Without animation each new phase of a wait is one plain line, printed once.
      const handle: WaitHandle = {
        update: (next) => {
          if (next !== current) this.line(`… ${next}`);
          current = next;
        },
      };
      const result = await work(handle);
      this.logSink?.(`done: ${current} (${formatElapsed(Date.now() - started)})`);
      return result;
    }
    const frames = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
    let frame = 0;
    const render = () => {
      const text = this.redactor.redact(`${this.c.cyan(frames[frame++ % frames.length])} ${current} ${this.c.dim(formatElapsed(Date.now() - started))}`);
      this.stderr.write(`\r\x1b[2K${text}`);
    };
    render();
    let timer: ReturnType<typeof setInterval> | undefined = setInterval(render, 120);
    const stop = () => {
      if (timer) clearInterval(timer);
      timer = undefined;
      this.stderr.write("\r\x1b[2K");
    };
    const previous = this.activeSpinner;
    this.activeSpinner = {
      pause: stop,
      resume: () => {
        if (!timer) {
          render();
          timer = setInterval(render, 120);
        }
      },
    };
    try {
      const result = await work({ update: (next) => (current = next) });
      stop();
      this.activeSpinner = previous;
      this.logSink?.(`done: ${current} (${formatElapsed(Date.now() - started)})`);
      return result;
    } catch (error) {
      stop();
      this.activeSpinner = previous;
      throw error;
    }
  }
}

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;
function visibleLength(text: string): number {
  return text.replace(ANSI, "").length;
}
function pad(text: string, width: number): string {
  return text + " ".repeat(Math.max(0, width - visibleLength(text)));
}

/** Without colour every style is the identity, and chalk is not even loaded (most runs in scripts and CI). */
const plain: ChalkInstance = new Proxy((text: unknown) => String(text), {
  get: (_target, _style) => plain,
  apply: (_target, _this, args: unknown[]) => args.map(String).join(" "),
}) as unknown as ChalkInstance;

function colours(): ChalkInstance {
  // Node 22 loads an ES module synchronously through require(); the UI is built synchronously.
  const { Chalk } = createRequire(import.meta.url)("chalk") as typeof import("chalk");
  return new Chalk({ level: 1 });
}
