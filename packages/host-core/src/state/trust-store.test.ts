/**
 * Tests of the trust store on a real temp folder: pinning, grants, last
 * seen, revocation (revoked is remembered as revoked, not unknown),
 * re-pairing, persistence, and refusal of a corrupt or tampered file.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { deviceIdOf, generateKeyPair, ProtocolError } from '@pocketshell/protocol';
import { isHostError } from '../errors.ts';
import { type StatePaths, statePaths } from './paths.ts';
import { TrustStore } from './trust-store.ts';

let dir: string;
let paths: StatePaths;
let now: number;
const make = () => new TrustStore({ paths, clock: () => now });
const phone = generateKeyPair(new Uint8Array(32).fill(1));
const laptop = generateKeyPair(new Uint8Array(32).fill(2));

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ps-trust-'));
  paths = statePaths({ root: path.join(dir, 'state') });
  now = 1000;
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const code = (c: string) => (err: unknown) => err instanceof ProtocolError && err.code === c;

describe('trust store', () => {
  test('pins devices with grants and persists them', () => {
    const store = make();
    assert.deepEqual(store.list(), []);
    const d = store.pin({ publicKey: phone.publicKey, name: 'Pixel', grants: ['shell', 'stats', 'shell'] });
    assert.equal(d.id, deviceIdOf(phone.publicKey));
    assert.deepEqual(d.grants, ['shell', 'stats']);
    assert.equal(d.pairedAt, 1000);
    store.pin({ publicKey: laptop.publicKey, name: 'Laptop', grants: [] });
    assert.equal(make().list().length, 2);
    assert.equal(make().status(d.id).status, 'paired');
    assert.equal(fs.statSync(paths.devices).mode & 0o777, 0o600);
    now = 2000;
    assert.equal(make().touch(d.id).lastSeen, 2000);
    assert.deepEqual(make().setGrants(d.id, ['files:read']).grants, ['files:read']);
    assert.equal(make().require(d.id).lastSeen, 2000);
    assert.throws(() => store.setGrants(d.id, ['root' as 'shell']), ProtocolError);
    assert.throws(() => store.pin({ publicKey: new Uint8Array(31), name: 'x', grants: [] }), code('bad_key'));
    assert.throws(
      () => store.pin({ publicKey: laptop.publicKey, name: '\x1b[31m', grants: [] }),
      ProtocolError,
    );
  });

  test('revocation forgets the key but remembers the device as revoked', () => {
    const store = make();
    const d = store.pin({ publicKey: phone.publicKey, name: 'Pixel', grants: ['shell'] });
    now = 1500;
    assert.deepEqual(store.revoke(d.id), { id: d.id, name: 'Pixel', revokedAt: 1500 });
    assert.equal(store.revoke(d.id), null);
    const s = make().status(d.id);
    assert.equal(s.status, 'revoked');
    assert.ok(
      !fs.readFileSync(paths.devices, 'utf8').includes(Buffer.from(phone.publicKey).toString('base64url')),
    );
    assert.throws(() => store.require(d.id), code('revoked'));
    assert.throws(() => store.require(deviceIdOf(laptop.publicKey)), code('not_paired'));
    assert.equal(store.status(deviceIdOf(laptop.publicKey)).status, 'unknown');
    store.pin({ publicKey: phone.publicKey, name: 'Pixel again', grants: ['shell'] });
    assert.equal(store.status(d.id).status, 'paired');
    assert.deepEqual(store.revoked(), []);
    store.clear();
    assert.equal(store.status(d.id).status, 'unknown');
  });

  test('a corrupt or tampered devices.json is state_corrupt naming the file', () => {
    const store = make();
    const d = store.pin({ publicKey: phone.publicKey, name: 'Pixel', grants: ['shell'] });
    const file = JSON.parse(fs.readFileSync(paths.devices, 'utf8'));
    file.devices[0].pub = Buffer.from(laptop.publicKey).toString('base64url'); // key swapped under the id
    fs.writeFileSync(paths.devices, JSON.stringify(file));
    const corrupt = (err: unknown) =>
      isHostError(err, 'state_corrupt') && err.message.startsWith(paths.devices);
    assert.throws(() => make().status(d.id), corrupt);
    fs.writeFileSync(paths.devices, '{"v":2,"devices":[],"revoked":[]}');
    assert.throws(() => make().list(), corrupt);
    fs.writeFileSync(paths.devices, '{"v":1,"devices":[{"id":"nope"}],"revoked":[]}');
    assert.throws(() => make().list(), corrupt);
    fs.writeFileSync(paths.devices, '');
    assert.throws(() => make().list(), corrupt);
  });

  test('a device’s own files root: set, kept, cleared; only an absolute, normalised path', () => {
    const store = make();
    const d = store.pin({ publicKey: phone.publicKey, name: 'Pixel', grants: ['files:read'] });
    assert.equal(d.filesRoot, undefined);
    assert.equal(store.setFilesRoot(d.id, '/srv/data').filesRoot, '/srv/data');
    assert.equal(make().require(d.id).filesRoot, '/srv/data');
    // Other changes keep it.
    assert.equal(make().setGrants(d.id, ['files:read', 'files:write']).filesRoot, '/srv/data');
    assert.equal(make().touch(d.id).filesRoot, '/srv/data');
    for (const bad of [
      'relative/x',
      '/a/../b',
      '/a//b',
      '/a/',
      '/a/./b',
      '/a\nb',
      '',
      `/${'x'.repeat(4096)}`,
    ])
      assert.throws(() => store.setFilesRoot(d.id, bad), ProtocolError, JSON.stringify(bad));
    assert.equal(make().require(d.id).filesRoot, '/srv/data');
    assert.equal(store.setFilesRoot(d.id, '/').filesRoot, '/');
    assert.equal('filesRoot' in store.setFilesRoot(d.id, null), false);
    assert.equal(make().require(d.id).filesRoot, undefined);
    assert.throws(() => store.setFilesRoot(deviceIdOf(laptop.publicKey), '/srv'), code('not_paired'));
    // A tampered root in the file is state_corrupt, as any other field.
    const file = JSON.parse(fs.readFileSync(paths.devices, 'utf8'));
    file.devices[0].filesRoot = '../../etc';
    fs.writeFileSync(paths.devices, JSON.stringify(file));
    assert.throws(
      () => make().list(),
      (err: unknown) => isHostError(err, 'state_corrupt'),
    );
  });
});
