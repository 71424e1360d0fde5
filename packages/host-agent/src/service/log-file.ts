/**
 * The daemon's log file when no journal keeps it (the detached fallback and
 * launchd): opened for appending at 0600, rotated once past a size at start,
 * read back as its last lines, and followed as it grows.
 */
import { closeSync, existsSync, openSync, readSync, renameSync, statSync } from 'node:fs';

/** Rotation threshold: past this, `daemon.log` becomes `daemon.log.1` at the next start. */
export const LOG_ROTATE_BYTES = 10 * 1024 * 1024;

/** Opens `path` for appending (0600), rotating it first when it is too large; returns the fd. */
export function openLog(path: string, rotateBytes = LOG_ROTATE_BYTES): number {
  if (existsSync(path) && statSync(path).size > rotateBytes) renameSync(path, `${path}.1`);
  return openSync(path, 'a', 0o600);
}

function readRange(path: string, start: number, end: number): string {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(end - start);
    let off = 0;
    while (off < buf.length) {
      const n = readSync(fd, buf, off, buf.length - off, start + off);
      if (n === 0) break;
      off += n;
    }
    return buf.subarray(0, off).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/** The last `lines` lines of `path` ('' when it does not exist). */
export function tailLog(path: string, lines: number): string {
  if (!existsSync(path)) return '';
  const size = statSync(path).size;
  const start = Math.max(0, size - Math.max(4096, lines * 400));
  const text = readRange(path, start, size);
  const all = text.split('\n');
  if (all.at(-1) === '') all.pop();
  return all.slice(-lines).join('\n');
}

/**
 * Prints what is appended to `path` until `signal` aborts; resolves then.
 * Polls the size (works on every file system, including the ones inotify misses).
 */
export function followLog(
  path: string,
  write: (text: string) => void,
  signal: AbortSignal,
  intervalMs = 250,
): Promise<void> {
  let offset = existsSync(path) ? statSync(path).size : 0;
  return new Promise((resolve) => {
    const tick = () => {
      if (!existsSync(path)) return;
      const size = statSync(path).size;
      if (size < offset) offset = 0;
      if (size > offset) {
        write(readRange(path, offset, size));
        offset = size;
      }
    };
    const timer = setInterval(tick, intervalMs);
    const stop = () => {
      clearInterval(timer);
      tick();
      resolve();
    };
    if (signal.aborted) stop();
    else signal.addEventListener('abort', stop, { once: true });
  });
}
