/**
 * PKCS#12 (PFX) writing and reading.
 *
 * node-forge's `toPkcs12Asn1` cannot do what CrashPlan's keystores need: it leaves the certificate bag
 * unencrypted, always MACs with SHA-1, and runs its KDFs and ciphers in pure JS (slower than openssl). So the
 * structures are assembled here with forge's ASN.1 module and all cryptography is node:crypto (OpenSSL).
 *
 * Two profiles:
 * - "3des" (default): pbeWithSHAAnd3-KeyTripleDES-CBC for key and certificate bags, HMAC-SHA1 MAC, 2048
 *   iterations (OpenSSL's `-legacy` profile). Every Java release reads it, including Java 8 before 8u301,
 *   which cannot read PBES2/AES key stores or SHA-256 MACs, and CrashPlan may run on such a JRE.
 * - "aes256": PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC) for both bags and an HMAC-SHA256 MAC, the profile
 *   OpenSSL 3 writes by default. PBKDF2 runs 10000 iterations (OpenSSL 3 uses 2048, Java 17 uses 10000).
 */
import crypto from "node:crypto";
import forge from "node-forge";
import { AkvError } from "../errors.js";
import {
  Asn1ShapeError, bmp, bytesOf, child, children, der, explicit, fromBin, implicitOctets, int, intOf, nul, octets, oid, oidOf,
  parseDer, seq, set, toBin, type Asn1,
} from "./der.js";
import { cipherRun, pbkdf2, pkcs12Kdf, pkcs12Mac, Pkcs12KeyId, type HashName } from "./pbe.js";
import type { KeyAndCertificate, PfxCipher } from "./types.js";

const OID = {
  data: "1.2.840.113549.1.7.1",
  encryptedData: "1.2.840.113549.1.7.6",
  keyBag: "1.2.840.113549.1.12.10.1.1",
  shroudedKeyBag: "1.2.840.113549.1.12.10.1.2",
  certBag: "1.2.840.113549.1.12.10.1.3",
  safeContentsBag: "1.2.840.113549.1.12.10.1.6",
  x509Certificate: "1.2.840.113549.1.9.22.1",
  friendlyName: "1.2.840.113549.1.9.20",
  localKeyId: "1.2.840.113549.1.9.21",
  pbeSha1TripleDes: "1.2.840.113549.1.12.1.3",
  pbeSha1TwoKeyDes: "1.2.840.113549.1.12.1.4",
  pbeSha1Rc2_128: "1.2.840.113549.1.12.1.5",
  pbeSha1Rc2_40: "1.2.840.113549.1.12.1.6",
  pbes2: "1.2.840.113549.1.5.13",
  pbkdf2: "1.2.840.113549.1.5.12",
  aes128Cbc: "2.16.840.1.101.3.4.1.2",
  aes192Cbc: "2.16.840.1.101.3.4.1.22",
  aes256Cbc: "2.16.840.1.101.3.4.1.42",
  desEde3Cbc: "1.2.840.113549.3.7",
} as const;

const digestOids: Record<string, HashName> = {
  "1.3.14.3.2.26": "sha1",
  "2.16.840.1.101.3.4.2.4": "sha224",
  "2.16.840.1.101.3.4.2.1": "sha256",
  "2.16.840.1.101.3.4.2.2": "sha384",
  "2.16.840.1.101.3.4.2.3": "sha512",
};
const hmacOids: Record<string, HashName> = {
  "1.2.840.113549.2.7": "sha1",
  "1.2.840.113549.2.8": "sha224",
  "1.2.840.113549.2.9": "sha256",
  "1.2.840.113549.2.10": "sha384",
  "1.2.840.113549.2.11": "sha512",
};
const pbes2Ciphers: Record<string, { name: string; keyLength: number }> = {
  [OID.aes128Cbc]: { name: "aes-128-cbc", keyLength: 16 },
  [OID.aes192Cbc]: { name: "aes-192-cbc", keyLength: 24 },
  [OID.aes256Cbc]: { name: "aes-256-cbc", keyLength: 32 },
  [OID.desEde3Cbc]: { name: "des-ede3-cbc", keyLength: 24 },
};

/** Iteration counts: at or above what OpenSSL 3 writes (2048), PBKDF2 at Java 17's 10000. */
export const PFX_ITERATIONS = { pbeSha1: 2048, pbkdf2: 10_000, mac: 2048 } as const;

export interface BuildPfxOptions {
  keyPem: string;
  certPem: string;
  password: string;
  cipher?: PfxCipher;
  friendlyName?: string;
}

export function assertUsablePfxPassword(password: string): void {
  if (typeof password !== "string" || password.trim() === "") {
    throw AkvError.usage("The PFX password is empty or only whitespace; a PFX needs a real password to protect the key.", {
      code: "PfxPasswordEmpty",
      hint: "Let akv-crashplan generate one (the default), or give a non-empty password.",
    });
  }
}

export function buildPfx(opts: BuildPfxOptions): Buffer {
  assertUsablePfxPassword(opts.password);
  const cipher = opts.cipher ?? "3des";
  if (cipher !== "3des" && cipher !== "aes256") {
    throw AkvError.usage(`Unknown PFX cipher "${String(cipher)}"; use 3des or aes256.`, { code: "PfxCipherUnknown" });
  }
  const friendlyName = opts.friendlyName ?? "key-vault-crashplan";
  let keyDer: Buffer;
  let certDer: Buffer;
  try {
    keyDer = crypto.createPrivateKey(opts.keyPem).export({ type: "pkcs8", format: "der" });
  } catch (cause) {
    throw AkvError.usage("The private key given to the PFX builder is not a readable unencrypted PEM key.", { code: "KeyUnreadable", cause });
  }
  try {
    certDer = new crypto.X509Certificate(opts.certPem).raw;
  } catch (cause) {
    throw AkvError.usage("The certificate given to the PFX builder is not a readable PEM certificate.", { code: "CertificateUnreadable", cause });
  }
  const { password } = opts;
  // The same friendlyName and localKeyId (SHA-1 of the certificate, as OpenSSL does) on both bags is what ties
  // the key to its certificate for Windows, OpenSSL and Java keystores.
  const attributes = set([
    seq([oid(OID.friendlyName), set([bmp(friendlyName)])]),
    seq([oid(OID.localKeyId), set([octets(crypto.hash("sha1", certDer, "buffer"))])]),
  ]);

  const certBag = seq([oid(OID.certBag), explicit(0, seq([oid(OID.x509Certificate), explicit(0, octets(certDer))])), attributes]);
  const certSafe = encrypt(cipher, password, der(seq([certBag])));
  const certInfo = seq([
    oid(OID.encryptedData),
    explicit(0, seq([int(0), seq([oid(OID.data), certSafe.algorithm, implicitOctets(0, certSafe.ciphertext)])])),
  ]);

  const keyEnc = encrypt(cipher, password, keyDer);
  const keyBag = seq([oid(OID.shroudedKeyBag), explicit(0, seq([keyEnc.algorithm, octets(keyEnc.ciphertext)])), attributes]);
  const keyInfo = seq([oid(OID.data), explicit(0, octets(der(seq([keyBag]))))]);

  const authSafe = der(seq([certInfo, keyInfo]));
  const macHash: HashName = cipher === "3des" ? "sha1" : "sha256";
  const macSalt = crypto.randomBytes(cipher === "3des" ? 8 : 16);
  const mac = pkcs12Mac(macHash, password, macSalt, PFX_ITERATIONS.mac, authSafe);
  const macData = seq([
    seq([seq([oid(macHash === "sha1" ? "1.3.14.3.2.26" : "2.16.840.1.101.3.4.2.1"), nul()]), octets(mac)]),
    octets(macSalt),
    int(PFX_ITERATIONS.mac),
  ]);
  return der(seq([int(3), seq([oid(OID.data), explicit(0, octets(authSafe))]), macData]));
}

function encrypt(cipher: PfxCipher, password: string, plaintext: Buffer): { algorithm: Asn1; ciphertext: Buffer } {
  if (cipher === "3des") {
    const salt = crypto.randomBytes(8);
    const n = PFX_ITERATIONS.pbeSha1;
    const key = pkcs12Kdf("sha1", password, salt, Pkcs12KeyId.key, n, 24);
    const iv = pkcs12Kdf("sha1", password, salt, Pkcs12KeyId.iv, n, 8);
    return {
      algorithm: seq([oid(OID.pbeSha1TripleDes), seq([octets(salt), int(n)])]),
      ciphertext: cipherRun("encrypt", "des-ede3-cbc", key, iv, plaintext),
    };
  }
  const salt = crypto.randomBytes(16);
  const iv = crypto.randomBytes(16);
  const n = PFX_ITERATIONS.pbkdf2;
  const key = pbkdf2(password, salt, n, 32, "sha256");
  return {
    algorithm: seq([
      oid(OID.pbes2),
      seq([
        seq([oid(OID.pbkdf2), seq([octets(salt), int(n), seq([oid("1.2.840.113549.2.9"), nul()])])]),
        seq([oid(OID.aes256Cbc), octets(iv)]),
      ]),
    ]),
    ciphertext: cipherRun("encrypt", "aes-256-cbc", key, iv, plaintext),
  };
}

// ---------------------------------------------------------------------------------------------- reading

export interface ReadPfxOptions {
  /** How to name the PFX in messages, e.g. its file name. */
  name?: string;
}

class WrongPassword extends Error {}
class Unsupported extends Error {}

export function readPfx(pfx: Buffer, password: string, opts: ReadPfxOptions = {}): KeyAndCertificate {
  const name = opts.name ?? "The PFX";
  try {
    return readPfxUnchecked(pfx, password);
  } catch (error) {
    if (error instanceof WrongPassword) {
      throw AkvError.usage(`${name}: wrong password (the PFX integrity check failed).`, {
        code: "PfxWrongPassword",
        hint: "Check the PFX password and try again.",
      });
    }
    if (error instanceof Unsupported) {
      throw AkvError.usage(`${name}: ${error.message}`, { code: "PfxUnsupported", hint: "Re-export it with OpenSSL 3 (`openssl pkcs12 -export`) and try again." });
    }
    if (error instanceof AkvError) throw error;
    throw AkvError.usage(`${name} is not a readable PKCS#12 (PFX/P12) file.`, { code: "PfxUnreadable", cause: error });
  }
}

interface Bag {
  kind: "key" | "cert";
  der: Buffer;
  localKeyId?: string;
}

function readPfxUnchecked(pfx: Buffer, password: string): KeyAndCertificate {
  const root = parseDer(pfx);
  if (intOf(child(root, 0, "PFX"), "PFX version") !== 3) throw new Asn1ShapeError("PFX version is not 3");
  const authSafeInfo = child(root, 1, "authSafe");
  if (oidOf(child(authSafeInfo, 0, "authSafe"), "authSafe type") !== OID.data) {
    throw new Unsupported("public-key integrity mode (signed PFX) is not supported.");
  }
  const authSafe = bytesOf(child(child(authSafeInfo, 1, "authSafe content"), 0, "authSafe octets"), "authSafe");
  const macData = children(root, "PFX")[2];
  if (macData) verifyMac(macData, password, authSafe);

  const bags: Bag[] = [];
  for (const info of children(parseDer(authSafe), "AuthenticatedSafe")) {
    const type = oidOf(child(info, 0, "ContentInfo"), "ContentInfo type");
    const content = child(child(info, 1, "ContentInfo content"), 0, "ContentInfo content");
    if (type === OID.data) {
      collectBags(parseDer(bytesOf(content, "SafeContents")), password, bags);
    } else if (type === OID.encryptedData) {
      const eci = child(content, 1, "EncryptedContentInfo");
      const ciphertext = bytesOf(child(eci, 2, "encryptedContent"), "encryptedContent");
      collectBags(parseDer(decrypt(child(eci, 1, "algorithm"), password, ciphertext)), password, bags);
    } else {
      throw new Unsupported(`content type ${type} (public-key privacy mode) is not supported.`);
    }
  }
  return pair(bags);
}

function verifyMac(macData: Asn1, password: string, authSafe: Buffer): void {
  const digestInfo = child(macData, 0, "MacData");
  const algOid = oidOf(child(child(digestInfo, 0, "digestAlgorithm"), 0, "digestAlgorithm"), "MAC digest");
  const hash = digestOids[algOid];
  if (!hash) throw new Unsupported(`MAC digest ${algOid} is not supported.`);
  const expected = bytesOf(child(digestInfo, 1, "MAC digest"), "MAC digest");
  const salt = bytesOf(child(macData, 1, "MAC salt"), "MAC salt");
  const iterNode = children(macData, "MacData")[2];
  const iterations = iterNode ? intOf(iterNode, "MAC iterations") : 1;
  const actual = pkcs12Mac(hash, password, salt, iterations, authSafe);
  if (actual.length !== expected.length || !crypto.timingSafeEqual(actual, expected)) throw new WrongPassword();
}

function collectBags(safeContents: Asn1, password: string, bags: Bag[]): void {
  for (const bag of children(safeContents, "SafeContents")) {
    const bagId = oidOf(child(bag, 0, "SafeBag"), "bag type");
    const value = child(child(bag, 1, "bag value"), 0, "bag value");
    const attrs = children(bag, "SafeBag")[2];
    const localKeyId = attrs ? findLocalKeyId(attrs) : undefined;
    const withId = (b: Bag): Bag => (localKeyId === undefined ? b : { ...b, localKeyId });
    if (bagId === OID.keyBag) {
      bags.push(withId({ kind: "key", der: der(value) }));
    } else if (bagId === OID.shroudedKeyBag) {
      const ciphertext = bytesOf(child(value, 1, "encrypted key"), "encrypted key");
      bags.push(withId({ kind: "key", der: decrypt(child(value, 0, "key algorithm"), password, ciphertext) }));
    } else if (bagId === OID.certBag) {
      if (oidOf(child(value, 0, "CertBag"), "certificate type") !== OID.x509Certificate) continue;
      bags.push(withId({ kind: "cert", der: bytesOf(child(child(value, 1, "certificate"), 0, "certificate"), "certificate") }));
    } else if (bagId === OID.safeContentsBag) {
      collectBags(value, password, bags);
    }
    // CRL and secret bags are not ours to handle.
  }
}

function findLocalKeyId(attrs: Asn1): string | undefined {
  for (const attr of children(attrs, "attributes")) {
    if (oidOf(child(attr, 0, "attribute"), "attribute type") === OID.localKeyId) {
      return bytesOf(child(child(attr, 1, "attribute values"), 0, "localKeyId"), "localKeyId").toString("hex");
    }
  }
  return undefined;
}

/** A padding failure is reported as a wrong password: without a MAC it is the only sign of one. */
function decrypt(algorithm: Asn1, password: string, ciphertext: Buffer): Buffer {
  const algOid = oidOf(child(algorithm, 0, "algorithm"), "encryption algorithm");
  const params = children(algorithm, "algorithm")[1];
  try {
    if (algOid === OID.pbes2) return decryptPbes2(params, password, ciphertext);
    const salt = bytesOf(child(params, 0, "PBE salt"), "PBE salt");
    const n = intOf(child(params, 1, "PBE iterations"), "PBE iterations");
    const derive = (id: Pkcs12KeyId, len: number): Buffer => pkcs12Kdf("sha1", password, salt, id, n, len);
    switch (algOid) {
      case OID.pbeSha1TripleDes:
        return cipherRun("decrypt", "des-ede3-cbc", derive(Pkcs12KeyId.key, 24), derive(Pkcs12KeyId.iv, 8), ciphertext);
      case OID.pbeSha1TwoKeyDes:
        return cipherRun("decrypt", "des-ede-cbc", derive(Pkcs12KeyId.key, 16), derive(Pkcs12KeyId.iv, 8), ciphertext);
      case OID.pbeSha1Rc2_128:
        return rc2Decrypt(derive(Pkcs12KeyId.key, 16), 128, derive(Pkcs12KeyId.iv, 8), ciphertext);
      case OID.pbeSha1Rc2_40:
        return rc2Decrypt(derive(Pkcs12KeyId.key, 5), 40, derive(Pkcs12KeyId.iv, 8), ciphertext);
      default:
        throw new Unsupported(`encryption algorithm ${algOid} is not supported.`);
    }
  } catch (error) {
    if (error instanceof Unsupported || error instanceof Asn1ShapeError) throw error;
    // A bad-padding failure: the derived key is wrong.
    throw new WrongPassword();
  }
}

function decryptPbes2(params: Asn1 | undefined, password: string, ciphertext: Buffer): Buffer {
  const kdf = child(params, 0, "PBES2 key derivation");
  const scheme = child(params, 1, "PBES2 encryption scheme");
  if (oidOf(child(kdf, 0, "KDF"), "KDF") !== OID.pbkdf2) throw new Unsupported("PBES2 with a KDF other than PBKDF2 is not supported.");
  const kdfParams = children(child(kdf, 1, "PBKDF2 params"), "PBKDF2 params");
  const salt = bytesOf(kdfParams[0], "PBKDF2 salt");
  const iterations = intOf(kdfParams[1], "PBKDF2 iterations");
  let prf: HashName = "sha1";
  for (const extra of kdfParams.slice(2)) {
    if (extra.type === forge.asn1.Type.SEQUENCE) {
      const prfOid = oidOf(child(extra, 0, "PRF"), "PRF");
      const found = hmacOids[prfOid];
      if (!found) throw new Unsupported(`PBKDF2 PRF ${prfOid} is not supported.`);
      prf = found;
    }
  }
  const encOid = oidOf(child(scheme, 0, "cipher"), "cipher");
  const enc = pbes2Ciphers[encOid];
  if (!enc) throw new Unsupported(`PBES2 cipher ${encOid} is not supported.`);
  const iv = bytesOf(child(scheme, 1, "IV"), "IV");
  return cipherRun("decrypt", enc.name, pbkdf2(password, salt, iterations, enc.keyLength, prf), iv, ciphertext);
}

/** RC2 is only in OpenSSL's legacy provider, so old `-legacy`/Windows PFX files are decrypted with forge's RC2. */
function rc2Decrypt(key: Buffer, bits: number, iv: Buffer, ciphertext: Buffer): Buffer {
  const decipher = forge.rc2.createDecryptionCipher(toBin(key), bits);
  decipher.start(toBin(iv));
  decipher.update(forge.util.createBuffer(toBin(ciphertext)));
  if (!decipher.finish()) throw new Error("bad padding");
  return fromBin(decipher.output.getBytes());
}

function pair(bags: Bag[]): KeyAndCertificate {
  const keys = bags.filter((b) => b.kind === "key");
  const certs = bags.filter((b) => b.kind === "cert");
  if (keys.length === 0) throw AkvError.usage("The PFX holds no private key.", { code: "PfxNoKey", hint: "Export the PFX again with its private key included." });
  if (certs.length === 0) throw AkvError.usage("The PFX holds a private key but no certificate.", { code: "PfxNoCertificate" });
  if (keys.length > 1) throw AkvError.usage(`The PFX holds ${keys.length} private keys; give one with exactly one key.`, { code: "PfxManyKeys" });
  const keyBag = keys[0]!;
  const key = crypto.createPrivateKey({ key: keyBag.der, format: "der", type: "pkcs8" });
  const parsed = certs.map((c) => ({ bag: c, x509: new crypto.X509Certificate(c.der) }));
  const byId = keyBag.localKeyId === undefined ? undefined : parsed.find((c) => c.bag.localKeyId === keyBag.localKeyId);
  const match = byId && byId.x509.checkPrivateKey(key) ? byId : parsed.find((c) => c.x509.checkPrivateKey(key));
  if (!match) {
    throw AkvError.usage(`The PFX holds a private key and ${certs.length} certificate(s), but none of them belongs to the key.`, { code: "PfxKeyCertificateMismatch" });
  }
  return { keyPem: key.export({ type: "pkcs8", format: "pem" }) as string, certPem: match.x509.toString() };
}
