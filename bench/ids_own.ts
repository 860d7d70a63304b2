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

/**
 * Creates a seeded pseudo-random generator (mulberry32): the same seed gives the same sequence on
 * every runtime. Not for secrets.
 *
 * @param seed Any number; only its low 32 bits are used.
 * @returns A function returning numbers in [0, 1).
 *
 * @example Deterministic sequence
 * ```ts
 * import { seededRandom } from "./ids.ts";
 * const a = seededRandom(7), b = seededRandom(7);
 * console.log(a() === b()); // true
 * ```
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ULID_PATTERN = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/;

/**
 * Tells whether a string is a well-formed ULID (26 upper-case Crockford base32 characters whose
 * timestamp fits 48 bits).
 *
 * @param id The string to test.
 * @returns `true` for a ULID.
 *
 * @example
 * ```ts
 * import { isUlid } from "./ids.ts";
 * console.log(isUlid("01ARZ3NDEKTSV4RRFFQ69G5FAV"), isUlid("job-1")); // true false
 * ```
 */
export function isUlid(id: string): boolean {
  return typeof id === "string" && ULID_PATTERN.test(id);
}

/**
 * Extracts the ms timestamp of a ULID.
 *
 * @param id A ULID.
 * @returns Its time in ms since the epoch.
 * @throws {TypeError} When `id` is not a ULID.
 *
 * @example Read the time of an id
 * ```ts
 * import { monotonicUlid, ulidTime } from "./ids.ts";
 * console.log(ulidTime(monotonicUlid()(1_700_000_000_000))); // 1700000000000
 * ```
 */
export function ulidTime(id: string): number {
  if (!isUlid(id)) {
    throw new TypeError(
      `Cannot read ULID time: ${JSON.stringify(id)} is not a 26-character ULID`,
    );
  }
  let time = 0;
  for (let i = 0; i < TIME_CHARS; i++) {
    time = time * 32 + ALPHABET.indexOf(id[i]!);
  }
  return time;
}
