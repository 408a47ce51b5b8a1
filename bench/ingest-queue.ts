import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { round } from './common.ts';
import { queuePass, writeRoster } from './ingest.ts';

/**
 * Diagnostic: only the "into the queue" pass of benchmark 5 (`npx tsx bench/ingest-queue.ts
 * [rows] [--cpu-prof]`): rows/s, peak RSS, Redis bytes per waiting entry by key family and Redis
 * commands per entry; with `--cpu-prof`, the import's hottest functions by self time.
 */

const rows = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 100_000);
const profile = process.argv.includes('--cpu-prof');
/** `--node-arg=FLAG`: more node flags for the import (e.g. `--node-arg=--max-semi-space-size=8`). */
const extra = process.argv
  .filter((a) => a.startsWith('--node-arg='))
  .map((a) => a.slice('--node-arg='.length));
const dir = await mkdtemp(join(tmpdir(), 'dfp-ingest-queue-'));
try {
  const file = join(dir, 'roster.csv');
  await writeRoster(file, rows);
  const profDir = join(dir, 'prof');
  const { real, bytesPerEntry, families, calls } = await queuePass(file, rows, [
    ...extra,
    ...(profile ? ['--cpu-prof', '--cpu-prof-dir', profDir] : []),
  ]);
  console.log(
    JSON.stringify(
      {
        rows,
        seconds: real.seconds,
        rowsPerSecond: round(rows / real.seconds, 0),
        peakRssMb: round(real.peakRssMb, 1),
        bytesPerEntry: round(bytesPerEntry, 0),
        families,
        calls,
      },
      null,
      2,
    ),
  );
  if (profile)
    for (const name of await readdir(profDir)) printHotSpots(await readFile(join(profDir, name), 'utf8'));
} finally {
  await rm(dir, { recursive: true, force: true });
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

/** Self time per function (V8 `.cpuprofile`: samples name nodes, timeDeltas space them). */
function printHotSpots(text: string): void {
  const prof = JSON.parse(text) as { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] };
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let total = 0;
  prof.samples.forEach((id, i) => {
    const frame = byId.get(id)?.callFrame;
    const where = frame
      ? `${frame.functionName || '(anonymous)'} ${frame.url.split('/').slice(-2).join('/')}:${frame.lineNumber + 1}`
      : '?';
    const dt = prof.timeDeltas[i] ?? 0;
    self.set(where, (self.get(where) ?? 0) + dt);
    total += dt;
  });
  const top = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 30);
  for (const [where, us] of top)
    console.log(
      `${round((100 * us) / total, 1)
        .toFixed(1)
        .padStart(5)} %  ${where}`,
    );
}
