/**
 * The `stats` channel (issue 14, docs/protocol.md §6) against a real relay
 * process (debug logs, its database searched afterwards), a real host agent
 * (its real collector) and paired Node devices: a device with `stats` gets
 * a snapshot; while it watches, a real bounded busy loop — named with a
 * marker string — shows up in the process list and the CPU figures, and
 * the snapshots the device rebuilds from deltas are the host's own;
 * `process.renice` and `process.signal` TERM act on a real `sleep` with
 * `admin` (audited; read back from the kernel, the process gone) and are
 * refused `grant_missing` without it, `not_permitted` for the daemon
 * itself, `not_found` for a missing pid; a device without `stats` is
 * refused the channel; the marker never reaches the relay's database, WAL
 * or logs; and `pocketshell stats --json` prints a snapshot of this machine
 * (`--watch`: one a second until interrupted).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { getPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Device, PairedHost } from '@pocketshell/client';
import {
  HistoryStore,
  isLoopbackIPv4,
  type OpenedHost,
  openHost,
  statePaths,
  WeriftEngine,
} from '@pocketshell/host-core';
import { type Grant, parseStatsSnapshot, randomId, type StatsSnapshot } from '@pocketshell/protocol';
import { DATABASE_FILE } from '@pocketshell/relay';
import { type StartedRelay, startRelay } from '@pocketshell/relay/testing';
import { loopbackDevice, POCKETSHELL, pocketshell, until } from '../support/cli.ts';
import { pairNodeDevice } from '../support/pair.ts';

const MARKER = `PSMARKER_${randomId(6).replace(/[^A-Za-z0-9]/g, 'x')}`;

let relay: StartedRelay;
let dataDir: string;
let home: string;
let host: OpenedHost;
const devices: Device[] = [];
const children: ChildProcess[] = [];
let markerSeen = false;

/** A host on `root` reached through this file's relay, on loopback (`keepHistory`: with its history store). */
function openTestHost(root: string, keepHistory = false): Promise<OpenedHost> {
  return openHost({
    paths: statePaths({ root }),
    relayUrl: relay.wsUrl,
    env: { ...process.env, POCKETSHELL_KEYSTORE: 'file', SHELL: '/bin/sh', HOME: home },
    engine: new WeriftEngine({ bindAddress: '127.0.0.1' }),
    localAddressFilter: isLoopbackIPv4,
    iceServers: [],
    minBackoffMs: 50,
    maxBackoffMs: 500,
    keepHistory,
  });
}

async function pairDevice(
  grants: Grant[],
  on: OpenedHost = host,
): Promise<{ device: Device; host: PairedHost }> {
  const device = loopbackDevice(relay.wsUrl);
  devices.push(device);
  const { host: pairedHost } = await pairNodeDevice(on.agent, device, {
    webUrl: relay.url,
    grants,
    name: `stats ${grants.join('+')}`,
  });
  return { device, host: pairedHost };
}

function audit(): Record<string, unknown>[] {
  return readFileSync(join(home, 'state', 'audit.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const code = (c: string) => (e: Error & { code?: string }) => e.code === c;

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'pocketshell-stats-relay-'));
  relay = await startRelay({ dataDir, args: ['--log-level', 'debug'] });
  home = mkdtempSync(join(tmpdir(), 'pocketshell-stats-'));
  host = await openTestHost(join(home, 'state'));
  host.agent.start();
});

after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await Promise.all(devices.map((d) => d.close()));
  await host?.close();
  await relay?.stop();
  rmSync(home, { recursive: true, force: true });
  rmSync(dataDir, { recursive: true, force: true });
});

test('a device with stats gets a snapshot; a busy loop shows up live; deltas rebuild the host’s snapshots', async () => {
  const d = await pairDevice(['stats']);
  const conn = await d.device.connect(d.host.id);
  try {
    const stats = await conn.openStats();
    const first = await stats.snapshot();
    assert.ok(first.processes.length > 0 && first.cpu.cores.length > 0);
    assert.deepEqual(parseStatsSnapshot(JSON.parse(JSON.stringify(first))), first);
    // This host was opened without a history store: stats.history is unsupported.
    await assert.rejects(
      stats.rpc.call('stats.history', { range: '1h', series: ['cpu'] }),
      code('unsupported'),
    );

    let latest: StatsSnapshot | undefined;
    let matched = 0;
    let updates = 0;
    const watching = stats.watch((s) => {
      latest = s;
      updates++;
      // The snapshot rebuilt from deltas is exactly the host's sample of that moment.
      const hostSide = host.stats.collector.last;
      if (hostSide?.at === s.at) {
        assert.deepEqual(s, JSON.parse(JSON.stringify(hostSide)));
        matched++;
      }
    }, 500);
    watching.catch(() => {});
    await until(() => updates >= 2);
    assert.equal(host.stats.collector.watching, 1);

    // A real busy loop, bounded (8 s), its argv[0] the marker.
    const started = Date.now();
    const loop = spawn(
      'bash',
      [
        '-c',
        `exec -a ${MARKER} ${JSON.stringify(process.execPath)} -e "const e=Date.now()+8000;while(Date.now()<e){}"`,
      ],
      { stdio: 'ignore' },
    );
    children.push(loop);
    const pid = loop.pid!;
    let busy: StatsSnapshot['processes'][number] | undefined;
    await until(() => {
      busy = latest?.processes.find((p) => p.pid === pid && p.cpu >= 20);
      return busy !== undefined;
    }, 15_000);
    const shownAfter = Date.now() - started;
    assert.ok(busy!.command.includes(MARKER) || busy!.name.includes(MARKER), 'listed with its command line');
    assert.ok(latest!.cpu.total >= busy!.cpu / latest!.cpu.cores.length / 2, 'the CPU total carries it');
    markerSeen = true;
    console.log(`# the busy loop showed in the process list ${shownAfter} ms after it started`);
    assert.ok(matched >= 2, `${matched} rebuilt snapshots matched the host's`);
    loop.kill('SIGKILL');

    stats.close();
    await assert.rejects(watching, code('unavailable'));
    await until(() => host.stats.collector.watching === 0);
  } finally {
    await conn.close();
  }
});

test('process.renice and process.signal TERM act on a real sleep with admin, and are refused without it', async () => {
  const admin = await pairDevice(['stats', 'admin']);
  const plain = await pairDevice(['stats']);
  const ca = await admin.device.connect(admin.host.id);
  const cp = await plain.device.connect(plain.host.id);
  try {
    const sleep = spawn('sleep', ['1000'], { stdio: 'ignore' });
    children.push(sleep);
    const pid = sleep.pid!;
    const exited = new Promise<void>((r) => sleep.once('exit', () => r()));
    const sa = await ca.openStats();
    const sp = await cp.openStats();

    await assert.rejects(sp.rpc.call('process.signal', { pid, signal: 'TERM' }), code('grant_missing'));
    assert.ok(alive(pid), 'still running after the refusal');
    await assert.rejects(
      sa.rpc.call('process.signal', { pid: process.pid, signal: 'TERM' }),
      code('not_permitted'),
    );
    await assert.rejects(
      sa.rpc.callUntyped('process.signal', { pid: 1, signal: 'KILL' }),
      code('bad_message'),
    );
    await assert.rejects(
      sa.rpc.call('process.signal', { pid: 2 ** 31 - 2, signal: 'TERM' }),
      code('not_found'),
    );

    // Renice (admin): read back from the kernel.
    await assert.rejects(sp.rpc.call('process.renice', { pid, nice: 5 }), code('grant_missing'));
    assert.deepEqual(await sa.rpc.call('process.renice', { pid, nice: 5 }), { nice: 5 });
    assert.equal(getPriority(pid), 5);

    assert.deepEqual(await sa.rpc.call('process.signal', { pid, signal: 'TERM' }), { sent: true });
    await exited;
    assert.equal(sleep.signalCode, 'SIGTERM');
    assert.equal(alive(pid), false, 'gone');

    const entries = audit();
    assert.ok(
      entries.some(
        (e) =>
          e.event === 'process.signal' &&
          e.pid === pid &&
          e.action === 'TERM' &&
          e.device === admin.device.id,
      ),
      'the signal is audited',
    );
    assert.ok(entries.some((e) => e.event === 'process.renice' && e.pid === pid && e.nice === 5));
    assert.ok(
      entries.some(
        (e) => e.event === 'refusal' && e.code === 'grant_missing' && e.device === plain.device.id,
      ),
    );
    assert.ok(entries.some((e) => e.event === 'refusal' && e.code === 'not_permitted'));
  } finally {
    await Promise.all([ca.close(), cp.close()]);
  }
});

test('a device without stats is refused the channel', async () => {
  const d = await pairDevice(['shell']);
  const conn = await d.device.connect(d.host.id);
  try {
    await assert.rejects((async () => (await conn.openStats()).snapshot())(), code('unavailable'));
    await until(() =>
      audit().some(
        (e) =>
          e.event === 'refusal' &&
          e.code === 'grant_missing' &&
          e.device === d.device.id &&
          String(e.what).includes('stats'),
      ),
    );
  } finally {
    await conn.close();
  }
});

test('a host that keeps history serves it: a seeded day of minutes comes back exact over the channel', async () => {
  // A second host, its state folder seeded with 24 h of one sample a minute, then opened with keepHistory.
  const root = join(home, 'state-history');
  const now = Date.now();
  const start = now - 24 * 3600_000;
  const seed = new HistoryStore(root);
  const expected: [number, number][] = [];
  for (let t = start - (start % 60_000); t < now - 60_000; t += 60_000) {
    const v = 40 + 30 * Math.sin(t / 3_600_000);
    seed.record(t, { cpu: v, mem: 50 });
    expected.push([t, v]);
  }
  seed.close();
  const keeper = await openTestHost(root, true);
  keeper.agent.start();
  try {
    const d = await pairDevice(['stats'], keeper);
    const conn = await d.device.connect(d.host.id);
    const stats = await conn.openStats();
    const day = await stats.rpc.call('stats.history', { range: '24h', series: ['cpu', 'mem'] });
    const answeredAt = Date.now();
    assert.equal(day.step, 60_000);
    const cpu = day.series.find((s) => s.name === 'cpu');
    assert.ok(cpu, 'the cpu series');
    // Every seeded minute inside the range is there, each exact (one sample: min = avg = max).
    // The host's 24 h ends at its own now (a little after ours): its first minute may be a later one.
    const inRange = expected.filter(([t]) => t >= answeredAt - 24 * 3600_000 + 60_000);
    assert.ok(inRange.length > 1400);
    const byAt = new Map(cpu.points.map((p) => [p[0], p]));
    for (const [t, v] of inRange) {
      const p = byAt.get(t);
      assert.ok(p, `minute ${new Date(t).toISOString()}`);
      assert.deepEqual([p[1], p[2], p[3]], [v, v, v]);
    }
    assert.ok(day.series.find((s) => s.name === 'mem')?.points.every((p) => p[2] === 50));
    await conn.close();
  } finally {
    await keeper.close();
  }
});

test('the marker process’s name never reaches the relay’s database, WAL or logs', async () => {
  assert.ok(markerSeen, 'the marker went through the stats channel');
  const files = () =>
    [DATABASE_FILE, `${DATABASE_FILE}-wal`, `${DATABASE_FILE}-shm`]
      .map((f) => join(dataDir, f))
      .filter((f) => existsSync(f));
  assert.ok(files().length >= 1, 'the relay database is there to be searched');
  for (const f of files()) assert.equal(readFileSync(f).indexOf(MARKER), -1, `marker in ${f}`);
  await relay.kill('SIGTERM');
  for (const f of files()) assert.equal(readFileSync(f).indexOf(MARKER), -1, `marker in ${f}`);
  assert.equal(relay.logs().indexOf(MARKER), -1, 'marker in the relay logs');
  assert.match(relay.logs(), /"msg":"paired"/, 'the logs are there to be searched');
});

test('pocketshell stats --watch --json prints a snapshot each second until interrupted', async () => {
  const child = spawn(process.execPath, [POCKETSHELL, 'stats', '--watch', '--json'], {
    env: { ...process.env, POCKETSHELL_HOME: join(home, 'cli') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d));
  await until(() => out.split('\n').length > 2, 30_000);
  const [a, b] = out.split('\n').map((l) => (l ? parseStatsSnapshot(JSON.parse(l)) : undefined));
  assert.ok(a && b && b.at > a.at, 'two snapshots, one after the other');
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGINT');
  await exited;
  assert.equal(child.signalCode, 'SIGINT', 'ended by Ctrl-C');
});

test('pocketshell stats --json prints a snapshot of this machine', async () => {
  const r = await pocketshell(['stats', '--json'], { POCKETSHELL_HOME: join(home, 'cli') });
  assert.equal(r.code, 0, r.stderr);
  const s = parseStatsSnapshot(JSON.parse(r.stdout));
  assert.ok(s.processes.length > 0 && s.memory.total > 0);
  const human = await pocketshell(['stats'], { POCKETSHELL_HOME: join(home, 'cli') });
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, /^CPU +\d/m);
  assert.match(human.stdout, /^PID +USER +CPU%/m);
});
