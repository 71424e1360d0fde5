/**
 * The CLI against its own state, as a person would meet it: which key store
 * is in use, private modes on the folder and files, a refusal to start with
 * a key others can read (and why), and `audit verify` catching an edited, a
 * deleted and a reordered line.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { openHost, statePaths } from '@pocketshell/host-core';
import { pocketshell } from '../support/cli.ts';

let home: string;
let env: Record<string, string>;

before(async () => {
  home = mkdtempSync(join(tmpdir(), 'pocketshell-cli-state-'));
  env = {
    POCKETSHELL_HOME: join(home, 'state'),
    POCKETSHELL_ALLOW_ROOT: '1',
    HOME: home,
    DBUS_SESSION_BUS_ADDRESS: '',
  };
  // Make the identity and a few audit entries the way the daemon does.
  const host = await openHost({
    paths: statePaths({ root: env.POCKETSHELL_HOME! }),
    relayUrl: 'ws://127.0.0.1:9/ws',
    env: { ...process.env, ...env },
  });
  host.audit.append('session.opened', { session: 'a' });
  host.audit.append('session.opened', { session: 'b' });
  host.audit.append('session.closed', { session: 'a' });
  host.audit.append('session.closed', { session: 'b' });
  await host.close();
});

after(() => rmSync(home, { recursive: true, force: true }));

const mode = (p: string) => statSync(p).mode & 0o777;

test('with no D-Bus the 0600 file key store is used, and status says so', async () => {
  const r = await pocketshell(['status', '--json'], env);
  assert.equal(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout) as { keystore: { kind: string; reason: string }; identity: { id: string } };
  assert.equal(s.keystore.kind, 'file');
  assert.match(s.keystore.reason, /D-Bus/);
  assert.match(s.identity.id, /^h_[a-z2-7]{26}$/);
  const human = await pocketshell(['status'], env);
  assert.match(human.stdout, /key store: file — no keychain: no D-Bus session bus/);
});

test('the state folder is 0700 and the key file 0600', () => {
  const root = env.POCKETSHELL_HOME!;
  assert.equal(mode(root), 0o700);
  assert.equal(mode(join(root, 'secrets')), 0o700);
  assert.equal(mode(join(root, 'secrets', 'host-key.key')), 0o600);
  assert.equal(mode(join(root, 'identity.json')), 0o600);
  assert.equal(mode(join(root, 'audit.jsonl')), 0o600);
});

test('a key others can read: the daemon refuses to start and says why', async () => {
  const key = join(env.POCKETSHELL_HOME!, 'secrets', 'host-key.key');
  chmodSync(key, 0o644);
  try {
    const r = await pocketshell(['daemon', 'run', '--relay', 'http://127.0.0.1:9'], env);
    assert.equal(r.code, 5, `exit code (stderr: ${r.stderr})`);
    assert.match(r.stderr, /host-key\.key/);
    assert.match(r.stderr, /chmod 600/);
    assert.match(r.stderr, /\[state_insecure\]/);
  } finally {
    chmodSync(key, 0o600);
  }
});

test('audit verify: intact passes; an edited, a deleted and a reordered line and a truncated tail are each caught', async () => {
  const file = join(env.POCKETSHELL_HOME!, 'audit.jsonl');
  const ok = await pocketshell(['audit', 'verify'], env);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /audit log OK: 4 entries/);
  const original = readFileSync(file, 'utf8');
  const lines = original.trimEnd().split('\n');
  const cases: [string, string[], RegExp][] = [
    ['edited', [lines[0]!, lines[1]!.replace('"b"', '"x"'), lines[2]!, lines[3]!], /line 2/],
    ['deleted', [lines[0]!, lines[2]!, lines[3]!], /line 2/],
    ['reordered', [lines[0]!, lines[2]!, lines[1]!, lines[3]!], /line 2/],
    // `head -n -1`: a valid chain, caught by the head anchor (audit.head).
    [
      'truncated',
      lines.slice(0, 3),
      /audit\.head: the log ends at entry 3 but the head anchor names entry 4 \(truncated\)/,
    ],
  ];
  try {
    for (const [what, tampered, where] of cases) {
      writeFileSync(file, `${tampered.join('\n')}\n`, { mode: 0o600 });
      const r = await pocketshell(['audit', 'verify'], env);
      assert.equal(r.code, 5, `${what}: exit code`);
      assert.match(r.stderr, where, `${what}: ${r.stderr}`);
    }
  } finally {
    writeFileSync(file, original, { mode: 0o600 });
  }
});
