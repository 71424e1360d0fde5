/**
 * Web Push pieces without a network: the endpoint allowlist (https only,
 * host and port, wildcards), the non-public address check and the lookup
 * built on it, the VAPID key file (made once 0600, the same after a
 * restart) and the push configuration (defaults, `--no-push`, extra hosts,
 * the JWT contact).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  type AlertPushBody,
  deviceIdOf,
  fromB64u,
  generateKeyPair,
  hostIdOf,
  MAX_ALERT_BODY,
  MAX_ALERT_TITLE,
  parseAlertPushBody,
  sealJson,
} from '@pocketshell/protocol';
import { loadConfig } from './config.ts';
import {
  checkEndpointHost,
  DEFAULT_PUSH_ENDPOINT_HOSTS,
  defaultPushContact,
  endpointAllowed,
  isPrivateAddress,
  loadVapidKeys,
  MAX_PUSH_PAYLOAD,
  publicOnlyLookup,
  VAPID_FILE,
} from './push.ts';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('push endpoint allowlist', () => {
  const allow = [...DEFAULT_PUSH_ENDPOINT_HOSTS, '127.0.0.1:4433'];
  it('accepts the browsers’ push services over https', () => {
    for (const url of [
      'https://fcm.googleapis.com/fcm/send/abc:def',
      'https://updates.push.services.mozilla.com/wpush/v2/gAAAA',
      'https://web.push.apple.com/QGuQyavXutnMH',
      'https://wns2-par02p.notify.windows.com/w/?token=BQYAAA',
      'https://FCM.googleapis.com:443/x',
      'https://127.0.0.1:4433/push/1',
    ]) {
      assert.equal(endpointAllowed(url, allow), true, url);
    }
  });
  it('refuses anything else', () => {
    for (const url of [
      'http://fcm.googleapis.com/fcm/send/abc', // not https
      'https://fcm.googleapis.com:8443/x', // another port
      'https://evil.example/fcm.googleapis.com',
      'https://fcm.googleapis.com.evil.example/x',
      'https://push.apple.com/x', // the wildcard needs a label before it
      'https://xnotify.windows.com/x',
      'https://user:pw@fcm.googleapis.com/x', // credentials
      'https://127.0.0.1/push/1', // 443, not the allowed port
      'https://127.0.0.1:4434/push/1',
      'https://localhost:4433/push/1',
      'https://[::1]:4433/push/1',
      'not a url',
    ]) {
      assert.equal(endpointAllowed(url, allow), false, url);
    }
  });
  it('checks allowlist entries', () => {
    assert.equal(checkEndpointHost(' Push.Example.org '), 'push.example.org');
    assert.equal(checkEndpointHost('*.example.org:8443'), '*.example.org:8443');
    assert.equal(checkEndpointHost('[::1]:4433'), '[::1]:4433');
    for (const bad of ['https://x.org', 'x.org/path', '*', '*.1.2.3.4', 'x.org:99999', 'a b', '']) {
      assert.throws(() => checkEndpointHost(bad), { code: 'config_invalid' }, bad);
    }
  });
});

describe('non-public addresses', () => {
  it('tells loopback, private, link-local and reserved from public', () => {
    for (const a of [
      '127.0.0.1',
      '10.1.2.3',
      '172.16.0.1',
      '172.31.255.255',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '224.0.0.1',
      '::1',
      '::',
      'fe80::1',
      'fd00::1',
      '::ffff:127.0.0.1',
      '::ffff:10.0.0.1',
      'not-an-ip',
    ]) {
      assert.equal(isPrivateAddress(a), true, a);
    }
    for (const a of ['8.8.8.8', '142.250.185.10', '172.32.0.1', '2001:4860:4860::8888', '::ffff:8.8.8.8']) {
      assert.equal(isPrivateAddress(a), false, a);
    }
  });
  it('refuses a name that resolves to loopback', async () => {
    const err = await new Promise<NodeJS.ErrnoException | null>((resolve) =>
      publicOnlyLookup('localhost', {}, (e) => resolve(e)),
    );
    assert.equal(err?.code, 'EPUSHPRIVATE');
    const errAll = await new Promise<NodeJS.ErrnoException | null>((resolve) =>
      publicOnlyLookup('localhost', { all: true }, (e) => resolve(e)),
    );
    assert.equal(errAll?.code, 'EPUSHPRIVATE');
  });
});

describe('VAPID keys', () => {
  it('are made once, private, and kept across restarts', () => {
    const dir = mkdtempSync(join(tmpdir(), 'relay-vapid-'));
    dirs.push(dir);
    const first = loadVapidKeys(dir);
    const path = join(dir, VAPID_FILE);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(fromB64u(first.publicKey).length, 65);
    assert.equal(fromB64u(first.publicKey)[0], 4);
    assert.equal(fromB64u(first.privateKey).length, 32);
    assert.deepEqual(loadVapidKeys(dir), first, 'the same keys the second time');
    writeFileSync(path, '{"publicKey":"x"}', { mode: 0o644 });
    assert.throws(() => loadVapidKeys(dir), { code: 'store_failed' });
    assert.equal(statSync(path).mode & 0o777, 0o600, 'tightened');
    assert.equal(readFileSync(path, 'utf8'), '{"publicKey":"x"}', 'a bad file is not overwritten');
  });
});

describe('push configuration', () => {
  const cfg = (argv: string[], file?: object) =>
    loadConfig({
      argv,
      env: {},
      readFile: () => (file === undefined ? undefined : JSON.stringify(file)),
      homedir: '/nonexistent',
    });
  it('is on by default with the browsers’ push services and a contact from the public URL', () => {
    const c = cfg([]);
    assert.equal(c.push.enabled, true);
    assert.deepEqual(c.push.endpointHosts, [...DEFAULT_PUSH_ENDPOINT_HOSTS]);
    assert.equal(c.push.contact, 'mailto:relay@pocketshell.invalid');
    assert.equal(
      cfg(['--public-url', 'https://relay.example.org/x']).push.contact,
      'https://relay.example.org',
    );
    assert.equal(defaultPushContact('http://relay.example.org'), 'mailto:relay@pocketshell.invalid');
  });
  it('takes --no-push, --push-contact and --push-endpoint-host, and the file’s push object', () => {
    assert.equal(cfg(['--no-push']).push.enabled, false);
    assert.equal(cfg([], { push: { enabled: false } }).push.enabled, false);
    const c = cfg(['--push-contact', 'mailto:ops@example.org', '--push-endpoint-host', '127.0.0.1:4433'], {
      push: { endpoints: ['push.example.org'] },
    });
    assert.equal(c.push.contact, 'mailto:ops@example.org');
    assert.deepEqual(c.push.endpointHosts, [
      ...DEFAULT_PUSH_ENDPOINT_HOSTS,
      'push.example.org',
      '127.0.0.1:4433',
    ]);
    assert.throws(() => cfg(['--push-contact', 'ops@example.org']), { code: 'config_invalid' });
    assert.throws(() => cfg(['--push-endpoint-host', 'https://x.org']), { code: 'config_invalid' });
    assert.throws(() => cfg([], { push: { endpoint: [] } }), { code: 'config_invalid' });
  });
});

describe('push payload size', () => {
  it('holds the largest alert the protocol allows, sealed', () => {
    const host = generateKeyPair();
    const device = generateKeyPair();
    // three UTF-8 bytes per character: the most bytes a title or body of this length can take
    const body: AlertPushBody = parseAlertPushBody({
      id: 'x'.repeat(32),
      at: 2 ** 40,
      kind: 'attention',
      state: 'resolved',
      severity: 'critical',
      title: '界'.repeat(MAX_ALERT_TITLE),
      body: '界'.repeat(MAX_ALERT_BODY),
      open: 'session',
      session: 's'.repeat(64),
    });
    const env = sealJson({
      kind: 'alert',
      body,
      senderId: hostIdOf(host.publicKey),
      senderSecret: host.secretKey,
      recipientId: deviceIdOf(device.publicKey),
      recipientPublic: device.publicKey,
    });
    const payload = JSON.stringify({ from: hostIdOf(host.publicKey), env });
    assert.ok(Buffer.byteLength(payload) <= MAX_PUSH_PAYLOAD, `${Buffer.byteLength(payload)} bytes`);
  });
});
