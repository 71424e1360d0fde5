/**
 * Agents through a real `pocketshell daemon run` (docs/host.md "Agents"):
 * the daemon finds the stand-in `claude` on its PATH and starts the
 * permission prompt tool as itself (`pocketshell agent-permission-mcp`);
 * `pocketshell devices agent` sets a paired device's tier and roots through
 * the daemon (audited `agent.tier`); at `auto-edit` a write inside the root
 * goes through without asking, a command waits — and the "needs approval"
 * alert reaches the device sealed through the relay, opening the agent
 * screen on that session — until the device approves it.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Device, HostConnection } from '@pocketshell/client';
import {
  type AgentEvent,
  type AlertPushBody,
  generateKeyPair,
  openJson,
  parseInner,
} from '@pocketshell/protocol';
import { type StartedRelay, startRelay } from '@pocketshell/relay/testing';
import { loopbackDevice, POCKETSHELL, pocketshell, ROOT, startReadyDaemon, until } from '../support/cli.ts';

let relay: StartedRelay;
let home: string;
let daemon: ChildProcess | undefined;
let device: Device | undefined;
let conn: HostConnection | undefined;
let env: Record<string, string>;

before(async () => {
  relay = await startRelay();
  home = realpathSync(mkdtempSync(join(tmpdir(), 'pocketshell-agent-daemon-')));
  env = {
    HOME: home,
    SHELL: '/bin/sh',
    PATH: `${join(ROOT, 'test', 'support', 'agents', 'bin')}:${process.env.PATH}`,
    POCKETSHELL_HOME: join(home, 'state'),
    POCKETSHELL_KEYSTORE: 'file',
    POCKETSHELL_ICE_ADDRESS: '127.0.0.1',
    POCKETSHELL_ALLOW_ROOT: '1',
    POCKETSHELL_ENGINE: 'werift',
  };
  daemon = await startReadyDaemon(env, relay.url);
});

after(async () => {
  await conn?.close().catch(() => {});
  if (daemon && daemon.exitCode === null) daemon.kill('SIGTERM');
  await device?.close();
  await relay?.stop();
  rmSync(home, { recursive: true, force: true });
});

test('devices agent through the daemon; auto-edit writes without asking, a command waits for the phone (pushed)', async () => {
  const work = join(home, 'work');
  mkdirSync(work);
  const keys = generateKeyPair();
  device = loopbackDevice(relay.wsUrl, keys);
  const pair = spawn(process.execPath, [POCKETSHELL, 'pair', '--yes', '--grants', 'agent'], {
    env: { ...process.env, ...env },
  });
  let out = '';
  pair.stdout.on('data', (d: Buffer) => (out += d));
  await until(() => /http:\/\/\S+#\/pair\/1\/\S+/.test(out), 20_000, 20);
  const host = await device.pair(/http:\/\/\S+#\/pair\/1\/\S+/.exec(out)![0], { name: 'agent phone' });
  await new Promise((r) => pair.on('exit', r));
  const pushed: AlertPushBody[] = [];
  device.relay.on('message', (m) => {
    if (m.t === 'deliver' && m.env.kind === 'alert')
      pushed.push(
        parseInner(
          'alert',
          openJson({
            envelope: m.env,
            senderId: host.id,
            senderPublic: host.pub,
            recipientId: device!.id,
            recipientSecret: keys.secretKey,
          }),
        ),
      );
  });

  const shown = await pocketshell(['devices', 'agent', device.id, '--json'], env);
  assert.equal(shown.code, 0, shown.stderr);
  assert.deepEqual(JSON.parse(shown.stdout), { id: device.id, tier: 'ask', roots: [home], default: true });
  const bad = await pocketshell(['devices', 'agent', device.id, '--tier', 'everything'], env);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /read-only, ask, auto-edit/);
  const set = await pocketshell(['devices', 'agent', device.id, '--tier', 'auto-edit', '--root', work], env);
  assert.equal(set.code, 0, set.stderr);
  assert.equal(set.stdout.trim(), `${device.id}: auto-edit, roots ${work}`);

  conn = await device.connect(host.id);
  const agent = await conn.openAgent();
  const info = await agent.info();
  assert.deepEqual([info.tier, info.roots], ['auto-edit', [work]]);
  assert.equal(info.agents.find((a) => a.kind === 'claude')?.available, true);

  const file = join(work, 'notes.txt');
  const ran = join(work, 'ran.txt');
  const session = await agent.start({
    kind: 'claude',
    prompt: `write notes.txt from the daemon\nrun touch ${ran}`,
  });
  assert.equal(session.cwd, work);
  const events: AgentEvent[] = [];
  agent.watch(session.id, (e) => events.push(e)).catch(() => {});
  await until(() => events.some((e) => e.type === 'approval' && e.state === 'pending'), 30_000);
  assert.equal(readFileSync(file, 'utf8'), 'from the daemon');
  assert.equal(existsSync(ran), false);
  const ask = events.find((e) => e.type === 'approval' && e.state === 'pending');
  assert.ok(ask?.type === 'approval' && ask.action === 'command');
  await until(() => pushed.some((p) => p.kind === 'agent'));
  const alert = pushed.find((p) => p.kind === 'agent')!;
  assert.deepEqual([alert.open, alert.session, alert.title], ['agent', session.id, 'Claude needs approval']);
  assert.equal(alert.body, ask.summary);
  await agent.answer(session.id, ask.id, 'approve');
  await until(() => events.some((e) => e.type === 'result'), 30_000);
  assert.equal(existsSync(ran), true);
  assert.equal(await agent.stop(session.id), 'ended');

  const reset = await pocketshell(['devices', 'agent', device.id, '--reset'], env);
  assert.equal(reset.code, 0, reset.stderr);
  assert.match(reset.stdout, /ask, roots .* \(the defaults\)/);
  const audit = readFileSync(join(home, 'state', 'audit.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(
    audit.filter((e) => e.event === 'agent.tier').map((e) => [e.tier, e.by]),
    [
      ['auto-edit', 'local'],
      ['default', 'local'],
    ],
  );
  assert.deepEqual(
    audit.filter((e) => e.event === 'agent.approval').map((e) => [e.action, e.decision, e.device]),
    [
      ['write', 'approved', 'tier:auto-edit'],
      ['command', 'approved', device.id],
    ],
  );
});
