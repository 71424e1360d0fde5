/**
 * The agent contract (issue 18): sessions, past sessions and every kind of
 * event survive the wire; optional fields are absent, never undefined;
 * bad ids, relative paths and control characters in one-line fields are
 * refused with a coded `bad_message`; `agent.start` needs a prompt or a
 * session to resume; tiers only go down — and 10^4 random or mutated
 * inputs per parser give a value or `bad_message`, never anything else.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { jsonValue, mutatedJson } from '../testing/fuzz.ts';
import {
  AGENT_METHODS,
  type AgentEvent,
  type AgentSessionInfo,
  lowerTier,
  type PastAgentSession,
  parseAgentEvent,
  parseAgentSessionInfo,
  parsePastAgentSession,
} from './agent.ts';
import { ProtocolError } from './errors.ts';

const SESSION: AgentSessionInfo = {
  id: 'ag_AbCdEfGh1234',
  kind: 'claude',
  cwd: '/home/me/src/app',
  tier: 'ask',
  state: 'waiting',
  title: 'fix the failing test',
  startedAt: 1_780_000_000_000,
  updatedAt: 1_780_000_001_000,
  native: '3f2c9a1e-1b2c-4d5e-8f90-123456789abc',
  pending: 1,
  sandbox: 'bwrap',
  seq: 12,
};
const PAST: PastAgentSession = {
  kind: 'codex',
  native: 'thr_123',
  cwd: '/home/me/src/app',
  title: 'add a README',
  updatedAt: 1_780_000_000_000,
};
const EVENTS: AgentEvent[] = [
  { seq: 1, at: 1, type: 'user', text: 'fix it\nplease', by: 'Pixel' },
  { seq: 2, at: 2, type: 'text', id: 'msg_1', text: 'Looking', delta: true },
  {
    seq: 3,
    at: 3,
    type: 'tool',
    id: 'toolu_1',
    name: 'Read',
    state: 'done',
    input: '{"file_path":"/a"}',
    output: 'x',
  },
  {
    seq: 4,
    at: 4,
    type: 'approval',
    id: 'toolu_2',
    action: 'command',
    tool: 'Bash',
    summary: 'run `npm test` in /home/me/src/app',
    command: 'npm test',
    state: 'pending',
  },
  {
    seq: 5,
    at: 5,
    type: 'approval',
    id: 'toolu_2',
    action: 'command',
    tool: 'Bash',
    summary: 's',
    state: 'denied',
    by: 'Pixel',
    message: 'no',
  },
  { seq: 6, at: 6, type: 'state', state: 'idle' },
  { seq: 7, at: 7, type: 'result', ok: true, text: 'Done.', turns: 3, durationMs: 1200 },
  { seq: 8, at: 8, type: 'error', code: 'agent_unavailable', message: 'claude: not found' },
];

const badMessage = (e: unknown) => e instanceof ProtocolError && e.code === 'bad_message';

describe('agent protocol', () => {
  test('sessions, past sessions and every event kind round-trip through JSON', () => {
    assert.deepEqual(parseAgentSessionInfo(JSON.parse(JSON.stringify(SESSION))), SESSION);
    assert.deepEqual(parsePastAgentSession(JSON.parse(JSON.stringify(PAST))), PAST);
    for (const e of EVENTS) assert.deepEqual(parseAgentEvent(JSON.parse(JSON.stringify(e))), e);
  });

  test('optional fields are absent, not undefined', () => {
    const { native: _n, ...bare } = SESSION;
    const parsed = parseAgentSessionInfo(bare);
    assert.equal('native' in parsed, false);
    const ev = parseAgentEvent({ seq: 1, at: 1, type: 'state', state: 'ended' });
    assert.deepEqual(Object.keys(ev).sort(), ['at', 'seq', 'state', 'type']);
  });

  test('refuses bad ids, relative paths, control characters in one-line fields, unknown kinds', () => {
    assert.throws(() => parseAgentSessionInfo({ ...SESSION, id: 'sess1' }), badMessage);
    assert.throws(() => parseAgentSessionInfo({ ...SESSION, cwd: 'src/app' }), badMessage);
    assert.throws(() => parseAgentSessionInfo({ ...SESSION, title: 'a\u001b[2Jb' }), badMessage);
    assert.throws(() => parseAgentSessionInfo({ ...SESSION, tier: 'bypass' }), badMessage);
    assert.throws(() => parseAgentEvent({ seq: 0, at: 1, type: 'state', state: 'idle' }), badMessage);
    assert.throws(() => parseAgentEvent({ seq: 1, at: 1, type: 'shell', text: 'x' }), badMessage);
    assert.throws(() => parseAgentEvent({ ...EVENTS[3], summary: 'one\nline' }), badMessage);
    assert.throws(() => parseAgentEvent({ ...EVENTS[3], id: 'a b' }), badMessage);
  });

  test('agent.start needs a prompt or a session to resume; the params are bounded', () => {
    const start = AGENT_METHODS['agent.start'].params;
    assert.throws(() => start({ kind: 'claude' }), badMessage);
    assert.deepEqual(start({ kind: 'codex', resume: 'thr_1' }), {
      kind: 'codex',
      cwd: undefined,
      tier: undefined,
      prompt: undefined,
      resume: 'thr_1',
    });
    assert.throws(() => start({ kind: 'claude', prompt: 'x'.repeat(100 * 1024 + 1) }), badMessage);
    assert.throws(() => start({ kind: 'claude', prompt: 'x', cwd: '../etc' }), badMessage);
    assert.throws(() => start({ kind: 'gemini', prompt: 'x' }), badMessage);
    const answer = AGENT_METHODS['agent.answer'].params;
    assert.throws(() => answer({ session: SESSION.id, request: 'r1', decision: 'always' }), badMessage);
  });

  test('a tier only goes down', () => {
    assert.equal(lowerTier('auto-edit', 'ask'), 'ask');
    assert.equal(lowerTier('ask', 'auto-edit'), 'ask');
    assert.equal(lowerTier('read-only', 'auto-edit'), 'read-only');
    assert.equal(lowerTier('auto-edit', 'auto-edit'), 'auto-edit');
  });

  test('property: 10^4 random or mutated inputs per parser → a value or bad_message, never anything else', () => {
    const parsers: [unknown[], (v: unknown) => unknown][] = [
      [[SESSION], parseAgentSessionInfo],
      [[PAST], parsePastAgentSession],
      [EVENTS, parseAgentEvent],
      [[{ kind: 'claude', prompt: 'hi', cwd: '/a', tier: 'ask' }], AGENT_METHODS['agent.start'].params],
      [
        [{ session: SESSION.id, request: 'toolu_2', decision: 'deny', message: 'no' }],
        AGENT_METHODS['agent.answer'].params,
      ],
    ];
    for (const [valid, parse] of parsers) {
      const inputs = fc.oneof(
        jsonValue,
        mutatedJson(valid as object[]).map((t) => JSON.parse(t) as unknown),
      );
      fc.assert(
        fc.property(inputs, (input) => {
          try {
            parse(input);
          } catch (error) {
            if (!badMessage(error)) throw error;
          }
        }),
        { numRuns: 10_000, seed: 18 },
      );
    }
  });
});
