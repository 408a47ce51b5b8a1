import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { loadConfig } from '../lib/core/config.ts';
import { generateKey } from '../lib/core/crypto.ts';
import { createLogger } from '../lib/core/logger.ts';
import { plural } from '../lib/core/plural.ts';
import { startEmbeddedRedis } from '../lib/core/redis.ts';
import { startWorkers } from '../processors/worker.ts';
import { readRosterCsv } from '../producers/sources/csv-minimal.ts';
import { intake } from '../producers/intake.ts';
import { startSimulator } from '../simulator/index.ts';
import { startDeliveryReceiver } from './demo-receiver.ts';
import { EXIT } from './exit-codes.ts';
import { buildPipeline } from '../app/pipeline.ts';
import { buildRunView, formatRunView } from './run-summary.ts';

const SAMPLE = fileURLToPath(new URL('../../examples/roster.csv', import.meta.url));

/**
 * `demo`: the whole pipeline on one machine, nothing faked in our code. A private redis-server, the
 * DoorFlow simulator with faults on (HID Origo 5xx, lost responses, latency, a rate limit above our
 * budget), in-process workers, a sample roster, and webhook delivery into a local receiver that
 * checks every signature. Prints the run summary and what the simulator and receiver counted.
 */
export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('Run the pipeline end to end against a local DoorFlow simulator with faults on')
    .option('--file <csv>', 'roster CSV (system_id,first_name,last_name,email,mobile)', SAMPLE)
    .option('--no-faults', 'turn the injected faults off')
    .action(async (options: { file: string; faults: boolean }) => {
      const logger = createLogger({ level: 'warn' });
      const redis = await startEmbeddedRedis();
      const faults = options.faults
        ? {
            rateLimitPerSec: 25,
            latencyMs: 20,
            jitterMs: 40,
            hidOrigoFailureRate: 0.2,
            lostResponse: { person: 0.05, credential: 0.05 },
          }
        : {};
      const sim = await startSimulator({ seed: Date.now() % 100_000, invitationCodeDelayMs: 300, faults });
      const secret = generateKey().toString('hex');
      const receiver = await startDeliveryReceiver({ secret });
      const config = loadConfig({
        REDIS_URL: redis.url,
        QUEUE_PREFIX: '{demo}',
        LOG_LEVEL: 'warn',
        DOORFLOW_BASE_URL: sim.url,
        DOORFLOW_ACCESS_TOKEN: sim.accessToken,
        DOORFLOW_RATE_LIMIT: '20',
        ENCRYPTION_KEY: generateKey().toString('hex'),
        DELIVERY_DEFAULT: 'webhook',
        DELIVERY_WEBHOOK_URL: receiver.url,
        DELIVERY_WEBHOOK_SECRET: secret,
        JOB_BACKOFF_MS: '200',
        JOB_BACKOFF_MAX_MS: '2000',
        INVITATION_WAIT_MAX: '30s',
      });
      const pipeline = buildPipeline(config, { redis: redis.url, logger });
      const workers = await startWorkers(pipeline.processorDeps(), {
        connection: pipeline.workerConnection(),
        lockDurationMs: 10_000,
      });
      let interrupted = false;
      const onSignal = () => {
        interrupted = true;
      };
      process.once('SIGINT', onSignal);
      try {
        console.log(
          `DoorFlow simulator ${sim.url} (faults ${options.faults ? 'on' : 'off'}), redis ${redis.url}`,
        );
        console.log(`delivery webhook receiver ${receiver.url} (verifies X-Provisioner-Signature)`);
        const run = await intake(
          pipeline.intakeDeps(true),
          { source: `demo:${options.file}`, delivery: 'webhook' },
          readRosterCsv(options.file),
        );
        console.log(
          `run ${run.runId}: ${run.accepted} queued, ${plural(run.duplicates, 'duplicate key')} skipped, ${run.rejected.length} rejected`,
        );
        const deadline = Date.now() + 5 * 60_000;
        for (;;) {
          const record = await pipeline.runs.get(run.runId);
          if (record?.finishedAt !== undefined || interrupted || Date.now() > deadline) break;
          await new Promise((r) => setTimeout(r, 250));
        }
        const view = await buildRunView(pipeline, run.runId);
        if (view) console.log(`\n${formatRunView(view)}`);
        const stats = sim.stats();
        console.log('\nWhat the simulator saw:');
        console.log(`  people ${stats.people}, credentials ${JSON.stringify(stats.credentials)}`);
        console.log(`  duplicates ${JSON.stringify(stats.duplicates)}`);
        console.log(
          `  requests ${stats.requestsTotal} (writes ${stats.writeCount}), 429s ${stats.rateLimited429}, max in any second ${stats.maxRequestsInAnySecond}`,
        );
        console.log(`  injected faults ${JSON.stringify(stats.faults)}`);
        console.log('What the receiver saw:');
        console.log(
          `  ${receiver.accepted.length} verified deliveries, ${receiver.rejected()} bad signatures, ${receiver.repeats()} repeats dropped`,
        );
        if (!view?.run.finishedAt) console.log('\nThe run did not finish (interrupted or timed out).');
        process.exitCode = view?.succeeded ? EXIT.ok : EXIT.failure;
      } finally {
        process.off('SIGINT', onSignal);
        await workers.close();
        await pipeline.close();
        await receiver.close();
        await sim.close();
        await redis.stop();
      }
    });
}
