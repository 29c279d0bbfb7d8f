import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";

function run(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn("tmux", args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.once("error", reject);
    child.once("exit", (code) => (code === 0 ? resolve(out) : reject(new Error(`tmux ${args[0]} failed: ${err}`))));
  });
}

export async function tmuxAvailable(): Promise<boolean> {
  return run(["-V"]).then(
    () => true,
    () => false,
  );
}

/** A program in a real pseudo-terminal, driven by the text on its screen, as an operator would. */
export class TerminalSession {
  private constructor(readonly name: string) {}

  static async start(command: string, options: { cwd: string; env?: Record<string, string>; width?: number; height?: number }): Promise<TerminalSession> {
    const name = `akv-test-${randomBytes(4).toString("hex")}`;
    const exports = Object.entries(options.env ?? {})
      .map(([k, v]) => `export ${k}='${v.replace(/'/g, "'\\''")}';`)
      .join(" ");
    // The shell stays after the program ends so the exit code can be read off the screen.
    // A person at a terminal: CI (set when the suite itself runs in CI) would turn prompting off.
    const script = `unset CI; ${exports} cd '${options.cwd}'; ${command}; echo "EXIT=$?"; sleep 600`;
    await run(["new-session", "-d", "-s", name, "-x", String(options.width ?? 160), "-y", String(options.height ?? 50), "bash", "-c", script]);
    return new TerminalSession(name);
  }

  async screen(history = 0): Promise<string> {
    const args = ["capture-pane", "-p", "-J", "-t", this.name];
    if (history > 0) args.push("-S", String(-history));
    return run(args);
  }

  async send(...keys: string[]): Promise<void> {
    await run(["send-keys", "-t", this.name, ...keys]);
  }

  async type(text: string): Promise<void> {
    await run(["send-keys", "-t", this.name, "-l", text]);
  }

  /** Waits until the screen shows `pattern`; fails with the screen when it does not within the time. */
  async waitFor(pattern: RegExp, timeoutMs = 30_000): Promise<string> {
    const started = Date.now();
    for (;;) {
      const screen = await this.screen(400);
      if (pattern.test(screen)) return screen;
      if (Date.now() - started > timeoutMs) throw new Error(`Timed out waiting for ${pattern} on the screen:\n${screen}`);
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
  }

  async close(): Promise<void> {
    await run(["kill-session", "-t", this.name]).catch(() => undefined);
  }
}

/** Screens carry ids, ports, names and times that change every run; replace them so a snapshot shows only what the operator reads. */
export function normaliseScreen(text: string, workdir: string): string {
  return text
    .split(workdir).join("<workdir>")
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, "<guid>")
    .replace(/https:\/\/localhost:\d+/g, "https://localhost:<port>")
    .replace(/\b[0-9A-F]{40}\b/g, "<sha1>")
    .replace(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z/g, "<time>")
    .replace(/\b20\d{2}-\d{2}-\d{2}\b/g, "<date>")
    .replace(/kv-crashplan-[a-z0-9]{6}/g, "kv-crashplan-<random>")
    .replace(/[A-Za-z0-9]{5}(-[A-Za-z0-9]{5}){5}/g, "<password>")
    .replace(/[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]/g, "*")
    .replace(/ \d+s\b/g, " <n>s")
    .replace(/\d+m\d{2}s/g, "<elapsed>")
    .replace(/[ \t]+$/gm, "")
    .replace(/\n{3,}/g, "\n\n")
    .trim() + "\n";
}
