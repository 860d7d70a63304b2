/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), table-driven slicing-by-8. The file
 * store's record checksum: it detects every burst error of up to 32 bits, so every single flipped
 * bit or byte in a record.
 *
 * @module
 */

const TABLES: Uint32Array = (() => {
  const t = new Uint32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[n];
    for (let k = 1; k < 8; k++) {
      c = t[c & 0xff] ^ (c >>> 8);
      t[k * 256 + n] = c >>> 0;
    }
  }
  return t;
})();

/**
 * Continues a CRC-32C over `bytes[start, end)`. Start with `crc = 0`; feeding data in pieces
 * gives the same result as feeding it at once.
 *
 * @param crc The CRC of the data so far (`0` for none).
 * @param bytes The data.
 * @param start First byte to include. @default 0
 * @param end One past the last byte to include. @default bytes.length
 * @returns The CRC-32C of everything fed so far, as an unsigned 32-bit integer.
 *
 * @example Check value of "123456789"
 * ```ts
 * import { crc32c } from "./crc32c.ts";
 * console.log(crc32c(0, new TextEncoder().encode("123456789")).toString(16)); // "e3069283"
 * ```
 */
export function crc32c(crc: number, bytes: Uint8Array, start = 0, end: number = bytes.length): number {
  const t = TABLES;
  let c = ~crc;
  let i = start;
  // Byte at a time until 8 bytes remain aligned to the loop, then 8 at a time.
  const stop8 = end - ((end - i) & 7);
  while (i < stop8) {
    const lo = c ^ (bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24));
    c = t[7 * 256 + (lo & 0xff)] ^ t[6 * 256 + ((lo >>> 8) & 0xff)] ^ t[5 * 256 + ((lo >>> 16) & 0xff)] ^
      t[4 * 256 + (lo >>> 24)] ^ t[3 * 256 + bytes[i + 4]] ^ t[2 * 256 + bytes[i + 5]] ^
      t[256 + bytes[i + 6]] ^ t[bytes[i + 7]];
    i += 8;
  }
  while (i < end) c = t[(c ^ bytes[i++]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}
