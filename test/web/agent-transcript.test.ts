/**
 * A session's events folded into chat items (packages/web/src/
 * agent-transcript.ts), in Node, with events checked by the protocol's own
 * `parseAgentEvent`: text deltas appended to their message and a whole
 * message replacing them, one item per tool call updated in place (its
 * input kept when a later event leaves it out), an approval answered in
 * place keeping what was asked, the pending list and the state followed,
 * and only notable state changes given a line.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type AgentEvent, parseAgentEvent } from '@pocketshell/protocol';
import { AgentTranscript } from '../../packages/web/src/agent-transcript.ts';

let seq = 0;
const ev = (e: Record<string, unknown>): AgentEvent => parseAgentEvent({ seq: ++seq, at: 1000 + seq, ...e });

test('text deltas append to their message; a whole message replaces it', () => {
  const t = new AgentTranscript();
  assert.equal(t.apply(ev({ type: 'user', text: 'make a.txt', by: 'Pixel' })).op, 'add');
  const first = t.apply(ev({ type: 'text', id: 'm1', text: 'I will ', delta: true }));
  assert.equal(first.op, 'add');
  const next = t.apply(ev({ type: 'text', id: 'm1', text: 'write it.', delta: true }));
  assert.deepEqual(next.op === 'update' && next.appended, 'write it.');
  assert.equal(t.items.length, 2);
  assert.equal(t.items[1]?.kind === 'text' && t.items[1].text, 'I will write it.');
  const whole = t.apply(ev({ type: 'text', id: 'm1', text: 'I will write a.txt.', delta: false }));
  assert.equal(whole.op === 'update' && whole.appended, undefined);
  assert.equal(t.items[1]?.kind === 'text' && t.items[1].text, 'I will write a.txt.');
  // Another message id: a new item.
  t.apply(ev({ type: 'text', id: 'm2', text: 'Done.', delta: false }));
  assert.deepEqual(
    t.items.map((i) => i.kind),
    ['user', 'text', 'text'],
  );
  assert.equal(t.last, seq);
});

test('a tool call is one item, updated in place', () => {
  const t = new AgentTranscript();
  t.apply(ev({ type: 'tool', id: 'tu1', name: 'Bash', state: 'started', input: '{"command":"ls"}' }));
  const done = t.apply(
    ev({ type: 'tool', id: 'tu1', name: 'Bash', state: 'done', input: '', output: 'a.txt\n' }),
  );
  assert.equal(done.op, 'update');
  assert.equal(t.items.length, 1);
  const item = t.items[0];
  assert.ok(item?.kind === 'tool');
  assert.equal(item.event.state, 'done');
  assert.equal(item.event.input, '{"command":"ls"}');
  assert.equal(item.event.output, 'a.txt\n');
});

test('an approval is answered in place, keeping what was asked; pending and state are followed', () => {
  const t = new AgentTranscript('working');
  const asked = {
    type: 'approval',
    id: 'req-1',
    action: 'write',
    tool: 'Write',
    summary: 'write /w/a.txt',
    path: '/w/a.txt',
    diff: 'hello\n',
    state: 'pending',
  };
  t.apply(ev(asked));
  assert.equal(t.apply(ev({ type: 'state', state: 'waiting' })).op, 'none');
  assert.equal(t.state, 'waiting');
  assert.deepEqual(
    t.pending.map((p) => p.id),
    ['req-1'],
  );
  const answered = t.apply(
    ev({
      type: 'approval',
      id: 'req-1',
      action: 'write',
      tool: 'Write',
      summary: 'write',
      state: 'approved',
      by: 'Pixel',
    }),
  );
  assert.equal(answered.op, 'update');
  const item = t.items[0];
  assert.ok(item?.kind === 'approval');
  assert.equal(item.event.state, 'approved');
  assert.equal(item.event.by, 'Pixel');
  assert.equal(item.event.summary, 'write /w/a.txt');
  assert.equal(item.event.path, '/w/a.txt');
  assert.equal(item.event.diff, 'hello\n');
  assert.deepEqual(t.pending, []);
});

test('only notable state changes get a line; results, errors and gaps do', () => {
  const t = new AgentTranscript();
  assert.equal(t.apply(ev({ type: 'state', state: 'working' })).op, 'none');
  assert.equal(t.apply(ev({ type: 'state', state: 'idle' })).op, 'none');
  assert.equal(t.apply(ev({ type: 'state', state: 'idle', detail: 'interrupted' })).op, 'add');
  assert.equal(t.apply(ev({ type: 'result', ok: true, turns: 2, durationMs: 900 })).op, 'add');
  assert.equal(t.apply(ev({ type: 'error', code: 'agent_unavailable', message: 'gone' })).op, 'add');
  assert.equal(t.gap(10, 20).op, 'add');
  assert.equal(t.apply(ev({ type: 'state', state: 'ended', detail: 'exit 0' })).op, 'add');
  assert.equal(t.state, 'ended');
  assert.deepEqual(
    t.items.map((i) => i.kind),
    ['state', 'result', 'error', 'gap', 'state'],
  );
});
