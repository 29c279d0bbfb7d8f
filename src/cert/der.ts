/** Small helpers over node-forge's ASN.1 module, which works on "binary strings" rather than Buffers. */
import forge from "node-forge";

export const asn1 = forge.asn1;
export type Asn1 = forge.asn1.Asn1;
const { Class, Type } = forge.asn1;

export const toBin = (b: Buffer): string => b.toString("latin1");
export const fromBin = (s: string): Buffer => Buffer.from(s, "latin1");

export const seq = (items: (Asn1 | undefined)[]): Asn1 => asn1.create(Class.UNIVERSAL, Type.SEQUENCE, true, items.filter((x): x is Asn1 => x !== undefined));
export const set = (items: Asn1[]): Asn1 => asn1.create(Class.UNIVERSAL, Type.SET, true, items);
export const oid = (dotted: string): Asn1 => asn1.create(Class.UNIVERSAL, Type.OID, false, asn1.oidToDer(dotted).getBytes());
export const octets = (b: Buffer): Asn1 => asn1.create(Class.UNIVERSAL, Type.OCTETSTRING, false, toBin(b));
export const nul = (): Asn1 => asn1.create(Class.UNIVERSAL, Type.NULL, false, "");
export const int = (n: number): Asn1 => asn1.create(Class.UNIVERSAL, Type.INTEGER, false, asn1.integerToDer(n).getBytes());
export const bmp = (s: string): Asn1 => asn1.create(Class.UNIVERSAL, Type.BMPSTRING, false, s);
/** [n] EXPLICIT */
export const explicit = (n: number, inner: Asn1): Asn1 => asn1.create(Class.CONTEXT_SPECIFIC, n, true, [inner]);
/** [n] IMPLICIT OCTET STRING */
export const implicitOctets = (n: number, b: Buffer): Asn1 => asn1.create(Class.CONTEXT_SPECIFIC, n, false, toBin(b));

export const der = (node: Asn1): Buffer => fromBin(asn1.toDer(node).getBytes());
// The typings only know the old boolean "strict" argument; forge 1.x takes an options object.
const fromDer = asn1.fromDer as unknown as (bytes: string, options: { strict: boolean; parseAllBytes: boolean; decodeBitStrings: boolean }) => Asn1;
/** Lenient about BER (indefinite lengths) as some PFX writers produce, strict about trailing bytes. */
export const parseDer = (b: Buffer): Asn1 => fromDer(toBin(b), { strict: false, parseAllBytes: true, decodeBitStrings: false });

export class Asn1ShapeError extends Error {}

export function children(node: Asn1 | undefined, what: string): Asn1[] {
  if (!node || !Array.isArray(node.value)) throw new Asn1ShapeError(`expected a constructed ${what}`);
  return node.value as Asn1[];
}
export function child(node: Asn1 | undefined, index: number, what: string): Asn1 {
  const c = children(node, what)[index];
  if (!c) throw new Asn1ShapeError(`missing ${what}`);
  return c;
}
export function oidOf(node: Asn1 | undefined, what: string): string {
  if (!node || node.type !== Type.OID || typeof node.value !== "string") throw new Asn1ShapeError(`expected an OID for ${what}`);
  return asn1.derToOid(node.value);
}
/** Bytes of an OCTET STRING or implicit primitive, including BER constructed (chunked) strings. */
export function bytesOf(node: Asn1 | undefined, what: string): Buffer {
  if (!node) throw new Asn1ShapeError(`missing ${what}`);
  if (typeof node.value === "string") return fromBin(node.value);
  return Buffer.concat((node.value as Asn1[]).map((c) => bytesOf(c, what)));
}
export function intOf(node: Asn1 | undefined, what: string): number {
  if (!node || node.type !== Type.INTEGER || typeof node.value !== "string") throw new Asn1ShapeError(`expected an INTEGER for ${what}`);
  return asn1.derToInteger(node.value);
}
