/**
 * Agent sessions end to end (issue 18's acceptance, docs/host.md "Agents"):
 * a real relay process, a real host agent with its agent manager, paired
 * Node devices on the `agent` channel, and the stand-in `claude`
 * (test/support/agents/bin/claude) as a real child process speaking
 * stream-json and calling the permission prompt tool through the real
 * `pocketshell agent-permission-mcp` it spawns from the MCP config. A
 * prompt streams text back; in `ask` a write waits for a device's answer
 * (the file appears only after approve; deny leaves it absent and tells the
 * agent); read-only refuses writes without asking; auto-edit writes inside
 * the root without asking but asks before a command; resuming a past
 * session never raises its tier; a working folder outside the roots is
 * `path_denied`; no grant is `grant_missing`; the decisions are audited.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { AgentClient, Device, HostConnection } from '@pocketshell/client';
import type { OpenedHost } from '@pocketshell/host-core';
import {
  type AgentEvent,
  type AgentTier,
  type DeviceId,
  type Grant,
  generateKeyPair,
} from '@pocketshell/protocol';
import { limitsConfig, type StartedRelay, startRelay } from '@pocketshell/relay/testing';
import { loopbackDevice, openLoopbackHost, POCKETSHELL, ROOT, until } from '../support/cli.ts';
import { pairNodeDevice } from '../support/pair.ts';

const STAND_INS = join(ROOT, 'test', 'support', 'agents', 'bin');

let relay: StartedRelay;
let dataDir: string;
let home: string;
let work: string;
let host: OpenedHost;
const devices: Device[] = [];
const conns: HostConnection[] = [];

async function pairDevice(grants: Grant[], name: string): Promise<{ id: DeviceId; conn: HostConnection }> {
  const device = loopbackDevice(relay.wsUrl, generateKeyPair());
  devices.push(device);
  const { pinned, host: h } = await pairNodeDevice(host.agent, device, { webUrl: relay.url, grants, name });
  const conn = await device.connect(h.id);
  conns.push(conn);
  return { id: pinned.id, conn };
}

/** A device holding `agent` at `tier` with `work` as its one root. */
async function agentDevice(tier: AgentTier, name: string): Promise<{ id: DeviceId; agent: AgentClient }> {
  const { id, conn } = await pairDevice(['agent'], name);
  host.trust.setAgentPolicy(id, { tier, roots: [work] });
  return { id, agent: await conn.openAgent() };
}

/** Watches a session; `events` fills as they come. */
function watching(agent: AgentClient, session: string): { events: AgentEvent[]; done: Promise<number> } {
  const events: AgentEvent[] = [];
  const done = agent.watch(session, (e) => events.push(e));
  done.catch(() => {});
  return { events, done };
}

const texts = (events: AgentEvent[]) =>
  events
    .filter((e) => e.type === 'text')
    .map((e) => (e.type === 'text' ? e.text : ''))
    .join('');
const results = (events: AgentEvent[]) => events.filter((e) => e.type === 'result').length;

function audit(): Record<string, unknown>[] {
  return readFileSync(join(home, 'state', 'audit.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (error) {
    return (error as { code?: string }).code ?? 'none';
  }
  return 'resolved';
}

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'pocketshell-agent-relay-'));
  // Every test pairs its own devices: more pairings than the relay's default burst of 10 a minute.
  relay = await startRelay({
    dataDir,
    args: [
      '--config',
      limitsConfig({ rates: { 'pair.create': { identity: { burst: 100, perSecond: 1 } } } }),
    ],
  });
  home = mkdtempSync(join(tmpdir(), 'pocketshell-agent-'));
  work = join(home, 'work');
  mkdirSync(work);
  host = await openLoopbackHost(relay.wsUrl, home, {
    env: {
      ...process.env,
      POCKETSHELL_KEYSTORE: 'file',
      SHELL: '/bin/sh',
      HOME: home,
      PATH: `${STAND_INS}:${process.env.PATH}`,
    },
    agents: { mcpCommand: [process.execPath, POCKETSHELL, 'agent-permission-mcp'] },
    alerts: { sampleMs: 60_000 },
  });
  host.agent.start();
});

after(async () => {
  for (const c of conns) await c.close().catch(() => {});
  await Promise.all(devices.map((d) => d.close()));
  await host?.close();
  await relay?.stop();
  rmSync(home, { recursive: true, force: true });
  rmSync(dataDir, { recursive: true, force: true });
});

test('a prompt from the Node client streams the agent’s text back', async () => {
  const { agent } = await agentDevice('ask', 'phone');
  const info = await agent.info();
  assert.equal(info.tier, 'ask');
  assert.deepEqual(info.roots, [work]);
  assert.deepEqual(
    info.agents.find((a) => a.kind === 'claude'),
    { kind: 'claude', available: true },
  );
  const session = await agent.start({ kind: 'claude', cwd: work, prompt: 'say hello from the stand-in' });
  assert.match(session.id, /^ag_/);
  assert.equal(session.tier, 'ask');
  const w = watching(agent, session.id);
  await until(() => results(w.events) === 1);
  assert.equal(texts(w.events), 'hello from the stand-in');
  assert.ok(
    w.events.some((e) => e.type === 'text' && e.delta),
    'streamed as deltas',
  );
  assert.equal(w.events[0]?.type, 'user');
  assert.deepEqual(
    w.events[1] && { type: w.events[1].type, state: (w.events[1] as { state?: string }).state },
    { type: 'state', state: 'working' },
  );
  assert.deepEqual(
    w.events.map((e) => e.seq),
    w.events.map((_, i) => i + 1),
  );
  const listed = (await agent.sessions()).find((s) => s.id === session.id);
  assert.equal(listed?.state, 'idle');
  assert.match(listed?.native ?? '', /^[0-9a-f-]{36}$/);
  assert.equal(listed?.title, 'say hello from the stand-in');

  // A second prompt on the same session.
  await agent.send(session.id, 'say again');
  await until(() => results(w.events) === 2);
  assert.ok(texts(w.events).endsWith('again'));
  assert.equal(await agent.stop(session.id), 'ended');
  // The watch's result comes once the session has left the host's live list (it ended).
  const stopped = w.events.find((e) => e.type === 'state' && e.state === 'ended');
  assert.equal(await w.done, stopped?.seq);
  // Watching an ended session replays it and ends at once.
  const again = watching(agent, session.id);
  assert.equal(await again.done, stopped?.seq);
  assert.deepEqual(again.events, w.events);
  assert.ok(audit().some((e) => e.event === 'agent.start' && e.session === session.id));
  assert.ok(audit().some((e) => e.event === 'agent.stop' && e.session === session.id));
});

/** Waits for the approval of `session` that is pending, and returns its id. */
async function pendingApproval(events: AgentEvent[]): Promise<AgentEvent & { type: 'approval' }> {
  await until(() => events.some((e) => e.type === 'approval' && e.state === 'pending'));
  return events.find((e) => e.type === 'approval' && e.state === 'pending') as AgentEvent & {
    type: 'approval';
  };
}

test('ask: a write waits for the phone; approve writes the file, deny leaves it absent and tells the agent', async () => {
  const { id, agent } = await agentDevice('ask', 'asker');
  const other = await agentDevice('ask', 'second phone');
  const file = join(work, 'approved.txt');
  const session = await agent.start({ kind: 'claude', cwd: work, prompt: `write ${file} hello approved` });
  const w = watching(agent, session.id);
  const approval = await pendingApproval(w.events);
  assert.equal(approval.action, 'write');
  assert.equal(approval.tool, 'Write');
  assert.equal(approval.path, file);
  assert.equal(approval.summary, `write ${file}`);
  assert.match(approval.diff ?? '', /\+hello approved/);
  await until(async () => (await agent.sessions()).find((s) => s.id === session.id)?.state === 'waiting');
  // It waits: nothing written while no one answered.
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(existsSync(file), false);
  // Any device holding `agent` (whose roots hold the folder) may answer.
  assert.equal(await other.agent.answer(session.id, approval.id, 'approve'), 'approved');
  await until(() => results(w.events) === 1);
  assert.equal(readFileSync(file, 'utf8'), 'hello approved');
  const answered = w.events.find(
    (e) => e.type === 'approval' && e.id === approval.id && e.state === 'approved',
  );
  assert.equal(answered?.type === 'approval' && answered.by, 'second phone');
  assert.ok(w.events.some((e) => e.type === 'tool' && e.name === 'Write' && e.state === 'done'));
  // The "needs approval" alert went to the devices holding `agent`.
  const alerts = host.alerts!.list(id, new Set(['agent']), { limit: 10 }).alerts;
  assert.ok(alerts.some((a) => a.kind === 'agent' && a.session === session.id));

  // Deny: the file stays absent and the agent is told why.
  const denied = join(work, 'denied.txt');
  await agent.send(session.id, `write ${denied} nope`);
  const second = await until(() =>
    w.events.some((e) => e.type === 'approval' && e.state === 'pending' && e.path === denied),
  ).then(() => w.events.find((e) => e.type === 'approval' && e.path === denied)!);
  assert.equal(
    await agent.answer(session.id, second.type === 'approval' ? second.id : '', 'deny', 'not that file'),
    'denied',
  );
  await until(() => results(w.events) === 2);
  assert.equal(existsSync(denied), false);
  const told = w.events.find((e) => e.type === 'tool' && e.name === 'Write' && e.state === 'denied');
  assert.match(told?.type === 'tool' ? (told.output ?? '') : '', /not that file/);
  const decisions = audit().filter((e) => e.event === 'agent.approval' && e.session === session.id);
  assert.deepEqual(
    decisions.map((e) => [e.decision, e.path]),
    [
      ['approved', file],
      ['denied', denied],
    ],
  );
  assert.equal(decisions[0]?.device, other.id);
  await agent.stop(session.id);
});

test('read-only refuses the write without asking; auto-edit writes inside the root but asks before a command', async () => {
  const ro = await agentDevice('read-only', 'reader');
  const file = join(work, 'readonly.txt');
  const s1 = await ro.agent.start({ kind: 'claude', cwd: work, prompt: `write ${file} no` });
  const w1 = watching(ro.agent, s1.id);
  await until(() => results(w1.events) === 1);
  assert.equal(existsSync(file), false);
  assert.ok(!w1.events.some((e) => e.type === 'approval'), 'no approval asked');
  assert.ok(w1.events.some((e) => e.type === 'tool' && e.name === 'Write' && e.state === 'failed'));
  await ro.agent.stop(s1.id);

  const ae = await agentDevice('auto-edit', 'editor');
  const edited = join(work, 'auto.txt');
  const ran = join(work, 'ran.txt');
  const s2 = await ae.agent.start({
    kind: 'claude',
    cwd: work,
    prompt: `write ${edited} automatic\nrun touch ${ran}`,
  });
  const w2 = watching(ae.agent, s2.id);
  const ask = await pendingApproval(w2.events);
  assert.equal(readFileSync(edited, 'utf8'), 'automatic', 'written without asking');
  assert.equal(ask.action, 'command');
  assert.equal(ask.command, `touch ${ran}`);
  assert.equal(existsSync(ran), false);
  assert.equal(await ae.agent.answer(s2.id, ask.id, 'approve'), 'approved');
  await until(() => results(w2.events) === 1);
  assert.equal(existsSync(ran), true);
  const auto = audit().find((e) => e.event === 'agent.approval' && e.session === s2.id && e.path === edited);
  assert.equal(auto?.decision, 'approved');
  assert.equal(auto?.device, 'tier:auto-edit');
  await ae.agent.stop(s2.id);
});

test('resuming a past session keeps its tier; cwd outside the roots is path_denied; no grant is grant_missing', async () => {
  const ro = await agentDevice('read-only', 'resumer');
  const project = join(work, 'project');
  mkdirSync(project);
  const s1 = await ro.agent.start({ kind: 'claude', cwd: project, prompt: 'say first life' });
  const w1 = watching(ro.agent, s1.id);
  await until(() => results(w1.events) === 1);
  const native = (await ro.agent.sessions()).find((s) => s.id === s1.id)?.native;
  assert.ok(native);
  await ro.agent.stop(s1.id);
  const past = await ro.agent.history({ kind: 'claude' });
  const found = past.find((p) => p.native === native);
  assert.equal(found?.cwd, project);
  assert.equal(found?.title, 'say first life');

  // A device at auto-edit resumes it asking for auto-edit: it stays read-only.
  const ae = await agentDevice('auto-edit', 'raiser');
  const file = join(project, 'raised.txt');
  const s2 = await ae.agent.start({
    kind: 'claude',
    resume: native,
    tier: 'auto-edit',
    prompt: `write ${file} x`,
  });
  assert.equal(s2.tier, 'read-only');
  // No folder given: the past session's own.
  assert.equal(s2.cwd, project);
  const w2 = watching(ae.agent, s2.id);
  await until(() => results(w2.events) === 1);
  assert.equal(existsSync(file), false);
  // The read-only device asking for more than it has still gets read-only.
  const s3 = await ro.agent.start({ kind: 'claude', cwd: work, tier: 'auto-edit', prompt: 'say hi' });
  assert.equal(s3.tier, 'read-only');
  await ae.agent.stop(s2.id);
  await ro.agent.stop(s3.id);

  assert.equal(
    await refusal(ro.agent.start({ kind: 'claude', cwd: home, prompt: 'say out' })),
    'path_denied',
  );
  assert.equal(
    await refusal(ro.agent.start({ kind: 'claude', cwd: `${work}/../..`, prompt: 'say out' })),
    'path_denied',
  );

  const { conn } = await pairDevice(['shell'], 'no agent');
  // The host closes the channel at once (the device may see it open first): every call fails.
  const opened = await conn.openAgent().catch(() => undefined);
  if (opened) assert.equal(await refusal(opened.info()), 'unavailable');
  const refused = audit().filter((e) => e.event === 'refusal' && e.code === 'grant_missing');
  assert.ok(refused.length > 0, 'grant_missing audited');
});

test('a secret the agent prints reaches the phone redacted, also split across two deltas; the sandbox hides the deny list', async () => {
  const { agent } = await agentDevice('ask', 'sandboxed');
  const info = await agent.info();
  assert.equal(info.sandbox.kind, 'bwrap', info.sandbox.reason);
  const token = `ghp_${'A1b2C3d4E5f6G7h8I9j0'.repeat(2).slice(0, 36)}`;
  mkdirSync(join(home, '.ssh'), { recursive: true });
  writeFileSync(join(home, '.ssh', 'id_test'), 'PRIVATE-KEY-MATERIAL\n');
  const session = await agent.start({
    kind: 'claude',
    cwd: work,
    prompt: `secret\nsplit my token is ${token.slice(0, 12)}|${token.slice(12)} ok\nrun cat ${join(home, '.ssh', 'id_test')}; cat ${join(home, 'state', 'devices.json')}; echo read-done`,
  });
  assert.equal(session.sandbox, 'bwrap');
  const w = watching(agent, session.id);
  const ask = await pendingApproval(w.events);
  assert.equal(ask.action, 'command');
  await agent.answer(session.id, ask.id, 'approve');
  await until(() => results(w.events) === 1);
  assert.ok(!JSON.stringify(w.events).includes(token), 'the token never reaches the device');
  // (The prompt itself holds the two halves apart, so only what the agent sent is checked for a half.)
  const all = JSON.stringify(w.events.filter((e) => e.type !== 'user'));
  assert.ok(!all.includes(token.slice(4)), 'nor its body');
  assert.ok(!all.includes('ghp_'), 'nor the half sent first');
  const shown = texts(w.events);
  assert.match(shown, /here it is: \[REDACTED:github_token\] done/);
  assert.match(shown, /my token is \[REDACTED:github_token\] ok/);
  // The two halves came as two deltas of one message, and the filter held the first back.
  const deltas = w.events.filter((e) => e.type === 'text' && e.delta && e.text.includes('REDACTED'));
  assert.equal(deltas.length, 2);
  // Inside bubblewrap the deny list and the state folder read as empty: nothing of them comes back.
  const ran = w.events.find((e) => e.type === 'tool' && e.name === 'Bash' && e.state !== 'started');
  assert.ok(ran?.type === 'tool');
  assert.ok(!(ran.output ?? '').includes('PRIVATE-KEY-MATERIAL'), ran.output);
  assert.ok(!(ran.output ?? '').includes('"devices"'), ran.output);
  assert.match(ran.output ?? '', /read-done/);
  await agent.stop(session.id);
});

test('interrupt ends the running turn; an agent that dies mid-turn fails the session with its stderr', async () => {
  const { agent } = await agentDevice('ask', 'interrupter');
  const s1 = await agent.start({ kind: 'claude', cwd: work, prompt: 'say before\nsleep 30000\nsay after' });
  const w1 = watching(agent, s1.id);
  await until(() => texts(w1.events).includes('before'));
  assert.equal(await agent.stop(s1.id, true), 'working');
  await until(() => results(w1.events) === 1);
  const r = w1.events.find((e) => e.type === 'result');
  assert.equal(r?.type === 'result' && r.ok, false);
  assert.ok(!texts(w1.events).includes('after'));
  assert.equal((await agent.sessions()).find((s) => s.id === s1.id)?.state, 'idle');
  await agent.stop(s1.id);

  const s2 = await agent.start({ kind: 'claude', cwd: work, prompt: 'say hi\nfail the model fell over' });
  const w2 = watching(agent, s2.id);
  assert.equal(await w2.done, (await agent.sessions()).find((s) => s.id === s2.id)?.seq);
  const err = w2.events.find((e) => e.type === 'error');
  assert.ok(err?.type === 'error' && err.code === 'agent_exit' && /the model fell over/.test(err.message));
  const last = w2.events.at(-1);
  assert.deepEqual(last?.type === 'state' && [last.state, last.detail], ['failed', 'exit 1']);
});

test('a prompt sent right after the start follows the first, in order', async () => {
  const { agent } = await agentDevice('ask', 'quick');
  const session = await agent.start({ kind: 'claude', cwd: work, prompt: 'say one' });
  await agent.send(session.id, 'say two');
  const w = watching(agent, session.id);
  await until(() => results(w.events) === 2);
  assert.equal(texts(w.events), 'onetwo');
  assert.deepEqual(
    w.events.filter((e) => e.type === 'user').map((e) => (e.type === 'user' ? e.text : '')),
    ['say one', 'say two'],
  );
  await agent.stop(session.id);
});

test('Codex through the host: a prompt streams back, a command waits for the phone and runs only on approve, a denied file change writes nothing, its past thread is listed and resumed', async () => {
  const { agent } = await agentDevice('ask', 'codex phone');
  assert.deepEqual(
    (await agent.info()).agents.find((a) => a.kind === 'codex'),
    { kind: 'codex', available: true },
  );
  const ran = join(work, 'codex-ran.txt');
  const denied = join(work, 'codex-denied.txt');
  const session = await agent.start({
    kind: 'codex',
    cwd: work,
    prompt: `say hello |from codex\nrun echo ran > ${ran}\nwrite ${denied} nope`,
  });
  const w = watching(agent, session.id);
  const command = await pendingApproval(w.events);
  assert.equal(command.action, 'command');
  assert.match(command.command ?? '', /echo ran/);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(existsSync(ran), false, 'nothing runs before the answer');
  assert.equal(await agent.answer(session.id, command.id, 'approve'), 'approved');
  await until(() =>
    w.events.some((e) => e.type === 'approval' && e.state === 'pending' && e.id !== command.id),
  );
  assert.equal(readFileSync(ran, 'utf8').trim(), 'ran');
  const change = w.events.find(
    (e) => e.type === 'approval' && e.state === 'pending' && e.id !== command.id,
  ) as AgentEvent & { type: 'approval' };
  assert.equal(change.path, denied);
  assert.equal(await agent.answer(session.id, change.id, 'deny', 'no'), 'denied');
  await until(() => results(w.events) === 1);
  assert.equal(existsSync(denied), false);
  assert.equal(texts(w.events), 'hello from codex');
  const native = (await agent.sessions()).find((s) => s.id === session.id)?.native;
  assert.ok(native, 'the thread id is known');
  await agent.stop(session.id);

  // Its thread is on disk (the stand-in's rollout) and resumes with the same id.
  const past = await agent.history({ kind: 'codex' });
  assert.ok(past.some((p) => p.native === native && p.cwd === work));
  const resumed = await agent.start({ kind: 'codex', resume: native, prompt: 'say again' });
  const r = watching(agent, resumed.id);
  await until(() => results(r.events) === 1);
  assert.equal((await agent.sessions()).find((s) => s.id === resumed.id)?.native, native);
  await agent.stop(resumed.id);
  const decisions = audit().filter((e) => e.event === 'agent.approval' && e.session === session.id);
  assert.deepEqual(
    decisions.map((e) => e.decision),
    ['approved', 'denied'],
  );
});
