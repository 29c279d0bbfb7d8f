/**
 * Certificate rotation without downtime, in phases recorded in state.operations.rotation like steps:
 * generate → upload (beside the current one) → validate → export → (CrashPlan's Update keystore) →
 * finish: final validation → remove the old credential → promote the new files. The current key is never
 * touched until its credential is gone; every phase looks before it writes, so a rerun after an interruption carries on.
 */
import { readFile, rename } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { KeyCredentialInfo } from "../azure/services.js";
import type { StepContext } from "../engine/step.js";
import type { StateSession } from "../engine/session.js";
import { AkvError } from "../errors.js";
import { certificateOutputs } from "../steps/cert.js";
import { consoleUrl } from "../steps/handoff.js";
import { GENERATED_PASSWORD_FILE, exists, localPaths, readSecretFrom, readSigningPem } from "../steps/local-files.js";
import { confirm, credentialThumbprint, hasCode, requireOutput, retryWhile, str } from "../steps/shared.js";
import { withTemporaryAccess } from "../steps/validate.js";

export const ROTATION_PHASES = ["generated", "uploaded", "validated", "exported", "old-removed", "finished"] as const;
export type RotationPhase = (typeof ROTATION_PHASES)[number];

export interface RotationRecord {
  phase?: RotationPhase;
  startedAt: string;
  /** Written before the new files, so a rerun recognises them. */
  newSha1?: string;
  newCert?: Record<string, unknown>;
  newKeyId?: string;
  oldSha1?: string;
  oldKeyId?: string;
  nextPfxPath?: string;
  passwordLocation?: string;
  validatedAt?: string;
  finalValidatedAt?: string;
}

export interface RotationContext {
  session: StateSession;
  /** A context for the `migrate` step: its inputs, firewall handling and temporary-rule record are reused. */
  step: StepContext;
  /** Test hook: stop right after this phase's work, before it is recorded (as a kill would). */
  interruptBefore?: string;
}

const loadCert = () => import("../cert/index.js");

export function nextPaths(workdir: string, pfxPath: string) {
  return {
    key: join(workdir, "service-principal.next.key"),
    cert: join(workdir, "service-principal.next.crt"),
    pfx: pfxPath.replace(/\.(pfx|p12)$/i, "") + ".next.pfx",
    password: join(workdir, "service-principal.next.pfx.password"),
  };
}


export function rotationOf(session: StateSession): RotationRecord | undefined {
  return session.state.operations.rotation as RotationRecord | undefined;
}

async function record(rc: RotationContext, patch: Partial<RotationRecord>, phase?: RotationPhase): Promise<RotationRecord> {
  if (phase && rc.interruptBefore === phase) throw AkvError.cancelled(`Interrupted before recording the rotation phase "${phase}" (test hook).`);
  const current = rotationOf(rc.session) ?? { startedAt: new Date().toISOString() };
  const next: RotationRecord = { ...current, ...patch, ...(phase ? { phase } : {}) };
  rc.session.state.operations.rotation = next as unknown as Record<string, unknown>;
  await rc.session.save();
  return next;
}

const reached = (r: RotationRecord | undefined, phase: RotationPhase) => r?.phase !== undefined && ROTATION_PHASES.indexOf(r.phase) >= ROTATION_PHASES.indexOf(phase);

/** Phases 1–4; returns when the new PFX is ready for CrashPlan. */
export async function prepareRotation(rc: RotationContext): Promise<RotationRecord> {
  const { step: ctx } = rc;
  for (const id of ["cert", "upload", "pfx"] as const) {
    if (rc.session.step(id).status !== "done") {
      throw AkvError.precondition(`Rotation replaces a working certificate, but step "${id}" is not done.`, { code: "StepNotReady", hint: "Finish the setup first: `akv-crashplan setup`." });
    }
  }
  if (!rotationOf(rc.session)) await record(rc, { startedAt: ctx.now().toISOString(), oldSha1: requireOutput(ctx, "cert", "sha1"), ...(str(ctx.outputsOf("upload"), "keyId") ? { oldKeyId: str(ctx.outputsOf("upload"), "keyId")! } : {}) });
  const next = nextPaths(ctx.workdir, requireOutput(ctx, "pfx", "pfxPath"));
  if (!reached(rotationOf(rc.session), "generated")) await generate(rc, next);
  if (!reached(rotationOf(rc.session), "uploaded")) await upload(rc);
  if (!reached(rotationOf(rc.session), "validated")) {
    await signInWithNew(rc, next);
    await record(rc, { validatedAt: ctx.now().toISOString() }, "validated");
    ctx.ui.success("3. The service principal signs in with the new certificate");
  }
  if (!reached(rotationOf(rc.session), "exported")) await exportPfx(rc, next);
  return rotationOf(rc.session)!;
}

type Material = { keyPem: string; certPem: string; source: "generated" | "imported" };

async function generated(rc: RotationContext, current: Record<string, unknown>): Promise<Material> {
  const { step: ctx } = rc;
  const cert = await loadCert();
  const keySize = (ctx.inputs.number("keySize") ?? Number(current.keySize ?? 4096)) as 2048 | 3072 | 4096;
  const subject = ctx.inputs.string("subject") ?? String(current.subject ?? "key-vault-crashplan").replace(/^CN=/, "");
  const days = ctx.inputs.number("days") ?? 365;
  const material = await ctx.ui.wait(`Generating an RSA-${keySize} key and certificate`, () => cert.generateKeyAndCertificate({ keySize, subject, days }));
  return { ...material, source: "generated" };
}

/** `cert rotate --cert/--key/--pfx`: bring the new certificate, with the same checks as `cert import`. */
async function importedMaterial(rc: RotationContext): Promise<Material | undefined> {
  const { step: ctx } = rc;
  const flags = ctx.flags as { cert?: string; key?: string; pfx?: string; passphraseFile?: string; passphraseStdin?: boolean };
  if (!flags.cert && !flags.key && !flags.pfx) return undefined;
  const cert = await loadCert();
  const secret = await readSecretFrom({
    file: flags.passphraseFile,
    stdin: flags.passphraseStdin === true ? (ctx.ui.stdin as NodeJS.ReadableStream) : undefined,
    what: "passphrase",
    fileFlag: "--passphrase-file",
  });
  ctx.ui.redactor.register(secret);
  const loaded = await cert.loadCertificateMaterial({
    ...(flags.cert ? { certPath: flags.cert } : {}),
    ...(flags.key ? { keyPath: flags.key } : {}),
    ...(flags.pfx ? { pfxPath: flags.pfx } : {}),
    ...(secret !== undefined ? (flags.pfx ? { pfxPassword: secret } : { keyPassphrase: secret }) : {}),
  });
  for (const warning of loaded.warnings) ctx.ui.warn(warning);
  return { ...loaded.material, source: "imported" };
}

async function generate(rc: RotationContext, next: ReturnType<typeof nextPaths>): Promise<void> {
  const { step: ctx } = rc;
  const cert = await loadCert();
  const recorded = rotationOf(rc.session)?.newSha1;
  if (recorded && (await exists(next.key)) && (await exists(next.cert))) {
    const [keyPem, certPem] = await Promise.all([readFile(next.key, "utf8"), readFile(next.cert, "utf8")]);
    const info = cert.describeCertificate(certPem);
    if (info.sha1Hex === recorded && cert.keyMatchesCertificate(keyPem, certPem)) {
      await record(rc, { newCert: certificateOutputs(info, next, "generated") }, "generated");
      ctx.ui.success(`1. New certificate: kept the one an interrupted run made (${info.sha1Hex})`);
      return;
    }
  }
  const current = ctx.outputsOf("cert");
  const material = (await importedMaterial(rc)) ?? (await generated(rc, current));
  const info = cert.describeCertificate(material.certPem);
  if (info.sha1Hex === current.sha1) {
    throw AkvError.usage(`The new certificate (SHA-1 ${info.sha1Hex}) is the one in use; a rotation needs a different one.`, { code: "SameCertificate" });
  }
  await record(rc, { newSha1: info.sha1Hex });
  // Beside the current files, never over them: the current key keeps CrashPlan working until the very end.
  await cert.writePublicFile(next.cert, material.certPem);
  await cert.writeSecretFile(next.key, material.keyPem);
  await record(rc, { newCert: certificateOutputs(info, next, material.source) }, "generated");
  ctx.ui.success(`1. New certificate ${next.cert} (SHA-1 ${info.sha1Hex}, expires ${info.notAfter.slice(0, 10)})`);
}

async function upload(rc: RotationContext): Promise<void> {
  const { step: ctx } = rc;
  const r = rotationOf(rc.session)!;
  const objectId = requireOutput(ctx, "app", "appObjectId");
  const newCert = r.newCert!;
  const sha1 = String(newCert.sha1);
  const der = (await readFile(String(newCert.certPath), "utf8")).replace(/-----(BEGIN|END) CERTIFICATE-----/g, "").replace(/\s+/g, "");
  const app = await ctx.azure.directory.getApplication(objectId);
  if (!app) throw AkvError.precondition(`The app registration ${objectId} is missing in Entra ID.`, { code: "AppMissing", hint: "Run `akv-crashplan status`, then `akv-crashplan setup` to repair it." });
  let mine = app.keyCredentials.find((c) => credentialThumbprint(c) === sha1 || c.key === der);
  if (!mine) {
    if (app.keyCredentials.some((c) => !c.key)) {
      throw AkvError.azure("The app registration has credentials whose certificate Graph did not return, so they cannot be kept while adding the new one.", { code: "KeyCredentialsUnreadable", hint: "Nothing was changed; check the app's certificates in the portal." });
    }
    const added: KeyCredentialInfo = {
      type: "AsymmetricX509Cert",
      usage: "Verify",
      key: der,
      displayName: `akv-crashplan ${ctx.now().toISOString().slice(0, 10)} rotation CN=${String(newCert.subject ?? "").replace(/^CN=/, "")}`,
      startDateTime: String(newCert.notBefore),
      endDateTime: String(newCert.notAfter),
      customKeyIdentifier: Buffer.from(sha1, "hex").toString("base64"),
    };
    // Graph replaces the whole list: the current credential and everyone else's are written back with it.
    await ctx.ui.wait("Adding the new certificate beside the current one", () => ctx.azure.directory.setKeyCredentials(objectId, [...app.keyCredentials, added]));
    mine = await retryWhile(
      ctx,
      async () => {
        const read = await ctx.azure.directory.getApplication(objectId);
        const found = read?.keyCredentials.find((c) => credentialThumbprint(c) === sha1 || c.key === der);
        if (!found) throw new AkvError(6, "not visible yet", { code: "NotYetVisible" });
        return found;
      },
      (e) => hasCode(e, "NotYetVisible"),
      { timeoutMs: 60_000, firstDelayMs: 300 },
    );
  }
  await record(rc, { ...(mine.keyId ? { newKeyId: mine.keyId } : {}) }, "uploaded");
  ctx.ui.success(`2. New certificate on the app registration beside the current one (${app.keyCredentials.length} credential(s) kept)`);
}

async function signInWithNew(rc: RotationContext, next: ReturnType<typeof nextPaths>): Promise<void> {
  const { step: ctx } = rc;
  const { combined } = await readSigningPem(next.key, next.cert);
  const clientId = requireOutput(ctx, "app", "clientId");
  const claims = await ctx.ui.wait("Signing in as the service principal with the new certificate", () =>
    retryWhile(ctx, () => ctx.azure.secrets.signInAsServicePrincipal({ tenantId: requireOutput(ctx, "app", "tenantId"), clientId, certificatePem: combined }), (e) => hasCode(e, "AADSTS700027", "AADSTS700016"), {
      timeoutMs: 120_000,
      firstDelayMs: 500,
      maxDelayMs: 2_000,
    }),
  );
  if (claims.appid && claims.appid !== clientId) throw AkvError.auth(`Signed in with the new certificate as ${claims.appid}, not the app ${clientId}.`, { code: "WrongPrincipal" });
}

async function exportPfx(rc: RotationContext, next: ReturnType<typeof nextPaths>): Promise<void> {
  const { step: ctx } = rc;
  const cert = await loadCert();
  const [keyPem, certPem] = await Promise.all([readFile(next.key, "utf8"), readFile(next.cert, "utf8")]);
  const given = await readSecretFrom({
    file: ctx.flags.passwordFile as string | undefined,
    stdin: ctx.flags.passwordStdin === true ? (ctx.ui.stdin as NodeJS.ReadableStream) : undefined,
    what: "PFX password",
    fileFlag: "--password-file",
  });
  const password = given ?? cert.generatePfxPassword();
  ctx.ui.redactor.register(password);
  if (given !== undefined) cert.assertUsablePfxPassword(given);
  const cipher = (ctx.inputs.string("pfxCipher") ?? String(ctx.outputsOf("pfx").cipher ?? "3des")) as "3des" | "aes256";
  const pfx = cert.buildPfx({ keyPem, certPem, password, cipher, friendlyName: String(rotationOf(rc.session)!.newCert!.subject ?? "key-vault-crashplan").replace(/^CN=/, "") });
  await cert.writeSecretFile(next.pfx, pfx);
  const back = cert.readPfx(await readFile(next.pfx), password);
  if (!cert.keyMatchesCertificate(back.keyPem, certPem)) throw new AkvError(1, `The PFX written to ${next.pfx} does not hold the new key.`, { hint: "This is a bug; please report it." });
  let passwordLocation = "chosen by you (not stored by akv-crashplan)";
  if (given === undefined) {
    const out = ctx.flags.passwordOut as string | undefined;
    if (out) {
      await cert.writeSecretFile(out, password + "\n");
      passwordLocation = `file ${out} (0600)`;
    } else if (ctx.ui.revealOnce("  New PFX password (shown once; store it in your password manager now)", password)) {
      passwordLocation = "shown once on the terminal during the rotation";
    } else {
      await cert.writeSecretFile(next.password, password + "\n");
      passwordLocation = `file ${next.password} (0600)`;
    }
  }
  await record(rc, { nextPfxPath: next.pfx, passwordLocation }, "exported");
  ctx.ui.success(`4. New PFX ${next.pfx} (0600, ${cipher}), read back and verified`);
}

export function consoleInstructions(rc: RotationContext): string[] {
  const r = rotationOf(rc.session)!;
  return [
    `In the CrashPlan console (${consoleUrl(rc.session.state.answers.crashplanCloud as string | undefined)}):`,
    "  1. Sign in as an administrator",
    "  2. Administration → Environment → Keystore",
    "  3. Update keystore → upload the new PFX below, with its password",
    `     PFX file      ${r.nextPfxPath}`,
    `     PFX password  ${r.passwordLocation}`,
    "  4. Confirm, and wait until the console says the keystore was updated",
    "The old certificate keeps working meanwhile. Afterwards: akv-crashplan cert rotate --finish",
  ];
}

/** --finish: the new certificate proven against the vault, a confirmation, the old credential removed, files promoted. */
export async function finishRotation(rc: RotationContext): Promise<RotationRecord> {
  const { step: ctx, session } = rc;
  const r = rotationOf(session);
  if (!reached(r, "exported")) {
    throw AkvError.precondition(r ? `The rotation stopped after "${r.phase ?? "start"}"; the new PFX is not ready yet.` : "No rotation is in progress.", {
      code: "RotationNotReady",
      hint: r ? "Run `akv-crashplan cert rotate` to carry on." : "Start one with `akv-crashplan cert rotate`.",
    });
  }
  const next = nextPaths(ctx.workdir, requireOutput(ctx, "pfx", "pfxPath"));
  if (!reached(r, "old-removed")) {
    const { combined } = await readSigningPem(next.key, next.cert);
    await signInWithNew(rc, next);
    const client = ctx.azure.secrets.asServicePrincipal({ vaultUrl: requireOutput(ctx, "vault", "vaultUrl"), tenantId: requireOutput(ctx, "app", "tenantId"), clientId: requireOutput(ctx, "app", "clientId"), certificatePem: combined });
    const listed = await ctx.ui.wait("Reading the vault as the service principal with the new certificate", () => withTemporaryAccess(ctx, "migrate", () => client.listSecretProperties()));
    await record(rc, { finalValidatedAt: ctx.now().toISOString() });
    const entries = listed.filter((s) => !s.name.startsWith("akv-crashplan-probe-")).length;
    ctx.ui.success(`The new certificate signs in and reads the vault (${entries} keystore entries visible)`);
    // Whether CrashPlan uses the new PFX cannot be seen from here; an empty vault is a reason to stop and look.
    if (entries === 0) ctx.ui.warn("No CrashPlan keystore entry is in the vault: has Migrate keystore (or Update keystore) been done with the new PFX?");
    if (!(await confirm(ctx, `Remove the old certificate ${r!.oldSha1} from the app registration? Only once CrashPlan uses the new PFX (Update keystore done)`))) {
      throw AkvError.cancelled("The old certificate was kept; run `akv-crashplan cert rotate --finish` when CrashPlan uses the new PFX.");
    }
    await removeOld(rc);
  }
  await promote(rc, next);
  return rotationOf(session)!;
}

async function removeOld(rc: RotationContext): Promise<void> {
  const { step: ctx } = rc;
  const r = rotationOf(rc.session)!;
  const objectId = requireOutput(ctx, "app", "appObjectId");
  const app = await ctx.azure.directory.getApplication(objectId);
  if (!app) throw AkvError.precondition(`The app registration ${objectId} is missing in Entra ID.`, { code: "AppMissing" });
  const isOld = (c: KeyCredentialInfo) => (r.oldKeyId !== undefined && c.keyId === r.oldKeyId) || (r.oldSha1 !== undefined && credentialThumbprint(c) === r.oldSha1.toUpperCase());
  const kept = app.keyCredentials.filter((c) => !isOld(c));
  if (kept.length < app.keyCredentials.length) {
    if (kept.some((c) => !c.key)) throw AkvError.azure("The app registration has credentials whose certificate Graph did not return; removing the old one would delete them too.", { code: "KeyCredentialsUnreadable", hint: "Remove the old certificate in the portal, then run `cert rotate --finish` again." });
    if (!kept.some((c) => c.keyId === r.newKeyId || credentialThumbprint(c) === r.newSha1)) throw AkvError.precondition("The new certificate is no longer on the app registration; the old one is kept.", { code: "NewCredentialMissing", hint: "Run `akv-crashplan cert rotate` again." });
    await ctx.ui.wait("Removing the old certificate from the app registration", () => ctx.azure.directory.setKeyCredentials(objectId, kept));
  }
  await record(rc, {}, "old-removed");
  ctx.ui.success(`The old certificate ${r.oldSha1} is off the app registration; ${kept.length} credential(s) remain`);
}

/** The new files take the standard names; only now may the old key go, since its credential is gone. */
async function promote(rc: RotationContext, next: ReturnType<typeof nextPaths>): Promise<void> {
  const { step: ctx, session } = rc;
  const r = rotationOf(session)!;
  const std = localPaths(ctx.workdir);
  const pfxPath = requireOutput(ctx, "pfx", "pfxPath");
  const stdPassword = join(dirname(std.key), GENERATED_PASSWORD_FILE);
  for (const [from, to] of [[next.pfx, pfxPath], [next.password, stdPassword], [next.cert, std.cert], [next.key, std.key]] as const) {
    if (await exists(from)) await rename(from, to);
  }
  const cert = await loadCert();
  const info = cert.describeCertificate(await readFile(std.cert, "utf8"));
  if (info.sha1Hex !== r.newSha1) throw AkvError.state(`${std.cert} is not the new certificate ${r.newSha1}.`, { code: "RotationFilesMixed", hint: `Check the files in ${ctx.workdir}; state.operations.rotation records what was made.` });
  const location = r.passwordLocation === `file ${next.password} (0600)` ? `file ${stdPassword} (0600)` : r.passwordLocation;
  const now = ctx.now().toISOString();
  session.step("cert").outputs = { ...certificateOutputs(info, { key: std.key, cert: std.cert }, "generated"), rotatedAt: now };
  session.step("upload").outputs = { ...session.step("upload").outputs, keyId: r.newKeyId, thumbprint: r.newSha1, uploadedAt: now };
  session.step("pfx").outputs = { ...session.step("pfx").outputs, pfxPath, certSha1: r.newSha1, passwordLocation: location, exportedAt: now };
  session.step("validate").outputs = { ...session.step("validate").outputs, validatedAt: r.finalValidatedAt ?? now };
  const finished = { ...r, passwordLocation: location, phase: "finished", finishedAt: now };
  session.state.operations.lastRotation = finished;
  delete session.state.operations.rotation;
  await session.save();
  ctx.ui.success(`The new certificate is now ${std.cert} (key ${std.key}, PFX ${pfxPath})`);
}
