/**
 * Tests of the secret store choice and of both stores. This machine has no
 * D-Bus session and no Secret Service (gnome-keyring is not installed), so
 * the real-keychain tests assert the fallback: once with no bus at all, once
 * against a real private `dbus-daemon` that has no Secret Service on it. The
 * keychain store's own logic (scoping, encoding, deadlines) runs against an
 * in-memory entry factory injected through the binding seam.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { isHostError } from '../errors.ts';
import { type StatePaths, statePaths } from './paths.ts';
import { FileSecretStore, type KeyringEntryFactory, openSecretStore } from './secret-store.ts';

let dir: string;
let paths: StatePaths;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ps-secrets-'));
  paths = statePaths({ root: path.join(dir, 'state') });
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function memoryKeyring(): { factory: KeyringEntryFactory; items: Map<string, string> } {
  const items = new Map<string, string>();
  const factory: KeyringEntryFactory = (service, account) => {
    const k = `${service}/${account}`;
    return {
      setPassword: async (p) => void items.set(k, p),
      getPassword: async () => items.get(k) ?? null,
      deleteCredential: async () => items.delete(k),
    };
  };
  return { factory, items };
}

describe('secret store choice', () => {
  test('no D-Bus session bus here: the 0600 file store is chosen and says why', async () => {
    const store = await openSecretStore({ paths, env: {}, platform: 'linux' });
    assert.equal(store.kind, 'file');
    assert.match(store.reason, /no D-Bus session bus/);
  });

  test('POCKETSHELL_KEYSTORE=file forces the file store even when a keychain answers', async () => {
    const { factory } = memoryKeyring();
    const store = await openSecretStore({
      paths,
      env: { POCKETSHELL_KEYSTORE: 'file', DBUS_SESSION_BUS_ADDRESS: 'x' },
      keyring: () => factory,
    });
    assert.equal(store.kind, 'file');
    assert.match(store.reason, /forced/);
  });

  test('POCKETSHELL_KEYSTORE=keychain fails loudly when no keychain answers; bad values are refused', async () => {
    await assert.rejects(
      openSecretStore({ paths, env: { POCKETSHELL_KEYSTORE: 'keychain' }, platform: 'linux' }),
      (err: unknown) => isHostError(err, 'keystore_unavailable'),
    );
    await assert.rejects(
      openSecretStore({ paths, env: { POCKETSHELL_KEYSTORE: 'vault' } }),
      (err: unknown) => isHostError(err, 'keystore_unavailable') && /file" or "keychain/.test(err.message),
    );
  });

  test('a keychain that answers a round trip is used, with accounts scoped to the state folder', async () => {
    const { factory, items } = memoryKeyring();
    const env = { DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nowhere' };
    const store = await openSecretStore({ paths, env, platform: 'linux', keyring: () => factory });
    assert.equal(store.kind, 'keychain');
    assert.equal(items.size, 0, 'the probe cleans up after itself');
    await store.set('host-key', Uint8Array.of(9, 8, 7));
    assert.deepEqual(await store.get('host-key'), Uint8Array.of(9, 8, 7));
    const other = await openSecretStore({
      paths: statePaths({ root: path.join(dir, 'other') }),
      env,
      platform: 'linux',
      keyring: () => factory,
    });
    assert.equal(await other.get('host-key'), null);
    assert.equal(await store.delete('host-key'), true);
    assert.equal(await store.get('host-key'), null);
  });

  test('a keychain that throws or never answers falls back within the probe deadline', async () => {
    const env = { DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nowhere' };
    const throwing = await openSecretStore({
      paths,
      env,
      keyring: () => () => {
        throw new Error('no backend');
      },
    });
    assert.equal(throwing.kind, 'file');
    assert.match(throwing.reason, /not reachable/);
    const hanging: KeyringEntryFactory = () => ({
      setPassword: () => new Promise(() => {}),
      getPassword: () => new Promise(() => {}),
      deleteCredential: () => new Promise(() => {}),
    });
    const store = await openSecretStore({ paths, env, probeTimeoutMs: 100, keyring: () => hanging });
    assert.equal(store.kind, 'file');
    assert.match(store.reason, /did not answer a write within 100 ms/);
  });

  test('the real binding against a real D-Bus session bus without a Secret Service falls back', async (t) => {
    let daemon: ChildProcess;
    try {
      daemon = spawn('dbus-daemon', ['--session', '--nofork', '--print-address=1'], {
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      await once(daemon, 'spawn');
    } catch {
      t.skip('dbus-daemon is not installed');
      return;
    }
    t.after(() => {
      daemon.kill('SIGTERM');
    });
    const [chunk] = (await once(daemon.stdout!, 'data')) as [Buffer];
    const address = chunk.toString().trim().split('\n')[0]!;
    const store = await openSecretStore({
      paths,
      env: { DBUS_SESSION_BUS_ADDRESS: address },
      platform: 'linux',
    });
    assert.equal(store.kind, 'file');
    assert.match(store.reason, /org\.freedesktop\.secrets|Secret|DBus/i);
    daemon.kill('SIGTERM');
    await once(daemon, 'exit');
  });
});

describe('file secret store', () => {
  test('keeps secrets in 0600 files and refuses a key file others may read', async () => {
    const store = new FileSecretStore(paths.secrets);
    assert.equal(await store.get('host-key'), null);
    await store.set('host-key', Uint8Array.of(1, 2, 3));
    const file = path.join(paths.secrets, 'host-key.key');
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.equal(fs.statSync(paths.secrets).mode & 0o777, 0o700);
    assert.deepEqual(await store.get('host-key'), Uint8Array.of(1, 2, 3));
    fs.chmodSync(file, 0o644);
    await assert.rejects(
      store.get('host-key'),
      (err: unknown) => isHostError(err, 'state_insecure') && err.message.includes('chmod 600'),
    );
    fs.chmodSync(file, 0o600);
    fs.writeFileSync(file, '!!');
    await assert.rejects(store.get('host-key'), (err: unknown) => isHostError(err, 'state_corrupt'));
    assert.equal(await store.delete('host-key'), true);
    assert.equal(await store.delete('host-key'), false);
    await assert.rejects(store.get('../escape'), TypeError);
  });
});
