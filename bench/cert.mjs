// Benchmark: `cert generate` (RSA-4096) and `pfx export` against the openssl commands they replace.
// Runs against the BUILT code: `npx tsc -p tsconfig.build.json && node bench/cert.mjs [runs]`.
// Goal: no slower than openssl (ratio <= 1.0). Our figures are in-process (no Node start-up); openssl's
// include its process start, which is what an operator running the manual procedure pays too.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const GOAL = 1.0;

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function openssl(args) {
  const r = spawnSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
  if (r.status !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr}`);
}

async function time(fn) {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

/** @returns {Promise<{runs: number, rows: {name: string, oursMs: number, opensslMs: number, ratio: number, met: boolean}[]}>} */
export async function runCertBench({ runs = 7, distDir = path.join(here, "..", "dist", "cert") } = {}) {
  const cert = await import(pathToFileURL(path.join(distDir, "index.js")).href);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "akv-cert-bench-"));
  try {
    const pwFile = path.join(dir, "pw");
    const password = cert.generatePfxPassword();
    fs.writeFileSync(pwFile, password + "\n", { mode: 0o600 });
    const material = await cert.generateKeyAndCertificate({ keySize: 4096 });
    const keyFile = path.join(dir, "in.key");
    const certFile = path.join(dir, "in.crt");
    fs.writeFileSync(keyFile, material.keyPem, { mode: 0o600 });
    fs.writeFileSync(certFile, material.certPem);

    const cases = [
      {
        name: "cert generate RSA-4096",
        ours: async () => {
          const m = await cert.generateKeyAndCertificate({ keySize: 4096 });
          await cert.writeSecretFile(path.join(dir, "o.key"), m.keyPem);
          await cert.writePublicFile(path.join(dir, "o.crt"), m.certPem);
        },
        theirs: () => openssl(["req", "-x509", "-newkey", "rsa:4096", "-keyout", path.join(dir, "s.key"), "-out", path.join(dir, "s.crt"),
          "-days", "365", "-nodes", "-subj", "/CN=x"]),
      },
      ...["3des", "aes256"].map((cipher) => ({
        name: `pfx export ${cipher}`,
        ours: async () => cert.writeSecretFile(path.join(dir, `o-${cipher}.pfx`), cert.buildPfx({ ...material, password, cipher })),
        theirs: () => openssl(["pkcs12", "-export", "-inkey", keyFile, "-in", certFile, "-out", path.join(dir, `s-${cipher}.pfx`), "-passout", `file:${pwFile}`,
          ...(cipher === "3des" ? ["-keypbe", "PBE-SHA1-3DES", "-certpbe", "PBE-SHA1-3DES", "-macalg", "sha1"] : [])]),
      })),
      {
        // What `pfx export` really does: build, write, and read back to check (openssl does not check).
        name: "pfx export 3des + read-back",
        ours: async () => {
          const pfx = cert.buildPfx({ ...material, password });
          await cert.writeSecretFile(path.join(dir, "rb.pfx"), pfx);
          cert.readPfx(pfx, password);
        },
        theirs: () => openssl(["pkcs12", "-export", "-inkey", keyFile, "-in", certFile, "-out", path.join(dir, "s-rb.pfx"), "-passout", `file:${pwFile}`,
          "-keypbe", "PBE-SHA1-3DES", "-certpbe", "PBE-SHA1-3DES", "-macalg", "sha1"]),
      },
    ];

    const rows = [];
    for (const c of cases) {
      await c.ours(); // warm-up (JIT, module init), not counted
      c.theirs();
      const ours = [];
      const theirs = [];
      for (let i = 0; i < runs; i++) {
        // Alternate who goes first so drift (thermal, other load) hits both sides alike.
        if (i % 2) {
          theirs.push(await time(c.theirs));
          ours.push(await time(c.ours));
        } else {
          ours.push(await time(c.ours));
          theirs.push(await time(c.theirs));
        }
      }
      const oursMs = median(ours);
      const opensslMs = median(theirs);
      rows.push({ name: c.name, oursMs, opensslMs, ratio: oursMs / opensslMs, met: oursMs / opensslMs <= GOAL });
    }
    return { runs, goal: GOAL, rows };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export function formatCertBench({ runs, goal, rows }) {
  const lines = [
    `cert benchmark: medians over ${runs} runs, goal <= ${goal.toFixed(1)}x openssl`,
    `${"case".padEnd(30)} ${"ours ms".padStart(9)} ${"openssl ms".padStart(11)} ${"ratio".padStart(6)}  goal`,
  ];
  for (const r of rows) {
    lines.push(`${r.name.padEnd(30)} ${r.oursMs.toFixed(1).padStart(9)} ${r.opensslMs.toFixed(1).padStart(11)} ${r.ratio.toFixed(2).padStart(6)}  ${r.met ? "met" : "not met"}`);
  }
  return lines.join("\n");
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const runs = Number(process.argv[2] ?? 7);
  console.log(formatCertBench(await runCertBench({ runs: Math.max(7, runs) })));
}
