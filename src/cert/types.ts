export type KeySize = 2048 | 3072 | 4096;
export type PfxCipher = "3des" | "aes256";

export interface CertificateInfo {
  subject: string;
  issuer: string;
  serialHex: string;
  /** ISO 8601. */
  notBefore: string;
  /** ISO 8601. */
  notAfter: string;
  /** Whole days until notAfter (negative once expired). */
  daysLeft: number;
  keySize: number;
  keyType: "RSA" | string;
  /** e.g. "sha256WithRSAEncryption" */
  signatureAlgorithm: string;
  /** Uppercase hex, no colons, as the Azure portal shows it. */
  sha1Hex: string;
  sha256Hex: string;
  /** base64url SHA-1 thumbprint (JWS `x5t`). */
  x5t: string;
  /** base64url SHA-256 thumbprint (JWS `x5t#S256`). */
  x5tS256: string;
  derBase64: string;
  selfSigned: boolean;
}

export interface KeyAndCertificate {
  /** PKCS#8 PEM, unencrypted. */
  keyPem: string;
  certPem: string;
}
