import { readFile } from "node:fs/promises";
import { AkvError } from "../../errors.js";
import { localPaths } from "../../steps/local-files.js";
import type { Runtime } from "../runtime.js";

export async function certShowCommand(rt: Runtime): Promise<number> {
  const { ui } = rt;
  const session = await rt.openState({ command: "cert show", lock: false });
  const certPath = (session.step("cert").outputs.certPath as string | undefined) ?? localPaths(rt.workdir).cert;
  const pem = await readFile(certPath, "utf8").catch(() => {
    throw AkvError.precondition(`There is no certificate at ${certPath}.`, { code: "CertificateMissing", hint: "Run `akv-crashplan cert generate` or `cert import` first." });
  });
  const { describeCertificate } = await import("../../cert/index.js");
  const info = describeCertificate(pem);
  const uploaded = session.step("upload").outputs.thumbprint;
  const uploadedState = uploaded === undefined ? "unknown (not uploaded by this setup yet)" : uploaded === info.sha1Hex ? "yes" : `no (the app has ${String(uploaded)})`;
  if (ui.json) {
    const { derBase64: _der, ...rest } = info;
    ui.data({ ok: true, path: certPath, ...rest, uploadedToApp: uploaded === undefined ? null : uploaded === info.sha1Hex });
    return 0;
  }
  const rows: Array<[string, string]> = [
    ["File", certPath],
    ["Subject", info.subject],
    ["Serial", info.serialHex],
    ["Valid", `${info.notBefore} → ${info.notAfter} (${info.daysLeft} days left)`],
    ["Key", `${info.keyType} ${info.keySize} bits`],
    ["Signature", info.signatureAlgorithm],
    ["SHA-1 thumbprint", info.sha1Hex],
    ["SHA-256 thumbprint", info.sha256Hex],
    ["Uploaded to the app", uploadedState],
  ];
  ui.print(ui.table(rows.map(([k, v]) => [k, v])));
  if (info.daysLeft < 30) ui.warn(info.daysLeft < 0 ? "The certificate has expired: run `akv-crashplan cert rotate`." : `The certificate expires in ${info.daysLeft} days: plan \`akv-crashplan cert rotate\`.`);
  return 0;
}
