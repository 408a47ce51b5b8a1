#!/usr/bin/env node
// The Dockerfile's build, without a Docker engine (CI has none): reads the Dockerfile, replays each
// stage's WORKDIR / ENV / COPY / RUN in a scratch folder that stands in for the stage's file system
// (the build context filtered by .dockerignore), then checks the last stage as the image would run:
// no dev dependency and no source left, its ENTRYPOINT + CMD (`--help`) works, and the pruned CLI
// runs the stack for real — the simulator, a worker and `serve` on a private redis-server — with
// the Dockerfile's HEALTHCHECK passing against that serve and failing once it stops. Because the
// steps come from the Dockerfile itself, a step that stops working fails here.
// Plain Node, no dependencies: `node scripts/docker-build-steps.mjs [--keep]` (part of `.ci/run`).
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, delimiter, dirname, isAbsolute, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(fileURLToPath(new URL('.', import.meta.url)), '..');
const KEEP = process.argv.includes('--keep');
const STEP_TIMEOUT_MS = 15 * 60_000;
const START_TIMEOUT_MS = 90_000;

/** Stops the replay; `main` prints the message, stops what was started and exits 1. */
function fail(message) {
  throw new Error(message);
}

/** Dockerfile → instructions `{ line, op, args }`, continuations joined, comments dropped. */
function parseDockerfile(text) {
  const out = [];
  let pending = '';
  let startLine = 0;
  text.split('\n').forEach((raw, index) => {
    const line = raw.trimEnd();
    if (pending === '' && (line.trim() === '' || line.trim().startsWith('#'))) return;
    if (pending === '') startLine = index + 1;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      return;
    }
    const full = (pending + line).trim();
    pending = '';
    const match = /^(\w+)\s+(.*)$/s.exec(full);
    if (!match) throw new Error(`Dockerfile:${startLine}: cannot read "${full}"`);
    out.push({ line: startLine, op: match[1].toUpperCase(), args: match[2].trim() });
  });
  return out;
}

/** `["a", "b"]` (exec form) → array; shell form → `['sh', '-c', text]`. */
function commandOf(args) {
  if (args.startsWith('[')) return JSON.parse(args);
  return ['sh', '-c', args];
}

/** .dockerignore patterns → a predicate over context-relative paths (a match covers what is under it). */
function ignoreMatcher(text) {
  const rules = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!');
      const pattern = (negate ? l.slice(1) : l).replace(/^\/+|\/+$/g, '');
      const source = pattern
        .split('')
        .map((c, i, all) => {
          if (c === '*') return all[i + 1] === '*' ? '' : all[i - 1] === '*' ? '.*' : '[^/]*';
          if (c === '?') return '[^/]';
          return /[\\^$.|+(){}[\]]/.test(c) ? `\\${c}` : c;
        })
        .join('');
      return { negate, regex: new RegExp(`^${source}(/.*)?$`) };
    });
  return (path) => {
    let ignored = false;
    for (const rule of rules) if (rule.regex.test(path)) ignored = !rule.negate;
    return ignored;
  };
}

/** Splits `--flag=value` options off a COPY's arguments. */
function copyArgs(args) {
  const words = args.split(/\s+/);
  const flags = {};
  while (words[0]?.startsWith('--')) {
    const [name, value] = words.shift().slice(2).split('=');
    flags[name] = value;
  }
  if (words.length < 2) throw new Error(`COPY needs a source and a destination: ${args}`);
  return { flags, sources: words.slice(0, -1), dest: words[words.length - 1] };
}

/** `ENV A=1 B="two words"` → entries. */
function envArgs(args) {
  const out = {};
  for (const m of args.matchAll(/(\w+)=("([^"]*)"|(\S*))/g)) out[m[1]] = m[3] ?? m[4];
  if (Object.keys(out).length === 0) throw new Error(`ENV expects KEY=value: ${args}`);
  return out;
}

/** PATH without any node_modules/.bin (the repository's tools must not leak into the image). */
function cleanPath() {
  return (process.env.PATH ?? '')
    .split(delimiter)
    .filter((p) => !p.includes('node_modules'))
    .join(delimiter);
}

function hostEnv(extra) {
  return { PATH: cleanPath(), HOME: process.env.HOME ?? tmpdir(), ...extra };
}

function run(command, cwd, env, what) {
  console.log(`\n━━ ${what}: ${command.join(' ')}`);
  const started = performance.now();
  const result = spawnSync(command[0], command.slice(1), {
    cwd,
    env,
    stdio: 'inherit',
    timeout: STEP_TIMEOUT_MS,
  });
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  if (result.status !== 0) fail(`${what} failed (exit ${result.status ?? result.signal}) after ${seconds} s`);
  console.log(`   ok in ${seconds} s`);
}

/** Replays every stage; returns the last one (its root, workdir, env, user, entrypoint, cmd, healthcheck). */
function build(instructions, scratch) {
  const ignored = ignoreMatcher(
    existsSync(join(ROOT, '.dockerignore')) ? readFileSync(join(ROOT, '.dockerignore'), 'utf8') : '',
  );
  const stages = [];
  let stage;
  const inStage = (path) => join(stage.root, isAbsolute(path) ? path : join(stage.workdir, path));
  for (const { line, op, args } of instructions) {
    const where = `Dockerfile:${line} ${op}`;
    if (op === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      if (!m) fail(`${where}: expected IMAGE [AS NAME]`);
      if (!/^node:20[.-]/.test(m[1])) fail(`${where}: expected a node:20 base image, got ${m[1]}`);
      stage = {
        name: m[2] ?? String(stages.length),
        root: join(scratch, `stage-${stages.length}`),
        workdir: '/',
        env: {},
        user: 'root',
      };
      mkdirSync(stage.root, { recursive: true });
      stages.push(stage);
      continue;
    }
    if (!stage) fail(`${where}: before any FROM`);
    switch (op) {
      case 'WORKDIR':
        stage.workdir = isAbsolute(args) ? args : join(stage.workdir, args);
        mkdirSync(join(stage.root, stage.workdir), { recursive: true });
        break;
      case 'ENV':
        Object.assign(stage.env, envArgs(args));
        break;
      case 'USER':
        stage.user = args;
        break;
      case 'COPY': {
        const { flags, sources, dest } = copyArgs(args);
        const from = flags.from === undefined ? undefined : stages.find((s) => s.name === flags.from);
        if (flags.from !== undefined && !from) fail(`${where}: no earlier stage named ${flags.from}`);
        const target = inStage(dest);
        const intoDir = dest.endsWith('/') || sources.length > 1;
        for (const source of sources) {
          let abs;
          if (from) {
            abs = join(from.root, isAbsolute(source) ? source : join(from.workdir, source));
          } else {
            if (isAbsolute(source) || relative(ROOT, join(ROOT, source)).startsWith('..'))
              fail(`${where}: ${source} is outside the build context`);
            if (ignored(relative(ROOT, join(ROOT, source))))
              fail(`${where}: .dockerignore excludes ${source}`);
            abs = join(ROOT, source);
          }
          if (!existsSync(abs))
            fail(`${where}: ${source} does not exist ${from ? `in stage ${from.name}` : ''}`);
          const to = intoDir && !statSync(abs).isDirectory() ? join(target, basename(source)) : target;
          mkdirSync(dirname(to), { recursive: true });
          cpSync(abs, to, {
            recursive: true,
            verbatimSymlinks: true,
            // The context as Docker sends it: what .dockerignore excludes is not there.
            filter: (path) => from !== undefined || !ignored(relative(ROOT, path)),
          });
        }
        console.log(`   ${where} ${sources.join(' ')} → ${dest}`);
        break;
      }
      case 'RUN':
        run(commandOf(args), join(stage.root, stage.workdir), hostEnv(stage.env), where);
        break;
      case 'HEALTHCHECK': {
        const m = /^((?:--\S+\s+)*)CMD\s+(.*)$/s.exec(args);
        if (!m) fail(`${where}: expected [OPTIONS] CMD …`);
        stage.healthcheck = commandOf(m[2]);
        break;
      }
      case 'ENTRYPOINT':
        stage.entrypoint = commandOf(args);
        break;
      case 'CMD':
        stage.cmd = commandOf(args);
        break;
      case 'LABEL':
      case 'EXPOSE':
        break;
      default:
        fail(`${where}: not supported by this script (extend scripts/docker-build-steps.mjs)`);
    }
  }
  return stage;
}

function checkImage(image) {
  if (image.user === 'root' || image.user === '0') fail('the image runs as root: add USER node');
  if (!image.entrypoint || !image.healthcheck) fail('the image needs an ENTRYPOINT and a HEALTHCHECK');
  const app = join(image.root, image.workdir);
  if (existsSync(join(app, 'src'))) fail('the image holds the TypeScript sources (src/): copy only dist/');
  if (!existsSync(join(app, 'dist', 'cli', 'index.js'))) fail('the image has no dist/cli/index.js');
  const lock = JSON.parse(readFileSync(join(app, 'package-lock.json'), 'utf8'));
  const devLeft = Object.entries(lock.packages ?? {})
    .filter(([path, meta]) => path.startsWith('node_modules/') && meta.dev === true)
    .map(([path]) => path)
    .filter((path) => existsSync(join(app, path)));
  if (devLeft.length > 0) fail(`dev dependencies left in the image: ${devLeft.slice(0, 10).join(', ')}`);
  console.log('\n━━ image: not root, dist only, no dev dependency left');
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** A long-running child; resolves once its output (stdout or stderr) matches `ready`. */
function start(what, command, options, ready) {
  console.log(`\n━━ start ${what}: ${command.join(' ')}`);
  const child = spawn(command[0], command.slice(1), { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  const started = new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${what} not ready in ${START_TIMEOUT_MS} ms:\n${output.slice(-3000)}`)),
      START_TIMEOUT_MS,
    );
    const onData = (chunk) => {
      output += chunk.toString();
      if (ready.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${code}) before it was ready:\n${output.slice(-3000)}`));
    });
  });
  return { what, child, exited, started, output: () => output };
}

async function stop(proc) {
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) return proc.exited;
  proc.child.kill('SIGTERM');
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), 30_000);
  const code = await proc.exited;
  clearTimeout(timer);
  return code;
}

/** The pruned CLI as the image runs it: ENTRYPOINT + CMD, then the stack, then the HEALTHCHECK. */
async function runImage(image, scratch) {
  const app = join(image.root, image.workdir);
  const home = join(scratch, 'home');
  mkdirSync(home, { recursive: true });
  // The image's environment only: no DFP_USE_SOURCE, no repository tools on PATH.
  const env = (extra = {}) => ({ PATH: cleanPath(), HOME: home, ...image.env, ...extra });
  run([...image.entrypoint, ...(image.cmd ?? [])], app, env(), 'ENTRYPOINT + CMD');

  const redisPort = await freePort();
  const simPort = await freePort();
  const servePort = await freePort();
  const common = {
    REDIS_URL: `redis://127.0.0.1:${redisPort}`,
    QUEUE_PREFIX: '{dfp-image}',
    DOORFLOW_BASE_URL: `http://127.0.0.1:${simPort}`,
    DOORFLOW_ACCESS_TOKEN: 'sim-token',
    LOG_LEVEL: 'info',
  };
  const secret = randomBytes(24).toString('hex');
  const procs = [];
  try {
    const redis = start(
      'redis-server',
      [
        'redis-server',
        '--port',
        String(redisPort),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
      ],
      { cwd: scratch, env: env() },
      /Ready to accept connections/,
    );
    procs.push(redis);
    await redis.started;
    const cli = (what, args, extra, ready) => {
      const proc = start(
        what,
        [...image.entrypoint, ...args],
        { cwd: app, env: env({ ...common, ...extra }) },
        ready,
      );
      procs.push(proc);
      return proc;
    };
    const sim = cli('simulate', ['simulate', '--port', String(simPort)], {}, /simulator listening on/);
    await sim.started;
    const worker = cli('worker', ['worker'], {}, /worker ready/);
    const serve = cli(
      'serve',
      ['serve'],
      { SERVE_PORT: String(servePort), WEBHOOK_SECRET: secret, ADMIN_TOKEN: randomBytes(24).toString('hex') },
      /serving on http/,
    );
    await Promise.all([worker.started, serve.started]);
    const health = (what, expectOk) => {
      const result = spawnSync(image.healthcheck[0], image.healthcheck.slice(1), {
        cwd: app,
        env: env({ SERVE_PORT: String(servePort) }),
        timeout: 30_000,
      });
      const ok = result.status === 0;
      console.log(`\n━━ HEALTHCHECK ${what}: exit ${result.status ?? result.signal}`);
      if (ok !== expectOk) fail(`HEALTHCHECK ${what} should have ${expectOk ? 'passed' : 'failed'}`);
    };
    health('against the running serve', true);
    for (const proc of [worker, serve]) {
      const code = await stop(proc);
      console.log(`   ${proc.what} stopped on SIGTERM: exit ${code}`);
      if (code !== 0)
        fail(`${proc.what} did not stop cleanly on SIGTERM (exit ${code}):\n${proc.output().slice(-3000)}`);
    }
    health('with serve stopped', false);
  } finally {
    for (const proc of procs.reverse()) await stop(proc);
  }
}

async function main() {
  const dockerfile = join(ROOT, 'Dockerfile');
  if (!existsSync(dockerfile)) fail('no Dockerfile');
  const instructions = parseDockerfile(readFileSync(dockerfile, 'utf8'));
  const scratch = mkdtempSync(join(tmpdir(), 'dfp-docker-'));
  console.log(`docker-build-steps: replaying ${instructions.length} Dockerfile instructions in ${scratch}`);
  const started = performance.now();
  try {
    const image = build(instructions, scratch);
    checkImage(image);
    await runImage(image, scratch);
  } finally {
    if (KEEP) console.log(`kept ${scratch}`);
    else rmSync(scratch, { recursive: true, force: true });
  }
  console.log(`\ndocker-build-steps: ok in ${((performance.now() - started) / 1000).toFixed(0)} s`);
}

await main().catch((err) => {
  console.error(`docker-build-steps: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
