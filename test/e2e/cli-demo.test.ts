import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.ts';

describe('cli: demo', () => {
  it('runs end to end with faults on and reports what really happened', async () => {
    const res = await runCli(['demo'], {}, 150_000);
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/20 queued, 1 duplicate key skipped, 0 rejected/);
    expect(res.stdout).toMatch(/finished: all provisioned/);
    expect(res.stdout).toMatch(/provisioned\s+20/);
    expect(res.stdout).toMatch(/people 20, credentials \{"invited":20\}/);
    expect(res.stdout).toMatch(
      /duplicates \{"peopleBySystemId":0,"peopleByEmail":0,"liveHidCredentials":0\}/,
    );
    expect(res.stdout).toMatch(/20 verified deliveries, 0 bad signatures/);
    expect(res.stdout).not.toMatch(/[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}/);
  }, 180_000);
});
