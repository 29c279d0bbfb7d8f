import { STEP_TITLES, stepNumber } from "../state/step-ids.js";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { AkvError } from "../errors.js";
import type { Outputs, Step, StepContext } from "../engine/step.js";
import { exists, localPaths } from "./local-files.js";

type CertModule = typeof import("../cert/index.js");
const loadCert = (): Promise<CertModule> => import("../cert/index.js");

export function certificateOutputs(info: import("../cert/index.js").CertificateInfo, paths: { key: string; cert: string }, source: "generated" | "imported"): Outputs {
  return {
    keyPath: paths.key,
    certPath: paths.cert,
    source,
    subject: info.subject,
    serial: info.serialHex,
    notBefore: info.notBefore,
    notAfter: info.notAfter,
    keySize: info.keySize,
    signatureAlgorithm: info.signatureAlgorithm,
    sha1: info.sha1Hex,
    sha256: info.sha256Hex,
    x5t: info.x5t,
    x5tS256: info.x5tS256,
  };
}

/** A key whose certificate is on the app is never replaced here: that is `cert rotate`. */
export async function assertKeyReplaceable(ctx: StepContext, keyPath: string, force: boolean): Promise<void> {
  if (!(await exists(keyPath))) return;
  const uploaded = ctx.outputsOf("upload").thumbprint as string | undefined;
  const current = ctx.outputsOf("cert").sha1 as string | undefined;
  if (uploaded && current && uploaded === current) {
    throw AkvError.usage(`${keyPath} belongs to the certificate already uploaded to the app registration; it is never overwritten.`, {
      code: "KeyInUse",
      hint: "To replace it, use `akv-crashplan cert rotate`, which keeps the old one working until CrashPlan has the new PFX.",
    });
  }
  if (!force) {
    throw AkvError.usage(`${keyPath} already exists.`, { code: "KeyExists", hint: "Pass --force to replace it (it has not been uploaded), or use another --workdir." });
  }
}

/** Key generation started by prepare(), keyed by everything that shapes the result. */
const prefetched = new Map<string, Promise<import("../cert/index.js").KeyAndCertificate>>();

function generationRequest(ctx: StepContext) {
  const keySize = (ctx.inputs.number("keySize") ?? 4096) as 2048 | 3072 | 4096;
  const subject = ctx.inputs.string("subject") ?? ctx.inputs.string("appName") ?? "key-vault-crashplan";
  const days = ctx.inputs.number("days") ?? 365;
  return { keySize, subject, days, key: `${ctx.workdir}|${keySize}|${subject}|${days}` };
}

export const certStep: Step = {
  id: "cert",
  number: stepNumber("cert"),
  title: STEP_TITLES.cert,
  explanation:
    "The service principal proves who it is with a certificate: a private key that stays with you (and, inside the PFX,\n" +
    "with CrashPlan) and a public certificate that the app registration gets. This makes a self-signed RSA certificate.",
  inputs: ["keySize", "days", "subject", "appName"],
  needs: [],
  remote: false,

  plan(ctx) {
    const paths = localPaths(ctx.workdir);
    return [`RSA-${ctx.inputs.number("keySize") ?? 4096} key and self-signed certificate CN=${ctx.inputs.string("subject") ?? ctx.inputs.string("appName") ?? "key-vault-crashplan"}, valid ${ctx.inputs.number("days") ?? 365} days: ${paths.key} (0600), ${paths.cert}`];
  },

  prepare(ctx) {
    // RSA-4096 takes up to a second or two; generate it while the vault and the app are being created.
    const request = generationRequest(ctx);
    if (prefetched.has(request.key) || existsSync(localPaths(ctx.workdir).key)) return;
    const work = loadCert().then((cert) => cert.generateKeyAndCertificate(request));
    work.catch(() => undefined); // a failure surfaces in apply, which awaits it
    prefetched.set(request.key, work);
  },

  async check(ctx) {
    const paths = localPaths(ctx.workdir);
    if (!(await exists(paths.key)) || !(await exists(paths.cert))) {
      // A new key here would mean a second credential on the app and a new PFX for CrashPlan: that is a rotation,
      // and the operator decides it, not a repair.
      const uploaded = ctx.outputsOf("upload").thumbprint;
      if (uploaded && uploaded === ctx.previous.outputs.sha1) {
        const missing = (await exists(paths.key)) ? paths.cert : paths.key;
        throw AkvError.precondition(`${missing} is missing, but its certificate (SHA-1 ${String(uploaded)}) is registered on the app and inside CrashPlan's PFX.`, {
          code: "CertificateFilesMissing",
          hint: "Restore the file from your backup, or replace the certificate on purpose with `akv-crashplan cert rotate`.",
        });
      }
      return { status: "drift", detail: "key or certificate file missing" };
    }
    const cert = await loadCert();
    const [keyPem, certPem] = await Promise.all([readFile(paths.key, "utf8"), readFile(paths.cert, "utf8")]);
    const info = cert.describeCertificate(certPem);
    if (info.sha1Hex !== ctx.previous.outputs.sha1) return { status: "drift", detail: "the certificate file is not the one recorded" };
    if (!cert.keyMatchesCertificate(keyPem, certPem)) return { status: "drift", detail: "the key does not match the certificate" };
    const perms = cert.checkSecretFilePermissions(paths.key);
    if (!perms.ok) {
      await cert.fixKeyFilePermissions(paths.key);
      ctx.ui.warn(`${paths.key} was readable by others (mode ${perms.mode.toString(8)}); set to 0600.`);
    }
    return { status: "done", detail: `thumbprint ${info.sha1Hex}, expires ${info.notAfter.slice(0, 10)}` };
  },

  async apply(ctx) {
    const paths = localPaths(ctx.workdir);
    const cert = await loadCert();
    // Resume: a key and certificate written by an interrupted run are kept, not regenerated.
    if ((await exists(paths.key)) && (await exists(paths.cert))) {
      const [keyPem, certPem] = await Promise.all([readFile(paths.key, "utf8"), readFile(paths.cert, "utf8")]);
      const info = cert.describeCertificate(certPem);
      const recorded = ctx.previous.outputs.sha1 ?? ctx.previous.marker?.sha1;
      if (recorded === info.sha1Hex && cert.keyMatchesCertificate(keyPem, certPem) && ctx.flags.force !== true) {
        return certificateOutputs(info, paths, (ctx.previous.outputs.source as "generated") ?? "generated");
      }
    }
    await assertKeyReplaceable(ctx, paths.key, ctx.flags.force === true);
    const request = generationRequest(ctx);
    const early = prefetched.get(request.key);
    prefetched.delete(request.key);
    const material = await ctx.ui.wait(`Generating an RSA-${request.keySize} key and certificate`, () => early ?? cert.generateKeyAndCertificate(request));
    const info = cert.describeCertificate(material.certPem);
    // The certificate is written first and the key last: a key file on disk always has its certificate beside it.
    await ctx.saveMarker({ sha1: info.sha1Hex });
    await cert.writePublicFile(paths.cert, material.certPem);
    await cert.writeSecretFile(paths.key, material.keyPem);
    ctx.ui.info(`  ${paths.key} (0600) · ${paths.cert} · SHA-1 ${info.sha1Hex} · expires ${info.notAfter.slice(0, 10)}`);
    return certificateOutputs(info, paths, "generated");
  },
};
