/**
 * The /proc process reader (./procfs.ts) on this machine's real /proc: a
 * spawned `sleep` is listed with its pid, user, state and command line; a
 * real busy loop shows a high CPU share at once (its lifetime average, the
 * first pass that sees it) and in the next pass (the tick delta between the
 * two); and, on a small proc-like folder, a process that vanished between
 * two reads is skipped and a uid new to the user database makes it reread.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { MAX_PROCESSES, parseStatsSnapshot } from '@pocketshell/protocol';
import { MIN_WINDOW_MS, ProcfsReader, procfsAvailable } from './procfs.ts';

const children: ChildProcess[] = [];
after(() => {
  for (const c of children) c.kill('SIGKILL');
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the /proc process reader', { skip: !procfsAvailable() && 'no /proc (not Linux)' }, () => {
  it('lists a spawned sleep with its pid, user, state and command line', async () => {
    const child = spawn('sleep', ['1000'], { stdio: 'ignore' });
    children.push(child);
    await sleep(300); // past the exec
    const reader = new ProcfsReader();
    const all = reader.read(Number.POSITIVE_INFINITY);
    const p = all.find((x) => x.pid === child.pid);
    assert.ok(p, 'the sleep is listed');
    assert.equal(p.user, os.userInfo().username);
    assert.equal(p.state, 'sleeping');
    assert.equal(p.name, 'sleep');
    assert.equal(p.command, 'sleep 1000');
    assert.ok(p.rss > 0 && p.mem > 0 && p.mem < 100);
    assert.ok(p.cpu >= 0 && p.elapsed >= 0 && p.elapsed < 60);
    // This very process, with its real command line.
    const self = all.find((x) => x.pid === process.pid);
    const own = readFileSync('/proc/self/cmdline', 'utf8').replace(/\0+$/, '').replaceAll('\0', ' ');
    assert.equal(self?.command, own.slice(0, 1024), 'capped at 1024 characters');
    // A kernel thread (no command line) shows as [comm], as ps shows it.
    const kthreadd = all.find((x) => x.name === 'kthreadd');
    if (kthreadd) assert.equal(kthreadd.command, '[kthreadd]');
    // The default list: at most 50, highest CPU first, and fits the snapshot's schema.
    const top = reader.read();
    assert.ok(top.length > 0 && top.length <= MAX_PROCESSES);
    for (let i = 1; i < top.length; i++) assert.ok(top[i - 1]!.cpu >= top[i]!.cpu);
    assert.doesNotThrow(() =>
      parseStatsSnapshot({ ...SNAPSHOT, processes: JSON.parse(JSON.stringify(top)) }),
    );
    child.kill('SIGKILL');
  });

  it('a real busy loop reaches a high CPU share: its lifetime average at first, then the tick delta', async () => {
    const reader = new ProcfsReader();
    reader.read(); // a pass before the loop exists
    await sleep(MIN_WINDOW_MS);
    const loop = spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' });
    children.push(loop);
    await sleep(1000);
    const first = reader.read(Number.POSITIVE_INFINITY).find((p) => p.pid === loop.pid);
    await sleep(1000);
    const second = reader.read(Number.POSITIVE_INFINITY).find((p) => p.pid === loop.pid);
    loop.kill('SIGKILL');
    console.log(
      `# busy loop: ${first?.cpu.toFixed(1)} % (lifetime), then ${second?.cpu.toFixed(1)} % (delta)`,
    );
    assert.ok(first && first.cpu >= 30, `first pass: ${first?.cpu}`);
    assert.ok(second && second.cpu >= 30, `second pass: ${second?.cpu}`);
    // One thread: not more than one core (V8's helper threads are idle in this loop).
    assert.ok(second.cpu <= 120, `second pass: ${second.cpu}`);
    assert.equal(second.state, 'running');
    assert.equal(second.command, `${process.execPath} -e for(;;){}`);
  });

  it('skips a process that vanished mid-read, and rereads the user database for a new uid', async () => {
    const root = mkdtempSync(join(os.tmpdir(), 'pocketshell-procfs-'));
    try {
      const passwd = join(root, 'passwd');
      writeFileSync(passwd, 'root:x:0:0:root:/root:/bin/sh\n');
      writeFileSync(join(root, 'uptime'), '1000.00 1900.00\n');
      const proc = (pid: number, comm: string, uid: number | undefined, cmdline?: string) => {
        mkdirSync(join(root, String(pid)));
        // starttime 50000 ticks (500 s after boot), 600 ticks of CPU, 25 pages of rss.
        writeFileSync(
          join(root, String(pid), 'stat'),
          `${pid} (${comm}) S 1 1 1 0 -1 0 0 0 0 0 400 200 0 0 20 0 1 0 50000 1000000 25 0 0\n`,
        );
        if (uid !== undefined)
          writeFileSync(
            join(root, String(pid), 'status'),
            `Name:\t${comm}\nUid:\t${uid}\t${uid}\t${uid}\t${uid}\n`,
          );
        if (cmdline !== undefined) writeFileSync(join(root, String(pid), 'cmdline'), cmdline);
      };
      proc(10, 'a) b', 0, 'one\0two\0');
      proc(11, 'gone', 0); // vanished after its stat was read: no cmdline
      mkdirSync(join(root, '12')); // vanished before: no stat
      proc(13, 'new', 1234, 'x\0');
      mkdirSync(join(root, 'self'));
      const reader = new ProcfsReader({ root, passwd });
      const first = reader.read();
      assert.deepEqual(
        first.map((p) => [p.pid, p.name, p.user, p.command, p.cpu, p.elapsed, p.state]),
        [
          [10, 'a) b', 'root', 'one two', 1.2, 500, 'sleeping'],
          [13, 'new', '1234', 'x', 1.2, 500, 'sleeping'],
        ],
      );
      writeFileSync(passwd, 'root:x:0:0:root:/root:/bin/sh\nalice:x:1234:1234::/home/alice:/bin/sh\n');
      proc(14, 'newer', 1235, 'y\0');
      await sleep(MIN_WINDOW_MS);
      const second = reader.read(Number.POSITIVE_INFINITY);
      assert.equal(
        second.find((p) => p.pid === 13)?.user,
        'alice',
        'an unknown uid made it reread /etc/passwd',
      );
      assert.equal(second.find((p) => p.pid === 14)?.user, '1235');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

/** A snapshot around a process list, for its schema check. */
const SNAPSHOT = {
  at: 1,
  system: {
    hostname: 'h',
    platform: 'linux',
    distro: '',
    release: '',
    kernel: '',
    arch: 'x64',
    model: '',
    cpuModel: '',
    uptime: 1,
  },
  cpu: { total: 0, cores: [], loadavg: [0, 0, 0] },
  memory: { total: 1, used: 0, available: 1, swapTotal: 0, swapUsed: 0 },
  disks: [],
  diskIo: [],
  network: [],
  temperatures: [],
  battery: null,
  users: [],
  processes: [],
  tcp: {},
  listening: [],
};
