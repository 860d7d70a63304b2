/**
 * Many byte strings as two parameters: the bytes end to end (one `bytea`) and their lengths (an
 * `int4[]` literal); the server cuts them apart (`./sql.ts`). Postgres.js writes every parameter
 * as text, so a `bytea[]` costs a copy, a hex string, two escaping passes and quotes per element;
 * a packed one costs one copy of the bytes and one hex pass over all of them.
 *
 * @module
 */

/**
 * Collects byte strings, as bytes or as binary strings (one byte per char, as
 * `encodeKeyBinary` makes them), and packs them.
 *
 * @example
 * ```ts
 * import { Packer } from "./pack.ts";
 * const p = new Packer();
 * p.add(new Uint8Array([1, 2]));
 * p.add("\x03");
 * const { blob, lens } = p.pack();
 * console.log(blob, lens, p.count); // Uint8Array(3) [ 1, 2, 3 ] "{2,1}" 2
 * ```
 */
export class Packer {
  #parts: (Uint8Array | string)[] = [];
  #lens: number[] = [];
  #size = 0;

  /** How many byte strings were added. */
  get count(): number {
    return this.#parts.length;
  }

  /** Adds one byte string: bytes, or a binary string (char code = byte). */
  add(part: Uint8Array | string): void {
    this.#parts.push(part);
    this.#lens.push(part.length);
    this.#size += part.length;
  }

  /** The parts end to end, and their lengths as an `int4[]` literal such as `{2,1}`. */
  pack(): { blob: Uint8Array; lens: string } {
    const blob = new Uint8Array(this.#size);
    let at = 0;
    for (const part of this.#parts) {
      if (typeof part === "string") {
        for (let i = 0; i < part.length; i++) blob[at++] = part.charCodeAt(i);
      } else {
        blob.set(part, at);
        at += part.length;
      }
    }
    return { blob, lens: `{${this.#lens.join(",")}}` };
  }
}

/**
 * An `int8[]` literal of decimal strings and nulls, e.g. `{12,NULL}`: what Postgres.js would
 * build for an array, without quoting every element.
 *
 * @example
 * ```ts
 * import { int8Array } from "./pack.ts";
 * console.log(int8Array(["12", null])); // "{12,NULL}"
 * ```
 */
export function int8Array(values: readonly (string | null)[]): string {
  let s = "{";
  for (let i = 0; i < values.length; i++) s += (i ? "," : "") + (values[i] ?? "NULL");
  return s + "}";
}
