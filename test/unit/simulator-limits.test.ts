import { describe, expect, it } from 'vitest';
import { FaultEngine } from '../../src/simulator/faults.ts';
import { resolveOptions, type SimulatorOptionsInput } from '../../src/simulator/options.ts';
import { SeededRandom } from '../../src/simulator/prng.ts';
import { RequestStats } from '../../src/simulator/stats.ts';

function engine(input: SimulatorOptionsInput) {
  const options = resolveOptions(input);
  return new FaultEngine(
    () => options.faults,
    () => new SeededRandom(options.seed),
  );
}

describe('simulator rate limit (sliding 1 s window)', () => {
  it('admits N per sliding second and tells how long to wait', () => {
    const f = engine({ faults: { rateLimitPerSec: 3 } });
    expect([0, 100, 200].map((t) => f.rateLimit(t).limited)).toEqual([false, false, false]);
    expect(f.rateLimit(300)).toEqual({ limited: true, retryInSec: 1 });
    // Rejected requests do not use up the window: at 1000 ms the first admission has left it.
    expect(f.rateLimit(999).limited).toBe(true);
    expect(f.rateLimit(1000).limited).toBe(false);
    expect(f.rateLimit(1050).limited).toBe(true);
    expect(f.rateLimit(1100).limited).toBe(false);
  });

  it('rates below 1/s space requests 1/rate seconds apart; 0 means unlimited', () => {
    const slow = engine({ faults: { rateLimitPerSec: 0.5 } });
    expect(slow.rateLimit(0).limited).toBe(false);
    expect(slow.rateLimit(1500)).toEqual({ limited: true, retryInSec: 1 });
    expect(slow.rateLimit(2000).limited).toBe(false);
    const open = engine({});
    for (let i = 0; i < 10_000; i++) expect(open.rateLimit(0).limited).toBe(false);
  });
});

describe('simulator request stats', () => {
  it('tracks the most requests seen in any sliding second and counts writes', () => {
    const s = new RequestStats();
    for (let t = 0; t < 3000; t += 100) s.arrival(t, 'GET');
    expect(s.maxInAnySecond).toBe(10);
    for (let i = 0; i < 25; i++) s.arrival(5000 + i, i % 2 ? 'POST' : 'GET');
    expect(s.maxInAnySecond).toBe(25);
    expect(s.writeCount).toBe(12);
    s.record('GET /x', 429);
    s.record('GET /x', 200);
    s.record('POST /y', 'lost');
    expect(s.rateLimited429).toBe(1);
    expect(Object.fromEntries(s.byRoute.get('GET /x') ?? [])).toEqual({ 200: 1, 429: 1 });
    expect(s.total).toBe(3);
  });
});
