#!/usr/bin/env node
// Runs the TypeScript sources directly through tsx's loader, so a fresh clone needs no build step.
// A built copy (npm run build → dist/) is used when present and not older than the sources: a
// stale dist/ would silently run yesterday's code, so then the sources run instead, with a
// warning on stderr (or, where tsx is not installed, the command refuses to start).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const built = join(root, 'dist', 'cli', 'index.js');
const sources = join(root, 'src');

/** The newest modification time (ms) of the files under `dir` with one of `endings` (0 if none). */
function newestMtime(dir, endings) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(path, endings));
    else if (endings.some((e) => entry.name.endsWith(e))) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

function distIsStale() {
  if (!existsSync(sources)) return false; // an installed package ships dist/ only
  return newestMtime(sources, ['.ts']) > newestMtime(join(root, 'dist'), ['.js']);
}

async function runSources() {
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(join(sources, 'cli', 'index.ts')).href);
}

if (existsSync(built) && process.env.DFP_USE_SOURCE !== '1') {
  if (!distIsStale()) {
    await import(pathToFileURL(built).href);
  } else {
    let tsx = true;
    try {
      await import('tsx/esm/api');
    } catch {
      tsx = false;
    }
    if (!tsx) {
      process.stderr.write(
        'error: dist/ is older than src/ and tsx is not installed to run the sources: run `npm run build`\n',
      );
      process.exit(1);
    }
    process.stderr.write(
      'warning: dist/ is older than src/: running the sources instead (run `npm run build` to use dist/ again)\n',
    );
    await runSources();
  }
} else {
  await runSources();
}
