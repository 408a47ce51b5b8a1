import { describe, expect, it } from 'vitest';
import { ZodError } from 'zod';
import {
  DEFAULT_SIMULATOR_OPTIONS,
  mergeOptions,
  resolveOptions,
  simulatorOptionsSchema,
  simulatorPatchSchema,
} from '../../src/simulator/options.ts';
import { SeededRandom } from '../../src/simulator/prng.ts';

describe('simulator options', () => {
  it('fills in the documented defaults', () => {
    const o = resolveOptions({});
    expect(o).toMatchObject({
      host: '127.0.0.1',
      tokenLifetimeSec: 3600,
      hidCredentialTypeId: 8,
      includeInvitationCode: true,
      admin: false,
      webhook: { format: 'real' },
    });
    expect(o.accessTokens.map((t) => t.token)).toEqual(['sim-token']);
    expect(o.faults.lostResponse).toEqual({ person: 0, credential: 0 });
  });

  it('rejects unknown keys and out-of-range values, naming the field', () => {
    const bad = simulatorOptionsSchema.safeParse({ faults: { serverErrorRate: 1.5 }, licenseLimit: 3 });
    expect(bad.success).toBe(false);
    const paths = bad.error?.issues.map((i) => i.path.join('.') || i.message);
    expect(paths?.some((p) => p.includes('faults.serverErrorRate'))).toBe(true);
    expect(bad.error?.issues.some((i) => i.code === 'unrecognized_keys')).toBe(true);
    expect(() => resolveOptions({ webhook: { format: 'xml' } })).toThrow(ZodError);
    expect(simulatorPatchSchema.safeParse({ port: 1 }).success).toBe(false);
  });

  it('merges patches one level down and keeps what the patch leaves out', () => {
    const base = resolveOptions({
      faults: { latencyMs: 10, lostResponse: { person: 0.5 } },
      licenceLimit: 4,
    });
    const next = mergeOptions(
      base,
      simulatorPatchSchema.parse({ faults: { lostResponse: { credential: 0.2 } } }),
    );
    expect(next.faults).toMatchObject({ latencyMs: 10, lostResponse: { person: 0.5, credential: 0.2 } });
    expect(next.licenceLimit).toBe(4);
    const hooked = mergeOptions(base, { webhook: { url: 'http://127.0.0.1:1/hook' } });
    expect(hooked.webhook.url).toBe('http://127.0.0.1:1/hook');
    expect(mergeOptions(hooked, { webhook: { secret: 's' } }).webhook.url).toBe('http://127.0.0.1:1/hook');
    expect(mergeOptions(hooked, { webhook: { url: null } }).webhook.url).toBeUndefined();
    const tokens = mergeOptions(base, {
      accessTokens: ['a', { token: 'b', scopes: ['account.person.readonly'] }],
    });
    expect(tokens.accessTokens).toEqual([
      { token: 'a', scopes: DEFAULT_SIMULATOR_OPTIONS.accessTokens[0]?.scopes },
      { token: 'b', scopes: ['account.person.readonly'] },
    ]);
  });
});

describe('simulator PRNG', () => {
  it('is a pure function of (seed, stream, index)', () => {
    const a = new SeededRandom(7);
    const b = new SeededRandom(7);
    const draws = (r: SeededRandom) => Array.from({ length: 100 }, (_, i) => r.float('serverError', i));
    expect(draws(a)).toEqual(draws(b));
    // Drawing from another stream in between changes nothing.
    a.float('jitter', 3);
    expect(a.float('serverError', 50)).toBe(b.float('serverError', 50));
    expect(draws(new SeededRandom(8))).not.toEqual(draws(a));
    expect(a.float('serverError', 1)).not.toBe(a.float('lostResponse', 1));
  });

  it('chance() hits close to the asked rate; 0 never, 1 always', () => {
    const r = new SeededRandom(123);
    let hits = 0;
    for (let i = 0; i < 10_000; i++) if (r.chance('hidOrigo', i, 0.2)) hits++;
    expect(hits).toBeGreaterThan(1800);
    expect(hits).toBeLessThan(2200);
    expect(Array.from({ length: 100 }, (_, i) => r.chance('slow', i, 0)).some(Boolean)).toBe(false);
    expect(Array.from({ length: 100 }, (_, i) => r.chance('slow', i, 1)).every(Boolean)).toBe(true);
  });

  it('shuffle() permutes deterministically', () => {
    const r = new SeededRandom(5);
    const items = Array.from({ length: 20 }, (_, i) => i);
    const s1 = r.shuffle('webhookReorder', 1, items);
    expect([...s1].sort((x, y) => x - y)).toEqual(items);
    expect(s1).toEqual(new SeededRandom(5).shuffle('webhookReorder', 1, items));
    expect(s1).not.toEqual(items);
  });
});
