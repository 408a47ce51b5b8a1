import { replayDeadLetters } from '../../src/processors/services/replay.ts';
import { waitUntil } from '../harness.ts';
import { checkInvariants } from '../invariants.ts';
import { chaosRoster } from '../roster.ts';
import type { Scenario } from '../scenario.ts';
import { runInChaosEnv } from './with-env.ts';

/**
 * Remote faults during a run, injected by the simulator (lost responses) or by the fault proxy
 * in front of it (429 storm, 5xx and time-outs on HID credential creates, permanent 422s).
 */

export const lostResponses: Scenario = {
  name: 'lost-responses',
  title:
    'lost responses: 10 % of credential creates and 5 % of person creates commit but drop the connection',
  run: ({ quick, log }) =>
    runInChaosEnv(
      'lost-responses',
      { sim: { faults: { latencyMs: 2, lostResponse: { credential: 0.1, person: 0.05 } } } },
      async (env, expect) => {
        const people = quick ? 500 : 2_000;
        await env.startWorkers(3);
        const rows = chaosRoster(people);
        const run = await env.intake(rows, 'lost-responses');
        log(`lost-responses: ${people} entries enqueued`);
        const record = await env.waitForRun(run.runId, 600_000);
        const invariants = await checkInvariants(env, { rows, runIds: [run.runId] });
        const stats = env.sim.stats();
        expect(invariants.ok, `invariants: ${invariants.violations.join('; ')}`);
        expect(record.dead === 0, `${record.dead} entries dead`);
        expect(stats.faults.lostResponses > 0, 'no response was lost: the fault did not fire');
        return {
          people,
          lostResponsesInjected: stats.faults.lostResponses,
          retries: record.retries,
          doorflowRequests: stats.requestsTotal,
          writes: stats.writeCount,
          writesPerPerson: Number((stats.writeCount / people).toFixed(3)),
          invariants,
        };
      },
    ),
};

export const rateLimitStorm: Scenario = {
  name: '429-storm',
  title: 'a 429 storm (Retry-After: 10 for 60 s): zero failed jobs, the fleet pauses and resumes',
  run: ({ quick, log }) =>
    runInChaosEnv(
      '429-storm',
      { proxy: true, sim: { faults: { latencyMs: 2 } }, env: { DOORFLOW_RATE_LIMIT: '50' } },
      async (env, expect) => {
        const people = quick ? 600 : 1_500;
        const stormMs = quick ? 30_000 : 60_000;
        const proxy = env.proxy!;
        await env.startWorkers(3);
        const rows = chaosRoster(people);
        const run = await env.intake(rows, '429-storm');
        await waitUntil(async () => (await env.settled(run.runId)) >= people * 0.2, 300_000, '20 % settled');
        const stormStart = Date.now();
        proxy.configure({ stormUntil: stormStart + stormMs, stormRetryAfterSec: 10 });
        log(`429-storm: storm on for ${stormMs / 1000} s at ${await env.settled(run.runId)} settled`);
        await new Promise((r) => setTimeout(r, stormMs));
        const settledAtEnd = await env.settled(run.runId);
        log(`429-storm: storm over; ${proxy.counters.storm429} × 429 sent, ${settledAtEnd} settled`);
        const record = await env.waitForRun(run.runId, 600_000);
        const resumedAfterMs = Date.now() - stormStart - stormMs;
        const invariants = await checkInvariants(env, { rows, runIds: [run.runId] });
        expect(invariants.ok, `invariants: ${invariants.violations.join('; ')}`);
        expect(record.dead === 0, `${record.dead} entries dead (failed jobs)`);
        expect(proxy.counters.storm429 > 0, 'the storm sent no 429');
        // The fleet pauses on each Retry-After instead of hammering: a handful of 429s per pause.
        expect(
          proxy.counters.storm429 <= stormMs / 1000,
          `${proxy.counters.storm429} × 429 in ${stormMs / 1000} s: the fleet did not pause`,
        );
        return {
          people,
          stormSeconds: stormMs / 1000,
          storm429Answered: proxy.counters.storm429,
          settledWhenStormEnded: settledAtEnd,
          retries: record.retries,
          deadLetters: record.dead,
          runFinishedSecondsAfterStorm: Math.round(resumedAfterMs / 100) / 10,
          invariants,
        };
      },
    ),
};

/** Every 50th DoorFlow person id: about 2 % of the people. */
const refused = (personId: number) => personId % 50 === 7;

export const serverErrors: Scenario = {
  name: 'server-errors-422',
  title: '30 % 5xx and time-outs on HID credential creation, 2 % permanent 422s; replay completes the rest',
  run: ({ quick, log }) =>
    runInChaosEnv(
      'server-errors-422',
      { proxy: true, sim: { faults: { latencyMs: 2 } }, env: { DOORFLOW_TIMEOUT_MS: '2000' } },
      async (env, expect) => {
        const people = quick ? 600 : 2_000;
        const proxy = env.proxy!;
        proxy.configure({
          credentialServerErrorRate: 0.2,
          credentialTimeoutRate: 0.1,
          timeoutHoldMs: 3_000,
          unprocessable: refused,
        });
        await env.startWorkers(3);
        const rows = chaosRoster(people);
        const run = await env.intake(rows, 'server-errors-422');
        const first = await env.waitForRun(run.runId, 600_000);
        const refusedKeys = new Set(
          env.sim
            .people()
            .filter((p) => proxy.refusedPeople.has(p.id))
            .map((p) => `sid:${p.system_id}`),
        );
        log(`server-errors-422: first pass done, ${first.dead} dead, ${refusedKeys.size} refused people`);
        const firstPass = await checkInvariants(env, { rows, runIds: [run.runId], expectDead: refusedKeys });
        expect(firstPass.ok, `first pass invariants: ${firstPass.violations.join('; ')}`);
        const dead = await env.pipeline.deadLetters.list({ runId: run.runId });
        const oneAttempt = dead.filter((d) => d.attempts === 1 && d.httpStatus === 422).length;
        expect(dead.length === refusedKeys.size, `${dead.length} dead letters for ${refusedKeys.size} 422s`);
        expect(
          oneAttempt === dead.length,
          `${dead.length - oneAttempt} dead letters not 422-after-one-attempt`,
        );
        // The cause is fixed (e.g. the account's licences raised): replay brings the rest home.
        proxy.configure({ unprocessable: () => false });
        const replay = await replayDeadLetters(dead, {
          deadLetters: env.pipeline.deadLetters,
          queues: env.pipeline.queues,
          runs: env.pipeline.runs,
        });
        const second = await env.waitForRun(run.runId, 300_000);
        const invariants = await checkInvariants(env, { rows, runIds: [run.runId] });
        expect(invariants.ok, `after replay: ${invariants.violations.join('; ')}`);
        expect(second.dead === 0, `${second.dead} still dead after replay`);
        return {
          people,
          injected5xx: proxy.counters.credential5xx,
          injectedTimeouts: proxy.counters.credentialTimeouts,
          injected422: proxy.counters.credential422,
          deadAfterFirstPass: first.dead,
          deadLettersWithOneAttempt422: oneAttempt,
          deadLetterCodes: [...new Set(dead.map((d) => d.code))],
          replayed: replay.replayed.length,
          retries: second.retries,
          invariants,
        };
      },
    ),
};
