/** Minimal JWT helpers (RS256 signing of access tokens, PS256/RS256 verification of client assertions). */
import { constants, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from "node:crypto";

export function base64url(data: Buffer | string): string {
  return Buffer.from(data).toString("base64url");
}

export interface DecodedJwt {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
  signingInput: string;
  signature: Buffer;
}

/** Splits and JSON-decodes a compact JWT; undefined when it is not one. */
export function decodeJwt(token: string): DecodedJwt | undefined {
  const parts = token.split(".");
  if (parts.length !== 3) return undefined;
  const [h, p, s] = parts as [string, string, string];
  try {
    const header = JSON.parse(Buffer.from(h, "base64url").toString("utf8")) as unknown;
    const payload = JSON.parse(Buffer.from(p, "base64url").toString("utf8")) as unknown;
    if (typeof header !== "object" || header === null || typeof payload !== "object" || payload === null) return undefined;
    return {
      header: header as Record<string, unknown>,
      payload: payload as Record<string, unknown>,
      signingInput: `${h}.${p}`,
      signature: Buffer.from(s, "base64url"),
    };
  } catch {
    return undefined;
  }
}

export class TokenSigner {
  private readonly privateKey: KeyObject;
  private readonly publicKey: KeyObject;

  constructor(privateKeyPem: string) {
    this.privateKey = createPrivateKey(privateKeyPem);
    this.publicKey = createPublicKey(this.privateKey);
  }

  sign(payload: Record<string, unknown>): string {
    const header = { typ: "JWT", alg: "RS256", kid: "sandbox-1" };
    const input = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(payload))}`;
    return `${input}.${base64url(sign("sha256", Buffer.from(input), this.privateKey))}`;
  }

  /** Public key as JWK members (n, e) for the JWKS endpoint. */
  jwk(): { n: string; e: string } {
    const j = this.publicKey.export({ format: "jwk" });
    return { n: String(j.n), e: String(j.e) };
  }

  /** Payload of a token this signer issued, or undefined if the signature does not verify. */
  verify(token: string): Record<string, unknown> | undefined {
    const jwt = decodeJwt(token);
    if (!jwt || jwt.header["alg"] !== "RS256") return undefined;
    const ok = verify("sha256", Buffer.from(jwt.signingInput), this.publicKey, jwt.signature);
    return ok ? jwt.payload : undefined;
  }
}

/** Verifies a client assertion with a certificate's public key: PS256 as MSAL sends it, RS256 as other clients do. */
export function verifyAssertionSignature(jwt: DecodedJwt, publicKey: KeyObject): boolean {
  const data = Buffer.from(jwt.signingInput);
  try {
    if (jwt.header["alg"] === "PS256") {
      return verify("sha256", data, { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO }, jwt.signature);
    }
    if (jwt.header["alg"] === "RS256") return verify("sha256", data, publicKey, jwt.signature);
  } catch {
    return false;
  }
  return false;
}
