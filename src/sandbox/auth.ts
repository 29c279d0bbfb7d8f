/** Bearer-token checks shared by ARM, Graph and Key Vault. */
import { header, type RequestContext } from "./http.js";
import type { SandboxCore } from "./core.js";

export interface TokenClaims {
  oid: string;
  appid: string;
  tid: string;
  aud: string;
  iss: string;
}

export type TokenCheck =
  | { ok: true; claims: TokenClaims }
  | { ok: false; reason: "missing" | "invalid" | "expired" | "audience"; aud?: string };

export function bearerToken(ctx: RequestContext): string | undefined {
  const auth = header(ctx, "authorization");
  const m = auth ? /^Bearer\s+(\S+)$/i.exec(auth) : null;
  return m?.[1];
}

const trimSlash = (s: string): string => s.replace(/\/+$/, "").toLowerCase();

export function checkBearer(core: SandboxCore, ctx: RequestContext, audiences: readonly string[]): TokenCheck {
  const token = bearerToken(ctx);
  if (!token) return { ok: false, reason: "missing" };
  const payload = core.signer.verify(token);
  if (!payload) return { ok: false, reason: "invalid" };
  const aud = String(payload["aud"] ?? "");
  const exp = Number(payload["exp"] ?? 0);
  if (exp * 1000 <= ctx.now) return { ok: false, reason: "expired", aud };
  if (!audiences.map(trimSlash).includes(trimSlash(aud))) return { ok: false, reason: "audience", aud };
  return {
    ok: true,
    claims: {
      oid: String(payload["oid"] ?? ""),
      appid: String(payload["appid"] ?? ""),
      tid: String(payload["tid"] ?? ""),
      aud,
      iss: String(payload["iss"] ?? ""),
    },
  };
}
