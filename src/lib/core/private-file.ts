import { closeSync, createWriteStream, fchmodSync, openSync, realpathSync, type WriteStream } from 'node:fs';
import { dirname, basename, join, resolve } from 'node:path';

/**
 * Files we write that hold personal data (`--errors`, `runs report --out`, `audit export --out`)
 * are readable by their owner only: created 0600, and an existing file's mode is replaced too
 * (the `mode` of `open` only applies when the file is created).
 */

const PRIVATE_MODE = 0o600;

/** Opens `path` for writing (truncated), owner-only whatever mode an existing file had. */
function openPrivate(path: string): number {
  const fd = openSync(path, 'w', PRIVATE_MODE);
  try {
    fchmodSync(fd, PRIVATE_MODE);
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  return fd;
}

/** A write stream on `path`, owner-only (see {@link openPrivate}). */
export function createPrivateWriteStream(path: string): WriteStream {
  return createWriteStream(path, { fd: openPrivate(path), encoding: 'utf8' });
}

/** The canonical path of a file that may not exist yet (its folder resolved, links followed). */
function canonicalPath(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    try {
      return join(realpathSync(dirname(resolve(path))), basename(path));
    } catch {
      return resolve(path);
    }
  }
}

/** Whether writing `output` would overwrite `input` (same file, through any relative path or link). */
export function isSameFile(output: string, input: string): boolean {
  return canonicalPath(output) === canonicalPath(input);
}
