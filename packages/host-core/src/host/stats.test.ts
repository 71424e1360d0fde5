/**
 * The process actions' guard on this machine: pid 0 and 1, the daemon
 * (this process) and every ancestor up to init are protected, read from the
 * real process table; a child of the daemon is not.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { protectedPids } from './stats.ts';

test('pid 1, the daemon and its parents are protected; its children are not', async () => {
  const guarded = protectedPids();
  for (const pid of [0, 1, process.pid, process.ppid]) assert.ok(guarded.has(pid), `${pid} protected`);
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  try {
    assert.equal(protectedPids().has(child.pid!), false);
    // Seen from the child, the daemon is one of its parents.
    assert.ok(protectedPids(child.pid!).has(process.pid));
  } finally {
    child.kill('SIGKILL');
  }
});
