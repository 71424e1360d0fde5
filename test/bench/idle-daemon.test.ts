/**
 * The idle bench's measuring: the daemon's pids (with the session holder's
 * when `<state>/holder.pid` names a live process) and RSS/PSS from /proc.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { daemonPids, idleFigures, memoryOf } from './idle-daemon.ts';

test('daemonPids: the holder counts when holder.pid names a live process, not otherwise', async () => {
  const state = mkdtempSync(join(tmpdir(), 'pocketshell-idle-test-'));
  const holder = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  try {
    assert.deepEqual(
      daemonPids(process.pid, state),
      { daemon: process.pid },
      'no pid file: the daemon alone',
    );
    writeFileSync(join(state, 'holder.pid'), `${holder.pid}\n`);
    assert.deepEqual(daemonPids(process.pid, state), { daemon: process.pid, holder: holder.pid });
    const f = await idleFigures(process.pid, state, 200);
    assert.ok(f.holderRssMiB !== null && f.holderRssMiB > 1, 'the holder is measured');
    assert.ok(Math.abs(f.rssMiB - f.daemonRssMiB - f.holderRssMiB) < 0.01, 'RSS sum is daemon + holder');
    assert.ok(f.pssMiB > 0 && f.pssMiB < f.rssMiB, 'PSS splits the shared node binary: below the RSS sum');
    holder.kill('SIGKILL');
    await new Promise((r) => holder.once('exit', r));
    assert.deepEqual(daemonPids(process.pid, state), { daemon: process.pid }, 'a dead holder is left out');
    writeFileSync(join(state, 'holder.pid'), 'garbage\n');
    assert.deepEqual(daemonPids(process.pid, state), { daemon: process.pid });
  } finally {
    holder.kill('SIGKILL');
    rmSync(state, { recursive: true, force: true });
  }
});

test('memoryOf: RSS and PSS from smaps_rollup, PSS never above RSS', () => {
  const [m] = memoryOf([process.pid]);
  assert.ok(m);
  assert.ok(m.rssKiB > 10_000, `a Node process has more than 10 MiB resident (${m.rssKiB} KiB)`);
  assert.ok(m.pssKiB > 0 && m.pssKiB <= m.rssKiB);
  assert.ok(m.cpuTicks >= 0);
});
