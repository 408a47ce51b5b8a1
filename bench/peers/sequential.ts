import { type PeerArgs, type PeerResult, peerClient, provisionOne, runPeer } from './peer-client.ts';

/** Peer 1: the naive script — one person after another, three calls each, no queue. */
async function sequential(args: PeerArgs): Promise<PeerResult> {
  let retries = 0;
  const http = peerClient(args, () => retries++);
  let provisioned = 0;
  let failed = 0;
  const started = performance.now();
  for (let i = 0; i < args.people; i++) {
    try {
      await provisionOne(http, args, i);
      provisioned++;
    } catch {
      failed++;
    }
  }
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

runPeer(sequential);
