import { appendFileSync, mkdirSync, chmodSync, promises as fs } from "node:fs";
import { join, resolve } from "node:path";
import type { Readable, Writable } from "node:stream";
import type { AzureServices, CloudProfile } from "../azure/services.js";
import { AkvError } from "../errors.js";
import type { ConfigFile } from "../engine/config-file.js";
import { StateSession } from "../engine/session.js";
import type { InputSources } from "../engine/resolve.js";
import { Ui } from "../ui/ui.js";
import type { Prompter } from "../ui/prompter.js";

/** Everything from the outside world; only bin/ builds the real one. */
export interface Io {
  stdin: Readable & { isTTY?: boolean };
  stdout: Writable & { isTTY?: boolean };
  stderr: Writable & { isTTY?: boolean };
  env: Record<string, string | undefined>;
  cwd: string;
  /** Whether a standard stream is a terminal, answered without creating the stream (see main.ts). */
  isTerminal(stream: "stdin" | "stderr"): boolean;
  /** Tests inject a scripted prompter. */
  prompter?: Prompter;
}

export interface GlobalOptions {
  workdir?: string;
  config?: string;
  yes?: boolean;
  nonInteractive?: boolean;
  json?: boolean;
  color?: boolean;
  verbose?: boolean;
  sandbox?: boolean;
  sandboxConfig?: string;
  auth?: string;
  cloud?: string;
  authorityHost?: string;
  armEndpoint?: string;
  graphEndpoint?: string;
  caFile?: string;
  tenant?: string;
  subscription?: string;
}

export interface SandboxRuntime {
  close(): Promise<void>;
  tenantId: string;
  subscriptionId: string;
  adminUrl: string;
}

/** The one object a command receives: terminal, configuration, and lazily, Azure. */
export class Runtime {
  readonly ui: Ui;
  readonly workdir: string;
  readonly io: Io;
  readonly globals: GlobalOptions;
  config: ConfigFile = {};
  private azureServices: AzureServices | undefined;
  /** The state session a command holds, released on exit and on Ctrl-C. */
  sessionToRelease: { release(): Promise<void>; releaseSync(): void } | undefined;
  private sandboxHandle: SandboxRuntime | undefined;
  private logPath: string | undefined;
  private logEnabled = false;

  constructor(io: Io, globals: GlobalOptions) {
    this.io = io;
    this.globals = globals;
    this.workdir = resolve(io.cwd, globals.workdir ?? io.env.AKV_CRASHPLAN_WORKDIR ?? "akv-crashplan");
    this.ui = new Ui({
      streams: io,
      facts: {
        get stdinIsTTY() {
          return io.isTerminal("stdin");
        },
        get stderrIsTTY() {
          return io.isTerminal("stderr");
        },
        env: io.env,
      },
      json: Boolean(globals.json),
      nonInteractive: Boolean(globals.nonInteractive),
      noColor: globals.color === false,
      verbose: Boolean(globals.verbose),
      ...(io.prompter ? { prompter: io.prompter } : {}),
      logSink: (line) => this.log(line),
    });
    const usual = resolve(io.cwd, "akv-crashplan");
    if (this.workdir !== usual && !io.env.AKV_CRASHPLAN_WORKDIR) this.ui.useCommandPrefix(`akv-crashplan --workdir ${quoteForShell(this.workdir)}`);
  }

  async loadConfig(): Promise<void> {
    const path = this.globals.config ?? this.io.env.AKV_CRASHPLAN_CONFIG;
    if (path) this.config = await (await import("../engine/config-file.js")).loadConfigFile(resolve(this.io.cwd, path));
  }

  /**
   * Opens the workdir's state. A workdir remembers whether it was made against the sandbox, so later commands
   * (`migrate --verify`, `status`) talk to the same "Azure" without --sandbox, and never mix the two.
   */
  async openState(options: { command: string; lock: boolean }): Promise<StateSession> {
    const session = await StateSession.open(this.workdir, options);
    if (session.movedFrom) {
      this.ui.warn(`This workdir was last used as ${session.movedFrom}; its recorded file paths now point into ${this.workdir}.`);
      if (options.lock) {
        await session.save();
        const { rewriteHandoffFile } = await import("../steps/handoff.js");
        await rewriteHandoffFile(session.state, this.workdir);
      }
    }
    const cloud = session.state.cloud;
    if (!cloud && this.useSandbox && options.lock) {
      // Recorded by the first command that changes the workdir, signed in or not (cert generate, pfx export): a
      // rehearsal workdir must never go on against a real tenant because its first commands were local ones.
      session.state.cloud = "sandbox";
      await session.save();
    }
    if (cloud === "sandbox" && !this.useSandbox) {
      this.globals.sandbox = true;
      this.ui.line(this.ui.c.dim(`This workdir was set up against the built-in sandbox; using it (${this.workdir}).`));
    } else if (cloud && cloud !== "sandbox" && this.useSandbox) {
      await session.release();
      throw AkvError.state(`The state in ${this.workdir} was made against Azure (${cloud}), not the sandbox.`, {
        code: "StateOtherCloud",
        hint: "Drop --sandbox, or use another --workdir for a rehearsal.",
      });
    }
    return session;
  }

  /** Commands that change things keep a debug log (redacted) in the workdir. */
  enableLog(): void {
    this.logEnabled = true;
  }

  get debugLogPath(): string {
    return join(this.workdir, "logs", "akv-crashplan.log");
  }

  log(line: string): void {
    if (!this.logEnabled) return;
    try {
      if (!this.logPath) {
        mkdirSync(join(this.workdir, "logs"), { recursive: true, mode: 0o700 });
        this.logPath = this.debugLogPath;
        appendFileSync(this.logPath, `\n--- ${new Date().toISOString()} pid ${process.pid}\n`, { mode: 0o600 });
        chmodSync(this.logPath, 0o600);
      }
      // eslint-disable-next-line no-control-regex
      appendFileSync(this.logPath, line.replace(/\x1b\[[0-9;]*m/g, "") + "\n");
    } catch {
      // a log that cannot be written must not stop the run
    }
  }

  inputSources(flags: Record<string, unknown>, answers: Record<string, unknown>): InputSources {
    return {
      flags,
      env: this.io.env,
      config: this.config as Record<string, unknown>,
      ...(this.globals.config ? { configPath: this.globals.config } : {}),
      answers,
    };
  }

  get useSandbox(): boolean {
    return Boolean(this.globals.sandbox ?? this.config.sandbox ?? isTrue(this.io.env.AKV_CRASHPLAN_SANDBOX));
  }

  /** Signs nothing in yet: the first Azure call does. The sandbox, when asked for, starts here. */
  async azure(): Promise<AzureServices> {
    if (this.azureServices) return this.azureServices;
    const { createAzureServices } = await import("../azure/index.js");
    const { createOperatorCredential } = await import("../azure/credential.js");
    const env = { ...this.io.env };
    let cloud: CloudProfile;
    let auth = this.globals.auth ?? this.config.auth ?? env.AKV_CRASHPLAN_AUTH ?? "auto";
    if (this.useSandbox) {
      const { startSandboxForCli } = await import("./sandbox-session.js");
      const started = await startSandboxForCli(this);
      this.sandboxHandle = started.handle;
      cloud = started.cloud;
      Object.assign(env, started.operatorEnv);
      auth = "env";
    } else {
      cloud = await cloudFromFlags(this, env);
    }
    if (!["auto", "cli", "env", "device-code", "managed-identity"].includes(auth)) {
      throw AkvError.usage(`--auth has the value "${auth}", but it must be one of auto, cli, env, device-code, managed-identity.`);
    }
    const tenantId = this.globals.tenant ?? env.AKV_CRASHPLAN_TENANT ?? env.AZURE_TENANT_ID ?? (this.config.tenant as string | undefined);
    const credential = createOperatorCredential({
      auth: auth as "auto",
      cloud,
      ...(tenantId ? { tenantId } : {}),
      env,
      canPrompt: this.ui.interactive,
      onDeviceCode: (prompt: { message: string }) => this.ui.info(prompt.message),
    });
    const subscription = this.globals.subscription ?? env.AKV_CRASHPLAN_SUBSCRIPTION ?? env.AZURE_SUBSCRIPTION_ID ?? (this.config.subscription as string | undefined);
    const services: AzureServices = createAzureServices({
      cloud,
      credential,
      ...(subscription ? { subscription } : {}),
      ...(tenantId ? { tenantId } : {}),
      ...(this.io.env.AKV_CRASHPLAN_POLL_MS ? { pollIntervalMs: Number(this.io.env.AKV_CRASHPLAN_POLL_MS) } : {}),
      ...(this.ui.interactive
        ? {
            chooseSubscription: async (choices: Array<{ id: string; name: string }>) => {
              const id = await this.ui.prompt.select({
                message: "Subscription for the vault",
                choices: choices.map((c) => ({ value: c.id, name: `${c.name} (${c.id})` })),
              });
              return choices.find((c) => c.id === id)!;
            },
          }
        : {}),
    } as Parameters<typeof createAzureServices>[0]);
    this.azureServices = services;
    return services;
  }

  get sandbox(): SandboxRuntime | undefined {
    return this.sandboxHandle;
  }

  async close(): Promise<void> {
    await this.sandboxHandle?.close().catch(() => undefined);
  }
}

export function isTrue(value: string | undefined): boolean {
  return value !== undefined && ["1", "true", "yes", "on"].includes(value.toLowerCase());
}

/** --cloud picks a preset; --authority-host/--arm-endpoint/--graph-endpoint make a custom cloud (Azure Stack and the like). */
async function cloudFromFlags(rt: Runtime, env: Record<string, string | undefined>): Promise<CloudProfile> {
  const { cloudByName, customCloud } = await import("../azure/cloud.js");
  const authorityHost = rt.globals.authorityHost ?? env.AKV_CRASHPLAN_AUTHORITY_HOST;
  const armEndpoint = rt.globals.armEndpoint ?? env.AKV_CRASHPLAN_ARM_ENDPOINT;
  const graphEndpoint = rt.globals.graphEndpoint ?? env.AKV_CRASHPLAN_GRAPH_ENDPOINT;
  if (authorityHost || armEndpoint || graphEndpoint) {
    const missing = [
      ["--authority-host", authorityHost],
      ["--arm-endpoint", armEndpoint],
      ["--graph-endpoint", graphEndpoint],
    ].filter(([, v]) => !v).map(([k]) => k);
    if (missing.length > 0) throw AkvError.usage(`A custom cloud needs all of --authority-host, --arm-endpoint and --graph-endpoint; missing ${missing.join(", ")}.`);
    const caFile = rt.globals.caFile ?? env.AKV_CRASHPLAN_CA_FILE;
    const caPem = caFile ? await fs.readFile(resolve(rt.io.cwd, caFile), "utf8").catch(() => {
      throw AkvError.usage(`The CA file ${caFile} (--ca-file) cannot be read.`);
    }) : undefined;
    if (caPem) {
      const { trustExtraCa } = await import("../azure/tls.js");
      trustExtraCa(caPem);
    }
    return customCloud({
      authorityHost: authorityHost!,
      armEndpoint: armEndpoint!,
      graphEndpoint: graphEndpoint!,
      keyVaultAudience: env.AKV_CRASHPLAN_KEYVAULT_AUDIENCE ?? "https://vault.azure.net",
      ...(caPem ? { caPem } : {}),
    });
  }
  return cloudByName(rt.globals.cloud ?? rt.config.cloud ?? env.AKV_CRASHPLAN_CLOUD_NAME ?? "AzureCloud");
}

function quoteForShell(path: string): string {
  return /^[\w./@:+-]+$/.test(path) ? path : `'${path.replace(/'/g, "'\\''")}'`;
}
