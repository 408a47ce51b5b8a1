import { spawnSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { BIN } from '../helpers/cli.ts';

/**
 * `bin/doorflow-provisioner.js` never runs a `dist/` older than `src/` silently: the real launcher,
 * copied into a scratch project whose dist/ and src/ each say which one ran, with their file times
 * set either way.
 */
describe('bin: dist/ older than src/', () => {
  let root = '';
  afterEach(async () => {
    if (root) await rm(root, { recursive: true, force: true });
    root = '';
  });

  async function project(options: { distNewer: boolean; tsx: boolean }): Promise<string> {
    root = await mkdtemp(join(tmpdir(), 'dfp-bin-'));
    await mkdir(join(root, 'bin'));
    await mkdir(join(root, 'dist', 'cli'), { recursive: true });
    await mkdir(join(root, 'src', 'cli'), { recursive: true });
    await copyFile(BIN, join(root, 'bin', 'doorflow-provisioner.js'));
    await writeFile(join(root, 'package.json'), '{"type":"module"}\n');
    const dist = join(root, 'dist', 'cli', 'index.js');
    const src = join(root, 'src', 'cli', 'index.ts');
    await writeFile(dist, "console.log('ran dist');\n");
    await writeFile(src, "const from: string = 'src';\nconsole.log('ran ' + from);\n");
    const old = new Date(Date.now() - 3_600_000);
    const recent = new Date();
    await utimes(options.distNewer ? src : dist, old, old);
    await utimes(options.distNewer ? dist : src, recent, recent);
    if (options.tsx) {
      const modules = fileURLToPath(new URL('../../node_modules', import.meta.url));
      await symlink(modules, join(root, 'node_modules'), 'dir');
    }
    return join(root, 'bin', 'doorflow-provisioner.js');
  }

  const run = (bin: string) =>
    spawnSync(process.execPath, [bin], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME },
      encoding: 'utf8',
      timeout: 60_000,
    });

  it('a dist/ newer than src/ is used, without a word', async () => {
    const res = run(await project({ distNewer: true, tsx: true }));
    expect(res.stdout).toBe('ran dist\n');
    expect(res.stderr).toBe('');
    expect(res.status).toBe(0);
  });

  it('a dist/ older than src/: the sources run instead, with a warning on stderr', async () => {
    const res = run(await project({ distNewer: false, tsx: true }));
    expect(res.stdout).toBe('ran src\n');
    expect(res.stderr).toMatch(/^warning: dist\/ is older than src\/: running the sources instead/);
    expect(res.status).toBe(0);
  }, 60_000);

  it('a dist/ older than src/ and no tsx to run the sources: refuses to start', async () => {
    const res = run(await project({ distNewer: false, tsx: false }));
    expect(res.stdout).toBe('');
    expect(res.stderr).toMatch(/^error: dist\/ is older than src\/ and tsx is not installed/);
    expect(res.status).toBe(1);
  });
});
