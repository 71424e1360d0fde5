/**
 * The stats channel's contract: a snapshot survives the wire, deltas
 * rebuild the next snapshot exactly, and the parsers a peer reaches (a
 * snapshot, a delta event) answer anything with a snapshot or a coded
 * `bad_message` — fuzzed with fast-check (`@pocketshell/protocol/testing`).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { jsonValue, mutatedJson } from '../testing/fuzz.ts';
import { ProtocolError } from './errors.ts';
import {
  applyStatsDelta,
  parseStatsSnapshot,
  STATS_METHODS,
  STATS_SECTIONS,
  type StatsSnapshot,
  statsDelta,
} from './stats.ts';

const SNAPSHOT: StatsSnapshot = {
  at: 1_760_000_000_000,
  system: {
    hostname: 'box',
    platform: 'linux',
    distro: 'Debian GNU/Linux',
    release: '13',
    kernel: '6.12.0',
    arch: 'x64',
    model: 'QEMU Standard PC',
    cpuModel: 'AMD EPYC',
    uptime: 12345,
  },
  cpu: {
    total: 12.5,
    cores: [
      { load: 10, mhz: 2400 },
      { load: 15, mhz: 2400 },
    ],
    loadavg: [0.5, 0.4, 0.3],
  },
  memory: { total: 8e9, used: 2e9, available: 6e9, swapTotal: 1e9, swapUsed: 0 },
  disks: [{ mount: '/', fs: 'ext4', size: 1e11, used: 4e10 }],
  diskIo: [{ device: 'vda', read: 1000, write: 2000 }],
  network: [{ iface: 'eth0', rx: 300, tx: 200 }],
  temperatures: [{ label: 'main', celsius: 45 }],
  battery: null,
  users: [{ user: 'ann', tty: 'pts/0', from: '10.0.0.2', since: 1_759_999_000_000 }],
  processes: [
    {
      pid: 42,
      user: 'ann',
      cpu: 99.5,
      mem: 1.5,
      rss: 1e8,
      state: 'R',
      elapsed: 12,
      name: 'node',
      command: 'node -e spin',
    },
  ],
  tcp: { ESTABLISHED: 3, LISTEN: 2 },
  listening: [{ port: 22, proto: 'tcp', process: 'sshd' }],
};

const coded = (f: () => unknown) => {
  try {
    f();
    return true;
  } catch (error) {
    return error instanceof ProtocolError && error.code === 'bad_message';
  }
};

describe('stats contract', () => {
  test('a snapshot survives the wire, and a delta carries only the changed sections', () => {
    assert.deepEqual(parseStatsSnapshot(JSON.parse(JSON.stringify(SNAPSHOT))), SNAPSHOT);
    const next: StatsSnapshot = {
      ...SNAPSHOT,
      at: SNAPSHOT.at + 1000,
      cpu: { ...SNAPSHOT.cpu, total: 50 },
      battery: { percent: 80, charging: true },
    };
    const delta = statsDelta(SNAPSHOT, next);
    assert.deepEqual(Object.keys(delta).sort(), ['at', 'battery', 'cpu']);
    assert.deepEqual(applyStatsDelta(SNAPSHOT, JSON.parse(JSON.stringify(delta))), next);
    // Back to null is a change too.
    assert.deepEqual(applyStatsDelta(next, JSON.parse(JSON.stringify(statsDelta(next, SNAPSHOT)))), SNAPSHOT);
    assert.throws(() => applyStatsDelta(SNAPSHOT, { at: 1, __proto__x: 1 }), /unknown section/);
    assert.throws(() => applyStatsDelta(SNAPSHOT, { at: 1, cpu: { total: 500 } }), ProtocolError);
  });

  test('property: random changes to sections are rebuilt exactly from their delta', () => {
    const section = fc.constantFrom(...STATS_SECTIONS);
    fc.assert(
      fc.property(
        fc.uniqueArray(section, { maxLength: 5 }),
        fc.integer({ min: 0, max: 1e9 }),
        (changed, n) => {
          const next = JSON.parse(JSON.stringify(SNAPSHOT)) as Record<string, unknown>;
          next.at = SNAPSHOT.at + n;
          for (const k of changed) {
            if (k === 'battery') next.battery = { percent: n % 101, charging: n % 2 === 0 };
            else if (k === 'tcp') next.tcp = { ESTABLISHED: n };
            else if (k === 'system') next.system = { ...SNAPSHOT.system, uptime: n };
            else if (k === 'cpu') next.cpu = { ...SNAPSHOT.cpu, total: n % 101 };
            else if (k === 'memory') next.memory = { ...SNAPSHOT.memory, used: n };
            else next[k] = [];
          }
          const parsed = parseStatsSnapshot(next);
          const delta = JSON.parse(JSON.stringify(statsDelta(SNAPSHOT, parsed)));
          assert.deepEqual(applyStatsDelta(SNAPSHOT, delta), parsed);
        },
      ),
      { numRuns: 2000, seed: 14 },
    );
  });

  test('property: 10^5 random or mutated snapshots and deltas → a snapshot or bad_message, never anything else', () => {
    const inputs = fc.oneof(
      jsonValue,
      mutatedJson([SNAPSHOT, SNAPSHOT.cpu, SNAPSHOT.processes[0]!]).map((t) => JSON.parse(t) as unknown),
      mutatedJson([
        { at: 1, cpu: SNAPSHOT.cpu },
        { at: 2, processes: SNAPSHOT.processes },
      ]).map((t) => JSON.parse(t) as unknown),
    );
    fc.assert(
      fc.property(
        inputs,
        (v) => coded(() => parseStatsSnapshot(v)) && coded(() => applyStatsDelta(SNAPSHOT, v)),
      ),
      { numRuns: 100_000, seed: 14 },
    );
  });

  test('the method params are bounded', () => {
    const watch = STATS_METHODS['stats.watch'].params;
    assert.deepEqual(watch(undefined), { intervalMs: 1000 });
    assert.throws(() => watch({ intervalMs: 10 }), ProtocolError);
    assert.throws(() => STATS_METHODS['process.signal'].params({ pid: 1, signal: 'TERM' }), ProtocolError);
    assert.throws(() => STATS_METHODS['process.signal'].params({ pid: 5, signal: 'HUP' }), ProtocolError);
  });
});
