/**
 * Seeded randomness. Every draw is a pure function of (seed, stream, index): the fault decided for
 * the n-th request depends only on the seed and n, never on how many draws other code made before.
 * So the same seed and the same request sequence put faults on the same requests, even when the
 * fault configuration changes in between or handlers draw different numbers of values.
 */

/** Named streams keep unrelated decisions independent. */
export type PrngStream =
  | 'serverError'
  | 'lostResponse'
  | 'hidOrigo'
  | 'hidOrigoStatus'
  | 'slow'
  | 'jitter'
  | 'code'
  | 'hashid'
  | 'webhookBadSignature'
  | 'webhookDuplicate'
  | 'webhookReorder'
  | 'ackToken';

const STREAM_SALT: Record<PrngStream, number> = {
  serverError: 0x9e3779b1,
  lostResponse: 0x85ebca77,
  hidOrigo: 0xc2b2ae3d,
  hidOrigoStatus: 0x27d4eb2f,
  slow: 0x165667b1,
  jitter: 0xd3a2646c,
  code: 0xfd7046c5,
  hashid: 0xb55a4f09,
  webhookBadSignature: 0x1b873593,
  webhookDuplicate: 0xcc9e2d51,
  webhookReorder: 0xe6546b64,
  ackToken: 0x2545f491,
};

/** murmur3's 32-bit finaliser: a good avalanche on a 32-bit word. */
function fmix32(h: number): number {
  let x = h >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

/** A 32-bit hash of (seed, stream, index, sub). */
function hash32(seed: number, stream: PrngStream, index: number, sub = 0): number {
  let h = fmix32(seed ^ STREAM_SALT[stream]);
  h = fmix32(h ^ (index >>> 0));
  h = fmix32(h ^ Math.floor(index / 0x1_0000_0000));
  return fmix32(h ^ sub);
}

export class SeededRandom {
  constructor(readonly seed: number) {}

  /** A float in [0, 1) for draw `index` of `stream` (optionally the `sub`-th value of that draw). */
  float(stream: PrngStream, index: number, sub = 0): number {
    return hash32(this.seed, stream, index, sub) / 0x1_0000_0000;
  }

  /** true with probability `p`. A rate of 0 never fires and 1 always does. */
  chance(stream: PrngStream, index: number, p: number): boolean {
    if (p <= 0) return false;
    if (p >= 1) return true;
    return this.float(stream, index) < p;
  }

  /** An integer in [0, n). */
  int(stream: PrngStream, index: number, n: number, sub = 0): number {
    return Math.floor(this.float(stream, index, sub) * n);
  }

  /** `length` characters from `alphabet`. */
  string(stream: PrngStream, index: number, length: number, alphabet: string): string {
    let out = '';
    for (let i = 0; i < length; i++) out += alphabet[this.int(stream, index, alphabet.length, i)];
    return out;
  }

  /** A seeded Fisher–Yates shuffle (returns a new array). */
  shuffle<T>(stream: PrngStream, index: number, items: readonly T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(stream, index, i + 1, i);
      const tmp = out[i] as T;
      out[i] = out[j] as T;
      out[j] = tmp;
    }
    return out;
  }
}
