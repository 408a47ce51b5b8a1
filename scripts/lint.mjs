#!/usr/bin/env node
// `npm run lint`: runs every `lint:*` script of package.json in the order they are listed, each to
// the end even when an earlier one failed, so one run shows every finding; then a summary, and
// exit 1 if any failed. Run one check alone with `npm run lint:<name>`.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(fileURLToPath(new URL('.', import.meta.url)), '..');
const { scripts } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const checks = Object.entries(scripts).filter(([name]) => name.startsWith('lint:'));

// Outside `npm run` the local tools are not on PATH yet.
const bin = join(ROOT, 'node_modules', '.bin');
const path = process.env.PATH ?? '';
const env = {
  ...process.env,
  PATH: path.split(delimiter).includes(bin) ? path : `${bin}${delimiter}${path}`,
};

const results = [];
for (const [name, command] of checks) {
  console.log(`\n━━ ${name}: ${command}`);
  const started = performance.now();
  const run = spawnSync(command, { cwd: ROOT, env, shell: true, stdio: 'inherit' });
  const seconds = (performance.now() - started) / 1000;
  const ok = run.status === 0;
  results.push({ name, ok, seconds, status: run.status ?? run.signal });
}

console.log('\n━━ lint summary');
for (const { name, ok, seconds, status } of results) {
  console.log(
    `  ${ok ? 'ok  ' : 'FAIL'}  ${name.padEnd(12)} ${seconds.toFixed(1).padStart(5)} s${ok ? '' : `  (exit ${status})`}`,
  );
}
const failed = results.filter((r) => !r.ok).map((r) => r.name);
if (failed.length > 0) {
  console.log(`\n${failed.length} of ${results.length} checks failed: ${failed.join(', ')}`);
  process.exitCode = 1;
} else {
  console.log(`\nall ${results.length} checks passed`);
}
