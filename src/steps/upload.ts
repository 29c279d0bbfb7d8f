import { STEP_TITLES, stepNumber } from "../state/step-ids.js";
import { readFile } from "node:fs/promises";
import { AkvError } from "../errors.js";
import type { Step, StepContext } from "../engine/step.js";
import type { ApplicationInfo, KeyCredentialInfo } from "../azure/services.js";
import { credentialThumbprint, hasCode, requireOutput, retryWhile } from "./shared.js";

function derOf(pem: string): string {
  return pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, "").replace(/\s+/g, "");
}

function isOurCredential(credential: KeyCredentialInfo, derBase64: string, sha1Hex: string): boolean {
  if (credential.key && credential.key.replace(/\s+/g, "") === derBase64) return true;
  return credentialThumbprint(credential) === sha1Hex;
}

/** Graph may not serve an app for a moment after it was created: wait, bounded. */
async function readApplication(ctx: StepContext, objectId: string): Promise<ApplicationInfo> {
  return retryWhile(
    ctx,
    async () => {
      const app = await ctx.azure.directory.getApplication(objectId);
      if (!app) throw new AkvError(6, `The application ${objectId} is not visible yet.`, { code: "Request_ResourceNotFound" });
      return app;
    },
    (e) => hasCode(e, "Request_ResourceNotFound"),
    { timeoutMs: 120_000, firstDelayMs: 300 },
  );
}

export const uploadStep: Step = {
  id: "upload",
  number: stepNumber("upload"),
  title: STEP_TITLES.upload,
  explanation:
    "The app registration learns the certificate's public half, so Entra ID accepts sign-ins signed with its key. The\n" +
    "credentials already on the app are kept: Graph replaces the whole list, so the full list is written back.",
  inputs: [],
  needs: ["app", "cert"],
  remote: true,

  plan(ctx) {
    return [`Add the certificate${ctx.outputsOf("cert").sha1 ? ` ${String(ctx.outputsOf("cert").sha1)}` : ""} to the app registration's credentials (existing ones kept)`];
  },

  async check(ctx) {
    const app = await ctx.azure.directory.getApplication(requireOutput(ctx, "app", "appObjectId"));
    if (!app) return { status: "drift", detail: "application missing in Entra ID" };
    const certPem = await readFile(requireOutput(ctx, "cert", "certPath"), "utf8");
    const sha1 = requireOutput(ctx, "cert", "sha1");
    if (!app.keyCredentials.some((c) => isOurCredential(c, derOf(certPem), sha1))) return { status: "drift", detail: "our credential is missing from the app registration" };
    return { status: "done", detail: `credential for ${sha1}` };
  },

  async apply(ctx) {
    const objectId = requireOutput(ctx, "app", "appObjectId");
    const certPath = requireOutput(ctx, "cert", "certPath");
    const sha1 = requireOutput(ctx, "cert", "sha1");
    const certPem = await readFile(certPath, "utf8");
    const der = derOf(certPem);
    const certOutputs = ctx.outputsOf("cert");
    const app = await readApplication(ctx, objectId);
    const existing = app.keyCredentials.find((c) => isOurCredential(c, der, sha1));
    if (existing) return { keyId: existing.keyId, thumbprint: sha1, uploadedAt: ctx.previous.outputs.uploadedAt ?? ctx.now().toISOString(), keptCredentials: app.keyCredentials.length - 1 };

    const unreadable = app.keyCredentials.filter((c) => !c.key);
    if (unreadable.length > 0) {
      // Writing the list back without their keys would delete them; refuse rather than wipe someone's credential.
      throw AkvError.azure(`The app registration has ${unreadable.length} credential(s) whose certificate Graph did not return, so they cannot be kept while adding ours.`, {
        code: "KeyCredentialsUnreadable",
        hint: "Nothing was changed. Check the app's certificates in the portal, then run `akv-crashplan cert upload` again.",
      });
    }
    const ours: KeyCredentialInfo = {
      type: "AsymmetricX509Cert",
      usage: "Verify",
      key: der,
      displayName: `akv-crashplan ${ctx.now().toISOString().slice(0, 10)} CN=${String(certOutputs.subject ?? "").replace(/^CN=/, "")}`,
      startDateTime: String(certOutputs.notBefore),
      endDateTime: String(certOutputs.notAfter),
      customKeyIdentifier: Buffer.from(sha1, "hex").toString("base64"),
    };
    const before = app.keyCredentials.map((c) => c.keyId);
    await ctx.saveMarker({ uploading: sha1 });
    await ctx.ui.wait("Adding the certificate to the app registration", () => ctx.azure.directory.setKeyCredentials(objectId, [...app.keyCredentials, ours]));

    const after = await retryWhile(
      ctx,
      async () => {
        const read = await readApplication(ctx, objectId);
        if (!read.keyCredentials.some((c) => isOurCredential(c, der, sha1))) throw new AkvError(6, "credential not visible yet", { code: "NotYetVisible" });
        return read;
      },
      (e) => hasCode(e, "NotYetVisible"),
      { timeoutMs: 60_000, firstDelayMs: 300 },
    );
    const lost = before.filter((keyId) => !after.keyCredentials.some((c) => c.keyId === keyId));
    if (lost.length > 0) {
      throw AkvError.azure(`After the upload, ${lost.length} credential(s) that were on the app are gone (${lost.join(", ")}).`, {
        code: "KeyCredentialsLost",
        hint: "Another change may have raced this one; check the app's certificates in the portal.",
      });
    }
    const mine = after.keyCredentials.find((c) => isOurCredential(c, der, sha1))!;
    return { keyId: mine.keyId, thumbprint: sha1, uploadedAt: ctx.now().toISOString(), keptCredentials: before.length };
  },
};
