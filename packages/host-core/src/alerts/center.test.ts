/**
 * The alert center on a real state folder, with an injected clock and
 * sampler: first-run defaults written private; a corrupt file refused
 * loudly (`state_corrupt`), never reset; rules fire and resolve once and
 * the firing state survives a restart without a second firing; an edited
 * rule starts afresh; listings and pushes filtered by grants (rule:
 * `stats`, attention: `shell`, test: its asker only); ack, snooze and mute;
 * attention settings and its rate limit; push failures counted; the
 * `alerts.exec` hook run for real (a script writing its stdin to a file),
 * its failure audited; changes audited.
 */
import assert from 'node:assert/strict';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { AlertPushBody, AlertRule, DeviceId } from '@pocketshell/protocol';
import { AuditLog } from '../audit/audit-log.ts';
import { isHostError } from '../errors.ts';
import type { AttentionEvent } from '../pty/attention.ts';
import { AlertCenter, type AlertCenterOptions } from './center.ts';
import { ALERT_HISTORY_FILE, ALERTS_FILE, defaultRules, diskRuleId, suggestedRules } from './store.ts';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'pocketshell-alerts-'));
  dirs.push(d);
  return d;
}

const STATS = 'd_aaaaaaaaaaaaaaaaaaaaaaaaaa' as DeviceId;
const SHELL = 'd_bbbbbbbbbbbbbbbbbbbbbbbbbb' as DeviceId;
const BOTH = 'd_cccccccccccccccccccccccccc' as DeviceId;
const devices = [
  { id: STATS, grants: ['stats' as const] },
  { id: SHELL, grants: ['shell' as const] },
  { id: BOTH, grants: ['stats' as const, 'shell' as const] },
];

const cpu: AlertRule = {
  id: 'cpu-test',
  name: '',
  enabled: true,
  metric: 'cpu',
  target: '',
  op: 'above',
  threshold: 50,
  forSeconds: 10,
  cooldownSeconds: 600,
  severity: 'critical',
};
const ATTENTION = { bell: true, notify: true, longCommandSeconds: 30, prompt: true };

/** A center on `root` whose clock and CPU figure the test sets. */
function center(root: string, extra: Partial<AlertCenterOptions> = {}) {
  const clock = { now: 1_000_000, cpu: 0 as number | undefined };
  const pushed: [DeviceId, AlertPushBody][] = [];
  const audit = AuditLog.open(join(root, 'audit.jsonl'));
  const c = new AlertCenter({
    root,
    audit,
    autoStart: false,
    now: () => clock.now,
    defaults: () => [cpu],
    devices: () => devices,
    sampler: { sample: async (rules) => new Map(rules.map((r) => [r.id, clock.cpu])) },
    push: async (d, b) => {
      pushed.push([d, b]);
    },
    ...extra,
  });
  /** Advances the clock by `s` seconds at `value`, sampling every 5 s. */
  const run = async (value: number, s: number) => {
    const out = [];
    for (let t = 0; t < s; t += 5) {
      clock.cpu = value;
      out.push(...(await c.tick()));
      clock.now += 5000;
    }
    return out;
  };
  const audited = () =>
    readFileSync(join(root, 'audit.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { c, clock, pushed, run, audit, audited };
}

const event = (o: Partial<AttentionEvent>): AttentionEvent => ({
  session: 's1',
  reason: 'notify',
  at: 0,
  watched: false,
  title: '',
  text: 'build done',
  ...o,
});

test('first run writes the defaults privately; the files are schema-checked and a corrupt one is refused', async () => {
  const root = tmp();
  const audit = AuditLog.open(join(root, 'audit.jsonl'));
  const c = new AlertCenter({ root, audit, autoStart: false });
  const first = c.rules();
  assert.deepEqual(
    first.rules.slice(0, 4).map((r) => [r.id, r.metric, r.threshold, r.forSeconds, r.cooldownSeconds]),
    [
      ['cpu-high', 'cpu', 90, 300, 1800],
      ['memory-high', 'memory', 90, 300, 1800],
      ['load-high', 'load', 2, 600, 1800],
      ['swap-high', 'swap', 50, 600, 1800],
    ],
  );
  assert.ok(
    first.rules.some((r) => r.metric === 'disk' && r.target === '/'),
    'a rule for /',
  );
  assert.deepEqual(first.rules, defaultRules());
  assert.equal(statSync(join(root, ALERTS_FILE)).mode & 0o777, 0o600);
  await c.close();
  // Read back as written.
  assert.deepEqual(new AlertCenter({ root, audit, autoStart: false }).rules().rules, first.rules);

  // A schema failure and broken JSON are refused, and the file is left as it was.
  const bad = JSON.parse(readFileSync(join(root, ALERTS_FILE), 'utf8'));
  bad.rules[0].threshold = 'ninety';
  writeFileSync(join(root, ALERTS_FILE), JSON.stringify(bad));
  chmodSync(join(root, ALERTS_FILE), 0o600);
  assert.throws(
    () => new AlertCenter({ root, audit, autoStart: false }),
    (e) => isHostError(e, 'state_corrupt') && e.message.includes(ALERTS_FILE),
  );
  assert.equal(JSON.parse(readFileSync(join(root, ALERTS_FILE), 'utf8')).rules[0].threshold, 'ninety');
  writeFileSync(join(root, ALERTS_FILE), JSON.stringify({ ...bad, rules: [] }));
  writeFileSync(join(root, ALERT_HISTORY_FILE), '{"version":1,"alerts":[{"alert":{"id":"x"}}]}');
  assert.throws(
    () => new AlertCenter({ root, audit, autoStart: false }),
    (e) => isHostError(e, 'state_corrupt') && e.message.includes(ALERT_HISTORY_FILE),
  );
  writeFileSync(join(root, ALERT_HISTORY_FILE), '{"version":1,"alerts":[');
  assert.throws(
    () => new AlertCenter({ root, audit, autoStart: false }),
    (e) => isHostError(e, 'state_corrupt'),
  );
  audit.close();
});

test('a rule fires once, resolves once; a restart keeps it firing without a second alert; an edit starts afresh', async () => {
  const root = tmp();
  const h = center(root);
  assert.deepEqual(await h.run(10, 20), []);
  const fired = await h.run(90, 60);
  assert.deepEqual(
    fired.map((a) => [a.kind, a.state, a.rule, a.severity]),
    [['rule', 'firing', 'cpu-test', 'critical']],
  );
  assert.equal(fired[0]!.value, 90);
  assert.match(fired[0]!.title, /CPU above 50 %/);
  // Pushed to the devices holding `stats`, opening the Monitor screen.
  assert.deepEqual(
    h.pushed.map(([d, b]) => [d, b.state, b.open]),
    [
      [STATS, 'firing', 'monitor'],
      [BOTH, 'firing', 'monitor'],
    ],
  );
  await h.c.close();

  // Restarted while still firing: no second alert, then one resolution.
  const h2 = center(root);
  h2.clock.now = h.clock.now;
  assert.deepEqual(await h2.run(95, 30), []);
  const resolved = await h2.run(5, 30);
  assert.deepEqual(
    resolved.map((a) => [a.state, a.severity]),
    [['resolved', 'info']],
  );
  // Breaching again inside the cooldown: nothing.
  assert.deepEqual(await h2.run(95, 20), []);

  // An edited rule loses its state (its cooldown too): it fires after forSeconds.
  h2.c.setRules([{ ...cpu, threshold: 60 }], ATTENTION, STATS);
  const again = await h2.run(95, 15);
  assert.deepEqual(
    again.map((a) => a.state),
    ['firing'],
  );
  const rulesAudit = h2.audited().filter((e) => e.event === 'alerts.rules');
  assert.equal(rulesAudit.length, 1);
  assert.equal(rulesAudit[0]!.device, STATS);
  assert.match(String(rulesAudit[0]!.summary), /cpu-test:cpu above 60\/10s/);
  // The history holds all three, newest first.
  const list = h2.c.list(STATS, new Set(['stats']), { limit: 50 });
  assert.deepEqual(
    list.alerts.map((a) => a.state),
    ['firing', 'resolved', 'firing'],
  );
  assert.equal(list.unacked, 3);
  await h2.c.close();
  h2.audit.close();
  h.audit.close();
});

test('listings, pushes and watchers follow the grants; a test alert reaches its asker only', async () => {
  const h = center(tmp());
  const seen: Record<string, string[]> = { [STATS]: [], [SHELL]: [], [BOTH]: [] };
  for (const d of devices)
    h.c.watch(
      d.id,
      () => new Set(d.grants),
      (a) => seen[d.id]!.push(a.kind),
    );
  await h.run(90, 15);
  h.c.attention(event({ reason: 'notify', title: 'make', text: 'build done' }));
  const test = await h.c.test(SHELL);
  assert.equal(test.kind, 'test');
  assert.deepEqual(seen, {
    [STATS]: ['rule'],
    [SHELL]: ['attention', 'test'],
    [BOTH]: ['rule', 'attention'],
  });
  const kinds = (d: (typeof devices)[number]) =>
    h.c.list(d.id, new Set(d.grants), { limit: 50 }).alerts.map((a) => a.kind);
  assert.deepEqual(kinds(devices[0]!), ['rule']);
  assert.deepEqual(kinds(devices[1]!), ['test', 'attention']);
  assert.deepEqual(kinds(devices[2]!), ['attention', 'rule']);
  assert.deepEqual(
    h.pushed.map(([d, b]) => `${d.slice(2, 3)}:${b.kind}:${b.open}${b.session ? `:${b.session}` : ''}`),
    ['a:rule:monitor', 'c:rule:monitor', 'b:attention:session:s1', 'c:attention:session:s1', 'b:test:alerts'],
  );
  // Acknowledging "all" touches only what that device may see.
  assert.equal(h.c.ack(STATS, new Set(['stats']), [], true), 1);
  assert.equal(h.c.list(BOTH, new Set(['stats', 'shell']), { limit: 50 }).unacked, 1);
  const attention = h.c.list(SHELL, new Set(['shell']), { limit: 50 }).alerts[1]!;
  assert.equal(h.c.ack(STATS, new Set(['stats']), [attention.id], false), 0, 'not its to acknowledge');
  assert.equal(h.c.ack(SHELL, new Set(['shell']), [attention.id], false), 1);
  assert.equal(h.c.list(BOTH, new Set(['stats', 'shell']), { limit: 50 }).unacked, 0);
  await h.c.close();
  h.audit.close();
});

test('snoozes and mutes silence pushes (snoozed alerts stay in the history); attention settings and rate limit apply', async () => {
  const h = center(tmp());
  // Snoozed rule: it fires into the history, but nothing is pushed.
  const s = h.c.snooze({ rule: 'cpu-test' }, 10, SHELL);
  assert.deepEqual(s, [{ target: { rule: 'cpu-test' }, until: h.clock.now + 600_000 }]);
  assert.equal((await h.run(90, 15)).length, 1);
  assert.equal(h.pushed.length, 0);
  // Lifted: the resolution is pushed.
  assert.deepEqual(h.c.snooze({ rule: 'cpu-test' }, 0, SHELL), []);
  await h.run(10, 15);
  assert.deepEqual(
    h.pushed.map(([, b]) => b.state),
    ['resolved', 'resolved'],
  );
  h.pushed.length = 0;

  // Attention: a muted session raises nothing; a snoozed one only into the history.
  h.c.mute('s1', true, SHELL);
  assert.equal(h.c.attention(event({ session: 's1' })), undefined);
  assert.deepEqual(h.c.rules().muted, ['s1']);
  h.c.mute('s1', false, SHELL);
  h.c.snooze({ session: 's2' }, 5, SHELL);
  assert.ok(h.c.attention(event({ session: 's2' })));
  assert.equal(h.pushed.length, 0);
  // Rate limit: one per session and reason per 10 s.
  assert.ok(h.c.attention(event({ session: 's1', reason: 'bell' })));
  assert.equal(h.c.attention(event({ session: 's1', reason: 'bell' })), undefined);
  assert.ok(h.c.attention(event({ session: 's1', reason: 'notify' })));
  h.clock.now += 10_000;
  assert.ok(h.c.attention(event({ session: 's1', reason: 'bell' })));
  // Settings: a watched bell or prompt is dropped, a short command too; a long one is worded.
  assert.equal(h.c.attention(event({ session: 's3', reason: 'bell', watched: true })), undefined);
  assert.equal(h.c.attention(event({ session: 's3', reason: 'finished', durationMs: 5000 })), undefined);
  const long = h.c.attention(
    event({
      session: 's3',
      reason: 'finished',
      durationMs: 125_000,
      exitCode: 2,
      text: 'make all',
      title: 'build',
    }),
  );
  assert.equal(long?.title, 'Command finished in build');
  assert.equal(long?.body, 'make all — ran 2 min, exit 2');
  assert.equal(long?.severity, 'warning');
  h.c.setRules([cpu], { ...ATTENTION, bell: false }, SHELL);
  assert.equal(h.c.attention(event({ session: 's4', reason: 'bell' })), undefined);
  // Snooze everything: nothing pushed at all.
  h.c.snooze({ all: true }, 60, SHELL);
  const before = h.pushed.length;
  h.c.attention(event({ session: 's5', reason: 'notify' }));
  assert.equal(h.pushed.length, before);
  const audited = h.audited();
  assert.deepEqual(
    audited.filter((e) => e.event === 'alerts.mute').map((e) => [e.session, e.muted]),
    [
      ['s1', true],
      ['s1', false],
    ],
  );
  assert.deepEqual(
    audited.filter((e) => e.event === 'alerts.snooze').map((e) => [e.target, e.minutes]),
    [
      ['rule cpu-test', 10],
      ['rule cpu-test', 0],
      ['session s2', 5],
      ['all', 60],
    ],
  );
  await h.c.close();
  h.audit.close();
});

test('a failing push is counted, never thrown', async () => {
  const h = center(tmp(), {
    push: async () => {
      throw new Error('relay down');
    },
  });
  await h.c.test(STATS);
  await h.run(90, 15);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(h.c.pushes, { sent: 0, failed: 3 });
  assert.equal(h.c.list(STATS, new Set(['stats']), { limit: 5 }).alerts.length, 2);
  await h.c.close();
  h.audit.close();
});

test('the alerts.exec hook gets each alert as JSON on stdin; a failing hook is audited', async () => {
  const root = tmp();
  const out = join(root, 'hook-out.jsonl');
  const script = join(root, 'hook.sh');
  writeFileSync(
    script,
    `#!/bin/sh\ncat >> '${out}'\nprintenv POCKETSHELL_HOOK_PROBE >> '${out}.env' || true\n`,
    {
      mode: 0o700,
    },
  );
  process.env.POCKETSHELL_HOOK_PROBE = 'daemon-only';
  const h = center(root, { exec: [script] });
  await h.run(90, 15);
  h.c.attention(event({ text: 'hello $(touch /tmp/nope) `x`' }));
  await h.c.exec!.idle();
  const got = readFileSync(out, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { kind: string; state: string; body: string });
  assert.deepEqual(
    got.map((a) => [a.kind, a.state]),
    [
      ['rule', 'firing'],
      ['attention', 'notice'],
    ],
  );
  assert.equal(got[1]!.body, 'hello $(touch /tmp/nope) `x`', 'passed as data, never to a shell');
  assert.deepEqual(h.c.exec!.counts, { ok: 2, failed: 0, dropped: 0 });
  assert.equal(
    existsSync(`${out}.env`) ? readFileSync(`${out}.env`, 'utf8') : '',
    '',
    'no POCKETSHELL_* variable',
  );
  delete process.env.POCKETSHELL_HOOK_PROBE;
  await h.c.close();
  h.audit.close();

  const f = center(tmp(), { exec: ['/bin/sh', '-c', 'exit 3'] });
  const missing = center(tmp(), { exec: [join(root, 'no-such-hook')] });
  const slow = center(tmp(), { exec: ['/bin/sleep', '30'], execTimeoutMs: 200 });
  for (const x of [f, missing, slow]) {
    await x.c.test(STATS);
    await x.c.exec!.idle();
  }
  const outcome = (x: typeof f) =>
    x
      .audited()
      .filter((e) => e.event === 'alerts.exec')
      .map((e) => [e.outcome, e.detail]);
  assert.deepEqual(outcome(f), [['exit', 'exit 3']]);
  assert.deepEqual(outcome(missing), [['spawn', 'ENOENT']]);
  assert.deepEqual(outcome(slow), [['timeout', 'killed after 200 ms']]);
  for (const x of [f, missing, slow]) {
    await x.c.close();
    x.audit.close();
  }
});

test('a history write that fails keeps the alert, delivers it, and is audited, never thrown into a session', async () => {
  const root = tmp();
  const h = center(root);
  // The history file's place taken by a folder: the atomic rename fails.
  rmSync(join(root, ALERT_HISTORY_FILE), { force: true });
  mkdirSync(join(root, ALERT_HISTORY_FILE));
  const a = h.c.attention(event({ session: 'sx' }));
  assert.ok(a);
  assert.equal(h.c.saveFailures, 1);
  assert.equal(h.pushed.length, 2, 'pushed to the shell devices anyway');
  assert.equal(h.c.list(SHELL, new Set(['shell']), { limit: 5 }).alerts[0]?.id, a.id);
  const refusal = h.audited().find((e) => e.event === 'refusal');
  assert.deepEqual([refusal?.code, refusal?.what], ['state_io', 'alerts save']);
  await h.c.close();
  h.audit.close();
});

test('suggestions: mounts without a rule, a sensor, a battery — disabled, never one already kept', () => {
  const s = suggestedRules(defaultRules(['/']), {
    temperatures: true,
    battery: true,
    mounts: ['/', '/srv/data'],
  });
  const ids = s.map((r) => r.id);
  assert.ok(ids.includes('disk-srv-data') && ids.includes('temperature-high') && ids.includes('battery-low'));
  assert.ok(!ids.includes('disk-root'), '/ already has a rule');
  assert.ok(s.every((r) => !r.enabled));
  const none = suggestedRules(defaultRules(['/', '/srv/data']), {
    temperatures: false,
    battery: false,
    mounts: [],
  });
  assert.ok(!none.some((r) => ['temperature-high', 'battery-low', 'disk-srv-data'].includes(r.id)));
  assert.equal(diskRuleId('/var/lib/docker'), 'disk-var-lib-docker');
});
