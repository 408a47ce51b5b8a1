import pLimit from 'p-limit';
import { type PeerArgs, type PeerResult, peerClient, provisionOne, runPeer } from './peer-client.ts';

/** Peer 2: the usual "make it fast" script — p-limit(50) over every person, no queue, no state. */
async function limited(args: PeerArgs): Promise<PeerResult> {
  let retries = 0;
  const http = peerClient(args, () => retries++);
  const limit = pLimit(args.concurrency ?? 50);
  let provisioned = 0;
  let failed = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: args.people }, (_, i) =>
      limit(async () => {
        try {
          await provisionOne(http, args, i);
          provisioned++;
        } catch {
          failed++;
        }
      }),
    ),
  );
  const seconds = (performance.now() - started) / 1000;
  return {
    people: args.people,
    provisioned,
    failed,
    seconds,
    peoplePerSecond: args.people / seconds,
    retries,
  };
}

runPeer(limited);
