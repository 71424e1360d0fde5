/**
 * The progress line of `pocketshell cp` (progress.ts) and the parsing of
 * its arguments (copy.ts): units, durations, a line that fits its width,
 * the speed over a window, nothing drawn off a terminal; `host:path`
 * versus local paths, `~` from the host user's home, traversal refused.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseEndpoint, resolveRemote } from './copy.ts';
import { formatBytes, formatDuration, formatProgress, ProgressLine, SpeedMeter } from './progress.ts';

test('bytes and durations read like a person writes them', () => {
  assert.equal(formatBytes(0), '0 B');
  assert.equal(formatBytes(1023), '1023 B');
  assert.equal(formatBytes(1536), '1.5 KiB');
  assert.equal(formatBytes(256 * 1024 * 1024), '256.0 MiB');
  assert.equal(formatBytes(3 * 2 ** 30), '3.0 GiB');
  assert.equal(formatDuration(0), '0:00');
  assert.equal(formatDuration(61.4), '1:01');
  assert.equal(formatDuration(3600 + 62), '1:01:02');
  assert.equal(formatDuration(Number.POSITIVE_INFINITY), '--:--');
});

test('a progress line shows percent, bytes, speed and time left, within its width', () => {
  const line = formatProgress(
    { label: 'data.bin', done: 50 * 2 ** 20, total: 100 * 2 ** 20, speed: 10 * 2 ** 20 },
    100,
  );
  assert.match(
    line,
    /^data\.bin {2}\[#{10} {10}\] {2} 50% {2}50\.0 MiB \/ 100\.0 MiB {2}10\.0 MiB\/s {2}0:05 left$/,
  );
  assert.ok(line.length <= 100);
  // The bar keeps its width whatever the figures say (no jumping).
  const early = formatProgress({ label: 'data.bin', done: 0, total: 100 * 2 ** 20, speed: 0 }, 100);
  assert.equal(early.indexOf(']'), line.indexOf(']'));
  const narrow = formatProgress({ label: 'a-very-long-file-name.tar.gz', done: 1, total: 4, speed: 0 }, 50);
  assert.ok(narrow.length <= 50, narrow);
  assert.match(narrow, / 25%/);
  assert.match(narrow, /--:-- left/);
  assert.equal(formatProgress({ label: 'empty', done: 0, total: 0, speed: 0 }, 80).includes('100%'), true);
});

test('the speed is measured over a sliding window', () => {
  const m = new SpeedMeter(1000);
  assert.equal(m.sample(0, 0), 0);
  assert.equal(m.sample(1000, 500), 2000);
  assert.equal(m.sample(2000, 1000), 2000);
  // Faster now: after the window the early samples no longer count.
  m.sample(12_000, 2000);
  assert.equal(m.sample(22_000, 3000), 10_000);
});

test('the line is drawn in place on a terminal only', () => {
  const written: string[] = [];
  const tty = { isTTY: true, columns: 80, write: (s: string) => written.push(s) };
  let now = 0;
  const bar = new ProgressLine(tty, true, () => now);
  bar.update('f', 0, 10, true);
  now = 50;
  bar.update('f', 5, 10); // under 100 ms since the last draw: skipped
  now = 200;
  bar.update('f', 10, 10);
  bar.clear();
  assert.equal(written.length, 3);
  assert.ok(written[0]!.startsWith('\r\x1b[2K'));
  assert.match(written[1]!, /100%/);
  assert.equal(written[2], '\r\x1b[2K');
  const piped: string[] = [];
  const off = new ProgressLine({ isTTY: false, write: (s: string) => piped.push(s) }, true);
  off.update('f', 1, 2, true);
  off.clear();
  assert.equal(off.enabled, false);
  assert.equal(piped.length, 0);
  const quiet = new ProgressLine({ isTTY: true, write: (s: string) => piped.push(s) }, false);
  quiet.update('f', 1, 2, true);
  assert.equal(piped.length, 0);
});

test('host:path is remote when the colon comes before any slash', () => {
  assert.deepEqual(parseEndpoint('laptop:notes.txt'), { kind: 'remote', host: 'laptop', path: 'notes.txt' });
  assert.deepEqual(parseEndpoint('laptop:'), { kind: 'remote', host: 'laptop', path: '' });
  assert.deepEqual(parseEndpoint('laptop:~/a/b'), { kind: 'remote', host: 'laptop', path: '~/a/b' });
  assert.deepEqual(parseEndpoint('./a:b'), { kind: 'local', path: './a:b' });
  assert.deepEqual(parseEndpoint('/tmp/x:y'), { kind: 'local', path: '/tmp/x:y' });
  assert.deepEqual(parseEndpoint(':x'), { kind: 'local', path: ':x' });
  assert.deepEqual(parseEndpoint('file.txt'), { kind: 'local', path: 'file.txt' });
});

test('remote paths: from the root, ~ from the home, .. refused', () => {
  assert.equal(resolveRemote('', 'home/me'), '');
  assert.equal(resolveRemote('/', 'home/me'), '');
  assert.equal(resolveRemote('a//b/./c/', ''), 'a/b/c');
  assert.equal(resolveRemote('~', 'home/me'), 'home/me');
  assert.equal(resolveRemote('~/x/y', 'home/me'), 'home/me/x/y');
  assert.equal(resolveRemote('~/x', ''), 'x');
  assert.throws(() => resolveRemote('~/x', null), { code: 'path_denied' });
  assert.throws(() => resolveRemote('a/../../etc', ''), { code: 'bad_message' });
  assert.throws(() => resolveRemote('a\0b', ''), { code: 'bad_message' });
});
