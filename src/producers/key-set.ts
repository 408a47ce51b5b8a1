/**
 * A compact "seen keys" table for deduplicating millions of roster keys in flat memory.
 *
 * A `Map<string, number>` of 1,000,000 keys costs ~200 MB of V8 heap (strings, table, rehash
 * copies). This table keeps only a 64-bit hash and the first line per key in typed arrays
 * (12 bytes a slot, load ≤ 0.5: ~24 MB for a million). Two different keys share a 64-bit hash
 * with probability about n²/2⁶⁵ (3·10⁻⁸ for a million keys); if that ever happened, the later row
 * would be *reported* as a duplicate with the first one's line — visible, never silent.
 */
export class KeySet {
  private h1: Uint32Array;
  private h2: Uint32Array;
  private lines: Uint32Array;
  private used: Uint8Array;
  private mask: number;
  private count = 0;

  constructor(initialCapacity = 1 << 12) {
    let capacity = 16;
    while (capacity < initialCapacity) capacity <<= 1;
    this.h1 = new Uint32Array(0);
    this.h2 = new Uint32Array(0);
    this.lines = new Uint32Array(0);
    this.used = new Uint8Array(0);
    this.mask = 0;
    this.allocate(capacity);
  }

  /** Fresh, empty tables of `capacity` slots (a power of two). */
  private allocate(capacity: number): void {
    this.h1 = new Uint32Array(capacity);
    this.h2 = new Uint32Array(capacity);
    this.lines = new Uint32Array(capacity);
    this.used = new Uint8Array(capacity);
    this.mask = capacity - 1;
  }

  get size(): number {
    return this.count;
  }

  /**
   * Records `key` first seen on `line`. Returns `undefined` when the key is new, else the line it
   * was first seen on (0 when unknown).
   */
  addOrGet(key: string, line: number): number | undefined {
    // cyrb53-style mixing: two independent 32-bit lanes.
    let a = 0xdeadbeef;
    let b = 0x41c6ce57;
    for (let i = 0; i < key.length; i += 1) {
      const c = key.charCodeAt(i);
      a = Math.imul(a ^ c, 2654435761);
      b = Math.imul(b ^ c, 1597334677);
    }
    a = Math.imul(a ^ (a >>> 16), 2246822507) ^ Math.imul(b ^ (b >>> 13), 3266489909);
    b = Math.imul(b ^ (b >>> 16), 2246822507) ^ Math.imul(a ^ (a >>> 13), 3266489909);
    const x = a >>> 0;
    const y = b >>> 0;
    let slot = (x ^ Math.imul(y, 0x9e3779b1)) & this.mask;
    while (this.used[slot] === 1) {
      if (this.h1[slot] === x && this.h2[slot] === y) return this.lines[slot];
      slot = (slot + 1) & this.mask;
    }
    this.used[slot] = 1;
    this.h1[slot] = x;
    this.h2[slot] = y;
    this.lines[slot] = line;
    this.count += 1;
    if (this.count * 2 > this.mask + 1) this.grow();
    return undefined;
  }

  private grow(): void {
    const { h1, h2, lines, used } = this;
    this.allocate((this.mask + 1) * 2);
    for (let i = 0; i < used.length; i += 1) {
      if (used[i] !== 1) continue;
      const x = h1[i]!;
      const y = h2[i]!;
      let slot = (x ^ Math.imul(y, 0x9e3779b1)) & this.mask;
      while (this.used[slot] === 1) slot = (slot + 1) & this.mask;
      this.used[slot] = 1;
      this.h1[slot] = x;
      this.h2[slot] = y;
      this.lines[slot] = lines[i]!;
    }
  }
}
