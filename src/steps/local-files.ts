import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { AkvError } from "../errors.js";

export const KEY_FILE = "service-principal.key";
export const CERT_FILE = "service-principal.crt";
export const PFX_FILE = "service-principal.pfx";
export const GENERATED_PASSWORD_FILE = "service-principal.pfx.password";

export function localPaths(workdir: string) {
  return {
    key: join(workdir, KEY_FILE),
    cert: join(workdir, CERT_FILE),
    pfx: join(workdir, PFX_FILE),
    generatedPassword: join(workdir, GENERATED_PASSWORD_FILE),
  };
}

export async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** The key and certificate in one PEM, as @azure/identity's certificate credential wants them. */
export async function readSigningPem(keyPath: string, certPath: string): Promise<{ keyPem: string; certPem: string; combined: string }> {
  try {
    const [keyPem, certPem] = await Promise.all([readFile(keyPath, "utf8"), readFile(certPath, "utf8")]);
    return { keyPem, certPem, combined: `${keyPem.trim()}\n${certPem.trim()}\n` };
  } catch (error) {
    throw AkvError.precondition(`Cannot read the certificate files (${keyPath}, ${certPath}): ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}.`, {
      code: "CertificateFilesMissing",
      hint: "Run `akv-crashplan cert generate` (or `cert import`) first.",
    });
  }
}

/** A secret read from a file or stdin: trailing newline removed, nothing else. */
export async function readSecretFrom(options: { file?: string; stdin?: NodeJS.ReadableStream | undefined; what: string; fileFlag: string }): Promise<string | undefined> {
  if (options.file) {
    try {
      return (await readFile(options.file, "utf8")).replace(/\r?\n$/, "");
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const why = code === "ENOENT" ? "does not exist" : code === "EISDIR" ? "is a directory" : "cannot be read";
      throw AkvError.usage(`The ${options.what} file ${options.file} (${options.fileFlag}) ${why}.`, { code: "SecretFileUnreadable" });
    }
  }
  if (options.stdin) {
    const chunks: Buffer[] = [];
    for await (const chunk of options.stdin) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
    return Buffer.concat(chunks).toString("utf8").replace(/\r?\n$/, "");
  }
  return undefined;
}
