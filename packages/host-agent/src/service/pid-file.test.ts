/**
 * The pid file: atomic claim, refusal while the named daemon lives, stale
 * files (dead pid, reused pid, garbage) taken over, release only of one's own.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { isDaemonProcess, PidFile, processAlive } from './pid-file.ts';

const dir = mkdtempSync(join(tmpdir(), 'pocketshell-pid-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('claim, refuse a second claim while the daemon lives, release', () => {
  const live = new Set<number>();
  const f = new PidFile(join(dir, 'a.pid'), (pid) => live.has(pid));
  assert.deepEqual(f.state(), { state: 'absent' });
  f.claim(100);
  f.write(200);
  live.add(200);
  assert.deepEqual(f.state(), { state: 'running', pid: 200 });
  assert.throws(() => f.claim(300), { code: 'unavailable', message: /already running \(pid 200\)/ });
  f.release(999);
  assert.equal(f.read(), 200, 'release of another pid leaves the file');
  f.release(200);
  assert.equal(f.read(), undefined);
});

test('stale files are taken over: dead pid, garbage', () => {
  const f = new PidFile(join(dir, 'b.pid'), () => false);
  writeFileSync(f.path, '4242\n');
  assert.deepEqual(f.state(), { state: 'stale', pid: 4242 });
  f.claim(7);
  assert.equal(readFileSync(f.path, 'utf8'), '7\n');
  writeFileSync(f.path, 'not a pid');
  assert.deepEqual(f.state(), { state: 'stale', pid: null });
  f.claim(8);
  assert.equal(f.read(), 8);
});

test('a live process that is not a pocketshell daemon does not count (pid reuse)', () => {
  assert.equal(processAlive(process.pid), true);
  assert.equal(isDaemonProcess(process.pid), false, 'the test runner is not `daemon run`');
  assert.equal(processAlive(2 ** 22 + 12345), false);
});
