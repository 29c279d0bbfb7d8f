import crypto from "node:crypto";
import { describe, expect, it } from "vitest";
import { bmpPassword, pkcs12Kdf, Pkcs12KeyId } from "../../src/cert/pbe.js";
import { sha1Iterate } from "../../src/cert/sha1-iterate.js";

describe("sha1Iterate", () => {
  it("equals SHA-1 applied repeatedly with node:crypto", () => {
    for (const times of [0, 1, 2, 7, 2047]) {
      let expected = crypto.hash("sha1", crypto.randomBytes(33), "buffer");
      const start = expected;
      for (let i = 0; i < times; i++) expected = crypto.hash("sha1", expected, "buffer");
      expect(sha1Iterate(start, times).toString("hex")).toBe(expected.toString("hex"));
    }
  });
});

describe("pkcs12Kdf", () => {
  // Reference: the plain RFC 7292 B.2 loop with crypto.hash every iteration.
  function reference(hash: "sha1" | "sha256", password: string, salt: Buffer, id: number, iterations: number, n: number): Buffer {
    const u = hash === "sha1" ? 20 : 32;
    const v = 64;
    const rep = (b: Buffer, len: number) => Buffer.from(Array.from({ length: len }, (_, k) => b[k % b.length]!));
    const pw = bmpPassword(password);
    const I = Buffer.concat([rep(salt, v * Math.ceil(salt.length / v)), rep(pw, v * Math.ceil(pw.length / v))]);
    const out: Buffer[] = [];
    for (let c = 0; c < Math.ceil(n / u); c++) {
      let a = crypto.hash(hash, Buffer.concat([Buffer.alloc(v, id), I]), "buffer");
      for (let r = 1; r < iterations; r++) a = crypto.hash(hash, a, "buffer");
      out.push(a);
      const B = rep(a, v);
      for (let j = 0; j < I.length; j += v) {
        let carry = 1;
        for (let k = v - 1; k >= 0; k--) {
          const s = I[j + k]! + B[k]! + carry;
          I[j + k] = s & 0xff;
          carry = s >> 8;
        }
      }
    }
    return Buffer.concat(out).subarray(0, n);
  }
  it.each([["sha1", 24], ["sha1", 8], ["sha256", 32], ["sha1", 64]] as const)("matches the RFC 7292 loop for %s, %i bytes", (hash, n) => {
    const salt = crypto.randomBytes(8);
    expect(pkcs12Kdf(hash, "päss wörd", salt, Pkcs12KeyId.key, 100, n).toString("hex")).toBe(reference(hash, "päss wörd", salt, 1, 100, n).toString("hex"));
  });

  it("gives the same key again from its memo, unharmed by a caller that overwrote the first copy, and tells inputs apart", () => {
    const salt = crypto.randomBytes(8);
    const first = pkcs12Kdf("sha1", "pw:with:colons", salt, Pkcs12KeyId.key, 50, 24);
    const expected = reference("sha1", "pw:with:colons", salt, 1, 50, 24).toString("hex");
    first.fill(0);
    expect(pkcs12Kdf("sha1", "pw:with:colons", salt, Pkcs12KeyId.key, 50, 24).toString("hex")).toBe(expected);
    expect(pkcs12Kdf("sha1", "pw:with:colons", salt, Pkcs12KeyId.iv, 50, 24).toString("hex")).not.toBe(expected);
    expect(pkcs12Kdf("sha1", "pw:with:colons", Buffer.concat([salt, Buffer.from([1])]), Pkcs12KeyId.key, 50, 24).toString("hex")).not.toBe(expected);
    expect(pkcs12Kdf("sha1", "pw:with:colonz", salt, Pkcs12KeyId.key, 50, 24).toString("hex")).not.toBe(expected);
  });
});
