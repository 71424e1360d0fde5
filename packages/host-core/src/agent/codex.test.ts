/**
 * The Codex adapter driven directly against the stand-in `codex`
 * (test/support/agents/bin/codex, a real process speaking the app-server's
 * JSON-RPC), with a hand-written `AgentStart`: a prompt streams text
 * deltas; a command runs only when approved and is reported denied
 * otherwise; a file change is written only when approved; resume reports
 * the same thread id; the history lists a session inside the roots and not
 * outside, skipping garbage files; a garbage line is an error event and the
 * session goes on; an over-long line kills the process; interrupt and
 * stop end a turn and the process. Also the notification mapping on
 * recorded lines, the tier settings and the line splitter, without a
 * process.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, test } from 'node:test';
import { type AgentTier, parseAgentEvent } from '@pocketshell/protocol';
import type {
  AgentBackend,
  AgentEventBody,
  AgentStart,
  PermissionAnswer,
  PermissionRequest,
} from './backend.ts';
import {
  approvalResult,
  CODEX_MAX_LINE,
  CodexMapper,
  codexAdapter,
  codexThreadSettings,
  LineSplitter,
} from './codex.ts';
import { insideRoot, listCodexSessions } from './codex-history.ts';

const BIN = resolve(import.meta.dirname, '../../../../test/support/agents/bin');

const dirs: string[] = [];
const live: AgentBackend[] = [];
/** Every event and request the sessions of this file made, checked by the last test. */
const emitted: AgentEventBody[] = [];
const asked: PermissionRequest[] = [];
after(async () => {
  // A failed assertion leaves its session running: end every process before the folders go.
  await Promise.all(live.map((b) => b.stop()));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'pocketshell-codex-'));
  dirs.push(d);
  return d;
}

interface Run {
  readonly backend: AgentBackend;
  readonly events: AgentEventBody[];
  readonly requests: PermissionRequest[];
  readonly natives: string[];
  readonly home: string;
  readonly work: string;
  /** Resolves with the first event (from index `from`) that matches. */
  until(pred: (e: AgentEventBody) => boolean, from?: number): Promise<AgentEventBody>;
}

function run(opts: {
  prompt?: string;
  resume?: string;
  tier?: AgentTier;
  home?: string;
  answer?: (r: PermissionRequest) => PermissionAnswer;
}): Run {
  const home = opts.home ?? tmp();
  const work = join(home, 'work');
  mkdirSync(work, { recursive: true });
  const events: AgentEventBody[] = [];
  const requests: PermissionRequest[] = [];
  const natives: string[] = [];
  const waiters = new Set<() => void>();
  const start: AgentStart = {
    kind: 'codex',
    cwd: work,
    tier: opts.tier ?? 'ask',
    roots: [work],
    ...(opts.prompt === undefined ? {} : { prompt: opts.prompt }),
    ...(opts.resume === undefined ? {} : { resume: opts.resume }),
    executable: 'codex',
    spawn: (args, extraEnv) =>
      spawn('codex', args, {
        cwd: work,
        env: { PATH: `${BIN}:${process.env.PATH}`, HOME: home, ...extraEnv },
        stdio: 'pipe',
      }),
    emit: (e) => {
      events.push(e);
      emitted.push(e);
      for (const w of waiters) w();
    },
    native: (id) => natives.push(id),
    permit: async (r) => {
      requests.push(r);
      asked.push(r);
      return opts.answer?.(r) ?? { decision: 'deny', message: 'no answer' };
    },
  };
  const backend = codexAdapter(start);
  live.push(backend);
  const until = (pred: (e: AgentEventBody) => boolean, from = 0) =>
    new Promise<AgentEventBody>((res, rej) => {
      const timer = setTimeout(() => {
        waiters.delete(check);
        rej(new Error(`timed out; events: ${JSON.stringify(events)}`));
      }, 20_000);
      function check() {
        const hit = events.slice(from).find(pred);
        if (hit === undefined) return;
        clearTimeout(timer);
        waiters.delete(check);
        res(hit);
      }
      waiters.add(check);
      check();
    });
  return { backend, events, requests, natives, home, work, until };
}

const isResult = (e: AgentEventBody) => e.type === 'result';
const texts = (events: AgentEventBody[]) => events.flatMap((e) => (e.type === 'text' ? [e] : []));
const tools = (events: AgentEventBody[]) => events.flatMap((e) => (e.type === 'tool' ? [e] : []));

test('a prompt streams text deltas under one item id, reports the thread id and ends with a result', async () => {
  const r = run({ prompt: 'say hello |world, sk-ant-api03-|SECRETSECRET' });
  const result = await r.until(isResult);
  assert.deepEqual({ ...result, durationMs: 0 }, { type: 'result', ok: true, turns: 1, durationMs: 0 });
  const t = texts(r.events);
  assert.equal(t.length, 3, 'one text event per delta, the completed item is not repeated');
  assert.ok(t.every((e) => e.delta && e.id === t[0]!.id));
  assert.equal(t.map((e) => e.text).join(''), 'hello world, sk-ant-api03-SECRETSECRET');
  assert.equal(r.natives.length, 1);
  assert.match(r.natives[0]!, /^[0-9a-f-]{36}$/);
  assert.ok(r.events.some((e) => e.type === 'state' && e.state === 'working'));
  assert.deepEqual(r.events.at(-1), { type: 'state', state: 'idle' });
  await r.backend.stop();
});

test("the thread runs under Codex's own sandbox and approval policy for the tier", async () => {
  for (const [tier, mode] of [
    ['read-only', 'read-only'],
    ['ask', 'workspace-write'],
    ['auto-edit', 'workspace-write'],
  ] as const) {
    const r = run({ tier, prompt: 'say hi' });
    await r.until(isResult);
    await r.backend.stop();
    const past = await listCodexSessions({ home: r.home, roots: [r.work] });
    assert.equal(past.length, 1);
    const sessions = join(r.home, '.codex/sessions');
    const file = readdirSync(sessions, { recursive: true, encoding: 'utf8' }).find((f) =>
      f.endsWith(`-${past[0]!.native}.jsonl`),
    )!;
    const context = readFileSync(join(sessions, file), 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as { type: string; payload: Record<string, unknown> })
      .find((l) => l.type === 'turn_context')!.payload;
    assert.equal(context.approval_policy, 'untrusted', tier);
    assert.deepEqual(context.sandbox_policy, { mode }, tier);
  }
});

test('a command runs only when approved: approve runs it, deny leaves no trace and reports it denied', async () => {
  const yes = run({ prompt: 'run touch ran.txt && echo done', answer: () => ({ decision: 'approve' }) });
  await yes.until(isResult);
  assert.equal(yes.requests.length, 1);
  const req = yes.requests[0]!;
  assert.equal(req.action, 'command');
  assert.equal(req.tool, 'commandExecution');
  assert.equal(req.command, 'touch ran.txt && echo done');
  assert.equal(req.summary, `run \`touch ran.txt && echo done\` in ${yes.work}`);
  assert.ok(existsSync(join(yes.work, 'ran.txt')), 'the approved command ran');
  const done = tools(yes.events).at(-1)!;
  assert.equal(done.state, 'done');
  assert.equal(done.output, 'done\n');
  assert.deepEqual(JSON.parse(done.input), { command: 'touch ran.txt && echo done', cwd: yes.work });
  assert.equal(tools(yes.events)[0]!.state, 'started');
  await yes.backend.stop();

  const no = run({ prompt: 'run touch ran.txt', answer: () => ({ decision: 'deny', message: 'not now' }) });
  const result = await no.until(isResult);
  assert.equal(result.type === 'result' && result.ok, true);
  assert.equal(no.requests.length, 1);
  assert.ok(!existsSync(join(no.work, 'ran.txt')), 'the denied command did not run');
  assert.equal(tools(no.events).at(-1)!.state, 'denied');
  await no.backend.stop();
});

test('a failing command is reported failed with its output', async () => {
  const r = run({ prompt: 'run echo oops >&2; exit 3', answer: () => ({ decision: 'approve' }) });
  await r.until(isResult);
  const t = tools(r.events).at(-1)!;
  assert.equal(t.state, 'failed');
  assert.equal(t.output, 'oops\n');
  await r.backend.stop();
});

test('a file change is written only when approved, with its path and diff in the request', async () => {
  const yes = run({ prompt: 'write notes/a.txt first\\nsecond', answer: () => ({ decision: 'approve' }) });
  await yes.until(isResult);
  const req = yes.requests[0]!;
  const path = join(yes.work, 'notes/a.txt');
  assert.equal(req.action, 'write');
  assert.equal(req.tool, 'fileChange');
  assert.equal(req.path, path);
  assert.equal(req.summary, `write ${path}`);
  assert.match(req.diff ?? '', /^\+first$/m);
  assert.equal(readFileSync(path, 'utf8'), 'first\nsecond');
  const t = tools(yes.events);
  assert.deepEqual(
    t.map((e) => e.state),
    ['started', 'done'],
  );
  assert.match(t[1]!.diff ?? '', /\+second/);
  assert.deepEqual(JSON.parse(t[1]!.input), { changes: [{ path, kind: 'add' }] });
  // An edit of an existing file is an `edit`.
  yes.backend.send('write notes/a.txt third');
  await yes.until(isResult, yes.events.indexOf(yes.events.find(isResult)!) + 1);
  assert.equal(yes.requests[1]!.action, 'edit');
  assert.equal(readFileSync(path, 'utf8'), 'third');
  await yes.backend.stop();

  const no = run({ prompt: 'write b.txt nope', answer: () => ({ decision: 'deny', message: 'no' }) });
  await no.until(isResult);
  assert.ok(!existsSync(join(no.work, 'b.txt')), 'the denied change was not written');
  assert.equal(tools(no.events).at(-1)!.state, 'denied');
  await no.backend.stop();
});

test('resume reopens the same thread, and the history lists it inside the roots only', async () => {
  const first = run({ prompt: 'say one' });
  await first.until(isResult);
  await first.backend.stop();
  const id = first.natives[0]!;

  const second = run({ home: first.home, resume: id, prompt: 'say two' });
  await second.until(isResult);
  assert.deepEqual(second.natives, [id]);
  assert.equal(
    texts(second.events)
      .map((e) => e.text)
      .join(''),
    'two',
  );
  await second.backend.stop();

  // A garbage file, an empty one and a session elsewhere sit next to it.
  const day = join(first.home, '.codex/sessions/2026/01/02');
  mkdirSync(day, { recursive: true });
  writeFileSync(
    join(day, 'rollout-2026-01-02T00-00-00-garbage.jsonl'),
    '\u0000\u0001not json\n{"type":"x"}\n',
  );
  writeFileSync(join(day, 'rollout-2026-01-02T00-00-01-empty.jsonl'), '');
  writeFileSync(
    join(day, 'rollout-2026-01-02T00-00-02-elsewhere.jsonl'),
    `${JSON.stringify({ type: 'session_meta', payload: { id: 'elsewhere', cwd: '/somewhere/else' } })}\n`,
  );
  utimesSync(
    join(day, 'rollout-2026-01-02T00-00-02-elsewhere.jsonl'),
    new Date(2026, 0, 2),
    new Date(2026, 0, 2),
  );
  writeFileSync(join(day, 'not-a-rollout.txt'), 'x');

  const past = await listCodexSessions({ home: first.home, roots: [first.work] });
  assert.equal(past.length, 1);
  assert.equal(past[0]!.kind, 'codex');
  assert.equal(past[0]!.native, id);
  assert.equal(past[0]!.cwd, first.work);
  assert.equal(past[0]!.title, 'say one');
  assert.ok(past[0]!.updatedAt > Date.now() - 60_000);
  assert.deepEqual(await listCodexSessions({ home: first.home, roots: [join(first.home, 'other')] }), []);
  const all = await listCodexSessions({ home: first.home, roots: ['/'] });
  assert.deepEqual(
    all.map((p) => p.native),
    [id, 'elsewhere'],
  );
  assert.deepEqual(await listCodexSessions({ home: join(first.home, 'none'), roots: ['/'] }), []);
});

test('a garbage line from the server is an error event and the session goes on', async () => {
  const r = run({ prompt: 'garbage\nsay still here' });
  await r.until(isResult);
  const err = r.events.find((e) => e.type === 'error');
  assert.ok(err && err.type === 'error');
  assert.equal(err.code, 'agent_protocol');
  assert.ok(!err.message.includes('this is not json'), 'the line itself is not repeated');
  assert.equal(
    texts(r.events)
      .map((e) => e.text)
      .join(''),
    'still here',
  );
  r.backend.send('say again');
  await r.until((e) => e.type === 'text' && e.text === 'again');
  await r.backend.stop();
});

test('a line over the limit ends the process', async () => {
  const r = run({ prompt: `bigline ${CODEX_MAX_LINE + 1}` });
  const exit = await r.backend.exited;
  assert.equal(exit.signal, 'SIGKILL');
  assert.ok(
    r.events.some((e) => e.type === 'error' && e.code === 'agent_protocol' && /over/.test(e.message)),
  );
});

test('prompts sent while a turn runs are queued; interrupt ends the running turn; stop ends the process', async () => {
  const r = run({ prompt: 'sleep 10000' });
  await r.until((e) => e.type === 'state' && e.state === 'working');
  r.backend.send('say queued');
  await r.backend.interrupt();
  const first = await r.until(isResult);
  assert.equal(first.type === 'result' && first.ok, false);
  assert.equal(first.type === 'result' && first.text, 'interrupted');
  const second = await r.until(isResult, r.events.indexOf(first) + 1);
  assert.equal(second.type === 'result' && second.ok, true);
  assert.equal(
    texts(r.events)
      .map((e) => e.text)
      .join(''),
    'queued',
  );
  await r.backend.stop();
  await r.backend.stop(); // idempotent
  const exit = await r.backend.exited;
  assert.equal(exit.code, 0);
  assert.ok(!r.events.some((e) => e.type === 'error'), 'a stop is not an error');
});

test('stop during a turn ends the process; a crash is reported with the exit', async () => {
  const r = run({ prompt: 'sleep 10000' });
  await r.until((e) => e.type === 'state' && e.state === 'working');
  await r.backend.stop();
  await r.backend.exited;

  const c = run({ prompt: 'exit 3' });
  const exit = await c.backend.exited;
  assert.equal(exit.code, 3);
  assert.ok(c.events.some((e) => e.type === 'error' && e.code === 'agent_exit' && /code 3/.test(e.message)));
});

test('a process that ignores the end of its input and SIGTERM is killed', async () => {
  const r = run({ prompt: 'stubborn' });
  await r.until(isResult);
  await r.backend.stop();
  assert.equal((await r.backend.exited).signal, 'SIGKILL');
});

test('a missing executable is an error event, not a throw', async () => {
  const events: AgentEventBody[] = [];
  const backend = codexAdapter({
    kind: 'codex',
    cwd: '/',
    tier: 'ask',
    roots: ['/'],
    prompt: 'say x',
    executable: 'codex',
    spawn: (args) => spawn('/nonexistent/codex', args, { stdio: 'pipe' }),
    emit: (e) => events.push(e),
    native: () => {},
    permit: async () => ({ decision: 'deny', message: '' }),
  });
  await backend.exited;
  assert.ok(events.some((e) => e.type === 'error' && e.code === 'agent_unavailable'));
  await backend.stop();
});

test('the notification mapping on recorded app-server lines', () => {
  let t = 1000;
  const m = new CodexMapper('/w', () => t);
  const recorded = [
    '{"method":"thread/started","params":{"thread":{"id":"thr_1"}}}',
    '{"method":"turn/started","params":{"threadId":"thr_1","turn":{"id":"turn_1","items":[],"status":"inProgress","error":null}}}',
    '{"method":"item/started","params":{"threadId":"thr_1","turnId":"turn_1","item":{"type":"agentMessage","id":"msg_1","text":""}}}',
    '{"method":"item/agentMessage/delta","params":{"threadId":"thr_1","turnId":"turn_1","itemId":"msg_1","delta":"Hel"}}',
    '{"method":"item/agentMessage/delta","params":{"threadId":"thr_1","turnId":"turn_1","itemId":"msg_1","delta":"lo"}}',
    '{"method":"item/completed","params":{"threadId":"thr_1","turnId":"turn_1","item":{"type":"agentMessage","id":"msg_1","text":"Hello"}}}',
    '{"method":"item/completed","params":{"threadId":"thr_1","turnId":"turn_1","item":{"type":"agentMessage","id":"msg_2","text":"Whole"}}}',
    '{"method":"item/started","params":{"threadId":"thr_1","turnId":"turn_1","item":{"type":"commandExecution","id":"c1","command":"ls","cwd":"/w","status":"inProgress","commandActions":[]}}}',
    '{"method":"item/commandExecution/outputDelta","params":{"threadId":"thr_1","turnId":"turn_1","itemId":"c1","delta":"a\\n"}}',
    '{"method":"item/completed","params":{"threadId":"thr_1","turnId":"turn_1","item":{"type":"commandExecution","id":"c1","command":"ls","cwd":"/w","status":"completed","exitCode":0,"aggregatedOutput":null}}}',
    '{"method":"item/started","params":{"threadId":"thr_1","turnId":"turn_1","item":{"type":"fileChange","id":"f1","status":"inProgress","changes":[{"path":"src/a.ts","kind":{"type":"update","move_path":null},"diff":"@@ -1 +1 @@\\n-a\\n+b"}]}}}',
    '{"method":"item/completed","params":{"threadId":"thr_1","turnId":"turn_1","item":{"type":"fileChange","id":"f1","status":"declined","changes":[{"path":"src/a.ts","kind":{"type":"update"},"diff":"@@ -1 +1 @@\\n-a\\n+b"}]}}}',
    '{"method":"item/started","params":{"threadId":"thr_1","turnId":"turn_1","item":{"type":"mcpToolCall","id":"m1","server":"docs","tool":"search","status":"inProgress","arguments":{"q":"x"}}}}',
    '{"method":"item/completed","params":{"threadId":"thr_1","turnId":"turn_1","item":{"type":"mcpToolCall","id":"m1","server":"docs","tool":"search","status":"completed","arguments":{"q":"x"},"result":"found"}}}',
    '{"method":"item/started","params":{"threadId":"thr_1","turnId":"turn_1","item":{"type":"reasoning","id":"r1","summary":[],"content":[]}}}',
    '{"method":"thread/tokenUsage/updated","params":{"threadId":"thr_1"}}',
    '{"method":"some/future/notification","params":{"x":1}}',
    '{"method":"error","params":{"threadId":"thr_1","turnId":"turn_1","willRetry":true,"error":{"message":"retrying"}}}',
    '{"method":"error","params":{"threadId":"thr_1","turnId":"turn_1","willRetry":false,"error":{"message":"quota"}}}',
    '{"method":"turn/completed","params":{"threadId":"thr_1","turn":{"id":"turn_1","items":[],"status":"failed","error":{"message":"quota"}}}}',
  ];
  const out: AgentEventBody[] = [];
  for (const line of recorded) {
    const { method, params } = JSON.parse(line) as { method: string; params: unknown };
    if (method === 'turn/completed') t = 1250;
    out.push(...m.notification(method, params));
  }
  assert.deepEqual(out, [
    { type: 'state', state: 'working' },
    { type: 'text', id: 'msg_1', text: 'Hel', delta: true },
    { type: 'text', id: 'msg_1', text: 'lo', delta: true },
    { type: 'text', id: 'msg_2', text: 'Whole', delta: false },
    {
      type: 'tool',
      id: 'c1',
      name: 'commandExecution',
      state: 'started',
      input: '{"command":"ls","cwd":"/w"}',
    },
    {
      type: 'tool',
      id: 'c1',
      name: 'commandExecution',
      state: 'done',
      input: '{"command":"ls","cwd":"/w"}',
      output: 'a\n',
    },
    {
      type: 'tool',
      id: 'f1',
      name: 'fileChange',
      state: 'started',
      input: '{"changes":[{"path":"/w/src/a.ts","kind":"update"}]}',
      diff: '@@ -1 +1 @@\n-a\n+b',
    },
    {
      type: 'tool',
      id: 'f1',
      name: 'fileChange',
      state: 'denied',
      input: '{"changes":[{"path":"/w/src/a.ts","kind":"update"}]}',
      diff: '@@ -1 +1 @@\n-a\n+b',
    },
    {
      type: 'tool',
      id: 'm1',
      name: 'mcp:docs/search',
      state: 'started',
      input: '{"server":"docs","tool":"search","arguments":{"q":"x"}}',
    },
    {
      type: 'tool',
      id: 'm1',
      name: 'mcp:docs/search',
      state: 'done',
      input: '{"server":"docs","tool":"search","arguments":{"q":"x"}}',
      output: 'found',
    },
    { type: 'error', code: 'agent_error', message: 'quota' },
    { type: 'result', ok: false, text: 'quota', turns: 1, durationMs: 250 },
  ]);
  assert.deepEqual(m.notification('turn/started', 'not an object'), []);
  // Ids are one line of at most 128 characters, as the events' parser wants.
  const [long] = m.notification('item/agentMessage/delta', { itemId: `a\n${'x'.repeat(300)}`, delta: 'd' });
  assert.ok(long?.type === 'text' && long.id.length === 128 && !long.id.includes('\n'));
  assert.deepEqual(m.notification('item/completed', { item: { type: 'agentMessage' } }), []);
});

test('approval requests are classified, and answered in the shape of their version', () => {
  const m = new CodexMapper('/w');
  m.notification('item/started', {
    item: {
      type: 'fileChange',
      id: 'f1',
      changes: [
        { path: '/w/a.ts', kind: { type: 'update' }, diff: '-a\n+b' },
        { path: '/w/b.ts', kind: { type: 'add' }, diff: '+new' },
      ],
    },
  });
  assert.deepEqual(
    m.approval(
      'item/fileChange/requestApproval',
      { threadId: 't', turnId: 'u', itemId: 'f1', reason: null },
      7,
    ),
    {
      id: 'f1',
      action: 'edit',
      tool: 'fileChange',
      summary: 'edit /w/a.ts and 1 more file',
      path: '/w/a.ts',
      diff: '-a\n+b\n+new',
    },
  );
  assert.deepEqual(
    m.approval(
      'item/commandExecution/requestApproval',
      { itemId: 'c1', command: 'rm -rf build', cwd: '/w/x' },
      8,
    ),
    {
      id: 'c1',
      action: 'command',
      tool: 'commandExecution',
      summary: 'run `rm -rf build` in /w/x',
      command: 'rm -rf build',
    },
  );
  // A network-only approval has no command.
  assert.equal(
    m.approval('item/commandExecution/requestApproval', { itemId: 'c2', reason: 'fetch' }, 9)?.action,
    'network',
  );
  // v1 (older CLIs): argv commands, fileChanges maps; an unusable id falls back to the request id.
  assert.deepEqual(
    m.approval(
      'execCommandApproval',
      { conversationId: 'x', callId: 'call 1', command: ['git', 'push'], cwd: '/w' },
      10,
    ),
    {
      id: 'req-10',
      action: 'command',
      tool: 'commandExecution',
      summary: 'run `git push` in /w',
      command: 'git push',
    },
  );
  assert.equal(
    m.approval(
      'applyPatchApproval',
      { callId: 'p1', fileChanges: { 'n.txt': { type: 'add', content: 'hi' } } },
      11,
    )?.path,
    '/w/n.txt',
  );
  assert.equal(m.approval('item/tool/requestUserInput', { itemId: 'q' }, 12), undefined);
  // A path too long for the event is left out, the summary still says what changes.
  const deep = `/w/${'d/'.repeat(3000)}f`;
  m.notification('item/started', {
    item: { type: 'fileChange', id: 'f9', changes: [{ path: deep, kind: 'add', diff: '' }] },
  });
  const far = m.approval('item/fileChange/requestApproval', { itemId: 'f9' }, 13);
  assert.equal(far?.path, undefined);
  assert.equal(far?.action, 'write');
  assert.deepEqual(approvalResult('item/commandExecution/requestApproval', { decision: 'approve' }), {
    decision: 'accept',
  });
  assert.deepEqual(approvalResult('item/fileChange/requestApproval', { decision: 'deny', message: 'x' }), {
    decision: 'decline',
  });
  assert.deepEqual(approvalResult('execCommandApproval', { decision: 'approve' }), { decision: 'approved' });
  assert.deepEqual(approvalResult('applyPatchApproval', { decision: 'deny', message: '' }), {
    decision: 'denied',
  });
});

test("each tier maps to Codex's own settings, never full access nor approval never", () => {
  assert.deepEqual(codexThreadSettings('read-only'), { approvalPolicy: 'untrusted', sandbox: 'read-only' });
  assert.deepEqual(codexThreadSettings('ask'), { approvalPolicy: 'untrusted', sandbox: 'workspace-write' });
  assert.deepEqual(codexThreadSettings('auto-edit'), {
    approvalPolicy: 'untrusted',
    sandbox: 'workspace-write',
  });
});

test('the line splitter joins chunks, splits lines and refuses an over-long one', () => {
  const lines: string[] = [];
  let over = 0;
  const s = new LineSplitter(
    8,
    (l) => lines.push(l),
    () => over++,
  );
  s.push(Buffer.from('ab'));
  s.push(Buffer.from('c\nde\n\nf'));
  s.push(Buffer.from('g\n'));
  assert.deepEqual(lines, ['abc', 'de', '', 'fg']);
  s.push(Buffer.from('123456789'));
  assert.equal(over, 1);
  s.push(Buffer.from('x\n'));
  assert.deepEqual(lines, ['abc', 'de', '', 'fg'], 'nothing after an overflow');
  const t = new LineSplitter(
    4,
    (l) => lines.push(l),
    () => over++,
  );
  t.push(Buffer.from('12345\n'));
  assert.equal(over, 2);
  // A multi-byte character split across chunks survives.
  const u: string[] = [];
  const v = new LineSplitter(
    100,
    (l) => u.push(l),
    () => {},
  );
  const e = Buffer.from('é\n');
  v.push(e.subarray(0, 1));
  v.push(e.subarray(1));
  assert.deepEqual(u, ['é']);
});

test('insideRoot compares whole path segments', () => {
  assert.ok(insideRoot('/a/b', '/a'));
  assert.ok(insideRoot('/a', '/a/'));
  assert.ok(!insideRoot('/ab', '/a'));
  assert.ok(!insideRoot('/a/../b', '/a'));
  assert.ok(insideRoot('/anything', '/'));
});

test("every event and approval the sessions above made passes the protocol's event parser", () => {
  assert.ok(emitted.length > 50 && asked.length > 5);
  for (const [i, e] of emitted.entries()) parseAgentEvent({ ...e, seq: i + 1, at: 0 });
  for (const [i, r] of asked.entries())
    parseAgentEvent({ ...r, type: 'approval', state: 'pending', seq: i + 1, at: 0 });
});
