/**
 * Tests of the host's monitoring history on real `node:sqlite` files in a
 * temporary folder, driven by a fake clock (the `at` / `now` arguments):
 * days of 1 Hz samples checked point by point against a straightforward
 * computation over the raw samples (values are multiples of 1/64 so sums
 * are exact in any order and equality is strict), the hourly roll-ups in
 * the file, retention over a simulated year, the disk bound, a restart, a
 * kill -9 of a writer in the middle of its writes, and refused input.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type HistoryPoint, type HistoryRange, ProtocolError } from '@pocketshell/protocol';
import { mulberry32 } from '../../testing/random.ts';
import { isHostError } from '../errors.ts';
import { writerSeries, writerValue } from './fixtures/history-writer-values.ts';
import {
  HISTORY_DISK_BOUND,
  HISTORY_FILE,
  HISTORY_STEPS,
  HistoryStore,
  HOUR_RETENTION,
  MAX_SERIES,
  MINUTE_RETENTION,
  ROW_BYTES,
} from './history.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
/** A Monday, 00:00 UTC: the simulations start here. */
const T0 = Date.UTC(2026, 0, 5);
const RANGES: readonly HistoryRange[] = ['1h', '24h', '7d', '30d', '1y'];

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ps-history-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** The raw samples of one series, kept by the test as the independent reference. */
type Raw = { at: number[]; v: number[] };

/** The points a straightforward computation over the raw samples gives. */
function expected(raw: Raw | undefined, range: HistoryRange, now: number): HistoryPoint[] {
  if (raw === undefined) return [];
  const { span, step } = HISTORY_STEPS[range];
  const first = Math.floor((now - span) / step) + 1;
  const last = Math.floor(now / step);
  const buckets = new Map<number, number[]>();
  for (let i = 0; i < raw.at.length; i++) {
    const b = Math.floor((raw.at[i] as number) / step);
    if (b < first || b > last) continue;
    const list = buckets.get(b) ?? [];
    list.push(raw.v[i] as number);
    buckets.set(b, list);
  }
  return [...buckets]
    .sort((x, y) => x[0] - y[0])
    .map(([b, vs]) => {
      let sum = 0;
      for (const v of vs) sum += v;
      return [b * step, Math.min(...vs), sum / vs.length, Math.max(...vs)] as const;
    });
}

function sizeOf(file: string): number {
  let n = 0;
  for (const f of [file, `${file}-wal`, `${file}-shm`])
    n += fs.statSync(f, { throwIfNoEntry: false })?.size ?? 0;
  return n;
}

function rows(file: string, sql: string): Record<string, unknown>[] {
  const db = new DatabaseSync(file, { readOnly: true });
  try {
    return db.prepare(sql).all() as Record<string, unknown>[];
  } finally {
    db.close();
  }
}

const coded = (code: string) => (err: unknown) =>
  (err instanceof ProtocolError || isHostError(err)) && err.code === code;

describe('history store', () => {
  test('three days at 1 Hz: every range matches the raw samples exactly, and the hourly rows in the file are the hours of the samples', () => {
    const store = new HistoryStore(dir);
    const names = ['cpu', 'mem', 'net.rx', 'disk:/'];
    const raw = new Map<string, Raw>(names.map((n) => [n, { at: [], v: [] }]));
    const rand = mulberry32(14);
    const end = T0 + 3 * DAY + 17 * MIN + 29_000; // ends inside a minute, inside an hour
    const checkAll = (now: number) => {
      for (const range of RANGES) {
        const got = store.query([...names, 'swap'], range, now);
        assert.equal(got.step, HISTORY_STEPS[range].step);
        assert.deepEqual(
          got.series.map((s) => s.name),
          [...names, 'swap'],
        );
        for (const s of got.series)
          assert.deepEqual(s.points, expected(raw.get(s.name), range, now), `${range} ${s.name}`);
      }
    };
    for (let at = T0; at <= end; at += 1000) {
      const values: Record<string, number> = {};
      for (const n of names) {
        if (n === 'disk:/' && at % (10 * MIN) >= 9 * MIN) continue; // a series with gaps
        const v = Math.round(rand() * 6400) / 64;
        values[n] = v;
        raw.get(n)!.at.push(at);
        raw.get(n)!.v.push(v);
      }
      store.record(at, values);
      if (at === T0 + DAY + 30 * MIN + 30_000) checkAll(at); // mid-run, the open minute half full
    }
    checkAll(end);
    // later, with no new samples: the windows slide and the unrolled hour still counts
    checkAll(end + 5 * HOUR);
    // the number of points each range gives a phone
    const full = store.query(['cpu'], '24h', end).series[0]!.points.length;
    assert.equal(full, 1440);
    assert.equal(store.query(['cpu'], '7d', end).series[0]!.points.length, 3 * 288 + 4); // 5-minute points
    store.close();

    // the hourly rows in the file: exactly the hours of the raw samples, every ended hour rolled up
    const byName = new Map(
      rows(store.file, 'SELECT id, name FROM series').map((r) => [r.id, r.name as string]),
    );
    const hours = rows(
      store.file,
      'SELECT hour, series, min, sum, count, max FROM hours ORDER BY series, hour',
    );
    const endedHours = Math.floor(end / HOUR) - Math.floor(T0 / HOUR);
    assert.equal(hours.length, names.length * endedHours);
    for (const h of hours) {
      const r = raw.get(byName.get(h.series) as string)!;
      const from = (h.hour as number) * HOUR;
      const vs = r.v.filter((_, i) => (r.at[i] as number) >= from && (r.at[i] as number) < from + HOUR);
      assert.equal(h.count, vs.length);
      assert.equal(h.min, Math.min(...vs));
      assert.equal(h.max, Math.max(...vs));
      assert.equal(
        h.sum,
        vs.reduce((a, b) => a + b, 0),
      );
    }
  });

  test('retention: minute rows live 30 days, hourly rows 366 days, a series gone for a year is forgotten', () => {
    const store = new HistoryStore(dir);
    let at = T0;
    store.record(at, { cpu: 1, 'temp:old': 50 });
    for (; at < T0 + 32 * DAY; at += 5 * MIN) store.record(at, { cpu: 2 });
    const minutes = rows(
      store.file,
      'SELECT MIN(minute) AS lo, MAX(minute) AS hi, COUNT(*) AS n FROM minutes',
    )[0]!;
    const lastRoll = Math.floor((at - 5 * MIN) / HOUR) * 60; // the last roll-up ran at this minute's hour start
    assert.ok(
      (minutes.lo as number) >= lastRoll - MINUTE_RETENTION,
      'minute rows older than 30 days are gone',
    );
    assert.ok((minutes.lo as number) < lastRoll - MINUTE_RETENTION + 60, 'and only those');
    // the 30-day range still shows the first day, from the hourly rows
    assert.equal(store.query(['temp:old'], '1y', at).series[0]!.points.length, 1);
    for (; at < T0 + 400 * DAY; at += 6 * HOUR) store.record(at, { cpu: 3 });
    const hours = rows(store.file, 'SELECT MIN(hour) AS lo, COUNT(*) AS n FROM hours')[0]!;
    const lastHour = Math.floor((at - 6 * HOUR) / HOUR);
    assert.ok((hours.lo as number) >= lastHour - HOUR_RETENTION, 'hourly rows older than 366 days are gone');
    assert.ok((hours.n as number) <= 366 * 4 + 1);
    assert.deepEqual(
      rows(store.file, 'SELECT name FROM series ORDER BY name').map((r) => r.name),
      ['cpu'],
    );
    assert.deepEqual(store.query(['temp:old'], '1y', at).series[0]!.points, []);
    const year = store.query(['cpu'], '1y', at).series[0]!.points;
    assert.ok(year.length >= 1459 && year.length <= 1460, `${year.length} points`);
    assert.ok(year.every((p) => p[1] === 3 && p[2] === 3 && p[3] === 3));
    store.close();
  });

  test(`disk: ${MAX_SERIES} series of full-precision values take at most ${ROW_BYTES} bytes a row, so the file stays under HISTORY_DISK_BOUND; the ${MAX_SERIES + 1}th series is refused`, (t) => {
    const store = new HistoryStore(dir);
    const rand = mulberry32(7);
    const names = Array.from({ length: MAX_SERIES }, (_, k) => `temp:sensor_${k}`);
    const end = T0 + 3 * DAY;
    for (let at = T0; at < end; at += MIN) {
      const values: Record<string, number> = {};
      for (const n of names) values[n] = rand() * 1e6; // 8-byte doubles, the largest rows
      store.record(at, values);
    }
    assert.throws(
      () => store.record(end, { 'temp:one_too_many': 1, cpu: 2, [names[0]!]: 5 }),
      coded('limit_reached'),
    );
    assert.equal(store.seriesCount, MAX_SERIES);
    store.close();
    for (const f of [store.file, `${store.file}-wal`, `${store.file}-shm`]) {
      const st = fs.statSync(f, { throwIfNoEntry: false });
      if (st !== undefined) assert.equal(st.mode & 0o777, 0o600, f);
    }
    const n = rows(
      store.file,
      'SELECT (SELECT COUNT(*) FROM minutes) + (SELECT COUNT(*) FROM hours) AS n',
    )[0]!.n as number;
    assert.equal(n, MAX_SERIES * 3 * 24 * 60 + 1 + MAX_SERIES * 72); // + the refused call's one kept value
    const bytes = sizeOf(store.file);
    t.diagnostic(`${bytes} bytes for ${n} rows: ${(bytes / n).toFixed(1)} B/row`);
    assert.ok(
      bytes <= n * ROW_BYTES + 1024 * 1024,
      `${bytes} bytes for ${n} rows (${(bytes / n).toFixed(1)} B/row)`,
    );
    // the stated bound is that per-row size at the cap, full retention, plus the WAL limit and slack
    assert.equal(HISTORY_DISK_BOUND, MAX_SERIES * (30 * 24 * 60 + 366 * 24) * ROW_BYTES + 5 * 1024 * 1024);
    assert.ok(HISTORY_DISK_BOUND < 170e6);
    // the value of a known series in the refused call was kept
    const again = new HistoryStore(dir);
    assert.deepEqual(again.query([names[0]!], '1h', end).series[0]!.points.at(-1), [end, 5, 5, 5]);
    assert.deepEqual(again.query(['temp:one_too_many'], '1h', end).series[0]!.points, []);
    again.close();
  });

  test('a restart keeps the history, the minute in progress included, and rolls up the hour it was in', () => {
    let store = new HistoryStore(dir);
    const raw: Raw = { at: [], v: [] };
    const rand = mulberry32(3);
    const sample = (at: number) => {
      const v = Math.round(rand() * 6400) / 64;
      raw.at.push(at);
      raw.v.push(v);
      store.record(at, { cpu: v });
    };
    let at = T0;
    for (; at < T0 + 2 * HOUR + 30_000; at += 1000) sample(at);
    store.close();
    store.close(); // idempotent
    assert.throws(() => store.record(at, { cpu: 1 }), coded('closed'));
    assert.throws(() => store.query(['cpu'], '1h', at), coded('closed'));

    store = new HistoryStore(dir);
    assert.equal(store.schemaVersion, 1);
    assert.deepEqual(store.query(['cpu'], '24h', at).series[0]!.points, expected(raw, '24h', at));
    // the same minute goes on after the restart: its row adds up
    for (; at < T0 + 2 * HOUR + 50_000; at += 1000) sample(at);
    store.close();
    store = new HistoryStore(dir);
    // hours later: the hour the store was closed in gets rolled up
    at = T0 + 5 * HOUR;
    sample(at);
    for (const range of RANGES) {
      assert.deepEqual(store.query(['cpu'], range, at).series[0]!.points, expected(raw, range, at), range);
    }
    store.close();
    const hours = rows(store.file, 'SELECT hour, count FROM hours ORDER BY hour');
    assert.deepEqual(
      hours.map((h) => [(h.hour as number) * HOUR - T0, h.count]),
      [
        [0, 3600],
        [HOUR, 3600],
        [2 * HOUR, 50],
      ],
    );
  });

  test('kill -9 in the middle of writing: the file is healthy and only the last minute can be missing', async () => {
    const fixture = fileURLToPath(new URL('./fixtures/history-writer.ts', import.meta.url));
    const child = spawn(process.execPath, [...process.execArgv, fixture, dir, String(T0)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let reported = -1;
    let buffered = '';
    await new Promise<void>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code, signal) =>
        signal === 'SIGKILL' ? resolve() : reject(new Error(`writer exited ${code}`)),
      );
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (chunk: string) => {
        buffered += chunk;
        const lines = buffered.split('\n');
        buffered = lines.pop() ?? '';
        for (const l of lines) reported = Number(l);
        // past two hour roll-ups, stop it wherever it is
        if (reported - T0 / MIN >= 150 && child.exitCode === null && !child.killed) child.kill('SIGKILL');
      });
    });
    assert.ok(reported >= T0 / MIN + 150);

    const file = path.join(dir, HISTORY_FILE);
    const db = new DatabaseSync(file);
    assert.deepEqual(
      db
        .prepare('PRAGMA integrity_check')
        .all()
        .map((r) => r.integrity_check),
      ['ok'],
    );
    db.close();

    const store = new HistoryStore(dir);
    const m0 = T0 / MIN;
    const present = rows(file, 'SELECT DISTINCT minute FROM minutes ORDER BY minute').map(
      (r) => r.minute as number,
    );
    const stored = present.at(-1)!;
    assert.ok(
      stored === reported || stored === reported + 1,
      `stored through ${stored}, reported ${reported}`,
    );
    assert.deepEqual(
      present,
      Array.from({ length: stored - m0 + 1 }, (_, j) => m0 + j),
    );
    // every stored minute is whole and exact, in minute and hourly points
    const now = (stored + 1) * MIN - 1;
    const raw = new Map<string, Raw>(writerSeries.map((n) => [n, { at: [], v: [] }]));
    for (let i = 0; T0 + i * 1000 <= now; i++) {
      for (let k = 0; k < writerSeries.length; k++) {
        raw.get(writerSeries[k]!)!.at.push(T0 + i * 1000);
        raw.get(writerSeries[k]!)!.v.push(writerValue(i, k));
      }
    }
    for (const range of ['24h', '30d'] as const) {
      const got = store.query(writerSeries, range, now);
      for (const s of got.series)
        assert.deepEqual(s.points, expected(raw.get(s.name), range, now), `${range} ${s.name}`);
    }
    store.close();
  });

  test('a clock set back adds to the earlier minute and rolls its hour up again', () => {
    const store = new HistoryStore(dir);
    const raw: Raw = { at: [], v: [] };
    const sample = (at: number, v: number) => {
      raw.at.push(at);
      raw.v.push(v);
      store.record(at, { cpu: v });
    };
    for (let at = T0; at < T0 + 2 * HOUR; at += 10_000) sample(at, (at / 10_000) % 7);
    sample(T0 + 2 * HOUR + 5000, 100); // hours 0 and 1 are rolled up now
    sample(T0 + 30 * MIN + 1000, 1000); // back into hour 0
    sample(T0 + 30 * MIN + 2000, -1000);
    sample(T0 + 2 * HOUR + 65_000, 5); // forward again: minute 30 is written, hour 0 rolled again
    const now = T0 + 2 * HOUR + 65_000;
    for (const range of RANGES) {
      assert.deepEqual(store.query(['cpu'], range, now).series[0]!.points, expected(raw, range, now), range);
    }
    store.close();
    const hour0 = rows(store.file, `SELECT min, max, count FROM hours WHERE hour = ${T0 / HOUR}`);
    assert.deepEqual(
      hour0.map((r) => [r.min, r.max, r.count]),
      [[-1000, 1000, 362]],
    );
  });

  test('bad input is refused with a code and loses nothing else', () => {
    const store = new HistoryStore(dir);
    store.record(T0, { cpu: 10, mem: 20 });
    store.record(T0 + MIN, { cpu: 30 }); // minute T0 is written
    assert.throws(() => store.record(T0 + MIN + 1000, { cpu: 40, 'CPU!': 1 }), coded('bad_message'));
    assert.throws(() => store.record(T0 + MIN + 2000, { cpu: 50, mem: Number.NaN }), coded('bad_message'));
    assert.throws(
      () => store.record(T0 + MIN + 3000, { mem: Number.POSITIVE_INFINITY }),
      coded('bad_message'),
    );
    assert.throws(
      () => store.record(T0 + MIN + 3000, { mem: '7' as unknown as number }),
      coded('bad_message'),
    );
    assert.throws(() => store.record(Number.NaN, { cpu: 99 }), coded('bad_message'));
    assert.throws(() => store.record(-1, { cpu: 99 }), coded('bad_message'));
    assert.throws(() => store.query(['cpu', 'no such!'], '1h', T0 + MIN), coded('bad_message'));
    assert.throws(() => store.query(['cpu'], '2h' as HistoryRange, T0 + MIN), coded('bad_message'));
    assert.throws(() => store.query(['cpu'], '1h', Number.POSITIVE_INFINITY), coded('bad_message'));
    const now = T0 + MIN + 5000;
    const got = store.query(['cpu', 'mem'], '1h', now);
    assert.deepEqual(got.series, [
      {
        name: 'cpu',
        points: [
          [T0, 10, 10, 10],
          [T0 + MIN, 30, 40, 50],
        ],
      },
      { name: 'mem', points: [[T0, 20, 20, 20]] },
    ]);
    store.close();
    const again = new HistoryStore(dir);
    assert.deepEqual(again.query(['cpu', 'mem'], '1h', now).series, got.series);
    again.close();
  });

  test('the file is 0600 in a 0700 folder; a file open to others, a foreign file and a newer schema are refused', () => {
    const state = path.join(dir, 'state');
    new HistoryStore(state).close();
    assert.equal(fs.statSync(state).mode & 0o777, 0o700);
    const file = path.join(state, HISTORY_FILE);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    fs.chmodSync(file, 0o644);
    assert.throws(() => new HistoryStore(state), coded('state_insecure'));
    fs.chmodSync(file, 0o600);
    const db = new DatabaseSync(file);
    db.exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, 'future', 0)");
    db.close();
    assert.throws(() => new HistoryStore(state), coded('state_corrupt'));
    fs.rmSync(file);
    fs.writeFileSync(
      file,
      'not a database, just text that is long enough to look like a header'.repeat(100),
      {
        mode: 0o600,
      },
    );
    assert.throws(() => new HistoryStore(state), coded('state_corrupt'));
  });
});
