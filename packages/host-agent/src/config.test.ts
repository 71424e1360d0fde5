/**
 * Tests of the host's config.json on a real temp folder: `passEnv` (the
 * extra variables sessions may get, docs/host.md) is schema-checked, kept
 * when `writeConfig` changes other keys, and a malformed entry makes the
 * file `state_corrupt` rather than being half-applied.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { isHostError, type StatePaths, statePaths } from '@pocketshell/host-core';
import { readConfig, sessionTimeoutsOf, writeConfig } from './config.ts';

let dir: string;
let paths: StatePaths;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ps-config-'));
  paths = statePaths({ root: path.join(dir, 'state') });
  fs.mkdirSync(paths.root, { mode: 0o700 });
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

test('passEnv is read, checked, and kept when other keys are written', () => {
  fs.writeFileSync(paths.config, JSON.stringify({ passEnv: ['EDITOR', 'MY_*'] }), { mode: 0o600 });
  assert.deepEqual(readConfig(paths), { passEnv: ['EDITOR', 'MY_*'] });
  writeConfig(paths, { relay: 'ws://127.0.0.1:1/ws', web: 'http://127.0.0.1:1' });
  assert.deepEqual(readConfig(paths), {
    relay: 'ws://127.0.0.1:1/ws',
    web: 'http://127.0.0.1:1',
    passEnv: ['EDITOR', 'MY_*'],
  });
  for (const bad of [['A B'], ['X=1'], 'EDITOR', [1], ['*']]) {
    fs.writeFileSync(paths.config, JSON.stringify({ passEnv: bad }), { mode: 0o600 });
    assert.throws(
      () => readConfig(paths),
      (e: unknown) => isHostError(e, 'state_corrupt'),
      JSON.stringify(bad),
    );
  }
});

test('sessionLimits is read in minutes, checked, and turned into milliseconds for the host', () => {
  const id = `d_${'b'.repeat(26)}`;
  const sessionLimits = {
    default: { idleMinutes: 60 },
    devices: { [id]: { idleMinutes: 0, maxLifetimeMinutes: 480 } },
  };
  fs.writeFileSync(paths.config, JSON.stringify({ sessionLimits }), { mode: 0o600 });
  const config = readConfig(paths);
  assert.deepEqual(config, { sessionLimits });
  assert.deepEqual(sessionTimeoutsOf(config), {
    default: { idleMs: 3_600_000 },
    devices: { [id]: { idleMs: 0, maxLifetimeMs: 28_800_000 } },
  });
  assert.deepEqual(sessionTimeoutsOf({}), {});
  for (const bad of [
    { default: { idleMinutes: -1 } },
    { default: { idleMinutes: 1.5 } },
    { default: { maxLifetimeMinutes: 365 * 24 * 60 + 1 } },
    { default: { idleMinutes: '30m' } },
    { devices: { 'not-a-device': { idleMinutes: 1 } } },
    { devices: [] },
    [],
    // JSON.parse makes `__proto__` an own key: refused as not a device id.
    '{"sessionLimits":{"devices":{"__proto__":{"idleMinutes":1}}}}',
  ]) {
    const text = typeof bad === 'string' ? bad : JSON.stringify({ sessionLimits: bad });
    fs.writeFileSync(paths.config, text, { mode: 0o600 });
    assert.throws(
      () => readConfig(paths),
      (e: unknown) => isHostError(e, 'state_corrupt'),
      JSON.stringify(bad),
    );
  }
});

test('alerts: the exec hook argv and the evaluator interval are read and checked', () => {
  const alerts = { exec: ['/usr/local/bin/notify', '--topic', 'host one'], sampleMs: 10_000 };
  fs.writeFileSync(paths.config, JSON.stringify({ alerts }), { mode: 0o600 });
  assert.deepEqual(readConfig(paths), { alerts });
  writeConfig(paths, { relay: 'ws://127.0.0.1:1/ws' });
  assert.deepEqual(readConfig(paths).alerts, alerts);
  for (const bad of [
    { exec: [] },
    { exec: [''] },
    { exec: 'notify --all' },
    { exec: ['a\u0000b'] },
    { sampleMs: 10 },
    { sampleMs: 1.5 },
    'on',
  ]) {
    fs.writeFileSync(paths.config, JSON.stringify({ alerts: bad }), { mode: 0o600 });
    assert.throws(
      () => readConfig(paths),
      (e: unknown) => isHostError(e, 'state_corrupt'),
      JSON.stringify(bad),
    );
  }
});

test('agents: the sandbox switch and its network are read and checked', () => {
  fs.writeFileSync(paths.config, JSON.stringify({ agents: { sandbox: false, network: 'off' } }), {
    mode: 0o600,
  });
  assert.deepEqual(readConfig(paths), { agents: { sandbox: false, network: 'off' } });
  for (const bad of [{ network: 'maybe' }, { sandbox: 'no' }, 'on']) {
    fs.writeFileSync(paths.config, JSON.stringify({ agents: bad }), { mode: 0o600 });
    assert.throws(
      () => readConfig(paths),
      (e: unknown) => isHostError(e, 'state_corrupt'),
      JSON.stringify(bad),
    );
  }
});

test('relayFallbacks: the other nodes of a relay fleet, ws URLs, at most 8', () => {
  const relayFallbacks = ['ws://127.0.0.1:2/ws', 'wss://relay2.example/ws'];
  fs.writeFileSync(paths.config, JSON.stringify({ relay: 'ws://127.0.0.1:1/ws', relayFallbacks }), {
    mode: 0o600,
  });
  assert.deepEqual(readConfig(paths), { relay: 'ws://127.0.0.1:1/ws', relayFallbacks });
  for (const bad of ['ws://a/ws', ['https://a'], Array(9).fill('ws://a/ws')]) {
    fs.writeFileSync(paths.config, JSON.stringify({ relayFallbacks: bad }), { mode: 0o600 });
    assert.throws(
      () => readConfig(paths),
      (e: unknown) => isHostError(e, 'state_corrupt'),
      JSON.stringify(bad),
    );
  }
});
