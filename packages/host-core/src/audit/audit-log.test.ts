/**
 * Tests of the audit log on real temp files: entries and their chain, the
 * head recovered on reopen, the 0600 mode, the secret-name guard (at run
 * time, and at compile time through `@ts-expect-error`), and verification
 * that catches an edited, a deleted and a reordered line, a torn tail and
 * garbage, naming the first broken line; the head anchor that catches a
 * truncated tail (finding 5 of the 2026-12 red-team pass), and rotation
 * that bounds the log and keeps the chain verifiable across files (6).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { isHostError } from '../errors.ts';
import {
  AuditLog,
  auditHash,
  auditHeadPath,
  auditRotatedPath,
  GENESIS_HASH,
  verifyAuditLog,
} from './audit-log.ts';

let dir: string;
let file: string;
let now: number;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ps-audit-'));
  file = path.join(dir, 'state', 'audit.jsonl');
  now = Date.UTC(2026, 0, 1);
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const clock = () => now++;

function writeFive(): string[] {
  const log = AuditLog.open(file, { clock });
  log.append('pairing', { device: 'd_a', name: 'Pixel', grants: ['shell'] });
  log.append('connection', { device: 'd_a', conn: 'c1' });
  log.append('session.opened', { session: 's1', device: 'd_a' });
  log.append('refusal', { code: 'bad_signature', device: 'd_b' });
  log.append('revocation', { device: 'd_a' });
  log.close();
  return fs.readFileSync(file, 'utf8').trimEnd().split('\n');
}

const rewrite = (lines: string[]) => fs.writeFileSync(file, lines.join('\n') + '\n');

describe('audit log', () => {
  test('writes chained JSON lines, 0600, one per append', async () => {
    const lines = writeFive();
    assert.equal(lines.length, 5);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    const entries = lines.map((l) => JSON.parse(l));
    assert.equal(entries[0].prev, GENESIS_HASH);
    assert.equal(entries[0].ts, '2026-01-01T00:00:00.000Z');
    assert.deepEqual(entries[0].grants, ['shell']);
    for (let i = 0; i < entries.length; i++) {
      assert.equal(entries[i].seq, i + 1);
      assert.equal(entries[i].hash, auditHash(entries[i]));
      if (i > 0) assert.equal(entries[i].prev, entries[i - 1].hash);
    }
    assert.equal(entries[3].code, 'bad_signature');
    const result = await verifyAuditLog(file);
    assert.deepEqual(result, { ok: true, entries: 5, head: entries[4].hash, first: 1 });
  });

  test('the chain head is recovered from the last line on open', async () => {
    const lines = writeFive();
    const log = AuditLog.open(file, { clock });
    assert.equal(log.seq, 5);
    assert.equal(log.head, JSON.parse(lines[4]!).hash);
    const e = log.append('session.closed', { session: 's1', code: 0 });
    log.close();
    log.close();
    assert.equal(e.seq, 6);
    assert.equal(e.prev, JSON.parse(lines[4]!).hash);
    assert.equal((await verifyAuditLog(file)).ok, true);
    assert.throws(
      () => log.append('connection', { device: 'd' }),
      (err: unknown) => isHostError(err, 'closed'),
    );
  });

  test('fields named like secrets, reserved names and non-flat values are refused', () => {
    const log = AuditLog.open(file, { clock });
    const refused = (err: unknown) => isHostError(err, 'audit_field_refused');
    // @ts-expect-error a field named like a secret does not compile
    assert.throws(() => log.append('pairing', { device: 'd', claim: 'abc' }), refused);
    // @ts-expect-error
    assert.throws(() => log.append('connection', { device: 'd', deviceSig: 'x' }), refused);
    // @ts-expect-error
    assert.throws(() => log.append('connection', { device: 'd', AUTH_TOKEN: 'x' }), refused);
    // @ts-expect-error
    assert.throws(() => log.append('connection', { device: 'd', privateKey: 'x' }), refused);
    // @ts-expect-error a field may not shadow the entry's own
    assert.throws(() => log.append('connection', { device: 'd', prev: 'x' }), refused);
    // @ts-expect-error refusal needs its code
    assert.throws(() => log.append('refusal', { device: 'd' }), TypeError);
    const loose = log as unknown as { append(e: string, f: object): unknown };
    assert.throws(() => loose.append('connection', { device: 'd', n: 1.5 }), refused);
    assert.throws(() => loose.append('connection', { device: { nested: 1 } }), refused);
    assert.throws(() => loose.append('telemetry', { device: 'd' }), refused);
    log.close();
    assert.equal(fs.readFileSync(file, 'utf8'), '', 'nothing refused was written');
  });

  test('an edited line is reported with its line number', async () => {
    const lines = writeFive();
    rewrite(lines.map((l, i) => (i === 2 ? l.replace('"s1"', '"s2"') : l)));
    const r = await verifyAuditLog(file);
    assert.deepEqual(r.ok ? null : [r.line, r.entries], [3, 2]);
    assert.match(r.ok ? '' : r.reason, /edited/);
  });

  test('a deleted line is reported', async () => {
    const lines = writeFive();
    rewrite(lines.filter((_, i) => i !== 1));
    const r = await verifyAuditLog(file);
    assert.equal(r.ok ? 0 : r.line, 2);
    assert.match(r.ok ? '' : r.reason, /deleted/);
  });

  test('reordered lines are reported', async () => {
    const lines = writeFive();
    rewrite([lines[0]!, lines[1]!, lines[3]!, lines[2]!, lines[4]!]);
    const r = await verifyAuditLog(file);
    assert.equal(r.ok ? 0 : r.line, 3);
    assert.match(r.ok ? '' : r.reason, /seq 4 where 3/);
  });

  test('a re-hashed edit still breaks the link to the next entry', async () => {
    const lines = writeFive();
    const e = JSON.parse(lines[1]!);
    e.device = 'd_evil';
    e.hash = auditHash(e);
    rewrite(lines.map((l, i) => (i === 1 ? JSON.stringify(e) : l)));
    const r = await verifyAuditLog(file);
    assert.equal(r.ok ? 0 : r.line, 3);
    assert.match(r.ok ? '' : r.reason, /chain broken/);
  });

  test('a torn or garbage tail is reported, and open refuses to chain onto it', async () => {
    const lines = writeFive();
    fs.appendFileSync(file, '{"seq":6,"ts');
    const r = await verifyAuditLog(file);
    assert.equal(r.ok ? 0 : r.line, 6);
    assert.throws(
      () => AuditLog.open(file),
      (err: unknown) => isHostError(err, 'audit_corrupt'),
    );
    rewrite([...lines, 'hello']);
    assert.equal((await verifyAuditLog(file)).ok, false);
    assert.throws(
      () => AuditLog.open(file),
      (err: unknown) => isHostError(err, 'audit_corrupt'),
    );
  });

  test('a log open to others is refused', () => {
    writeFive();
    fs.chmodSync(file, 0o644);
    assert.throws(
      () => AuditLog.open(file),
      (err: unknown) => isHostError(err, 'state_insecure') && err.message.includes('chmod 600'),
    );
  });

  test('a truncated tail is caught by the head anchor (finding 5)', async () => {
    const lines = writeFive();
    const head = auditHeadPath(file);
    assert.equal(path.basename(head), 'audit.head');
    assert.equal(fs.statSync(head).mode & 0o777, 0o600);
    assert.deepEqual(JSON.parse(fs.readFileSync(head, 'utf8')), { seq: 5, hash: JSON.parse(lines[4]!).hash });
    // `head -n -2`: what is left is a perfectly valid chain ...
    rewrite(lines.slice(0, 3));
    const r = await verifyAuditLog(file);
    assert.equal(r.ok, false, 'a truncated log must not verify');
    assert.match(r.ok ? '' : r.reason, /ends at entry 3 .* entry 5 \(truncated\)/);
    assert.equal(r.ok ? '' : r.file, 'audit.head');
    // ... and the log refuses to chain new entries onto it.
    assert.throws(
      () => AuditLog.open(file),
      (err: unknown) => isHostError(err, 'audit_corrupt') && /truncated/.test(err.message),
    );
    // Without the anchor, verify says it cannot rule truncation out.
    fs.rmSync(head);
    const r2 = await verifyAuditLog(file);
    assert.match(r2.ok ? '' : r2.reason, /anchor is missing/);
  });

  test('a crash between an append and the anchor update is repaired on open', async () => {
    const lines = writeFive();
    const e4 = JSON.parse(lines[3]!);
    fs.writeFileSync(auditHeadPath(file), JSON.stringify({ seq: 4, hash: e4.hash }), { mode: 0o600 });
    assert.equal((await verifyAuditLog(file)).ok, true);
    const log = AuditLog.open(file, { clock });
    log.append('connection', { device: 'd_a' });
    log.close();
    assert.deepEqual(await verifyAuditLog(file), {
      ok: true,
      entries: 6,
      head: log.head,
      first: 1,
    });
    // Two entries past the anchor is not a crash: reported.
    fs.writeFileSync(auditHeadPath(file), JSON.stringify({ seq: 4, hash: e4.hash }), { mode: 0o600 });
    assert.match(((r) => (r.ok ? '' : r.reason))(await verifyAuditLog(file)), /does not match/);
  });

  test('the log rotates at maxBytes, keeps `keep` old files, and the chain verifies across them (finding 6)', async () => {
    const log = AuditLog.open(file, { clock, maxBytes: 2000, keep: 2 });
    for (let i = 0; i < 60; i++)
      log.append('refusal', { code: 'grant_missing', device: 'd_flood', what: `n${i}` });
    log.close();
    const sizes = [file, auditRotatedPath(file, 1), auditRotatedPath(file, 2)].map(
      (f) => fs.statSync(f).size,
    );
    for (const size of sizes) assert.ok(size <= 2000, `a file of ${size} bytes`);
    assert.equal(fs.existsSync(auditRotatedPath(file, 3)), false, 'only `keep` old files are kept');
    for (const f of [auditRotatedPath(file, 1), auditRotatedPath(file, 2)])
      assert.equal(fs.statSync(f).mode & 0o777, 0o600);
    const r = await verifyAuditLog(file);
    assert.ok(r.ok, JSON.stringify(r));
    assert.equal(r.head, log.head);
    assert.ok(r.first > 1, 'older entries were rotated away');
    assert.equal(r.entries, 60 - r.first + 1);
    // The first entry of the current file links to the last of audit.1.jsonl.
    const prevLast = JSON.parse(
      fs.readFileSync(auditRotatedPath(file, 1), 'utf8').trimEnd().split('\n').at(-1)!,
    );
    const curFirst = JSON.parse(fs.readFileSync(file, 'utf8').split('\n')[0]!);
    assert.equal(curFirst.prev, prevLast.hash);
    assert.equal(curFirst.seq, prevLast.seq + 1);
    // Reopening continues the chain.
    const again = AuditLog.open(file, { clock, maxBytes: 2000, keep: 2 });
    assert.equal(again.seq, 60);
    again.close();

    // An edit in an old file is named with its file; a removed middle file breaks the chain.
    const one = auditRotatedPath(file, 1);
    const saved = fs.readFileSync(one, 'utf8');
    fs.writeFileSync(one, saved.replace('"n', '"N'));
    const edited = await verifyAuditLog(file);
    assert.equal(edited.ok ? '' : edited.file, 'audit.1.jsonl');
    assert.match(edited.ok ? '' : edited.reason, /edited/);
    fs.writeFileSync(one, saved);
    fs.renameSync(auditRotatedPath(file, 2), path.join(dir, 'elsewhere'));
    assert.equal((await verifyAuditLog(file)).ok, true, 'dropping the oldest file is rotation, not damage');
    fs.renameSync(path.join(dir, 'elsewhere'), auditRotatedPath(file, 2));
    fs.renameSync(one, path.join(dir, 'elsewhere'));
    fs.renameSync(auditRotatedPath(file, 2), one);
    const gap = await verifyAuditLog(file);
    assert.match(gap.ok ? '' : gap.reason, /entries deleted/);
  });
});
