/**
 * The `files` channel's entry operations end to end (issue 15): a real
 * relay, a real host agent and paired Node devices over WebRTC. A device
 * with `files:read` lists and searches but is refused (`grant_missing`,
 * audited) every change; one with `files:write` makes, copies, moves and
 * deletes (to the freedesktop.org trash), each write audited with its
 * device; the deny list is refused through the channel. A device's own
 * root (`filesRoot` in the trust store) is what its next `files` channel
 * serves, the other device keeping the home. Then `pocketshell devices
 * root` sets and resets it — through a running daemon (which audits it)
 * and without one — and refuses a missing folder, a file and an unknown
 * device.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Device, PairedHost } from '@pocketshell/client';
import { type OpenedHost, openHost, statePaths, TrustStore } from '@pocketshell/host-core';
import { type DeviceId, type Grant, generateKeyPair } from '@pocketshell/protocol';
import { type StartedRelay, startRelay } from '@pocketshell/relay/testing';
import {
  endHolder,
  loopbackDevice,
  openLoopbackHost,
  POCKETSHELL,
  pocketshell,
  waitForOutput,
} from '../support/cli.ts';
import { pairNodeDevice } from '../support/pair.ts';

let relay: StartedRelay;
let dataDir: string;
let home: string;
let host: OpenedHost;
const devices: Device[] = [];

const code = (c: string) => (e: Error & { code?: string }) => e.code === c;
const LIST = { cursor: 0, limit: 200, sort: 'name', desc: false, hidden: false } as const;

async function pairDevice(
  grants: Grant[],
  name: string,
): Promise<{ device: Device; host: PairedHost; id: DeviceId }> {
  const device = loopbackDevice(relay.wsUrl, generateKeyPair());
  devices.push(device);
  const { pinned, host: pairedHost } = await pairNodeDevice(host.agent, device, {
    webUrl: relay.url,
    grants,
    name,
  });
  return { device, host: pairedHost, id: pinned.id };
}

function audit(): Record<string, unknown>[] {
  return readFileSync(join(home, 'state', 'audit.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'pocketshell-files-relay-'));
  relay = await startRelay({ dataDir });
  home = realpathSync(mkdtempSync(join(tmpdir(), 'pocketshell-files-')));
  host = await openLoopbackHost(relay.wsUrl, home, {
    files: { home },
  });
  host.agent.start();
  mkdirSync(join(home, '.ssh'));
  writeFileSync(join(home, '.ssh', 'id_ed25519'), 'secret');
  writeFileSync(join(home, 'notes.txt'), 'hello');
});

after(async () => {
  await Promise.all(devices.map((d) => d.close()));
  await host?.close();
  await relay?.stop();
  rmSync(home, { recursive: true, force: true });
  rmSync(dataDir, { recursive: true, force: true });
});

test('files:read lists and searches, and is refused every change; files:write changes, each write audited; a device’s own root', async () => {
  const reader = await pairDevice(['files:read'], 'reader');
  const writer = await pairDevice(['files:read', 'files:write'], 'writer');
  const rc = await reader.device.connect(reader.host.id);
  const wc = await writer.device.connect(writer.host.id);
  try {
    const r = await rc.openFiles();
    const w = await wc.openFiles();
    assert.deepEqual(await r.rpc.call('files.info'), { root: home, write: false, home: '' });
    const listed = await r.rpc.call('files.list', { ...LIST, path: '', hidden: true });
    assert.deepEqual(
      listed.entries.map((e) => [e.name, e.type, e.denied ?? false]),
      [
        ['.ssh', 'dir', true],
        ['state', 'dir', true],
        ['notes.txt', 'file', false],
      ],
    );
    await assert.rejects(r.rpc.call('files.mkdir', { path: 'nope', parents: false }), code('grant_missing'));
    await assert.rejects(
      r.rpc.call('files.delete', { path: 'notes.txt', permanent: false }),
      code('grant_missing'),
    );
    await assert.rejects(r.rpc.call('files.list', { ...LIST, path: '.ssh' }), code('path_denied'));
    await assert.rejects(r.rpc.callUntyped('files.list', { path: '../' }), code('bad_message'));
    assert.ok(
      audit().some((e) => e.event === 'refusal' && e.code === 'grant_missing' && e.device === reader.id),
    );

    assert.equal((await w.rpc.call('files.info')).write, true);
    await w.rpc.call('files.mkdir', { path: 'docs/2026', parents: true });
    assert.deepEqual(
      await w.rpc.call('files.copy', { from: 'notes.txt', to: 'docs/2026/notes.txt', overwrite: false }),
      {
        path: 'docs/2026/notes.txt',
        entries: 1,
        bytes: 5,
      },
    );
    await assert.rejects(
      w.rpc.call('files.move', { from: 'notes.txt', to: 'docs/2026/notes.txt', overwrite: false }),
      code('exists'),
    );
    await w.rpc.call('files.move', { from: 'notes.txt', to: 'docs/old-notes.txt', overwrite: false });
    await w.rpc.call('files.rename', { path: 'docs/2026', name: 'this-year' });
    const found = await r.rpc.call('files.search', { path: '', query: 'NOTES', limit: 100, hidden: false });
    assert.deepEqual(found.matches.map((m) => m.path).sort(), [
      'docs/old-notes.txt',
      'docs/this-year/notes.txt',
    ]);
    assert.deepEqual(await w.rpc.call('files.delete', { path: 'docs/old-notes.txt', permanent: false }), {
      trashed: true,
    });
    assert.equal(
      readFileSync(join(home, '.local', 'share', 'Trash', 'files', 'old-notes.txt'), 'utf8'),
      'hello',
    );
    assert.match(
      readFileSync(join(home, '.local', 'share', 'Trash', 'info', 'old-notes.txt.trashinfo'), 'utf8'),
      /^\[Trash Info\]\nPath=.*\/docs\/old-notes\.txt\nDeletionDate=/,
    );
    await w.rpc.call('files.delete', { path: 'docs', permanent: true });
    await assert.rejects(w.rpc.call('files.delete', { path: '.ssh', permanent: true }), code('path_denied'));
    await assert.rejects(
      w.rpc.call('files.copy', { from: '.ssh/id_ed25519', to: 'k', overwrite: false }),
      code('path_denied'),
    );
    assert.equal(readFileSync(join(home, '.ssh', 'id_ed25519'), 'utf8'), 'secret');
    const writes = audit()
      .filter((e) => String(e.event).startsWith('files.'))
      .map((e) => [e.event, e.device, e.path]);
    assert.deepEqual(writes, [
      ['files.mkdir', writer.id, 'docs/2026'],
      ['files.copy', writer.id, 'notes.txt'],
      ['files.move', writer.id, 'notes.txt'],
      ['files.rename', writer.id, 'docs/2026'],
      ['files.delete', writer.id, 'docs/old-notes.txt'],
      ['files.delete', writer.id, 'docs'],
    ]);

    // A root of its own: the writer's next channel serves it; the reader keeps the home.
    const own = join(home, 'projects');
    mkdirSync(join(own, 'app'), { recursive: true });
    host.trust.setFilesRoot(writer.id, own);
    const w2 = await wc.openFiles();
    assert.deepEqual(await w2.rpc.call('files.info'), { root: own, write: true, home: null });
    assert.deepEqual(
      (await w2.rpc.call('files.list', { ...LIST, path: '' })).entries.map((e) => e.name),
      ['app'],
    );
    assert.equal((await (await rc.openFiles()).rpc.call('files.info')).root, home);
    // A root that is gone: the channel is refused, nothing is served.
    // The channel opens, then closes once its root fails to resolve: pending calls end `unavailable`.
    host.trust.setFilesRoot(writer.id, join(home, 'gone'));
    const w3 = await wc.openFiles();
    await assert.rejects(w3.rpc.call('files.info'), code('unavailable'));
    assert.ok(audit().some((e) => e.event === 'refusal' && e.code === 'not_found' && e.device === writer.id));
  } finally {
    await rc.close();
    await wc.close();
  }
});

test('pocketshell devices root sets and resets a device’s root, through a running daemon and without one', async () => {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'pocketshell-files-root-')));
  const env = {
    POCKETSHELL_HOME: join(dir, 'state'),
    POCKETSHELL_ALLOW_ROOT: '1',
    POCKETSHELL_KEYSTORE: 'file',
    POCKETSHELL_ENGINE: 'werift',
    POCKETSHELL_ICE_ADDRESS: '127.0.0.1',
    HOME: dir,
    DBUS_SESSION_BUS_ADDRESS: '',
  };
  const paths = statePaths({ root: env.POCKETSHELL_HOME });
  const made = await openHost({ paths, relayUrl: relay.wsUrl, env: { ...process.env, ...env } });
  const device = made.trust.pin({
    publicKey: generateKeyPair().publicKey,
    name: 'tablet',
    grants: ['files:read'],
  });
  await made.close();
  mkdirSync(join(dir, 'work'));
  writeFileSync(join(dir, 'file'), '');
  const daemonAudit = () =>
    readFileSync(paths.audit, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((e) => e.event === 'files.root');
  const daemon = spawn(process.execPath, [POCKETSHELL, 'daemon', 'run', '--relay', relay.url], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  daemon.once('exit', () => endHolder(env.POCKETSHELL_HOME));
  try {
    await waitForOutput(daemon, /relay \S+: ready/);
    const shown = await pocketshell(['devices', 'root', device.id, '--json'], env);
    assert.equal(shown.code, 0, shown.stderr);
    assert.deepEqual(JSON.parse(shown.stdout), { id: device.id, root: null, home: dir });
    // A relative folder is taken from the working directory of the command: here, given absolute.
    const set = await pocketshell(['devices', 'root', device.id, join(dir, 'work', '.', '')], env);
    assert.equal(set.code, 0, set.stderr);
    assert.equal(set.stdout.trim(), `${device.id}: ${join(dir, 'work')}`);
    assert.equal(new TrustStore({ paths }).require(device.id).filesRoot, join(dir, 'work'));
    assert.deepEqual(
      daemonAudit().map((e) => [e.device, e.root, e.by]),
      [[device.id, join(dir, 'work'), 'local']],
    );
    const missing = await pocketshell(['devices', 'root', device.id, join(dir, 'nope')], env);
    assert.equal(missing.code, 8, missing.stderr);
    assert.match(missing.stderr, /no such folder/);
    const file = await pocketshell(['devices', 'root', device.id, join(dir, 'file')], env);
    assert.notEqual(file.code, 0);
    assert.match(file.stderr, /not a folder/);
    const unknown = await pocketshell(['devices', 'root', `d_${'a'.repeat(26)}`, dir], env);
    assert.equal(unknown.code, 8);
    assert.match(unknown.stderr, /no paired device/);
    assert.equal(new TrustStore({ paths }).require(device.id).filesRoot, join(dir, 'work'));
  } finally {
    daemon.kill('SIGTERM');
    if (daemon.exitCode === null) await once(daemon, 'exit');
  }
  try {
    // No daemon: written to the trust store and audited by the command itself.
    const reset = await pocketshell(['devices', 'root', device.id, '--reset'], env);
    assert.equal(reset.code, 0, reset.stderr);
    assert.match(reset.stdout, /the home folder, the default/);
    assert.equal(new TrustStore({ paths }).require(device.id).filesRoot, undefined);
    assert.deepEqual(
      daemonAudit().map((e) => [e.root, e.by]),
      [
        [join(dir, 'work'), 'local'],
        ['', 'cli'],
      ],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
