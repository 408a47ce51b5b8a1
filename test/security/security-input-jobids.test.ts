import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeKey, stepJobId } from '../../src/lib/jobs/registry.ts';

/** Strings an attacker controls in a roster key: separators, braces, dashes, Unicode, long. */
const hostileKey = fc.oneof(
  fc.string({ maxLength: 255 }),
  fc.string({ unit: 'grapheme', maxLength: 255 }),
  fc
    .array(fc.constantFrom('-', '--', ':', '{', '}', '%', '%2D', 'r1', 'a', 'é', '🔑'), { maxLength: 40 })
    .map((parts) => parts.join('')),
);
const gen = fc.nat({ max: 5 });

describe('security: job ids from roster keys are injective (issue 14)', () => {
  it('a--r1 and a (replayed) in one run get different job ids', () => {
    expect(stepJobId('run1', 'sid:a--r1')).not.toBe(stepJobId('run1', 'sid:a', 1));
    expect(stepJobId('run1', 'a--r1')).not.toBe(stepJobId('run1', 'a', 1));
  });

  it('distinct (key, gen) pairs never share a job id, and ids never contain ":"', () => {
    fc.assert(
      fc.property(hostileKey, gen, hostileKey, gen, (k1, g1, k2, g2) => {
        const a = stepJobId('run1', k1, g1);
        const b = stepJobId('run1', k2, g2);
        expect(a).not.toContain(':');
        if (k1 !== k2 || g1 !== g2) expect(a).not.toBe(b);
      }),
      { numRuns: 2000 },
    );
  });

  it('a key that spells another key plus a replay suffix never takes its id', () => {
    fc.assert(
      fc.property(hostileKey, fc.integer({ min: 1, max: 9 }), (key, g) => {
        expect(stepJobId('run1', `${key}--r${g}`)).not.toBe(stepJobId('run1', key, g));
      }),
      { numRuns: 500 },
    );
  });

  it('encodeKey is injective and never yields the "--" separator', () => {
    fc.assert(
      fc.property(hostileKey, hostileKey, (k1, k2) => {
        const e = encodeKey(k1);
        expect(e).not.toContain('--');
        expect(e.startsWith('-') || e.endsWith('-')).toBe(false);
        expect(decodeURIComponentSafe(e)).toBe(k1);
        if (k1 !== k2) expect(e).not.toBe(encodeKey(k2));
      }),
      { numRuns: 2000 },
    );
  });

  it('keys without %, : or separator-forming dashes keep their id (no migration)', () => {
    expect(stepJobId('r1', 'email:x-y@z.z')).toBe('r1--email%3Ax-y@z.z');
    expect(encodeKey('abc-def')).toBe('abc-def');
  });
});

/** Reverses encodeKey: only `%XX` escapes are decoded (the encoder escapes `%` itself). */
function decodeURIComponentSafe(encoded: string): string {
  return encoded.replace(/%([0-9A-F]{2})/g, (_m, hex: string) =>
    String.fromCharCode(Number.parseInt(hex, 16)),
  );
}
