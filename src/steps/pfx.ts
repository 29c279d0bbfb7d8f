import { STEP_TITLES, stepNumber } from "../state/step-ids.js";
import { readFile, unlink } from "node:fs/promises";
import { resolve } from "node:path";
import { AkvError } from "../errors.js";
import type { Step, StepContext } from "../engine/step.js";
import { exists, localPaths, readSecretFrom } from "./local-files.js";
import { requireOutput } from "./shared.js";

const loadCert = () => import("../cert/index.js");

export const MIN_CHOSEN_PASSWORD_LENGTH = 12;

/** The PFX carries the key to CrashPlan's keystore: a chosen password must be long, not just non-empty. */
function assertStrongEnough(password: string, cert: Awaited<ReturnType<typeof loadCert>>): void {
  cert.assertUsablePfxPassword(password);
  if (password.length < MIN_CHOSEN_PASSWORD_LENGTH) {
    throw AkvError.usage(`The PFX password has ${password.length} characters; it needs at least ${MIN_CHOSEN_PASSWORD_LENGTH}.`, {
      code: "PfxPasswordTooShort",
      hint: "Use a longer passphrase, or let akv-crashplan generate one (the default).",
    });
  }
}

/** --password-file, --password-stdin, a masked prompt typed twice, or (default) generated. */
async function choosePassword(ctx: StepContext): Promise<{ password: string; generated: boolean }> {
  const cert = await loadCert();
  const given = await readSecretFrom({
    file: ctx.flags.passwordFile as string | undefined,
    stdin: ctx.flags.passwordStdin === true ? (ctx.ui.stdin as NodeJS.ReadableStream) : undefined,
    what: "PFX password",
    fileFlag: "--password-file",
  });
  if (given !== undefined) {
    ctx.ui.redactor.register(given);
    assertStrongEnough(given, cert);
    return { password: given, generated: false };
  }
  if (ctx.ui.interactive && !ctx.yes) {
    const choice = await ctx.ui.prompt.select({
      message: "PFX password",
      choices: [
        { value: "generate", name: "Generate a strong one (shown once)" },
        { value: "type", name: "Type my own" },
      ],
      default: "generate",
    });
    if (choice === "type") {
      const validate = (value: string) => {
        try {
          assertStrongEnough(value, cert);
          return true as const;
        } catch (error) {
          return (error as Error).message;
        }
      };
      const first = await ctx.ui.prompt.password({ message: "PFX password", validate });
      ctx.ui.redactor.register(first);
      const second = await ctx.ui.prompt.password({ message: "Again, to confirm" });
      if (first !== second) throw AkvError.usage("The two passwords differ; nothing was written.", { code: "PasswordMismatch" });
      return { password: first, generated: false };
    }
  }
  const password = cert.generatePfxPassword();
  ctx.ui.redactor.register(password);
  return { password, generated: true };
}

export const pfxStep: Step = {
  id: "pfx",
  number: stepNumber("pfx"),
  title: STEP_TITLES.pfx,
  explanation:
    "CrashPlan receives the key and certificate as one password-protected PFX file. The default encryption (3DES) is the\n" +
    "one every Java release reads, including Java 8; the file is read back and checked before it is handed over.",
  inputs: ["pfxCipher", "pfxOut"],
  needs: ["cert"],
  remote: false,

  plan(ctx) {
    const out = ctx.inputs.string("pfxOut") ?? localPaths(ctx.workdir).pfx;
    return [`${out} (0600), ${ctx.inputs.string("pfxCipher") ?? "3des"}; its password is never in the state or logs (a generated one is shown once, or written to a 0600 file when there is no terminal)`];
  },

  async check(ctx) {
    const path = ctx.previous.outputs.pfxPath as string | undefined;
    if (!path || !(await exists(path))) return { status: "drift", detail: "PFX file missing" };
    if (ctx.previous.outputs.certSha1 !== ctx.outputsOf("cert").sha1) return { status: "drift", detail: "the PFX holds an older certificate" };
    const cert = await loadCert();
    const perms = cert.checkSecretFilePermissions(path);
    if (!perms.ok) {
      await cert.fixKeyFilePermissions(path);
      ctx.ui.warn(`${path} was readable by others; set to 0600.`);
    }
    return { status: "done", detail: path };
  },

  async apply(ctx) {
    const cert = await loadCert();
    const keyPath = requireOutput(ctx, "cert", "keyPath");
    const certPath = requireOutput(ctx, "cert", "certPath");
    const sha1 = requireOutput(ctx, "cert", "sha1");
    const out = resolve(ctx.workdir, ctx.inputs.string("pfxOut") ?? localPaths(ctx.workdir).pfx);
    const cipher = (ctx.inputs.string("pfxCipher") ?? "3des") as "3des" | "aes256";
    const [keyPem, certPem] = await Promise.all([readFile(keyPath, "utf8"), readFile(certPath, "utf8")]);
    const { password, generated } = await choosePassword(ctx);
    const pfx = cert.buildPfx({ keyPem, certPem, password, cipher, friendlyName: String(ctx.outputsOf("cert").subject ?? "key-vault-crashplan").replace(/^CN=/, "") });
    await cert.writeSecretFile(out, pfx);
    // Proof, not hope: open what was written with the password and compare it with the originals.
    const back = cert.readPfx(await readFile(out), password);
    if (!cert.keyMatchesCertificate(back.keyPem, certPem) || cert.describeCertificate(back.certPem).sha1Hex !== sha1) {
      throw new AkvError(1, `The PFX written to ${out} does not hold the expected key and certificate.`, { hint: "This is a bug; please report it." });
    }
    ctx.secrets.set("pfxPassword", password);
    let passwordLocation = "chosen by you (not stored by akv-crashplan)";
    // A password file generated for an earlier PFX would not open this one: it must not sit beside it, whether
    // this password was chosen or generated (and then shown, written to --password-out, or written there anew).
    // Unless it is the very file this password was read from: then it is this PFX's password, and maybe its only copy.
    const generatedFile = localPaths(ctx.workdir).generatedPassword;
    const readFrom = typeof ctx.flags.passwordFile === "string" ? resolve(ctx.flags.passwordFile) : undefined;
    if (readFrom !== resolve(generatedFile)) await unlink(generatedFile).catch(() => undefined);
    if (generated) {
      const passwordOut = ctx.flags.passwordOut as string | undefined;
      if (passwordOut) {
        await cert.writeSecretFile(resolve(passwordOut), password + "\n");
        passwordLocation = `file ${resolve(passwordOut)} (0600)`;
      } else if (ctx.ui.revealOnce("  PFX password (shown once; store it in your password manager now)", password)) {
        passwordLocation = "shown once on the terminal during setup";
      } else {
        // No terminal to show it on and no --password-out: keep it beside the key, with the same protection.
        const fallback = localPaths(ctx.workdir).generatedPassword;
        await cert.writeSecretFile(fallback, password + "\n");
        passwordLocation = `file ${fallback} (0600)`;
        ctx.ui.info(`  The generated PFX password is in ${fallback} (0600); move it to a password manager.`);
      }
    }
    ctx.ui.info(`  ${out} (0600, ${cipher}) · read back and verified`);
    return { pfxPath: out, cipher, certSha1: sha1, passwordLocation, exportedAt: ctx.now().toISOString() };
  },
};
