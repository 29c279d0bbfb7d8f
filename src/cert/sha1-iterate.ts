/**
 * SHA-1 applied `times` times to a 20-byte digest, i.e. the inner loop of the PKCS#12 KDF with SHA-1.
 *
 * Why not crypto.hash in a loop: each call costs about 1 µs of binding overhead for one 64-byte block, which
 * made the 3DES PFX (about 14 000 iterations across key, IV and MAC derivations) slower than openssl. This
 * allocation-free compression on a fixed one-block message runs several times faster. Checked against
 * node:crypto in test/cert/pbe.test.ts and end-to-end by OpenSSL and Java reading the result.
 */
export function sha1Iterate(digest: Buffer, times: number): Buffer {
  if (digest.length !== 20) throw new Error("sha1Iterate needs a 20-byte SHA-1 digest");
  const w = new Int32Array(80);
  let h0 = digest.readInt32BE(0);
  let h1 = digest.readInt32BE(4);
  let h2 = digest.readInt32BE(8);
  let h3 = digest.readInt32BE(12);
  let h4 = digest.readInt32BE(16);
  for (let n = 0; n < times; n++) {
    // The message is the previous digest: 160 bits, then the 0x80 pad byte, zeros, and the bit length.
    w[0] = h0;
    w[1] = h1;
    w[2] = h2;
    w[3] = h3;
    w[4] = h4;
    w[5] = 0x80000000 | 0;
    w[6] = w[7] = w[8] = w[9] = w[10] = w[11] = w[12] = w[13] = w[14] = 0;
    w[15] = 160;
    for (let t = 16; t < 80; t++) {
      const x = w[t - 3]! ^ w[t - 8]! ^ w[t - 14]! ^ w[t - 16]!;
      w[t] = (x << 1) | (x >>> 31);
    }
    let a = 0x67452301 | 0;
    let b = 0xefcdab89 | 0;
    let c = 0x98badcfe | 0;
    let d = 0x10325476 | 0;
    let e = 0xc3d2e1f0 | 0;
    // One loop per round function (f and k differ), so no branch per round.
    let t = 0;
    for (; t < 20; t++) {
      const temp = (((a << 5) | (a >>> 27)) + ((b & c) | (~b & d)) + e + 0x5a827999 + w[t]!) | 0;
      e = d;
      d = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = temp;
    }
    for (; t < 40; t++) {
      const temp = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + 0x6ed9eba1 + w[t]!) | 0;
      e = d;
      d = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = temp;
    }
    for (; t < 60; t++) {
      const temp = (((a << 5) | (a >>> 27)) + ((b & c) | (b & d) | (c & d)) + e + (0x8f1bbcdc | 0) + w[t]!) | 0;
      e = d;
      d = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = temp;
    }
    for (; t < 80; t++) {
      const temp = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + (0xca62c1d6 | 0) + w[t]!) | 0;
      e = d;
      d = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = temp;
    }
    h0 = (a + 0x67452301) | 0;
    h1 = (b + (0xefcdab89 | 0)) | 0;
    h2 = (c + (0x98badcfe | 0)) | 0;
    h3 = (d + 0x10325476) | 0;
    h4 = (e + (0xc3d2e1f0 | 0)) | 0;
  }
  const out = Buffer.alloc(20);
  out.writeInt32BE(h0, 0);
  out.writeInt32BE(h1, 4);
  out.writeInt32BE(h2, 8);
  out.writeInt32BE(h3, 12);
  out.writeInt32BE(h4, 16);
  return out;
}
