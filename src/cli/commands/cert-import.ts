import { resolve } from "node:path";
import { AkvError, isAkvError } from "../../errors.js";
import { stepContext } from "../../engine/runner.js";
import { ResolvedInputs } from "../../engine/resolve.js";
import { ALL_STEPS } from "../../steps/index.js";
import { assertKeyReplaceable, certificateOutputs } from "../../steps/cert.js";
import { localPaths, readSecretFrom } from "../../steps/local-files.js";
import type { Runtime } from "../runtime.js";

/** Bring your own certificate: the same files and state as `cert generate`. */
export async function certImportCommand(rt: Runtime, flags: Record<string, unknown>): Promise<number> {
  const { ui } = rt;
  const cert = await import("../../cert/index.js");
  const certPath = flags.cert as string | undefined;
  const keyPath = flags.key as string | undefined;
  const pfxPath = flags.pfx as string | undefined;
  if (!certPath && !keyPath && !pfxPath) {
    throw AkvError.usage("cert import needs --cert and --key (or one PEM holding both as --cert), or --pfx.", { code: "MissingInputs" });
  }
  const session = await rt.openState({ command: "cert import", lock: true });
  rt.sessionToRelease = session;
  rt.enableLog();
  let passphrase = await readSecretFrom({
    file: flags.passphraseFile as string | undefined,
    stdin: flags.passphraseStdin === true ? (rt.io.stdin as NodeJS.ReadableStream) : undefined,
    what: "passphrase",
    fileFlag: "--passphrase-file",
  });
  ui.redactor.register(passphrase);
  const abs = (p: string | undefined) => (p ? resolve(rt.io.cwd, p) : undefined);
  const load = (secret: string | undefined) =>
    cert.loadCertificateMaterial({
      ...(abs(certPath) ? { certPath: abs(certPath)! } : {}),
      ...(abs(keyPath) ? { keyPath: abs(keyPath)! } : {}),
      ...(abs(pfxPath) ? { pfxPath: abs(pfxPath)! } : {}),
      ...(secret !== undefined ? (pfxPath ? { pfxPassword: secret } : { keyPassphrase: secret }) : {}),
    });
  let loaded;
  try {
    loaded = await load(passphrase);
  } catch (error) {
    if (!(isAkvError(error) && error.code === "PassphraseRequired" && ui.interactive)) throw error;
    passphrase = await ui.prompt.password({ message: pfxPath ? "PFX password" : "Passphrase of the private key" });
    ui.redactor.register(passphrase);
    loaded = await load(passphrase);
  }
  for (const warning of loaded.warnings) ui.warn(warning);
  for (const file of loaded.loosePermissionFiles ?? []) {
    await cert.fixKeyFilePermissions(file);
    ui.warn(`${file} was readable by group or others; its mode is now 0600.`);
  }
  const paths = localPaths(rt.workdir);
  const step = ALL_STEPS.find((s) => s.id === "cert")!;
  const ctx = stepContext(
    { session, steps: ALL_STEPS, selected: ["cert"], inputs: new ResolvedInputs(new Map()), azure: undefined as never, ui, yes: Boolean(rt.globals.yes), sleep: async () => undefined, flags, secrets: new Map() },
    step,
  );
  const sameAsCurrent = session.step("cert").outputs.sha1 === loaded.info.sha1Hex;
  if (!sameAsCurrent) await assertKeyReplaceable(ctx, paths.key, flags.force === true);
  await cert.writePublicFile(paths.cert, loaded.material.certPem);
  await cert.writeSecretFile(paths.key, loaded.material.keyPem);
  const record = session.step("cert");
  record.outputs = certificateOutputs(loaded.info, paths, "imported");
  record.status = "done";
  record.finishedAt = new Date().toISOString();
  await session.save();
  if (ui.json) ui.data({ ok: true, step: "cert", outputs: record.outputs, warnings: ui.warnings });
  else ui.success(`Imported ${loaded.info.subject} (SHA-1 ${loaded.info.sha1Hex}, expires ${loaded.info.notAfter.slice(0, 10)}) into ${paths.key} and ${paths.cert}.`);
  return 0;
}
