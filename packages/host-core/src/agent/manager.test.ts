/**
 * The agent manager with an in-memory adapter (no process): the tier table,
 * the state machine, approvals (asked, answered, denied by the tier,
 * expired when the session ends), audit records, the bounded event log and
 * its replay, the per-stream text filter catching a secret split over two
 * deltas, the allowlisted environment and the sandbox wrap, confinement of
 * the working folder, limits, and resume never raising a tier.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import {
  AGENT_STATES,
  AGENT_TIERS,
  type AgentEvent,
  type AgentTier,
  APPROVAL_ACTIONS,
  type DeviceId,
  MAX_AGENT_BACKLOG,
} from '@pocketshell/protocol';
import type { AgentAdapter, AgentStart, PermissionAnswer } from './backend.ts';
import { AgentManager, type TextFilter } from './manager.ts';
import { agentEnv, canMove, tierVerdict } from './policy.ts';

const dir = mkdtempSync(join(tmpdir(), 'pocketshell-agent-manager-'));
const root = join(dir, 'root');
mkdirSync(root);
mkdirSync(join(root, 'sub'));
symlinkSync(dir, join(root, 'out'));
after(() => rmSync(dir, { recursive: true, force: true }));

const A = 'dev_a' as DeviceId;
const B = 'dev_b' as DeviceId;

/** An adapter that records each start and lets the test drive it; its process "exits" on `exit`. */
function fakeAdapter() {
  const starts: AgentStart[] = [];
  const exits: ((code: number) => void)[] = [];
  const sent: string[] = [];
  const adapter: AgentAdapter = (start) => {
    starts.push(start);
    let exit!: (code: number) => void;
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => {
      exit = (code) => r({ code, signal: null });
    });
    exits.push(exit);
    return {
      send: (t) => sent.push(t),
      interrupt: async () => {},
      stop: async () => {
        exit(0);
        await exited;
      },
      exited,
    };
  };
  return { adapter, starts, exits, sent };
}

function manager(
  policies: Record<string, { tier: AgentTier; roots?: string[] }>,
  extra: Partial<ConstructorParameters<typeof AgentManager>[0]> = {},
) {
  const fake = fakeAdapter();
  const audit: { event: string; fields: Record<string, unknown> }[] = [];
  const approvals: AgentEvent[] = [];
  const m = new AgentManager({
    adapters: { claude: fake.adapter },
    policy: (d) => {
      const p = policies[d];
      return p ? { tier: p.tier, roots: p.roots ?? [root] } : undefined;
    },
    deviceName: (d) => `name of ${d}`,
    audit: { append: (event, fields) => audit.push({ event, fields }) },
    env: { PATH: '/usr/bin:/bin', HOME: dir, POCKETSHELL_CLAUDE_BIN: '/bin/true' },
    onApproval: (_s, e) => approvals.push(e),
    ...extra,
  });
  return { m, fake, audit, approvals };
}

function events(m: AgentManager, device: DeviceId, session: string): AgentEvent[] {
  const out: AgentEvent[] = [];
  m.watch(
    device,
    session,
    0,
    (e) => out.push(e),
    () => {},
  )();
  return out;
}

describe('the tier table', () => {
  test('read-only denies writes, edits and commands; auto-edit allows edits inside the roots; reads inside pass', () => {
    const table: Record<string, string> = {};
    for (const tier of AGENT_TIERS)
      for (const action of APPROVAL_ACTIONS)
        for (const inRoots of [true, false])
          table[`${tier} ${action} ${inRoots ? 'in' : 'out'}`] = tierVerdict(tier, action, inRoots);
    const expect = (tier: string, action: string, inside: string, out: string) => {
      assert.equal(table[`${tier} ${action} in`], inside, `${tier} ${action} in`);
      assert.equal(table[`${tier} ${action} out`], out, `${tier} ${action} out`);
    };
    for (const a of ['write', 'edit', 'command']) expect('read-only', a, 'deny', 'deny');
    expect('read-only', 'read', 'approve', 'ask');
    expect('read-only', 'network', 'ask', 'ask');
    for (const a of ['write', 'edit', 'command', 'network', 'other']) expect('ask', a, 'ask', 'ask');
    expect('ask', 'read', 'approve', 'ask');
    for (const a of ['write', 'edit']) expect('auto-edit', a, 'approve', 'ask');
    expect('auto-edit', 'command', 'ask', 'ask');
    expect('auto-edit', 'other', 'ask', 'ask');
  });

  test('the state machine: ended and failed are final; no way back to starting', () => {
    for (const s of AGENT_STATES) {
      assert.equal(canMove(s, 'starting'), false, `${s} → starting`);
      if (s === 'ended' || s === 'failed') for (const t of AGENT_STATES) assert.equal(canMove(s, t), false);
      else {
        assert.ok(canMove(s, 'ended'));
        assert.ok(canMove(s, 'failed'));
      }
    }
    assert.ok(canMove('working', 'waiting'));
    assert.ok(canMove('waiting', 'working'));
  });
});

describe('AgentManager', () => {
  test('ask: a write waits for an answer from any device; the answer is audited with the device', async () => {
    const { m, fake, audit, approvals } = manager({ [A]: { tier: 'ask' }, [B]: { tier: 'read-only' } });
    const s = await m.start(A, { kind: 'claude', prompt: 'go', cwd: root });
    assert.equal(s.cwd, root);
    assert.equal(s.state, 'working');
    const start = fake.starts[0]!;
    let answer: PermissionAnswer | undefined;
    const asked = start
      .permit({ id: 'toolu_1', action: 'write', tool: 'Write', summary: 'write a', path: join(root, 'a') })
      .then((a) => {
        answer = a;
      });
    await new Promise((r) => setImmediate(r));
    assert.equal(answer, undefined);
    assert.equal(m.sessions(A)[0]?.state, 'waiting');
    assert.equal(m.sessions(A)[0]?.pending, 1);
    assert.equal(approvals.length, 1);
    // B (another device whose roots hold the folder) answers.
    assert.deepEqual(m.answer(B, s.id, 'toolu_1', 'approve'), { state: 'approved' });
    await asked;
    assert.deepEqual(answer, { decision: 'approve' });
    assert.equal(m.sessions(A)[0]?.state, 'working');
    const ev = events(m, A, s.id).filter((e) => e.type === 'approval');
    assert.deepEqual(
      ev.map((e) => e.type === 'approval' && [e.state, e.by ?? null]),
      [
        ['pending', null],
        ['approved', `name of ${B}`],
      ],
    );
    const rec = audit.find((a) => a.event === 'agent.approval');
    assert.equal(rec?.fields.decision, 'approved');
    assert.equal(rec?.fields.device, B);
    assert.equal(rec?.fields.path, join(root, 'a'));
    // Answering twice tells the state, it does not change it.
    assert.deepEqual(m.answer(A, s.id, 'toolu_1', 'deny'), { state: 'approved' });
    assert.throws(() => m.answer(A, s.id, 'nope', 'deny'), { code: 'not_found' });
    start.emit({ type: 'result', ok: true });
    assert.equal(m.sessions(A)[0]?.state, 'idle');
    await m.close();
  });

  test('read-only: denied at once, the agent told the tier; auto-edit: edits inside the roots pass, outside ask', async () => {
    const { m, fake, audit, approvals } = manager({ [A]: { tier: 'read-only' }, [B]: { tier: 'auto-edit' } });
    await m.start(A, { kind: 'claude', prompt: 'go' });
    const ro = fake.starts[0]!;
    for (const action of ['write', 'edit', 'command'] as const) {
      const a = await ro.permit({
        id: `r_${action}`,
        action,
        tool: 'X',
        summary: action,
        path: join(root, 'f'),
      });
      assert.equal(a.decision, 'deny');
      assert.match(a.decision === 'deny' ? a.message : '', /read-only tier/);
    }
    assert.deepEqual(
      await ro.permit({ id: 'r_read', action: 'read', tool: 'Read', summary: 'read', path: join(root, 'f') }),
      {
        decision: 'approve',
      },
    );
    assert.equal(approvals.length, 0, 'nobody asked');
    assert.equal(
      audit.filter((a) => a.event === 'agent.approval' && a.fields.decision === 'denied').length,
      3,
    );

    await m.start(B, { kind: 'claude', prompt: 'go' });
    const ae = fake.starts[1]!;
    assert.deepEqual(
      await ae.permit({
        id: 'e1',
        action: 'edit',
        tool: 'Edit',
        summary: 'e',
        path: join(root, 'sub', 'new.ts'),
      }),
      {
        decision: 'approve',
      },
    );
    // Claude's own settings in the workspace widen what it may do: asked, even at auto-edit.
    void ae.permit({
      id: 'e3',
      action: 'write',
      tool: 'Write',
      summary: 'w',
      path: join(root, '.claude', 'settings.json'),
    });
    // Through a link out of the root: not inside, so asked.
    void ae.permit({ id: 'e2', action: 'edit', tool: 'Edit', summary: 'e', path: join(root, 'out', 'x') });
    void ae.permit({ id: 'c1', action: 'command', tool: 'Bash', summary: 'run', command: 'ls' });
    await new Promise((r) => setImmediate(r));
    assert.equal(approvals.length, 3);
    await m.close();
  });

  test('approvals pending when the session ends expire, the agent told; the session ends', async () => {
    const { m, fake, audit } = manager({ [A]: { tier: 'ask' } });
    const s = await m.start(A, { kind: 'claude', prompt: 'go' });
    const asked = fake.starts[0]!.permit({
      id: 'x',
      action: 'command',
      tool: 'Bash',
      summary: 'run',
      command: 'rm -rf /',
    });
    await new Promise((r) => setImmediate(r));
    fake.exits[0]!(0);
    const a = await asked;
    assert.equal(a.decision, 'deny');
    await new Promise((r) => setImmediate(r));
    const ev = events(m, A, s.id);
    assert.ok(ev.some((e) => e.type === 'approval' && e.state === 'expired'));
    assert.equal(m.sessions(A)[0]?.state, 'ended');
    assert.equal(audit.find((x) => x.event === 'agent.approval')?.fields.decision, 'expired');
    assert.throws(() => m.send(A, s.id, 'more'), { code: 'not_found' });
    await m.close();
  });

  test('a process that dies with an error fails the session', async () => {
    const { m, fake } = manager({ [A]: { tier: 'ask' } });
    const s = await m.start(A, { kind: 'claude', prompt: 'go' });
    fake.exits[0]!(1);
    await new Promise((r) => setImmediate(r));
    const last = events(m, A, s.id).at(-1);
    assert.deepEqual(last && last.type === 'state' && [last.state, last.detail], ['failed', 'exit 1']);
    await m.close();
  });

  test('the event log keeps the newest MAX_AGENT_BACKLOG; watch replays after since, then streams', async () => {
    const { m, fake } = manager({ [A]: { tier: 'ask' } });
    const s = await m.start(A, { kind: 'claude', resume: 'abc' });
    const start = fake.starts[0]!;
    for (let i = 0; i < MAX_AGENT_BACKLOG + 10; i++)
      start.emit({ type: 'text', id: `m${i}`, text: `t${i}`, delta: false });
    const all = events(m, A, s.id);
    assert.equal(all.length, MAX_AGENT_BACKLOG);
    const total = m.sessions(A)[0]!.seq;
    assert.equal(all[0]?.seq, total - MAX_AGENT_BACKLOG + 1);
    const seen: number[] = [];
    const stop = m.watch(
      A,
      s.id,
      total - 2,
      (e) => seen.push(e.seq),
      () => {},
    );
    start.emit({ type: 'text', id: 'live', text: 'live', delta: false });
    stop();
    start.emit({ type: 'text', id: 'after', text: 'after', delta: false });
    assert.deepEqual(seen, [total - 1, total, total + 1]);
    // And by size: 200 events of 64 KiB keep at most MAX_BACKLOG_BYTES.
    for (let i = 0; i < 200; i++)
      start.emit({ type: 'text', id: `b${i}`, text: 'x'.repeat(64 * 1024), delta: false });
    const big = events(m, A, s.id);
    assert.ok(big.length < 130 && big.length > 100, String(big.length));
    assert.equal(big.at(-1)?.seq, m.sessions(A)[0]!.seq);
    await m.close();
  });

  test('every text goes through a filter per stream: a secret split across two deltas is caught', async () => {
    // A stand-in for the secret filter: holds back 16 characters, redacts SECRET-… tokens.
    const filter = (): TextFilter => {
      let held = '';
      const redact = (t: string) => t.replace(/SECRET-[A-Z0-9]{8}/g, '[redacted]');
      return {
        push(chunk) {
          const all = redact(held + chunk);
          held = all.slice(-16);
          return all.slice(0, -16);
        },
        flush() {
          const rest = redact(held);
          held = '';
          return rest;
        },
      };
    };
    const { m, fake } = manager({ [A]: { tier: 'ask' } }, { filter });
    const s = await m.start(A, { kind: 'claude', prompt: 'my SECRET-ABCD1234 is' });
    const start = fake.starts[0]!;
    start.emit({ type: 'text', id: 'm1', text: 'the token is SECRET-AB', delta: true });
    start.emit({ type: 'text', id: 'm2', text: 'another stream ', delta: true });
    start.emit({ type: 'text', id: 'm1', text: 'CD1234 and more', delta: true });
    // An empty delta ends m2's stream: its held-back text comes out before anything else.
    start.emit({ type: 'text', id: 'm2', text: 'end', delta: true });
    start.emit({ type: 'text', id: 'm2', text: '', delta: true });
    const before = events(m, A, s.id).at(-1);
    assert.deepEqual(before?.type === 'text' && [before.id, before.text], ['m2', 'other stream end']);
    start.emit({
      type: 'tool',
      id: 't',
      name: 'Bash',
      state: 'done',
      input: '{}',
      output: 'out SECRET-ZZZZ9999',
    });
    const ev = events(m, A, s.id);
    const text = (id: string) =>
      ev
        .filter((e) => e.type === 'text' && e.id === id)
        .map((e) => (e.type === 'text' ? e.text : ''))
        .join('');
    assert.equal(text('m1'), 'the token is [redacted] and more');
    assert.equal(text('m2'), 'another stream end');
    assert.ok(!JSON.stringify(ev).includes('SECRET-'), JSON.stringify(ev));
    assert.equal(m.sessions(A)[0]?.title, 'my [redacted] is');
    await m.close();
  });

  test('allowlisted environment, the sandbox wrap, and the executable override', async () => {
    const calls: { argv: readonly string[]; env: Record<string, string> }[] = [];
    const { m } = manager(
      { [A]: { tier: 'ask' } },
      {
        adapters: {
          claude: (start) => {
            const child = start.spawn(['-p', '--x']);
            return {
              send: () => {},
              interrupt: async () => {},
              stop: async () => {},
              exited: new Promise((r) => child.once('close', (code, signal) => r({ code, signal }))),
            };
          },
        },
        env: {
          PATH: '/usr/bin:/bin',
          HOME: dir,
          LC_ALL: 'C',
          ANTHROPIC_API_KEY: 'a',
          OPENAI_API_KEY: 'o',
          POCKETSHELL_HOME: '/secret',
          POCKETSHELL_CLAUDE_BIN: '/bin/true',
          AWS_SECRET_ACCESS_KEY: 'no',
        },
        sandbox: { kind: 'bwrap', wrap: (argv) => ['/usr/bin/env', ...argv] },
        spawn: (argv, o) => {
          calls.push({ argv, env: o.env });
          return spawn('/bin/true', [], { stdio: 'pipe' });
        },
      },
    );
    const s = await m.start(A, { kind: 'claude', prompt: 'x' });
    assert.equal(s.sandbox, 'bwrap');
    assert.deepEqual(calls[0]?.argv, ['/usr/bin/env', '/bin/true', '-p', '--x']);
    assert.deepEqual(Object.keys(calls[0]!.env).sort(), ['ANTHROPIC_API_KEY', 'HOME', 'LC_ALL', 'PATH']);
    assert.deepEqual(Object.keys(agentEnv('codex', { OPENAI_API_KEY: 'o', CLAUDE_X: 'c' })), [
      'OPENAI_API_KEY',
    ]);
    await m.close();
  });

  test('confinement, limits, unavailable agents, and resume never raising a tier', async () => {
    const { m, fake } = manager(
      { [A]: { tier: 'read-only' }, [B]: { tier: 'auto-edit' } },
      { limits: { perDevice: 2, total: 3 } },
    );
    await assert.rejects(m.start(A, { kind: 'claude', prompt: 'x', cwd: dir }), { code: 'path_denied' });
    await assert.rejects(m.start(A, { kind: 'claude', prompt: 'x', cwd: join(root, 'out') }), {
      code: 'path_denied',
    });
    await assert.rejects(m.start(A, { kind: 'claude', prompt: 'x', cwd: join(root, 'nope') }), {
      code: 'not_found',
    });
    await assert.rejects(m.start(A, { kind: 'codex', prompt: 'x' }), { code: 'agent_unavailable' });
    const s = await m.start(A, { kind: 'claude', prompt: 'x', cwd: join(root, 'sub') });
    fake.starts[0]!.native('native-1');
    await m.start(A, { kind: 'claude', prompt: 'y' });
    await assert.rejects(m.start(A, { kind: 'claude', prompt: 'z' }), { code: 'limit_reached' });
    // B (auto-edit) resumes A's read-only session: read-only.
    const r = await m.start(B, { kind: 'claude', resume: 'native-1', tier: 'auto-edit' });
    assert.equal(r.tier, 'read-only');
    await assert.rejects(m.start(B, { kind: 'claude', prompt: 'w' }), { code: 'limit_reached' });
    // A device with no agent settings: the default tier, its home as the root.
    assert.deepEqual(m.info('dev_c' as DeviceId).roots, [dir]);
    assert.equal(m.info('dev_c' as DeviceId).tier, 'ask');
    assert.equal(s.tier, 'read-only');
    await m.close();
  });
});

test('what the agent is given passes the secret filter: a token in a prompt reaches it, and the log, redacted', async () => {
  const { m, fake } = manager({ [A]: { tier: 'ask' } });
  const token = `ghp_${'A1b2C3d4E5'.repeat(3)}123456`;
  const s = await m.start(A, { kind: 'claude', cwd: root, prompt: `use ${token} to push` });
  assert.equal(fake.starts[0]?.prompt, 'use [REDACTED:github_token] to push');
  m.send(A, s.id, `again ${token}`);
  assert.deepEqual(fake.sent, ['again [REDACTED:github_token]']);
  const users = events(m, A, s.id).filter((e) => e.type === 'user');
  assert.ok(users.every((e) => e.type === 'user' && !e.text.includes(token)));
  await m.stop(A, s.id, false);
});
