/**
 * A malicious relay against the relay path (docs/protocol.md §10), with
 * `EvilRelay` (test/support/evil-relay.ts) in front of a real relay
 * process and a real host: a `link.open` replayed after its session is
 * refused (`replay`, audited) and creates nothing; frames held back and
 * delivered out of order reach the terminal in order all the same; a
 * frame with one flipped bit ends the session on the host
 * (`decrypt_failed`), and nothing after it reaches the shell.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, test } from 'node:test';
import type { Device, PairedHost } from '@pocketshell/client';
import type { OpenedHost } from '@pocketshell/host-core';
import { b64u, fromB64u } from '@pocketshell/protocol';
import { RelayLink } from '@pocketshell/webrtc';
import { loopbackDevice, openLoopbackHost, until, waitForText } from '../support/cli.ts';
import { EvilRelay, type Frame } from '../support/evil-relay.ts';
import { pairNodeDevice } from '../support/pair.ts';

let evil: EvilRelay;
let home: string;
let host: OpenedHost;
let device: Device;
let paired: PairedHost;

before(async () => {
  evil = await EvilRelay.start();
  home = mkdtempSync(join(tmpdir(), 'pocketshell-relaypath-evil-'));
  host = await openLoopbackHost(evil.wsUrl, home);
  host.agent.start();
  await host.agent.relay.waitReady();
  device = loopbackDevice(evil.wsUrl);
  paired = (await pairNodeDevice(host.agent, device, { webUrl: evil.url, grants: ['shell'], name: 'phone' }))
    .host;
});

beforeEach(() => {
  evil.script = () => undefined;
  host.agent.flushRefusals();
});

after(async () => {
  await device?.close();
  await host?.close();
  await evil?.stop();
  rmSync(home, { recursive: true, force: true });
});

function refusals(): { code?: string; what?: string }[] {
  return readFileSync(join(home, 'state', 'audit.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { event: string; code?: string; what?: string; device?: string })
    .filter((e) => e.event === 'refusal' && e.device === device.id);
}

test('a link.open replayed after its session ended is refused and creates nothing', async () => {
  const conn = await device.connectRelay(paired.id);
  await conn.call('host.info');
  await conn.close();
  await until(() => host.agent.connections().length === 0);
  const open = evil.envelopes.findLast((e) => e.env.kind === 'link.open');
  assert.ok(open, 'the relay saw the link.open');
  const tap = evil.tap(device.id);
  assert.ok(tap);
  tap.toRelay({ t: 'send', to: paired.id, env: open.env } as Frame);
  await until(() => refusals().some((r) => r.code === 'replay' && r.what === 'link.open'));
  assert.deepEqual(host.agent.connections(), [], 'no session from the replay');
});

test('frames held back and delivered out of order still reach the shell in order', async () => {
  const conn = await device.connectRelay(paired.id);
  const term = await conn.openTerminal('new');
  let held: Frame | undefined;
  let heldOnce = false;
  evil.script = (frame, dir) => {
    const env = frame.env as { kind?: string } | undefined;
    if (dir !== 'up' || frame.t !== 'send' || env?.kind !== 'link') return undefined;
    if (!heldOnce && !held) {
      held = frame;
      heldOnce = true;
      return 'drop';
    }
    if (held) {
      const late = held;
      held = undefined;
      return [frame, late];
    }
    return undefined;
  };
  for (const part of ['echo ', 'in-', 'order-', '$((2*3))', '\r']) {
    term.write(part);
    await new Promise((r) => setTimeout(r, 30));
  }
  await waitForText(term, /in-order-6/, 30_000);
  assert.ok(heldOnce, 'a frame was reordered');
  assert.equal(conn.peer.connectionState, 'connected');
  term.close();
  await conn.close();
});

test('a frame with one flipped bit ends the session on the host; nothing after it reaches the shell', async () => {
  const conn = await device.connectRelay(paired.id);
  const term = await conn.openTerminal('new');
  term.write('echo ready-$((1+1))\r');
  await waitForText(term, /ready-2/);
  let flipped = false;
  evil.script = (frame, dir) => {
    const env = frame.env as { kind?: string; ct?: string } | undefined;
    if (flipped || dir !== 'up' || frame.t !== 'send' || env?.kind !== 'link' || !env.ct) return undefined;
    flipped = true;
    const ct = fromB64u(env.ct);
    ct[0] = ct[0]! ^ 1;
    return [{ ...frame, env: { ...env, ct: b64u(ct) } }];
  };
  const hostSide = new Promise<void>((resolve) => {
    const off = host.agent.on('disconnected', ({ reason }) => {
      if (reason !== 'decrypt_failed') return;
      off();
      resolve();
    });
  });
  const marker = join(home, 'tampered-keystrokes-ran');
  term.write(`touch ${marker}\r`);
  await hostSide;
  assert.ok(flipped);
  await until(() => conn.peer.connectionState !== 'connected', 20_000);
  assert.ok(conn.peer instanceof RelayLink);
  assert.deepEqual(host.agent.connections(), []);
  assert.equal(existsSync(marker), false, 'the tampered keystrokes never reached the shell');
});
