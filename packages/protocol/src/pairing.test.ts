/**
 * Pairing tests without a relay: the URL round trip, a full request →
 * accept exchange, and the attacks the SAS and the pinned key defeat.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { b64u } from './bytes.ts';
import { ProtocolError } from './errors.ts';
import { deviceIdOf, generateKeyPair, hostIdOf } from './identity.ts';
import type { PairAcceptedMessage, PairRequestMessage } from './messages.ts';
import {
  buildPairUrl,
  makePairAccept,
  makePairConfirm,
  makePairRequest,
  openPairAccept,
  openPairConfirm,
  openPairRequest,
  parsePairUrl,
  relayWsUrl,
  sameName,
} from './pairing.ts';
import { sasDigits } from './sas.ts';

const host = generateKeyPair(new Uint8Array(32).fill(11));
const device = generateKeyPair(new Uint8Array(32).fill(12));
const mallory = generateKeyPair(new Uint8Array(32).fill(13));
const claim = new Uint8Array(16).fill(5);
const NOW = 1_800_000_000;
const link = { webUrl: 'https://relay.example:8443/app', claim, hostPub: host.publicKey };
const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    if (e instanceof ProtocolError) return e.code;
    throw e;
  }
  return 'ok';
};

test('pairing URL round-trips and maps to the relay WebSocket', () => {
  const url = buildPairUrl(link);
  assert.equal(url, `https://relay.example:8443/app/#/pair/1/${b64u(claim)}/${b64u(host.publicKey)}`);
  const back = parsePairUrl(url);
  assert.deepEqual(back, link);
  assert.equal(relayWsUrl(back.webUrl), 'wss://relay.example:8443/ws');
  assert.equal(relayWsUrl('http://127.0.0.1:9/'), 'ws://127.0.0.1:9/ws');
  assert.equal(
    code(() => parsePairUrl('https://x/#/pair/2/AAAA/BBBB')),
    'unsupported',
  );
  assert.equal(
    code(() => parsePairUrl('https://x/#/pair/1/AAAA/BBBB')),
    'bad_message',
  );
  assert.equal(
    code(() => parsePairUrl('javascript:alert(1)#/pair/1/a/b')),
    'bad_message',
  );
});

function request(from = device, name = 'Pixel', now = NOW): PairRequestMessage {
  const r = makePairRequest({ link, device: from, name, now });
  assert.equal(r.host, hostIdOf(host.publicKey));
  return { t: 'pair.request', from: deviceIdOf(from.publicKey), pub: b64u(from.publicKey), env: r.env };
}

test('request → accept: both sides agree on names, grants and SAS', () => {
  const v = openPairRequest({ host, claim, message: request(), now: NOW + 2 });
  assert.equal(v.name, 'Pixel');
  assert.equal(v.deviceId, deviceIdOf(device.publicKey));
  assert.equal(v.sas, sasDigits(host.publicKey, device.publicKey, claim));
  const env = makePairAccept({
    host,
    devicePub: v.devicePub,
    claim,
    hostName: 'box',
    grants: ['shell'],
    now: NOW + 3,
  });
  const accepted: PairAcceptedMessage = {
    t: 'pair.accepted',
    from: hostIdOf(host.publicKey),
    pub: b64u(host.publicKey),
    env,
  };
  const a = openPairAccept({ device, link, message: accepted, now: NOW + 4 });
  assert.deepEqual(a, { hostId: hostIdOf(host.publicKey), hostName: 'box', grants: ['shell'] });
});

test('a relay that swaps in its own device key cannot match the SAS', () => {
  // Mallory (the relay) redeems the claim with her own key: the host sees her request verify…
  const v = openPairRequest({ host, claim, message: request(mallory), now: NOW });
  // …but the digits she causes differ from what the real phone shows.
  assert.notEqual(v.sas, sasDigits(host.publicKey, device.publicKey, claim));
});

test('host refuses: id not matching key, a key swapped under a valid envelope, a wrong claim, a stale ts', () => {
  const good = request();
  assert.equal(
    code(() =>
      openPairRequest({ host, claim, message: { ...good, from: deviceIdOf(mallory.publicKey) }, now: NOW }),
    ),
    'bad_key',
  );
  const swapped = { ...good, from: deviceIdOf(mallory.publicKey), pub: b64u(mallory.publicKey) };
  assert.equal(
    code(() => openPairRequest({ host, claim, message: swapped, now: NOW })),
    'decrypt_failed',
  );
  assert.equal(
    code(() => openPairRequest({ host, claim: new Uint8Array(16), message: good, now: NOW })),
    'bad_signature',
  );
  assert.equal(
    code(() => openPairRequest({ host, claim, message: good, now: NOW + 61 })),
    'clock_skew',
  );
  assert.equal(
    code(() => openPairRequest({ host: mallory, claim, message: good, now: NOW })),
    'decrypt_failed',
  );
});

test('device refuses an acceptance from any host but the one in the QR code', () => {
  const env = makePairAccept({
    host: mallory,
    devicePub: device.publicKey,
    claim,
    hostName: 'evil',
    grants: [],
    now: NOW,
  });
  const fromMallory: PairAcceptedMessage = {
    t: 'pair.accepted',
    from: hostIdOf(mallory.publicKey),
    pub: b64u(mallory.publicKey),
    env,
  };
  assert.equal(
    code(() => openPairAccept({ device, link, message: fromMallory, now: NOW })),
    'bad_key',
  );
  // Same envelope presented under the real host's id and key: it does not open.
  const relabelled = { ...fromMallory, from: hostIdOf(host.publicKey), pub: b64u(host.publicKey) };
  assert.equal(
    code(() => openPairAccept({ device, link, message: relabelled, now: NOW })),
    'decrypt_failed',
  );
  // The QR code's key under another host's id: refused before anything is opened.
  const misnamed = { ...relabelled, from: hostIdOf(mallory.publicKey) };
  assert.equal(
    code(() => openPairAccept({ device, link, message: misnamed, now: NOW })),
    'bad_key',
  );
});

test('the pairing URL may carry the host name; a bad one is refused', () => {
  const named = { ...link, hostName: 'büro laptop' };
  const url = buildPairUrl(named);
  assert.deepEqual(parsePairUrl(url), named);
  assert.equal(
    code(() => buildPairUrl({ ...link, hostName: 'a\x1bb' })),
    'bad_message',
  );
  assert.equal(
    code(() => buildPairUrl({ ...link, hostName: 'n'.repeat(65) })),
    'bad_message',
  );
  const control = `${buildPairUrl(link)}/${b64u(new TextEncoder().encode('a\nb'))}`;
  assert.equal(
    code(() => parsePairUrl(control)),
    'bad_message',
  );
});

test('device confirmation: the host checks it opens from the device key and signs this claim', () => {
  const env = makePairConfirm({ link, device, now: NOW });
  const open = (over: Partial<Parameters<typeof openPairConfirm>[0]> = {}) =>
    code(() =>
      openPairConfirm({ host, devicePub: device.publicKey, claim, envelope: env, now: NOW, ...over }),
    );
  assert.equal(open(), 'ok');
  // Another device's key, another claim, a stale clock, another kind: all refused.
  assert.equal(open({ devicePub: mallory.publicKey }), 'decrypt_failed');
  assert.equal(open({ claim: new Uint8Array(16).fill(6) }), 'bad_signature');
  assert.equal(open({ now: NOW + 3600 }), 'clock_skew');
  assert.equal(open({ envelope: { ...env, kind: 'pair.accept' } }), 'bad_message');
  const forged = makePairConfirm({ link, device: mallory, now: NOW });
  assert.equal(open({ devicePub: mallory.publicKey, envelope: forged }), 'ok');
  assert.equal(open({ envelope: forged }), 'decrypt_failed');
});

test('sameName: one name to a person after NFKC, case folding and whitespace (key change, §4.8)', () => {
  assert.equal(sameName('Pixel', 'pixel'), true);
  assert.equal(sameName(' Chrome  on Android', 'chrome on android'), true);
  assert.equal(sameName('ｐｉｘｅｌ', 'Pixel'), true); // full-width letters fold under NFKC
  assert.equal(sameName('Pixel', 'Pixel 2'), false);
  assert.equal(sameName('vm', 'vn'), false);
});
