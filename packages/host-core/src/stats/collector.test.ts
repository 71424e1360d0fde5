/**
 * The stats collector on this machine, with the real systeminformation
 * module: a real snapshot passes the protocol's schema (every field present,
 * typed, in range) and agrees with what Node itself reads; deltas between
 * two real snapshots rebuild the second exactly; and, with a fake clock,
 * the expensive figures are cached and staggered (the module is wrapped to
 * count its calls — every call still runs the real one; on Linux the process
 * list comes from the /proc reader, whose reads count as `processes`).
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import os from 'node:os';
import { describe, it } from 'node:test';
import { applyStatsDelta, parseStatsSnapshot, STATS_SECTIONS, statsDelta } from '@pocketshell/protocol';
import {
  loadSystemInformation,
  STATS_TTL,
  StatsCollector,
  type SystemInformation,
  seriesOf,
} from './collector.ts';
import { ProcfsReader, procfsAvailable } from './procfs.ts';

/** The real module, each function call counted by name (and the real /proc reader's reads as `processes`). */
function counted(): { si: SystemInformation; procfs: ProcfsReader | null; calls: Record<string, number> } {
  const real = loadSystemInformation();
  const calls: Record<string, number> = {};
  const si = new Proxy(real, {
    get(target, key) {
      const value = Reflect.get(target, key);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls[String(key)] = (calls[String(key)] ?? 0) + 1;
        return value.apply(target, args);
      };
    },
  });
  const procfs = procfsAvailable() ? new ProcfsReader() : null;
  if (procfs) {
    const read = procfs.read.bind(procfs);
    procfs.read = (limit) => {
      calls.processes = (calls.processes ?? 0) + 1;
      return read(limit);
    };
  }
  return { si, procfs, calls };
}

const SLOW_CALLS = ['osInfo', 'fsSize', 'cpuTemperature', 'networkConnections', 'users', 'battery'];

describe('stats collector', () => {
  it('a real snapshot of this machine passes the schema, and agrees with Node', async () => {
    const collector = new StatsCollector();
    await collector.snapshot(0);
    const s = await collector.snapshot(0);
    // The wire form parses back to the very same snapshot: every field present, typed and in range.
    const wire = JSON.parse(JSON.stringify(s));
    assert.deepEqual(parseStatsSnapshot(wire), s);
    for (const k of ['at', ...STATS_SECTIONS]) assert.ok(Object.hasOwn(wire, k), `${k} missing`);
    assert.equal(s.system.hostname, os.hostname());
    assert.equal(s.system.arch, process.arch);
    assert.ok(s.system.uptime > 0);
    assert.ok(s.system.cpuModel.length > 0, 'a CPU model');
    assert.equal(s.cpu.cores.length, os.cpus().length);
    assert.ok(s.cpu.cores.every((c) => c.mhz >= 0 && c.load >= 0 && c.load <= 100));
    assert.equal(s.memory.total, os.totalmem());
    assert.ok(s.memory.used > 0 && s.memory.used <= s.memory.total);
    assert.ok(s.memory.available > 0 && s.memory.available <= s.memory.total);
    assert.ok(
      s.disks.some((d) => d.mount === '/' && d.size > 0 && d.used <= d.size),
      'the root filesystem',
    );
    assert.ok(s.network.length > 0, 'an interface');
    assert.ok(s.processes.length > 0 && s.processes.length <= 50);
    for (const p of s.processes) assert.ok(p.pid > 0 && p.name.length > 0, `process ${p.pid}`);
    // Sorted by CPU, highest first.
    for (let i = 1; i < s.processes.length; i++) assert.ok(s.processes[i - 1]!.cpu >= s.processes[i]!.cpu);
    collector.close();
  });

  it('applying the delta between two real snapshots rebuilds the second', async () => {
    const collector = new StatsCollector();
    const a = await collector.snapshot(0);
    await new Promise((r) => setTimeout(r, 300));
    const b = await collector.snapshot(0);
    const delta = JSON.parse(JSON.stringify(statsDelta(a, b)));
    assert.equal(delta.at, b.at);
    assert.ok(
      !('system' in delta) || a.system.uptime !== b.system.uptime,
      'an unchanged section is left out',
    );
    assert.deepEqual(applyStatsDelta(a, delta), b);
    // An unknown section is refused.
    assert.throws(() => applyStatsDelta(a, { at: b.at, evil: 1 }), /unknown section/);
    collector.close();
  });

  it('caches and staggers the expensive figures (fake clock)', async () => {
    const { si, procfs, calls } = counted();
    let t = 1_000_000;
    const heard: Record<string, number>[] = [];
    const collector = new StatsCollector({ si, procfs, now: () => t, onSample: (v) => heard.push(v) });
    const count = (names: string[]) => names.reduce((a, n) => a + (calls[n] ?? 0), 0);

    // The first sample reads everything once.
    await collector.snapshot(0);
    for (const n of [...SLOW_CALLS, 'processes', 'currentLoad', 'mem']) assert.equal(calls[n], 1, n);

    // Half a second later: only the cheap figures again.
    t += 500;
    await collector.snapshot(0);
    assert.equal(calls.currentLoad, 2);
    assert.equal(calls.processes, 1, 'processes are cached');
    assert.equal(count(SLOW_CALLS), SLOW_CALLS.length);

    // The process list after its time to live.
    t += STATS_TTL.processes - 500;
    await collector.snapshot(0);
    assert.equal(calls.processes, 2);

    // A snapshot young enough is answered from the cache: nothing is read.
    const before = calls.currentLoad;
    t += 100;
    const cached = await collector.snapshot(500);
    assert.equal(calls.currentLoad, before);
    assert.equal(cached, collector.last);

    // Thirty seconds on, five expensive figures are due: one per sample, most overdue first.
    t = 1_000_000 + 30_000;
    await collector.snapshot(0);
    assert.equal(count(SLOW_CALLS), SLOW_CALLS.length + 1);
    assert.equal(calls.cpuTemperature, 2, 'temperatures were the most overdue');
    await collector.snapshot(0);
    assert.equal(count(SLOW_CALLS), SLOW_CALLS.length + 2);
    assert.equal(calls.networkConnections, 2);
    for (let i = 0; i < 3; i++) await collector.snapshot(0);
    assert.equal(calls.users, 2);
    assert.equal(calls.fsSize, 2);
    assert.equal(calls.battery, 2);
    // OS information is read once.
    assert.equal(calls.osInfo, 1);

    // The history hook heard every sample's numeric series.
    assert.equal(heard.length, collector.samples);
    const last = heard.at(-1)!;
    for (const k of ['cpu', 'mem', 'swap', 'load1', 'net.rx', 'net.tx', 'disk:/']) assert.ok(k in last, k);
    assert.deepEqual(last, seriesOf(collector.last!));
    collector.close();
  });

  it('network throughput: the interfaces with an address, and bytes sent over loopback show on lo', async () => {
    const collector = new StatsCollector();
    const a = await collector.snapshot(0);
    assert.deepEqual(
      a.network.map((n) => n.iface).sort(),
      Object.keys(os.networkInterfaces()).sort(),
      'the interfaces that have an address',
    );
    // 8 MiB through a real loopback TCP connection between two samples.
    const server = net.createServer((socket) => socket.resume());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as net.AddressInfo;
    const client = net.connect(port, '127.0.0.1');
    await new Promise<void>((r) => client.end(Buffer.alloc(8 * 2 ** 20), () => r()));
    await new Promise((r) => client.on('close', r));
    server.close();
    const b = await collector.snapshot(0);
    const lo = b.network.find((n) => n.iface === 'lo');
    if (process.platform === 'linux') {
      assert.ok(lo, 'lo');
      const sent = (lo.tx * (b.at - a.at)) / 1000;
      assert.ok(sent >= 8 * 2 ** 20 * 0.99, `lo carried ${sent} bytes`);
    }
    collector.close();
  });

  it('samples at the fast rate only while someone watches (a count of watchers)', async () => {
    const collector = new StatsCollector();
    assert.equal(collector.watching, 0);
    const seen: number[] = [];
    // Stopped from the listener itself, so no sample of this watcher is in flight when it stops.
    let secondSeen: () => void = () => {};
    const two = new Promise<void>((r) => {
      secondSeen = r;
    });
    const stop = collector.watch(250, (s) => {
      seen.push(s.at);
      if (seen.length === 2) {
        stop();
        secondSeen();
      }
    });
    assert.equal(collector.watching, 1);
    await two;
    assert.equal(collector.watching, 0);
    const samples = collector.samples;
    await new Promise((r) => setTimeout(r, 800));
    assert.equal(collector.samples, samples, 'no sample without a watcher');
    collector.close();
  });
});
