// Child-process helpers for the benchmarks: time a command, run the CLI, host the sandbox as a server.
// Everything is async (spawn, not spawnSync) so a sandbox in this process tree never blocks a client.
import { spawn } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import https from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Runs a command to completion; resolves with its wall time, exit code and output (never rejects on a non-zero exit).
 * With discardOutput the child's stdin, stdout and stderr are /dev/null (how hyperfine times commands).
 */
export function run(cmd, args, { cwd, env, input, discardOutput = false } = {}) {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const child = spawn(cmd, args, { cwd, env: env ?? process.env, stdio: discardOutput ? "ignore" : ["pipe", "pipe", "pipe"] });
    const out = [];
    const err = [];
    child.stdout?.on("data", (b) => out.push(b));
    child.stderr?.on("data", (b) => err.push(b));
    child.on("error", reject);
    child.on("close", (code) => resolve({ ms: performance.now() - t, code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }));
    child.stdin?.end(input ?? "");
  });
}

/** Like run(), and also the child's peak RSS in MiB: from GNU time if present, else from a wrapper that asks Node. */
export async function runMeasuringRss(cmd, args, opts = {}) {
  if (existsSync("/usr/bin/time")) {
    const report = join(tmpdir(), `akv-bench-time-${process.pid}-${Date.now()}.txt`);
    const r = await run("/usr/bin/time", ["-v", "-o", report, cmd, ...args], opts);
    const text = readFileSync(report, "utf8");
    rmSync(report, { force: true });
    const kb = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(text)?.[1]);
    return { ...r, rssMiB: kb / 1024, rssSource: "/usr/bin/time -v" };
  }
  // Fallback: a parent Node that spawns the child and reads the child's maxRSS (KiB) from its resource usage.
  const wrapper = `const {spawnSync}=require("node:child_process");const r=spawnSync(process.argv[1],process.argv.slice(2),{stdio:"inherit"});` +
    `process.stderr.write("\\nAKV_BENCH_MAXRSS_KB="+require("node:process").resourceUsage().maxRSS+"\\n");process.exit(r.status??1)`;
  const r = await run(process.execPath, ["-e", wrapper, cmd, ...args], opts);
  const kb = Number(/AKV_BENCH_MAXRSS_KB=(\d+)/.exec(r.stderr)?.[1]);
  return { ...r, rssMiB: kb / 1024, rssSource: "maxRSS via wrapper (upper bound: max of wrapper and child)" };
}

/** GET over HTTPS trusting the sandbox's CA; resolves with the parsed JSON body. */
export function getJson(url, ca) {
  return new Promise((resolve, reject) => {
    https.get(url, { ca }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString()));
        } catch (e) {
          reject(new Error(`GET ${url}: ${res.statusCode}, not JSON: ${e.message}`));
        }
      });
    }).on("error", reject);
  });
}

/**
 * Starts `akv-crashplan sandbox start --json` as a child and waits for its one JSON document.
 * Returns the document plus `env` (the AZURE_* variables for `--auth env`), `cloudArgs`, `requests()` and `stop()`.
 */
export function startSandboxServer({ bin, dataDir, configFile, cwd }) {
  return new Promise((resolve, reject) => {
    const args = [bin, "sandbox", "start", "--json", "--data", dataDir, ...(configFile ? ["--sandbox-config", configFile] : [])];
    const child = spawn(process.execPath, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    let done = false;
    const fail = (why) => {
      if (done) return;
      done = true;
      child.kill();
      reject(new Error(`sandbox start: ${why}\n${err}`));
    };
    const timer = setTimeout(() => fail("no endpoints after 20 s"), 20_000);
    child.stderr.on("data", (b) => (err += b));
    child.on("exit", (code) => fail(`exited with ${code}`));
    child.stdout.on("data", (b) => {
      out += b;
      let info;
      try {
        info = JSON.parse(out);
      } catch {
        return; // the document is not complete yet
      }
      done = true;
      clearTimeout(timer);
      const ca = readFileSync(info.caCertPath);
      resolve({
        ...info,
        env: {
          ...process.env,
          AZURE_TENANT_ID: info.tenantId,
          AZURE_CLIENT_ID: info.operator.clientId,
          AZURE_CLIENT_SECRET: info.operator.clientSecret,
          AZURE_SUBSCRIPTION_ID: info.subscriptionId,
        },
        cloudArgs: ["--authority-host", info.authorityHost, "--arm-endpoint", info.armEndpoint, "--graph-endpoint", info.graphEndpoint,
          "--ca-file", info.caCertPath, "--auth", "env"],
        requests: () => getJson(`${info.adminUrl}/requests`, ca),
        stop: () => new Promise((res) => {
          child.removeAllListeners("exit");
          child.on("exit", () => res());
          child.kill();
        }),
      });
    });
  });
}
