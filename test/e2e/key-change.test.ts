/**
 * A known name with a different key is a key change, not silently a new
 * identity (issue 12, "Key change"), end to end on loopback with a real
 * relay process, real `pocketshell pair` processes and Node devices:
 * - host side: a pairing request from a device whose name equals an
 *   already-pinned device's name but whose key differs is shown as
 *   `DEVICE KEY CHANGED` with the old fingerprint, the new one and when the
 *   old was paired; it is audited as `key_changed`; `--yes` does not accept
 *   it (exit 4, `[key_changed]`, nothing pinned); `--accept-key-change`
 *   does, and the old device stays pinned beside the new one. The same
 *   through a running daemon (the prompt crosses its local API).
 * - device side (`pocketshell device pair`): a host with the name and relay
 *   of an already-paired host but another key is shown as `HOST KEY
 *   CHANGED`; without an acknowledgment the device never sends
 *   `pair.confirm`, so the host pins nothing; with `--accept-key-change` it
 *   pairs and `device hosts` marks the old host.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Device } from '@pocketshell/client';
import { fingerprint, generateKeyPair, type KeyPair } from '@pocketshell/protocol';
import { type StartedRelay, startRelay } from '@pocketshell/relay/testing';
import { loopbackDevice, POCKETSHELL, pocketshell, startReadyDaemon, until } from '../support/cli.ts';

let relay: StartedRelay;
let home: string;
const devices: Device[] = [];

before(async () => {
  relay = await startRelay();
  home = mkdtempSync(join(tmpdir(), 'pocketshell-keychange-'));
});

after(async () => {
  for (const d of devices) await d.close();
  await relay?.stop();
  rmSync(home, { recursive: true, force: true });
});

function envFor(name: string): Record<string, string> {
  return {
    POCKETSHELL_HOME: join(home, name),
    POCKETSHELL_KEYSTORE: 'file',
    POCKETSHELL_ICE_ADDRESS: '127.0.0.1',
    POCKETSHELL_ALLOW_ROOT: '1',
    HOME: home,
    SHELL: '/bin/sh',
  };
}

/** Starts `pocketshell pair …` on `env` and resolves with the process, its URL and its output so far. */
async function startPair(env: Record<string, string>, args: string[], relayFlag = true) {
  const relayArgs = relayFlag ? ['--relay', relay.url] : [];
  const proc = spawn(process.execPath, [POCKETSHELL, 'pair', ...relayArgs, ...args], {
    env: { ...process.env, ...env },
  });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d));
  proc.stderr!.on('data', (d: Buffer) => (out += d));
  const exited = new Promise<number | null>((r) => proc.once('exit', r));
  await until(() => /http:\/\/\S+#\/pair\/1\/\S+/.test(out), 30_000, 50);
  return { proc, exited, url: /http:\/\/\S+#\/pair\/1\/\S+/.exec(out)![0], out: () => out };
}

/** Pairs a Node device with `key` and `name` through one `pocketshell pair …` run. */
async function pairWith(
  env: Record<string, string>,
  args: string[],
  key: KeyPair,
  name: string,
  relayFlag = true,
) {
  const pair = await startPair(env, args, relayFlag);
  const device = loopbackDevice(relay.wsUrl, key);
  devices.push(device);
  const result = await device.pair(pair.url, { name }).then(
    () => 'paired',
    (e: { code?: string }) => e.code ?? 'error',
  );
  const code = await pair.exited;
  await device.close();
  return { code, out: pair.out(), device: result };
}

function auditOf(env: Record<string, string>): Record<string, unknown>[] {
  return readFileSync(join(env.POCKETSHELL_HOME!, 'audit.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

async function pinned(env: Record<string, string>) {
  const r = await pocketshell(['devices', 'list', '--json'], env);
  return JSON.parse(r.stdout).devices as { id: string; name: string; pairedAt: number }[];
}

test('host: a new key under a pinned device name is a key change; --yes does not accept it', async () => {
  const env = envFor('host-side');
  const first = generateKeyPair();
  const a = await pairWith(env, ['--yes'], first, 'Pixel');
  assert.equal(a.code, 0, a.out);
  assert.doesNotMatch(a.out, /KEY CHANGED/);
  const [old] = await pinned(env);
  assert.ok(old);

  // The same key again under the same name is no key change.
  const again = await pairWith(env, ['--yes'], first, 'Pixel');
  assert.equal(again.code, 0, again.out);
  assert.doesNotMatch(again.out, /KEY CHANGED/);

  const second = generateKeyPair();
  const refused = await pairWith(env, ['--yes'], second, 'Pixel');
  assert.equal(refused.code, 4, refused.out);
  assert.equal(refused.device, 'unauthorized', 'the device is told the host declined');
  assert.match(refused.out, /DEVICE KEY CHANGED/);
  assert.ok(refused.out.includes(fingerprint(first.publicKey)), 'the old fingerprint is shown');
  assert.ok(refused.out.includes(fingerprint(second.publicKey)), 'the new fingerprint is shown');
  const pairedAt = new Date((await pinned(env))[0]!.pairedAt * 1000).toISOString().slice(0, 10);
  assert.ok(refused.out.includes(pairedAt), 'when the old one was paired is shown');
  assert.match(refused.out, /--yes does not accept a key change/);
  assert.match(refused.out, /\[key_changed\]/);
  const list = await pinned(env);
  assert.deepEqual(
    list.map((d) => d.id),
    [old.id],
    'nothing new is pinned',
  );
  const changed = auditOf(env).filter((e) => e.event === 'key_changed');
  assert.equal(changed.length, 1);
  assert.equal(changed[0]!.previous, old.id);
  assert.equal(changed[0]!.name, 'Pixel');
  assert.ok(
    auditOf(env).some((e) => e.event === 'refusal' && e.code === 'key_changed'),
    'the refusal is audited with its code',
  );

  const accepted = await pairWith(env, ['--yes', '--accept-key-change'], second, 'Pixel');
  assert.equal(accepted.code, 0, accepted.out);
  assert.equal(accepted.device, 'paired');
  assert.match(accepted.out, /DEVICE KEY CHANGED/);
  assert.match(accepted.out, /Accepted \(--accept-key-change\)/);
  const after = await pinned(env);
  assert.equal(after.length, 2, 'the old device stays pinned beside the new one');
  assert.ok(after.every((d) => d.name === 'Pixel'));
  assert.equal(auditOf(env).filter((e) => e.event === 'key_changed').length, 2);
});

test('device: a host with a known name and relay but a new key needs an acknowledgment', async () => {
  const hostA = envFor('host-a');
  const hostB = envFor('host-b'); // same machine, so the same host name, another key
  const dev = envFor('device');

  const pa = await startPair(hostA, ['--yes']);
  const first = await pocketshell(['device', 'pair', pa.url, '--name', 'laptop'], dev);
  assert.equal(first.code, 0, first.stderr);
  assert.equal(await pa.exited, 0);
  assert.doesNotMatch(first.stdout, /KEY CHANGED/);
  const knownBefore = JSON.parse((await pocketshell(['device', 'hosts', '--json'], dev)).stdout) as {
    id: string;
    name: string;
  }[];
  assert.equal(knownBefore.length, 1);

  const pb = await startPair(hostB, ['--yes']);
  const refused = await pocketshell(['device', 'pair', pb.url, '--name', 'laptop'], dev);
  assert.equal(refused.code, 4, refused.stderr);
  assert.match(refused.stdout, /HOST KEY CHANGED/);
  assert.match(refused.stderr, /\[key_changed\]/);
  const oldFp = /old key:\s+(\S+)/.exec(refused.stdout)?.[1];
  const newFp = /new key:\s+(\S+)/.exec(refused.stdout)?.[1];
  assert.ok(oldFp && newFp && oldFp !== newFp, refused.stdout);
  // The host never got pair.confirm: it pins nothing and says the device cancelled.
  assert.notEqual(await pb.exited, 0);
  assert.match(pb.out(), /cancelled/);
  assert.equal((await pinned(hostB)).length, 0);
  assert.equal(JSON.parse((await pocketshell(['device', 'hosts', '--json'], dev)).stdout).length, 1);

  const pb2 = await startPair(hostB, ['--yes']);
  const ok = await pocketshell(['device', 'pair', pb2.url, '--name', 'laptop', '--accept-key-change'], dev);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /HOST KEY CHANGED/);
  assert.equal(await pb2.exited, 0);
  assert.equal((await pinned(hostB)).length, 1);
  const known = JSON.parse((await pocketshell(['device', 'hosts', '--json'], dev)).stdout) as {
    id: string;
    name: string;
    replacedBy?: string;
  }[];
  assert.equal(known.length, 2);
  const old = known.find((h) => h.id === knownBefore[0]!.id)!;
  const fresh = known.find((h) => h.id !== knownBefore[0]!.id)!;
  assert.equal(old.replacedBy, fresh.id, 'the old host is marked as replaced by the new key');
  assert.equal(fresh.replacedBy, undefined);
  const table = (await pocketshell(['device', 'hosts'], dev)).stdout;
  assert.match(table, /\(old key, replaced\)/);
});

test('host: through a running daemon, the key change reaches the pair prompt and --yes refuses it', async () => {
  const env = envFor('host-daemon');
  const daemon = await startReadyDaemon(env, relay.url);
  try {
    const a = await pairWith(env, ['--yes'], generateKeyPair(), 'Tablet', false);
    assert.equal(a.code, 0, a.out);
    const second = generateKeyPair();
    const b = await pairWith(env, ['--yes'], second, 'Tablet', false);
    assert.equal(b.code, 4, b.out);
    assert.match(b.out, /DEVICE KEY CHANGED for "Tablet"/);
    assert.ok(b.out.includes(fingerprint(second.publicKey)));
    assert.match(b.out, /\[key_changed\]/);
    assert.equal((await pinned(env)).length, 1);
    assert.equal(auditOf(env).filter((e) => e.event === 'key_changed').length, 1);
  } finally {
    const exited = new Promise((r) => daemon.once('exit', r));
    daemon.kill('SIGTERM');
    await exited;
  }
});
