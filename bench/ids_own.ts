// kvq's own monotonic ULID factory as it was before src/ids.ts moved onto the `ulid` package (commit
// 04d6d1a), kept only so bench/ids.ts can compare the two.
/**
 * Job ids: ULIDs (26 Crockford base32 characters, 48-bit ms timestamp then 80 random bits) from a
 * monotonic factory, so ids sort in creation order as strings. Also a seeded random generator for
 * deterministic ids and jitter in tests.
 *
 * @module
 */

/**
 * Makes an id for the given time. Successive calls return strictly increasing strings.
 *
 * @param now The current time in ms since the epoch.
 * @returns A new id.
 */
export type IdFactory = (now: number) => string;

const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const TIME_CHARS = 10;
const RANDOM_CHARS = 16;
const MAX_TIME = 2 ** 48 - 1;

/** A random number in [0, 1) from `crypto.getRandomValues`. */
function cryptoRandom(): number {
  const buf = new Uint32Array(1);
  crypto.getRandomValues(buf);
  return buf[0]! / 2 ** 32;
}

function encodeTime(time: number): string {
  let out = "";
  for (let i = 0; i < TIME_CHARS; i++) {
    out = ALPHABET[time % 32] + out;
    time = Math.floor(time / 32);
  }
  return out;
}

/**
 * Creates a monotonic ULID factory. Ids from one factory are strictly increasing as strings: within
 * the same millisecond, and when the clock goes backwards, the factory keeps the last timestamp and
 * increments the random part by one (if the random part is exhausted, it moves the timestamp on by
 * 1 ms). A fresh random part is drawn whenever time moves forward.
 *
 * @param random A generator of numbers in [0, 1); defaults to one based on `crypto.getRandomValues`.
 *   Pass {@linkcode seededRandom} for deterministic ids.
 * @returns The factory.
 *
 * @example Make ids in order
 * ```ts
 * import { monotonicUlid, seededRandom } from "./ids.ts";
 * const nextId = monotonicUlid(seededRandom(42));
 * const a = nextId(1_700_000_000_000);
 * const b = nextId(1_700_000_000_000);
 * console.log(a < b, a.length); // true 26
 * ```
 */
export function monotonicUlid(random: () => number = cryptoRandom): IdFactory {
  let lastTime = -1;
  const digits = new Array<number>(RANDOM_CHARS).fill(0);
  const bytes = new Uint8Array(RANDOM_CHARS);
  const fresh = () => {
    if (random === cryptoRandom) {
      // One call for all digits; 256 is a multiple of 32, so `b & 31` is uniform.
      crypto.getRandomValues(bytes);
      for (let i = 0; i < RANDOM_CHARS; i++) digits[i] = bytes[i]! & 31;
      return;
    }
    for (let i = 0; i < RANDOM_CHARS; i++) {
      const r = random();
      if (!(r >= 0 && r < 1)) {
        throw new RangeError(
          `Cannot make ULID: random() must return a number in [0, 1), got ${r}`,
        );
      }
      digits[i] = Math.floor(r * 32);
    }
  };
  return (now: number): string => {
    if (
      typeof now !== "number" || !Number.isFinite(now) || now < 0 ||
      now > MAX_TIME
    ) {
      throw new RangeError(
        `Cannot make ULID: time must be a number of ms in [0, 2^48), got ${now}`,
      );
    }
    const time = Math.floor(now);
    if (time > lastTime) {
      lastTime = time;
      fresh();
    } else {
      // Same ms or clock went back: increment the random part, carrying to the left.
      let i = RANDOM_CHARS - 1;
      while (i >= 0 && digits[i] === 31) digits[i--] = 0;
      if (i >= 0) digits[i]!++;
      else {
        if (lastTime === MAX_TIME) {
          throw new RangeError("Cannot make ULID: the id space is exhausted");
        }
        lastTime++;
        fresh();
      }
    }
    let out = encodeTime(lastTime);
    for (const d of digits) out += ALPHABET[d];
    return out;
  };
}
