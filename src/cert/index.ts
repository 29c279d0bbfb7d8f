export type { KeySize, PfxCipher, CertificateInfo, KeyAndCertificate } from "./types.js";
export { generateKeyAndCertificate, randomSerialHex, DEFAULT_SUBJECT, DEFAULT_DAYS, CLOCK_SKEW_MS, type GenerateOptions } from "./generate.js";
export { describeCertificate, keyMatchesCertificate, parseCertificate } from "./x509-info.js";
export { loadCertificateMaterial, MIN_RSA_BITS, EXPIRY_WARNING_DAYS, type LoadOptions, type LoadedMaterial } from "./import.js";
export { buildPfx, readPfx, assertUsablePfxPassword, PFX_ITERATIONS, type BuildPfxOptions, type ReadPfxOptions } from "./pfx.js";
export { generatePfxPassword, PFX_PASSWORD_ALPHABET } from "./password.js";
export {
  writeSecretFile, writePublicFile, checkSecretFilePermissions, fixKeyFilePermissions, type PermissionCheck, type WriteFileOptions,
} from "./files.js";
