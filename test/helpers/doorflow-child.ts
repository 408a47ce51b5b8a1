/**
 * A child process for the DoorFlow client's fleet tests: builds a real client (own Redis connection,
 * shared prefix), tells the parent it is ready over IPC, waits for `go`, then either calls
 * listPeople once (`once`) or keeps `concurrency` loops of listPeople busy for `durationMs`
 * (`loop`), and reports what happened. Run with `node --import tsx test/helpers/doorflow-child.ts '<json>'`.
 */
import { RedisKeys } from '../../src/lib/store/keys.ts';
import { Redis } from 'ioredis';
import { loadConfig } from '../../src/lib/core/config.ts';
import { createDoorFlowClient } from '../../src/lib/doorflow/client.ts';
import { DoorFlowError } from '../../src/lib/core/errors.ts';
import { silentLogger } from '../../src/lib/core/logger.ts';

export interface ChildArgs {
  env: Record<string, string>;
  redisUrl: string;
  prefix: string;
  mode: 'once' | 'loop';
  concurrency?: number;
}

export type ChildMessage =
  | { type: 'ready'; pid: number }
  | { type: 'done'; pid: number; ok: number; errors: string[]; people?: number; maxWaitMs: number };

function send(message: ChildMessage): void {
  process.send?.(message);
}

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2] ?? '{}') as ChildArgs;
  const config = loadConfig(args.env);
  const redis = new Redis(args.redisUrl, { maxRetriesPerRequest: null });
  const client = createDoorFlowClient({
    config: config.doorflow,
    redis,
    keys: new RedisKeys(args.prefix),
    logger: silentLogger(),
  });
  await redis.ping();
  const go = new Promise<{ durationMs: number }>((resolve) => {
    process.once('message', (m) => resolve(m as { durationMs: number }));
  });
  send({ type: 'ready', pid: process.pid });
  const { durationMs } = await go;
  let ok = 0;
  const errors: string[] = [];
  let people: number | undefined;
  const call = async () => {
    try {
      const page = await client.listPeople({ per_page: 1 });
      people = page.total;
      ok++;
    } catch (err) {
      errors.push(err instanceof DoorFlowError ? `${err.code}:${err.status ?? ''}` : String(err));
    }
  };
  if (args.mode === 'once') {
    await call();
  } else {
    const deadline = Date.now() + durationMs;
    const loop = async () => {
      while (Date.now() < deadline) await call();
    };
    await Promise.all(Array.from({ length: args.concurrency ?? 4 }, loop));
  }
  send({
    type: 'done',
    pid: process.pid,
    ok,
    errors,
    maxWaitMs: client.budgetStats().maxWaitMs,
    ...(people === undefined ? {} : { people }),
  });
  await client.close();
  await redis.quit();
  process.disconnect?.();
}

main().catch((err: unknown) => {
  process.stderr.write(`doorflow-child failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
  process.disconnect?.();
});
