/**
 * Password-based encryption used inside PKCS#12, done with node:crypto (OpenSSL) rather than node-forge's
 * pure-JS ciphers and KDFs, which made a PFX export slower than `openssl pkcs12 -export`.
 */
import crypto from "node:crypto";
import { sha1Iterate } from "./sha1-iterate.js";

export type HashName = "sha1" | "sha224" | "sha256" | "sha384" | "sha512";

const hashOutputBytes: Record<HashName, number> = { sha1: 20, sha224: 28, sha256: 32, sha384: 48, sha512: 64 };
const hashBlockBytes: Record<HashName, number> = { sha1: 64, sha224: 64, sha256: 64, sha384: 128, sha512: 128 };

/** PKCS#12 passwords are BMPStrings (UTF-16BE) with a two-byte NUL terminator (RFC 7292 B.1). */
export function bmpPassword(password: string): Buffer {
  const out = Buffer.alloc(password.length * 2 + 2);
  for (let i = 0; i < password.length; i++) out.writeUInt16BE(password.charCodeAt(i), i * 2);
  return out;
}

export const Pkcs12KeyId = { key: 1, iv: 2, mac: 3 } as const;
export type Pkcs12KeyId = (typeof Pkcs12KeyId)[keyof typeof Pkcs12KeyId];

// A PFX is read back right after it is written, deriving the same keys from the same password and salts. The KDF
// is a pure function, so the last few results are kept for the process instead of running its ~14 000 SHA-1
// iterations again; the read-back still decrypts and checks the MAC of the bytes on disk with them.
const recentKdf = new Map<string, Buffer>();
const RECENT_KDF_LIMIT = 16;

/** The PKCS#12 key derivation function (RFC 7292 appendix B.2). */
export function pkcs12Kdf(hash: HashName, password: string, salt: Buffer, id: Pkcs12KeyId, iterations: number, length: number): Buffer {
  const memo = `${hash}:${id}:${iterations}:${length}:${salt.toString("hex")}:${password}`;
  const known = recentKdf.get(memo);
  if (known) return Buffer.from(known);
  const derived = derivePkcs12Key(hash, password, salt, id, iterations, length);
  recentKdf.set(memo, Buffer.from(derived));
  if (recentKdf.size > RECENT_KDF_LIMIT) recentKdf.delete(recentKdf.keys().next().value!);
  return derived;
}

function derivePkcs12Key(hash: HashName, password: string, salt: Buffer, id: Pkcs12KeyId, iterations: number, length: number): Buffer {
  const u = hashOutputBytes[hash];
  const v = hashBlockBytes[hash];
  const pw = bmpPassword(password);
  const repeatTo = (src: Buffer, len: number): Buffer => {
    const out = Buffer.alloc(len);
    for (let i = 0; i < len; i++) out[i] = src[i % src.length]!;
    return out;
  };
  const d = Buffer.alloc(v, id);
  const s = salt.length ? repeatTo(salt, v * Math.ceil(salt.length / v)) : Buffer.alloc(0);
  const p = repeatTo(pw, v * Math.ceil(pw.length / v));
  const i = Buffer.concat([s, p]);
  const blocks = Math.ceil(length / u);
  const out: Buffer[] = [];
  for (let n = 0; n < blocks; n++) {
    let a: Buffer = crypto.hash(hash, Buffer.concat([d, i]), "buffer");
    if (hash === "sha1") a = sha1Iterate(a, iterations - 1);
    else for (let r = 1; r < iterations; r++) a = crypto.hash(hash, a, "buffer");
    out.push(a);
    if (n === blocks - 1) break;
    // I_j = (I_j + B + 1) mod 2^(8v), with B = A repeated to v bytes.
    const b = repeatTo(a, v);
    for (let j = 0; j < i.length; j += v) {
      let carry = 1;
      for (let k = v - 1; k >= 0; k--) {
        const sum = i[j + k]! + b[k]! + carry;
        i[j + k] = sum & 0xff;
        carry = sum >> 8;
      }
    }
  }
  return Buffer.concat(out).subarray(0, length);
}

export function pkcs12Mac(hash: HashName, password: string, salt: Buffer, iterations: number, data: Buffer): Buffer {
  const key = pkcs12Kdf(hash, password, salt, Pkcs12KeyId.mac, iterations, hashOutputBytes[hash]);
  return crypto.createHmac(hash, key).update(data).digest();
}

export function cipherRun(mode: "encrypt" | "decrypt", algorithm: string, key: Buffer, iv: Buffer, data: Buffer): Buffer {
  const c = mode === "encrypt" ? crypto.createCipheriv(algorithm, key, iv) : crypto.createDecipheriv(algorithm, key, iv);
  return Buffer.concat([c.update(data), c.final()]);
}

/** PBES2 uses the password's bytes as they are; UTF-8 is what OpenSSL and Java both use. */
export function pbkdf2(password: string, salt: Buffer, iterations: number, length: number, hash: HashName): Buffer {
  return crypto.pbkdf2Sync(Buffer.from(password, "utf8"), salt, iterations, length, hash);
}
