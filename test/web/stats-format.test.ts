/**
 * The stats screens' figures, in Node: which filesystems the hosts card
 * flags (at or past 90 % use, fullest first), memory, swap and network
 * totals of a real snapshot shape, and how bytes and rates read.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { StatsSnapshot } from '@pocketshell/protocol';
import {
  bytes,
  DISK_WARN_PCT,
  duration,
  fullDisks,
  memPct,
  netRates,
  pct,
  rate,
  shortBytes,
  swapPct,
} from '../../packages/web/src/stats-format.ts';

const snapshot = (over: Partial<StatsSnapshot>): StatsSnapshot =>
  ({
    at: 1,
    system: {},
    cpu: { total: 0, cores: [], loadavg: [0, 0, 0] },
    memory: { total: 0, used: 0, available: 0, swapTotal: 0, swapUsed: 0 },
    disks: [],
    diskIo: [],
    network: [],
    temperatures: [],
    battery: null,
    users: [],
    processes: [],
    tcp: {},
    listening: [],
    ...over,
  }) as StatsSnapshot;

test('disks at or past 90 % are flagged, fullest first; an empty or unsized one is not', () => {
  assert.equal(DISK_WARN_PCT, 90);
  const s = snapshot({
    disks: [
      { mount: '/', fs: 'ext4', size: 1000, used: 899 },
      { mount: '/data', fs: 'xfs', size: 1000, used: 900 },
      { mount: '/boot', fs: 'vfat', size: 100, used: 100 },
      { mount: '/proc-like', fs: 'none', size: 0, used: 0 },
    ],
  });
  assert.deepEqual(
    fullDisks(s).map((d) => [d.mount, Math.round(d.pct)]),
    [
      ['/boot', 100],
      ['/data', 90],
    ],
  );
});

test('memory and swap in percent (0 without swap); network summed over interfaces', () => {
  const s = snapshot({
    memory: { total: 8e9, used: 2e9, available: 6e9, swapTotal: 0, swapUsed: 0 },
    network: [
      { iface: 'eth0', rx: 1000, tx: 10 },
      { iface: 'wlan0', rx: 24, tx: 5 },
    ],
  });
  assert.equal(memPct(s), 25);
  assert.equal(swapPct(s), 0);
  assert.equal(
    swapPct(snapshot({ memory: { total: 1, used: 1, available: 0, swapTotal: 4, swapUsed: 1 } })),
    25,
  );
  assert.deepEqual(netRates(s), { rx: 1024, tx: 15 });
});

test('figures read as a person expects', () => {
  assert.equal(pct(4.26), '4.3%');
  assert.equal(pct(42.6), '43%');
  assert.equal(bytes(512), '512 B');
  assert.equal(bytes(1536), '1.5 KiB');
  assert.equal(bytes(24 * 1024 ** 3), '24 GiB');
  assert.equal(rate(2048), '2.0 KiB/s');
  assert.deepEqual(
    [shortBytes(512), shortBytes(13 * 1024), shortBytes(1.2 * 1024 ** 2)],
    ['512B', '13K', '1.2M'],
  );
  assert.equal(duration(42), '42 s');
  assert.equal(duration(3 * 86_400 + 4 * 3600 + 5), '3 d 4 h');
  assert.equal(duration(5 * 3600 + 12 * 60), '5 h 12 min');
});
