/**
 * A sandbox running as its own process (`akv-crashplan sandbox start --json`), so tests can read the request log
 * of whole CLI runs through the admin endpoint, and talk to its Graph/ARM as the operator.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SandboxConfig, SandboxPrincipal, SandboxRequestLogEntry, SandboxSnapshot } from "../../src/sandbox/types.js";
import { BIN, cleanEnv } from "./cli.js";

export interface ServerInfo {
  dataDir: string;
  caCertPath: string;
  authorityHost: string;
  armEndpoint: string;
  graphEndpoint: string;
  adminUrl: string;
  tenantId: string;
  subscriptionId: string;
  operator: SandboxPrincipal;
  limitedOperator: SandboxPrincipal;
}

export interface HttpAnswer {
  status: number;
  body: any;
}

export class SandboxServer {
  readonly info: ServerInfo;
  readonly root: string;
  private readonly child: ChildProcess;
  private readonly ca: string;

  private constructor(info: ServerInfo, root: string, child: ChildProcess) {
    this.info = info;
    this.root = root;
    this.child = child;
    this.ca = readFileSync(info.caCertPath, "utf8");
  }

  /** Starts a server; pass the `root` of a stopped one (stop({ keep: true })) to restart on the same data. */
  static async start(config: SandboxConfig = {}, root = mkdtempSync(join(tmpdir(), "akv-e2e-"))): Promise<SandboxServer> {
    const configFile = join(root, "knobs.json");
    writeFileSync(configFile, JSON.stringify(config));
    const child = spawn(process.execPath, [BIN, "sandbox", "start", "--json", "--data", join(root, "sandbox"), "--sandbox-config", configFile], {
      cwd: root,
      env: cleanEnv(),
      stdio: ["ignore", "pipe", "pipe"],
    });
    const info = await new Promise<ServerInfo>((resolve, reject) => {
      let out = "";
      let err = "";
      const timer = setTimeout(() => reject(new Error(`sandbox start gave no endpoints within 20 s: ${err}`)), 20_000);
      child.stderr!.setEncoding("utf8").on("data", (c: string) => (err += c));
      child.stdout!.setEncoding("utf8").on("data", (c: string) => {
        out += c;
        try {
          const parsed = JSON.parse(out) as ServerInfo;
          clearTimeout(timer);
          resolve(parsed);
        } catch {
          /* not complete yet */
        }
      });
      child.on("exit", (code) => reject(new Error(`sandbox start exited ${String(code)}: ${err}`)));
    });
    return new SandboxServer(info, root, child);
  }

  /** Global flags that point a CLI process at this server. */
  cloudArgs(): string[] {
    const i = this.info;
    return ["--authority-host", i.authorityHost, "--arm-endpoint", i.armEndpoint, "--graph-endpoint", i.graphEndpoint, "--ca-file", i.caCertPath, "--auth", "env"];
  }

  /** Environment for a CLI process signed in as the operator (or the limited one). */
  env(who: "operator" | "limitedOperator" = "operator"): Record<string, string> {
    const p = this.info[who];
    return { AZURE_TENANT_ID: this.info.tenantId, AZURE_CLIENT_ID: p.clientId, AZURE_CLIENT_SECRET: p.clientSecret, AZURE_SUBSCRIPTION_ID: this.info.subscriptionId };
  }

  https(method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<HttpAnswer> {
    const payload = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = request(url, { method, ca: this.ca, headers: { ...(payload && typeof body !== "string" ? { "content-type": "application/json" } : {}), ...headers } }, (res) => {
        let text = "";
        res.setEncoding("utf8").on("data", (c: string) => (text += c));
        res.on("end", () => {
          let parsed: unknown = text;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            /* keep text */
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      });
      req.on("error", reject);
      req.end(payload);
    });
  }

  async resources(): Promise<SandboxSnapshot> {
    return (await this.https("GET", `${this.info.adminUrl}/resources`)).body as SandboxSnapshot;
  }

  async requests(): Promise<SandboxRequestLogEntry[]> {
    return (await this.https("GET", `${this.info.adminUrl}/requests`)).body as SandboxRequestLogEntry[];
  }

  /** Log entries after `since` (a previous length of the log). */
  async requestsSince(since: number): Promise<SandboxRequestLogEntry[]> {
    return (await this.requests()).slice(since);
  }

  async requestCount(): Promise<number> {
    return (await this.requests()).length;
  }

  /** An access token for the operator, through the sandbox's Entra (client credentials). */
  async operatorToken(resource: string, who: "operator" | "limitedOperator" = "operator"): Promise<string> {
    const p = this.info[who];
    const form = new URLSearchParams({ grant_type: "client_credentials", client_id: p.clientId, client_secret: p.clientSecret, scope: `${resource}/.default` });
    const res = await this.https("POST", `${this.info.authorityHost}/${this.info.tenantId}/oauth2/v2.0/token`, form.toString(), {
      "content-type": "application/x-www-form-urlencoded",
    });
    if (res.status !== 200) throw new Error(`token: ${res.status} ${JSON.stringify(res.body)}`);
    return (res.body as { access_token: string }).access_token;
  }

  /** An ARM call as the operator, for arranging what "someone else" did in the subscription. */
  async arm(method: string, path: string, body?: unknown): Promise<HttpAnswer> {
    const token = await this.operatorToken(this.info.armEndpoint);
    return this.https(method, `${this.info.armEndpoint}${path}`, body, { authorization: `Bearer ${token}` });
  }

  async graph(method: string, path: string, body?: unknown): Promise<HttpAnswer> {
    const token = await this.operatorToken(this.info.graphEndpoint);
    return this.https(method, `${this.info.graphEndpoint}${path}`, body, { authorization: `Bearer ${token}` });
  }

  async stop(options: { keep?: boolean } = {}): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      await new Promise<void>((resolve) => {
        this.child.once("exit", () => resolve());
        this.child.kill("SIGTERM");
      });
    }
    if (!options.keep) rmSync(this.root, { recursive: true, force: true });
  }
}

/** Requests that changed the sandbox. */
export function writes(log: SandboxRequestLogEntry[]): SandboxRequestLogEntry[] {
  return log.filter((e) => e.write);
}
