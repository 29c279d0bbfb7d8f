/**
 * The running sandbox: one HTTPS listener each for Entra, ARM, Graph and the admin dump, plus one per vault (so a
 * vault URI has no path). Every request goes through the same pipeline: read body → latency → faults → service →
 * log → (crash knob) → answer. Nothing thrown by a service escapes: it becomes a 500 in that service's envelope.
 */
import { createServer, type Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { loadOrCreatePki, type SandboxPki } from "./pki.js";
import { Store, seedDefaults } from "./store.js";
import { TokenSigner } from "./jwt.js";
import { aadError, armError, faultReply, graphError, kvError, type Reply, type RequestContext } from "./http.js";
import { handleEntra } from "./entra.js";
import { handleArm } from "./arm.js";
import { handleGraph } from "./graph.js";
import { handleKeyVault } from "./keyvault.js";
import { vaultUri, type SandboxCore, type SandboxEndpoints } from "./core.js";
import { parseSandboxConfig } from "./config.js";
import type {
  SandboxConfig,
  SandboxFault,
  SandboxHandle,
  SandboxPrincipal,
  SandboxRequestLogEntry,
  SandboxService,
  StartSandboxOptions,
} from "./types.js";

const MAX_BODY_BYTES = 4 * 1024 * 1024;
const DEFAULT_CLIENT_IP = "198.51.100.23";
const sensitiveQueryKey = /secret|token|assertion|sig|password|code/i;

interface ActiveFault {
  fault: SandboxFault;
  remaining: number;
  pattern: RegExp | undefined;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error): void => {
      server.off("listening", onListening);
      reject(e);
    };
    const onListening = (): void => {
      server.off("error", onError);
      resolve((server.address() as AddressInfo).port);
    };
    server.once("error", onError);
    server.once("listening", onListening);
    server.listen(port, host);
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

function readBody(req: IncomingMessage): Promise<string | Error> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY_BYTES) chunks.push(c);
    });
    req.on("end", () => resolve(size > MAX_BODY_BYTES ? new Error("too large") : Buffer.concat(chunks).toString("utf8")));
    req.on("error", (e) => resolve(e));
  });
}

function logPath(rawUrl: string): string {
  const [path, query] = rawUrl.split("?", 2) as [string, string | undefined];
  if (!query) return path;
  const params = new URLSearchParams(query);
  const safe = [...params.entries()].map(([k, v]) => `${k}=${sensitiveQueryKey.test(k) ? "***" : v}`);
  return `${path}?${safe.join("&")}`;
}

function internalError(ctx: RequestContext, e: unknown): Reply {
  const message = `The sandbox failed while handling ${ctx.method} ${ctx.path}: ${(e as Error)?.message ?? String(e)}`;
  switch (ctx.service) {
    case "arm":
      return armError(500, "InternalServerError", message);
    case "graph":
      return graphError(ctx, 500, "generalException", message);
    case "keyvault":
      return kvError(500, "InternalServerError", message);
    case "entra":
      return aadError(ctx, 500, "server_error", 90033, message);
  }
}

export class Sandbox implements SandboxCore {
  readonly store: Store;
  readonly signer: TokenSigner;
  readonly pki: SandboxPki;
  readonly config: SandboxConfig;
  readonly replicationDelayMs: number;
  readonly rbacPropagationDelayMs: number;
  endpoints: SandboxEndpoints = { authorityHost: "", armEndpoint: "", graphEndpoint: "", keyVaultAudience: "https://vault.azure.net" };
  adminUrl = "";
  private readonly host: string;
  private readonly basePort: number;
  private readonly faults: ActiveFault[];
  private readonly log: SandboxRequestLogEntry[] = [];
  private readonly servers: Server[] = [];
  private readonly vaultServers = new Map<string, Server>();
  /** Listeners of just-deleted vaults, closed shortly after (a recover in between keeps the same port). */
  private readonly closingVaultServers = new Map<string, { server: Server; timer: NodeJS.Timeout }>();
  private seq = 0;
  private saves = 0;

  private readonly options: StartSandboxOptions;

  constructor(options: StartSandboxOptions) {
    this.options = options;
    this.config = parseSandboxConfig(options.config ?? {});
    this.store = new Store(options.dataDir);
    const save = this.store.save.bind(this.store);
    this.store.save = () => {
      save();
      this.saves += 1;
    };
    this.pki = loadOrCreatePki(options.dataDir);
    this.signer = new TokenSigner(this.pki.tokenSigningKeyPem);
    this.replicationDelayMs = this.config.replicationDelayMs ?? 0;
    this.rbacPropagationDelayMs = this.config.rbacPropagationDelayMs ?? 0;
    this.host = options.listenHost ?? "127.0.0.1";
    this.basePort = options.basePort ?? 0;
    this.faults = (this.config.faults ?? []).map((fault) => ({
      fault,
      remaining: fault.times ?? 1,
      pattern: fault.pathPattern !== undefined ? new RegExp(fault.pathPattern) : undefined,
    }));
  }

  private newServer(handler: (req: IncomingMessage, res: ServerResponse) => void): Server {
    const server = createServer({ key: this.pki.serverKeyPem, cert: this.pki.serverCertPem }, handler);
    server.keepAliveTimeout = 5000;
    return server;
  }

  private async bind(server: Server, preferred: number | undefined, fixed: boolean): Promise<number> {
    if (fixed && preferred !== undefined) return listen(server, this.host, preferred);
    if (preferred) {
      try {
        return await listen(server, this.host, preferred);
      } catch {
        /* taken: fall back to an ephemeral port */
      }
    }
    return listen(server, this.host, 0);
  }

  async start(): Promise<void> {
    const st = this.store.state;
    const fixed = this.basePort > 0;
    const ports = st.servicePorts;
    const services: [SandboxService, "entra" | "arm" | "graph", number][] = [
      ["entra", "entra", 0],
      ["arm", "arm", 1],
      ["graph", "graph", 2],
    ];
    const bound: Record<string, number> = {};
    for (const [service, key, offset] of services) {
      const server = this.newServer((req, res) => void this.handle(service, req, res));
      bound[key] = await this.bind(server, fixed ? this.basePort + offset : ports[key], fixed);
      this.servers.push(server);
    }
    const admin = this.newServer((req, res) => this.handleAdmin(req, res));
    const adminPort = await this.bind(admin, fixed ? this.basePort + 3 : ports.admin, fixed);
    this.servers.push(admin);
    st.servicePorts = { entra: bound["entra"], arm: bound["arm"], graph: bound["graph"], admin: adminPort };
    this.endpoints = {
      authorityHost: `https://localhost:${bound["entra"]}`,
      armEndpoint: `https://localhost:${bound["arm"]}`,
      graphEndpoint: `https://localhost:${bound["graph"]}`,
      keyVaultAudience: "https://vault.azure.net",
    };
    this.adminUrl = `https://localhost:${adminPort}`;
    // Re-bind every live vault on the port recorded in its URI, so a URI a client stored stays valid.
    for (const vault of st.vaults) {
      const port = await this.openVaultListener(vault.name.toLowerCase(), vault.port);
      if (port !== vault.port) {
        vault.port = port;
        vault.properties["vaultUri"] = vaultUri(port);
      }
    }
    this.store.save();
  }

  async openVaultListener(vaultName: string, preferredPort?: number): Promise<number> {
    const existing = this.vaultServers.get(vaultName);
    if (existing) return (existing.address() as AddressInfo).port;
    const closing = this.closingVaultServers.get(vaultName);
    if (closing) {
      clearTimeout(closing.timer);
      this.closingVaultServers.delete(vaultName);
      this.vaultServers.set(vaultName, closing.server);
      return (closing.server.address() as AddressInfo).port;
    }
    const server = this.newServer((req, res) => void this.handle("keyvault", req, res, vaultName));
    let port: number;
    if (preferredPort === undefined && this.basePort > 0) {
      port = 0;
      for (let candidate = this.basePort + 10; candidate < this.basePort + 200; candidate++) {
        try {
          port = await listen(server, this.host, candidate);
          break;
        } catch {
          /* next */
        }
      }
      if (port === 0) port = await listen(server, this.host, 0);
    } else {
      port = await this.bind(server, preferredPort, false);
    }
    this.vaultServers.set(vaultName, server);
    return port;
  }

  async closeVaultListener(vaultName: string): Promise<void> {
    const server = this.vaultServers.get(vaultName);
    if (!server) return;
    this.vaultServers.delete(vaultName);
    // Let the in-flight answer (the DELETE that triggered this) leave first.
    const timer = setTimeout(() => {
      this.closingVaultServers.delete(vaultName);
      void closeServer(server);
    }, 50);
    this.closingVaultServers.set(vaultName, { server, timer });
  }

  private matchFault(ctx: RequestContext, rawPath: string): SandboxFault | undefined {
    for (const f of this.faults) {
      if (f.remaining <= 0) continue;
      if (f.fault.service !== undefined && f.fault.service !== ctx.service) continue;
      if (f.fault.method !== undefined && f.fault.method.toUpperCase() !== ctx.method) continue;
      if (f.pattern && !f.pattern.test(rawPath) && !f.pattern.test(ctx.path)) continue;
      f.remaining -= 1;
      return f.fault;
    }
    return undefined;
  }

  private async handle(service: SandboxService, req: IncomingMessage, res: ServerResponse, vaultName?: string): Promise<void> {
    const seq = ++this.seq;
    const rawUrl = req.url ?? "/";
    const [rawPathPart, rawQuery] = rawUrl.split("?", 2) as [string, string | undefined];
    const path = rawPathPart.replace(/^\/{2,}/, "/");
    const headerIp = req.headers["x-sandbox-client-ip"];
    const ctx: RequestContext = {
      service,
      seq,
      method: (req.method ?? "GET").toUpperCase(),
      path,
      query: new URLSearchParams(rawQuery ?? ""),
      headers: req.headers,
      bodyText: "",
      clientIp: (Array.isArray(headerIp) ? headerIp[0] : headerIp) ?? this.config.clientIp ?? DEFAULT_CLIENT_IP,
      origin: `https://localhost:${(req.socket.localAddress && (req.socket.address() as AddressInfo).port) || 0}`,
      now: Date.now(),
    };
    const savesBefore = this.saves;
    let reply: Reply;
    try {
      const body = await readBody(req);
      if (this.config.latencyMs) await sleep(this.config.latencyMs);
      ctx.now = Date.now();
      const fault = this.matchFault(ctx, `${path}${rawQuery ? `?${rawQuery}` : ""}`);
      if (fault?.resetConnection) {
        this.record(ctx, rawUrl, 0, false);
        req.socket.destroy();
        return;
      }
      if (body instanceof Error) {
        reply = { status: 413, body: { error: { code: "RequestEntityTooLarge", message: `The request body exceeds ${MAX_BODY_BYTES} bytes.` } } };
      } else if (fault) {
        reply = faultReply(ctx, fault.status ?? 503, fault.retryAfterSeconds ?? (fault.status === 429 ? 1 : undefined));
      } else {
        ctx.bodyText = body;
        reply = await this.dispatch(ctx, vaultName);
      }
    } catch (e) {
      reply = internalError(ctx, e);
    }
    this.record(ctx, rawUrl, reply.status, this.saves > savesBefore);
    if (this.config.crashAfterRequest !== undefined && seq === this.config.crashAfterRequest) {
      // The change is applied and on disk; the client never hears back.
      process.kill(process.pid, "SIGKILL");
    }
    this.send(res, ctx, reply);
  }

  private dispatch(ctx: RequestContext, vaultName: string | undefined): Reply | Promise<Reply> {
    switch (ctx.service) {
      case "entra":
        return handleEntra(this, ctx);
      case "arm":
        return handleArm(this, ctx);
      case "graph":
        return handleGraph(this, ctx);
      case "keyvault":
        return handleKeyVault(this, ctx, vaultName ?? "");
    }
  }

  private record(ctx: RequestContext, rawUrl: string, status: number, write: boolean): void {
    this.log.push({ seq: ctx.seq, time: new Date(ctx.now).toISOString(), service: ctx.service, method: ctx.method, path: logPath(rawUrl), status, write });
  }

  private send(res: ServerResponse, ctx: RequestContext, reply: Reply): void {
    if (res.destroyed) return;
    const headers: Record<string, string> = { ...reply.headers };
    let payload: string | undefined;
    if (reply.body !== undefined && ctx.method !== "HEAD") {
      payload = typeof reply.body === "string" ? reply.body : JSON.stringify(reply.body);
      if (!Object.keys(headers).some((h) => h.toLowerCase() === "content-type")) headers["content-type"] = "application/json; charset=utf-8";
    }
    headers["content-length"] = String(payload === undefined ? 0 : Buffer.byteLength(payload));
    try {
      res.writeHead(reply.status, headers);
      res.end(payload);
    } catch {
      res.destroy();
    }
  }

  private handleAdmin(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? "/").split("?")[0]?.replace(/\/+$/, "") ?? "";
    const send = (status: number, body: unknown): void => {
      const text = JSON.stringify(body, null, 2);
      res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": String(Buffer.byteLength(text)) });
      res.end(text);
    };
    req.resume();
    if (req.method !== "GET") return send(405, { error: { code: "MethodNotAllowed", message: "The admin endpoint is read-only." } });
    if (path === "/resources") return send(200, this.store.snapshot());
    if (path === "/requests") return send(200, this.log);
    send(404, { error: { code: "NotFound", message: `No admin route '${path}'. Use /resources or /requests.` } });
  }

  principal(which: "operator" | "limitedOperator"): SandboxPrincipal {
    const sp = this.store.spById(this.store.state.operatorIds[which]);
    const app = sp ? this.store.appByAppId(sp.appId) : undefined;
    const secret = app?.passwordCredentials[0];
    if (!sp || !app || !secret) throw new Error(`The sandbox state in ${this.options.dataDir} lacks its ${which}.`);
    return { clientId: app.appId, clientSecret: secret.secretText, objectId: sp.id, displayName: sp.displayName };
  }

  requestLog(): SandboxRequestLogEntry[] {
    return this.log.map((e) => ({ ...e }));
  }

  async close(): Promise<void> {
    for (const c of this.closingVaultServers.values()) clearTimeout(c.timer);
    const all = [...this.servers, ...this.vaultServers.values(), ...[...this.closingVaultServers.values()].map((c) => c.server)];
    this.servers.length = 0;
    this.vaultServers.clear();
    this.closingVaultServers.clear();
    await Promise.all(all.map(closeServer));
  }

  handle_(): SandboxHandle {
    const st = this.store.state;
    const rg = st.resourceGroups.find((r) => r.name === seedDefaults.resourceGroup) ?? st.resourceGroups[0];
    return {
      cloud: { ...this.endpoints, caCertPath: this.pki.caCertPath },
      tenantId: st.tenant.id,
      tenantDisplayName: st.tenant.displayName,
      subscriptionId: st.subscription.id,
      subscriptionName: st.subscription.displayName,
      resourceGroup: rg?.name ?? seedDefaults.resourceGroup,
      location: rg?.location ?? seedDefaults.location,
      operator: this.principal("operator"),
      limitedOperator: this.principal("limitedOperator"),
      adminUrl: this.adminUrl,
      dataDir: this.options.dataDir,
      snapshot: () => this.store.snapshot(),
      requestLog: () => this.requestLog(),
      close: () => this.close(),
    };
  }
}

export async function startSandbox(options: StartSandboxOptions): Promise<SandboxHandle> {
  const sandbox = new Sandbox(options);
  try {
    await sandbox.start();
  } catch (e) {
    await sandbox.close();
    throw e;
  }
  return sandbox.handle_();
}
