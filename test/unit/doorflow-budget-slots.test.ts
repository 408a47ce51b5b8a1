import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { batchSlots } from '../../src/lib/doorflow/budget-slots.ts';

/**
 * Multi-slot bookings (src/lib/doorflow/budget-slots.ts): property-style over random schedules.
 * The reserve script starts a booking at max(its booked-up-to time, now, the end of a pause) and
 * moves the booked-up-to time by count × interval; `book` below is that rule, and the integration
 * test (doorflow-budget.test.ts) checks the real script against the same invariant.
 */

/** The most times in any half-open window (t - windowUs, t], as the server counts the last second. */
function maxInAnyWindow(times: readonly number[], windowUs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let most = 0;
  let head = 0;
  for (let i = 0; i < sorted.length; i++) {
    while ((sorted[head] as number) <= (sorted[i] as number) - windowUs) head++;
    most = Math.max(most, i - head + 1);
  }
  return most;
}

const booking = fc.record({
  gapUs: fc.integer({ min: 0, max: 400_000 }),
  count: fc.integer({ min: 1, max: 60 }),
  pauseUs: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 2_000_000 })),
});

describe('multi-slot bookings', () => {
  it('never put more than floor(R) slots in any sliding second, whatever the batches and pauses', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 200 }),
        fc.double({ min: 0.5, max: 1, noNaN: true }),
        fc.array(booking, { minLength: 1, maxLength: 40 }),
        (rate, headroom, bookings) => {
          const intervalUs = Math.ceil(1_000_000 / (rate * headroom));
          let now = 0;
          let tat = 0;
          const times: number[] = [];
          for (const b of bookings) {
            now += b.gapUs;
            const pauseEnd = b.pauseUs > 0 ? now + b.pauseUs : 0;
            const start = Math.max(tat, now, pauseEnd);
            const slots = batchSlots(
              { waitUs: start - now, paused: pauseEnd > Math.max(tat, now), startUs: start },
              intervalUs,
              b.count,
            );
            expect(slots).toHaveLength(b.count);
            for (const s of slots) {
              expect(s.atUs - s.waitUs).toBe(now);
              times.push(s.atUs);
            }
            tat = start + b.count * intervalUs;
          }
          expect(maxInAnyWindow(times, 1_000_000)).toBeLessThanOrEqual(Math.max(1, Math.floor(rate)));
          const sorted = [...times].sort((a, b) => a - b);
          for (let i = 1; i < sorted.length; i++) {
            expect((sorted[i] as number) - (sorted[i - 1] as number)).toBeGreaterThanOrEqual(intervalUs);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('spreads one booking one interval apart from its first slot, never before now', () => {
    const slots = batchSlots({ waitUs: -5, paused: true, startUs: 1_000 }, 20_000, 3);
    expect(slots).toEqual([
      { waitUs: 0, paused: true, atUs: 1_000 },
      { waitUs: 20_000, paused: true, atUs: 21_000 },
      { waitUs: 40_000, paused: true, atUs: 41_000 },
    ]);
    expect(batchSlots({ waitUs: 0, paused: false, startUs: 0 }, 1, 0)).toEqual([]);
  });
});
