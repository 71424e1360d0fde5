/**
 * Tests of the host identity on a real temp state folder with the file
 * secret store: creation, reload, rename, reset, and the refusals (a missing
 * secret, a mismatched key, a corrupt identity file, a world-readable key).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { hostIdOf, publicKeyOf } from '@pocketshell/protocol';
import { isHostError } from '../errors.ts';
import { HOST_KEY_NAME, IdentityStore } from './identity-store.ts';
import { type StatePaths, statePaths } from './paths.ts';
import { FileSecretStore } from './secret-store.ts';

let dir: string;
let paths: StatePaths;
let secrets: FileSecretStore;
const make = () =>
  new IdentityStore({ paths, secrets, hostname: () => 'lab-box', clock: () => 1_700_000_000 });

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ps-id-'));
  paths = statePaths({ root: path.join(dir, 'state') });
  secrets = new FileSecretStore(paths.secrets);
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('host identity', () => {
  test('is made once, named after the host, and reloads identically', async () => {
    const store = make();
    assert.equal(await store.load(), null);
    const id = await store.loadOrCreate();
    assert.equal(id.name, 'lab-box');
    assert.equal(id.createdAt, 1_700_000_000);
    assert.equal(id.id, hostIdOf(id.publicKey));
    assert.deepEqual(publicKeyOf(id.secretKey), id.publicKey);
    const again = await make().loadOrCreate();
    assert.equal(again.id, id.id);
    assert.deepEqual(again.secretKey, id.secretKey);
    assert.equal(fs.statSync(paths.identity).mode & 0o777, 0o600);
    assert.equal(fs.statSync(paths.root).mode & 0o777, 0o700);
    const onDisk = fs.readFileSync(paths.identity, 'utf8');
    assert.ok(
      !onDisk.includes(Buffer.from(id.secretKey).toString('base64url')),
      'no secret in identity.json',
    );
  });

  test('can be renamed and reset', async () => {
    const store = make();
    const first = await store.loadOrCreate();
    assert.equal((await store.setName('  new name ')).name, 'new name');
    assert.equal((await make().load())?.name, 'new name');
    await assert.rejects(store.setName(''), TypeError);
    await store.reset();
    assert.equal(await store.load(), null);
    assert.equal(await secrets.get(HOST_KEY_NAME), null);
    const second = await store.loadOrCreate();
    assert.notEqual(second.id, first.id);
  });

  test('a public identity whose secret is gone is identity_missing, not a silent new key', async () => {
    await make().loadOrCreate();
    await secrets.delete(HOST_KEY_NAME);
    await assert.rejects(
      make().loadOrCreate(),
      (err: unknown) => isHostError(err, 'identity_missing') && err.message.includes('pair --reset'),
    );
  });

  test('a secret that does not match, or a corrupt identity.json, is state_corrupt naming the file', async () => {
    await make().loadOrCreate();
    await secrets.set(HOST_KEY_NAME, new Uint8Array(32).fill(7));
    await assert.rejects(make().load(), (err: unknown) => isHostError(err, 'state_corrupt'));
    const original = JSON.parse(fs.readFileSync(paths.identity, 'utf8'));
    fs.writeFileSync(paths.identity, JSON.stringify({ ...original, id: 'h_aaaaaaaaaaaaaaaaaaaaaaaaaa' }));
    await assert.rejects(
      make().load(),
      (err: unknown) => isHostError(err, 'state_corrupt') && err.message.startsWith(paths.identity),
    );
    fs.writeFileSync(paths.identity, 'garbage');
    await assert.rejects(make().load(), (err: unknown) => isHostError(err, 'state_corrupt'));
  });

  test('with a chmod 644 key file the identity refuses to load and says why', async () => {
    await make().loadOrCreate();
    fs.chmodSync(path.join(paths.secrets, `${HOST_KEY_NAME}.key`), 0o644);
    await assert.rejects(
      make().load(),
      (err: unknown) =>
        isHostError(err, 'state_insecure') && /readable by group or others.*chmod 600/.test(err.message),
    );
  });

  test('creation in progress elsewhere reads as "none yet", and concurrent creators agree on one identity', async () => {
    // A creator has stored the key but not yet written identity.json.
    await secrets.set(HOST_KEY_NAME, new Uint8Array(32).fill(7));
    fs.writeFileSync(`${paths.identity}.creating`, '1', { mode: 0o600 });
    assert.equal(await make().load(), null);
    // Without the marker the same state is an error, never a silent new key.
    fs.rmSync(`${paths.identity}.creating`);
    await assert.rejects(make().load(), (e: unknown) => isHostError(e, 'state_corrupt'));
    await secrets.delete(HOST_KEY_NAME);
    const [a, b, c] = await Promise.all([
      make().loadOrCreate(),
      make().loadOrCreate(),
      make().loadOrCreate(),
    ]);
    assert.equal(a.id, b.id);
    assert.equal(b.id, c.id);
    assert.equal(fs.existsSync(`${paths.identity}.creating`), false);
  });
});
