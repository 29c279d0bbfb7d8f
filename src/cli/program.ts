import { Command, Help, Option } from "commander";
import { exitCodeDescriptions } from "../errors.js";
import { INPUTS, type InputKey } from "../engine/inputs.js";
import { STEP_IDS, type StepId } from "../state/step-ids.js";

/** The command tree only: names, flags, help. Actions are attached by main.ts. */

const EXIT_CODES_HELP =
  "\nExit codes:\n" +
  Object.entries(exitCodeDescriptions)
    .map(([code, text]) => `  ${code.padEnd(4)}${text}`)
    .join("\n") +
  "\n";

function example(command: Command, ...lines: string[]): Command {
  return command.addHelpText("after", `\nExample${lines.length > 1 ? "s" : ""}:\n${lines.map((l) => `  $ ${l}`).join("\n")}\n`);
}

/** Adds the flags of the inputs a command uses; names, env variables and defaults come from INPUTS. */
export function addInputOptions(command: Command, keys: readonly InputKey[]): Command {
  for (const key of keys) {
    const spec = INPUTS[key];
    const envNote = ` [env: ${spec.env[0]}]`;
    const defaultNote = spec.default !== undefined && typeof spec.default !== "function" ? ` (default: ${String(spec.default)})` : "";
    if (spec.kind === "boolean") {
      command.addOption(new Option(`--${spec.flag}`, `${spec.description}${envNote}`));
      command.addOption(new Option(`--no-${spec.flag}`).hideHelp());
    } else if (spec.kind === "list") {
      command.addOption(
        new Option(`--${spec.flag} <value>`, `${spec.description}${envNote}`).argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), value]),
      );
    } else {
      command.addOption(new Option(`--${spec.flag} <value>`, `${spec.description}${defaultNote}${envNote}`));
    }
  }
  return command;
}

export function inputKeysFor(steps: readonly StepId[]): InputKey[] {
  return (Object.keys(INPUTS) as InputKey[]).filter((key) => INPUTS[key].neededBy.some((id) => steps.includes(id)));
}

interface CommandSpec {
  /** The steps whose inputs become flags of this command. */
  steps?: readonly StepId[];
  /** The command's own flags (and extra help text). */
  options?: (command: Command) => Command;
  examples: string[];
}

const deferred = new WeakMap<Command, () => void>();
const withOptions = new WeakSet<Command>();

/** commander writes "[options]" after a command that has options; a command still waiting for its own gets it too. */
function subcommandTerm(this: Help, command: Command): string {
  const term = Help.prototype.subcommandTerm.call(this, command);
  return deferred.has(command) && withOptions.has(command) ? term.replace(command.name(), `${command.name()} [options]`) : term;
}

/** Adds a command's options and help texts now, if that has not happened yet. */
export function configureCommand(command: Command): Command {
  const configure = deferred.get(command);
  deferred.delete(command);
  configure?.();
  return command;
}

/** Every command of the tree, configured: for tests and tools that inspect all flags. */
export function configureAll(program: Command): Command[] {
  const walk = (command: Command): Command[] => [configureCommand(command), ...command.commands.flatMap(walk)];
  return walk(program);
}

/**
 * commander's `help <command>` prints that command's help without running the preSubcommand hook,
 * so configure the command named after a "help" word (at any level) before parsing.
 */
function configureHelpTargets(program: Command, argv: readonly string[]): void {
  let current = program;
  argv.forEach((word, index) => {
    const named = (name: string | undefined) => current.commands.find((command) => command.name() === name);
    if (word === "help") {
      const target = named(argv[index + 1]);
      if (target) configureCommand(target);
    } else {
      // A group creates its subcommands when configured, so that the next word can name one of them.
      const next = named(word);
      if (next) current = configureCommand(next);
    }
  });
}

/**
 * What commander should parse for these arguments, with the commands that help will be shown for configured.
 * commander's `help` command takes one word, so `help cert rotate` becomes `cert rotate --help`; `help help` is the
 * root's help; help for a command that does not exist is parsed without --help, so commander calls it unknown.
 */
export function argvToParse(program: Command, args: readonly string[]): string[] {
  configureHelpTargets(program, args);
  if (args[0] !== "help") return [...args];
  const words = args.slice(1).filter((word) => !word.startsWith("-"));
  if (words.length === 1 && words[0] === "help") return ["--help"];
  let current: Command | undefined = program;
  for (const word of words) current = current?.commands.find((command) => command.name() === word);
  if (!current) return args.slice(1);
  return words.length > 1 ? [...args.slice(1), "--help"] : [...args];
}

function configureSubcommand(_parent: Command, subcommand: Command): void {
  configureCommand(subcommand);
}

export interface CommandTree {
  program: Command;
}

export interface BuildOptions {
  /** Called on the root before any subcommand exists, so that what it sets (exit override, output) is inherited. */
  prepareRoot?: (program: Command) => void;
  /** Called when a runnable command is configured (just before it runs, or for help), with its path ("cert generate"). */
  onConfigure?: (command: Command, path: string) => void;
}

export function buildProgram(options: BuildOptions = {}): CommandTree {
  const program = new Command("akv-crashplan")
    .description(
      "Set up CrashPlan's archive keystore in your own Azure Key Vault: vault, app registration, firewall, certificate, " +
        "role, PFX, validation and the hand-off to CrashPlan's Migrate keystore — resumable, step by step.",
    )
    .version("0.1.0", "--version", "print the version")
    .option("--workdir <dir>", "folder for state, key, certificate and PFX [env: AKV_CRASHPLAN_WORKDIR]", undefined)
    .option("--config <file>", "JSON config file with inputs (see schema/config.schema.json) [env: AKV_CRASHPLAN_CONFIG]")
    .option("-y, --yes", "accept defaults and approve confirmations")
    .option("--non-interactive", "never prompt (automatic without a terminal or when CI is set)")
    .option("--json", "machine-readable JSON on stdout; people's text goes to stderr")
    .option("--no-color", "no colour (NO_COLOR and TERM=dumb are honoured too)")
    .option("--verbose", "more detail, and stack traces for internal errors")
    .option("--sandbox", "use the built-in local Azure sandbox instead of Azure [env: AKV_CRASHPLAN_SANDBOX]")
    .option("--sandbox-config <file>", "sandbox realism knobs (JSON) [env: AKV_CRASHPLAN_SANDBOX_CONFIG]")
    .addOption(new Option("--auth <method>", "how to sign in [env: AKV_CRASHPLAN_AUTH]").choices(["auto", "cli", "env", "device-code", "managed-identity"]))
    .option("--tenant <id>", "Entra tenant id [env: AKV_CRASHPLAN_TENANT, AZURE_TENANT_ID]")
    .option("--subscription <id-or-name>", "subscription [env: AKV_CRASHPLAN_SUBSCRIPTION, AZURE_SUBSCRIPTION_ID]")
    .addOption(new Option("--cloud <name>", "Azure cloud").choices(["AzureCloud", "AzureUSGovernment", "AzureChinaCloud"]))
    .addOption(new Option("--authority-host <url>", "custom cloud: Entra authority host").hideHelp())
    .addOption(new Option("--arm-endpoint <url>", "custom cloud: ARM endpoint").hideHelp())
    .addOption(new Option("--graph-endpoint <url>", "custom cloud: Graph endpoint").hideHelp())
    .addOption(new Option("--ca-file <file>", "custom cloud: extra CA certificate (PEM) to trust").hideHelp())
    .showSuggestionAfterError(true)
    .configureHelp({ subcommandTerm })
    .addHelpText("after", EXIT_CODES_HELP);
  options.prepareRoot?.(program);
  example(program, "akv-crashplan setup --sandbox", "akv-crashplan setup --resource-group rg-backup --location eastus --vault-name kv-crashplan-01", "akv-crashplan status --json");

  // A command gets its options and help texts, and a group its subcommands, only when it is the one being run
  // (commander's preSubcommand hook), so a start pays for one command instead of all of them.
  const add = (parent: Command, name: string, description: string, spec: CommandSpec) => {
    const command = parent.command(name).description(description);
    const inputKeys = inputKeysFor(spec.steps ?? []);
    if (inputKeys.length > 0 || spec.options) withOptions.add(command);
    deferred.set(command, () => {
      addInputOptions(command, inputKeys);
      spec.options?.(command);
      example(command, ...spec.examples);
      options.onConfigure?.(command, parent === program ? name : `${parent.name()} ${name}`);
    });
    return command;
  };
  const group = (name: string, description: string, addSubcommands: (group: Command) => void) => {
    const command = program.command(name).description(description).hook("preSubcommand", configureSubcommand);
    deferred.set(command, () => addSubcommands(command));
  };
  program.hook("preSubcommand", configureSubcommand);

  add(program, "setup", "run every step in order, interactively; re-run to resume", {
    steps: STEP_IDS,
    options: (setup) =>
      setup.option("--from <step>", `start at this step (${STEP_IDS.join(", ")})`)
        .option("--only <step...>", "run only these steps")
        .option("--plan", "print what would be created or changed, then stop without changing anything")
        .option("--recover-deleted", "recover a soft-deleted vault of that name (never purged)")
        .option("--password-file <file>", "read the PFX password from this file (0600)")
        .option("--password-stdin", "read the PFX password from standard input")
        .option("--password-out <file>", "write a generated PFX password to this file (0600)")
        .option("--confirm-backup-restore", "record that a test backup and a test restore succeeded"),
    examples: ["akv-crashplan setup --sandbox", "akv-crashplan setup --yes --resource-group rg-backup --location eastus --vault-name kv-crashplan-01 --crashplan-ip 203.0.113.0/24 --crashplan-ips-source 'CrashPlan KB, 2026-11'", "akv-crashplan setup --plan --json"],
  });

  add(program, "status", "table of steps: done / pending / failed, with what each produced, and live facts from Azure", {
    options: (status) =>
      status.option("--check", "exit 0 when everything is in place and valid, 3 otherwise (for monitoring)")
        .option("--offline", "only the local state; do not read Azure"),
    examples: ["akv-crashplan status", "akv-crashplan status --check --json"],
  });

  group("vault", "the Key Vault (step 1)", (vault) => {
    add(vault, "create", "step 1: create the Key Vault (RBAC, selected networks, purge protection)", {
      steps: ["vault"],
      options: (create) =>
        create.option("--recover-deleted", "recover a soft-deleted vault of that name (never purged)"),
      examples: ["akv-crashplan vault create --resource-group rg-backup --location eastus --vault-name kv-crashplan-01"],
    });
  });

  group("app", "the app registration (step 2)", (app) => {
    add(app, "register", "step 2: register the Entra ID application and its service principal", {
      steps: ["app"],
      examples: ["akv-crashplan app register --app-name key-vault-crashplan"],
    });
  });

  group("firewall", "the vault firewall (step 3)", (firewall) => {
    add(firewall, "configure", "step 3: allow CrashPlan's service addresses (and yours, temporarily) through the vault firewall", {
      steps: ["firewall"],
      examples: ["akv-crashplan firewall configure --crashplan-ip 203.0.113.0/24 --crashplan-ips-source 'CrashPlan support article, 2026-11-20' --allow-my-ip 198.51.100.23"],
    });
  });

  group("cert", "the service principal's certificate (steps 4 and 5)", (cert) => {
    add(cert, "generate", "step 4: generate a self-signed RSA certificate and key (service-principal.crt/.key)", {
      steps: ["cert"],
      options: (generate) =>
        generate.option("--force", "overwrite an existing key that was never uploaded"),
      examples: ["akv-crashplan cert generate --key-size 4096 --days 365"],
    });
    add(cert, "import", "step 4, bring your own: import a certificate and key (PEM, DER + key, or PFX)", {
      steps: ["cert"],
      options: (certImport) =>
        certImport.option("--cert <file>", "certificate file (PEM or DER), or a PEM holding both")
          .option("--key <file>", "private key file (PEM, PKCS#1 or PKCS#8)")
          .option("--pfx <file>", "PFX/P12 holding key and certificate")
          .option("--passphrase-file <file>", "passphrase of an encrypted key or of the PFX (read from a file)")
          .option("--passphrase-stdin", "read that passphrase from standard input")
          .option("--force", "replace an existing key that was never uploaded"),
      examples: ["akv-crashplan cert import --cert my.crt --key my.key"],
    });
    add(cert, "show", "show the certificate: subject, validity, thumbprints, whether it is uploaded", {
      examples: ["akv-crashplan cert show --json"],
    });
    add(cert, "upload", "step 5: add the certificate to the app registration, keeping existing credentials", {
      steps: ["upload"],
      examples: ["akv-crashplan cert upload"],
    });
    add(cert, "rotate", "replace the certificate without downtime: new beside old, validate, hand over, then remove the old", {
      // validate: the new certificate is validated (and --finish validates again), through the vault firewall.
      steps: ["cert", "pfx", "validate"],
      options: (rotate) =>
        rotate.option("--finish", "after CrashPlan uses the new PFX: validate again and remove the old credential")
          .option("--cert <file>", "bring the new certificate instead of generating one (PEM or DER, or a PEM with both)")
          .option("--key <file>", "its private key (PEM, PKCS#1 or PKCS#8)")
          .option("--pfx <file>", "or a PFX/P12 holding both")
          .option("--passphrase-file <file>", "passphrase of that key or PFX (read from a file)")
          .option("--passphrase-stdin", "read that passphrase from standard input")
          .option("--password-file <file>", "PFX password from a file")
          .option("--password-stdin", "PFX password from standard input")
          .option("--password-out <file>", "write a generated PFX password to this file (0600)"),
      examples: ["akv-crashplan cert rotate", "akv-crashplan cert rotate --cert new.crt --key new.key", "akv-crashplan cert rotate --finish"],
    });
  });

  add(program, "grant", "step 6: give the service principal 'Key Vault Secrets Officer' on the vault only", {
    steps: ["grant"],
    examples: ["akv-crashplan grant"],
  });

  group("pfx", "the PFX for CrashPlan (step 7)", (pfx) => {
    add(pfx, "export", "step 7: write service-principal.pfx (key + certificate) with a strong password", {
      steps: ["pfx"],
      options: (pfxExport) =>
        pfxExport.option("--password-file <file>", "read the password from a file instead of generating one")
          .option("--password-stdin", "read the password from standard input")
          .option("--password-out <file>", "write a generated password to this file (0600) for your password manager")
          .option("--force", "export again (a new PFX and password) although it was exported before")
          .addHelpText(
            "after",
            "\nCipher: 3des (default) is PBE-SHA1-3DES with a SHA-1 MAC, readable by every Java release CrashPlan may run,\n" +
              "including Java 8. aes256 is PBES2/AES-256-CBC with SHA-256, what OpenSSL 3 writes; older Java cannot read it.\n" +
              "Passwords are never taken as arguments: generated (shown once), typed at a masked prompt, or read from a file/stdin.\n",
          ),
      examples: ["akv-crashplan pfx export", "akv-crashplan pfx export --pfx-cipher aes256 --password-file ./pfx-password.txt"],
    });
  });

  add(program, "validate", "step 8: sign in as the service principal with the certificate and the PFX; write and read a probe secret", {
    steps: ["validate"],
    options: (validate) =>
      validate.option("--password-file <file>", "PFX password, when it was not generated in this run").option("--password-stdin", "PFX password from standard input"),
    examples: ["akv-crashplan validate --wait 15m"],
  });

  add(program, "migrate", "step 9: hand-off for CrashPlan's Migrate keystore, then verify the keys arrived", {
    steps: ["migrate"],
    options: (migrate) =>
      migrate.option("--verify", "check that CrashPlan's keystore entries are in the vault")
        .option("--confirm-backup-restore", "record that a test backup and a test restore succeeded"),
    examples: ["akv-crashplan migrate", "akv-crashplan migrate --verify --json"],
  });

  add(program, "doctor", "preflight before setup, health check after: each item ok / warn / fail with the fix", {
    examples: ["akv-crashplan doctor"],
  });
  add(program, "teardown", "undo what setup created, newest first (vault soft-deleted; purge only with --purge)", {
    options: (teardown) =>
      teardown.option("--purge", "also purge the soft-deleted vault (asks you to type its name)")
        .option("--delete-files", "also delete the local key, certificate and PFX")
        .option("--force", "even while CrashPlan keys are in the vault (makes backups unrecoverable)"),
    examples: ["akv-crashplan teardown"],
  });

  group("sandbox", "the built-in local emulator of Azure", (sandbox) => {
    add(sandbox, "start", "run the sandbox as a server and print its endpoints, CA file and credentials", {
      options: (start) =>
        start.option("--port <port>", "first port to listen on (0 = any free port)", "0").option("--data <dir>", "folder for the sandbox's data (default <workdir>/sandbox)"),
      examples: ["akv-crashplan sandbox start --port 8443"],
    });
    add(sandbox, "crashplan-migrate", "play CrashPlan's Migrate keystore against the sandbox with a PFX", {
      options: (migrate) =>
        migrate.requiredOption("--vault-url <url>", "the Vault URL as given to CrashPlan")
          .requiredOption("--pfx <file>", "the PFX")
          .option("--password-file <file>", "PFX password from a file")
          .option("--password-stdin", "PFX password from standard input")
          .option("--client-id <id>", "application (client) id; found from the certificate when omitted"),
      examples: ["akv-crashplan sandbox crashplan-migrate --sandbox --vault-url https://localhost:50123 --pfx akv-crashplan/service-principal.pfx --password-file pw.txt"],
    });
  });

  return { program };
}
