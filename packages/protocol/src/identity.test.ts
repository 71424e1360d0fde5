/**
 * Identity tests: self-certifying ids, fingerprints, SAS, transcripts, and
 * Ed25519/X25519 cross-checked against Node's own crypto (OpenSSL) as a
 * second, independent implementation.
 */
import assert from 'node:assert/strict';
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  sign as nodeSign,
  verify as nodeVerify,
} from 'node:crypto';
import { test } from 'node:test';
import { base32Lower, concat, fromHex, toHex, utf8 } from './bytes.ts';
import {
  deviceIdOf,
  fingerprint,
  generateKeyPair,
  hostIdOf,
  idMatchesKey,
  sign,
  toX25519Public,
  toX25519Secret,
  verify,
} from './identity.ts';
import { sasDigits } from './sas.ts';
import { tr } from './transcript.ts';

const seed = (n: number) => new Uint8Array(32).fill(n);

/** Wraps raw keys in DER so node:crypto (OpenSSL) can use them. */
const ED_PKCS8 = fromHex('302e020100300506032b657004220420');
const ED_SPKI = fromHex('302a300506032b6570032100');
const X_PKCS8 = fromHex('302e020100300506032b656e04220420');
const X_SPKI = fromHex('302a300506032b656e032100');
const der = (prefix: Uint8Array, raw: Uint8Array) => Buffer.from(concat(prefix, raw));

test('ids are h_/d_ + 26 base32 chars of sha256(pub), and only match their own key', () => {
  const kp = generateKeyPair(seed(1));
  const digest = createHash('sha256').update(kp.publicKey).digest();
  const body = base32Lower(digest).slice(0, 26);
  assert.equal(hostIdOf(kp.publicKey), `h_${body}`);
  assert.equal(deviceIdOf(kp.publicKey), `d_${body}`);
  assert.ok(idMatchesKey(`h_${body}`, kp.publicKey));
  assert.ok(idMatchesKey(`d_${body}`, kp.publicKey));
  const other = generateKeyPair(seed(2));
  assert.ok(!idMatchesKey(`h_${body}`, other.publicKey));
  assert.ok(!idMatchesKey(`x_${body}`, kp.publicKey));
  assert.ok(!idMatchesKey(`h_${body.toUpperCase()}`, kp.publicKey));
});

test('fingerprint is 26 base32 chars of sha256(pub)[0..16] in groups of four', () => {
  const kp = generateKeyPair(seed(3));
  const fp = fingerprint(kp.publicKey);
  assert.match(fp, /^([A-Z2-7]{4} ){6}[A-Z2-7]{2}$/);
  const digest = createHash('sha256').update(kp.publicKey).digest().subarray(0, 16);
  assert.equal(fp.replaceAll(' ', ''), base32Lower(digest).toUpperCase());
});

test('Ed25519 signatures verify under OpenSSL, and OpenSSL signatures verify here', () => {
  const kp = generateKeyPair(seed(4));
  const msg = utf8('pocketshell cross-check');
  const sig = sign(msg, kp.secretKey);
  const pub = createPublicKey({ key: der(ED_SPKI, kp.publicKey), format: 'der', type: 'spki' });
  assert.ok(nodeVerify(null, msg, pub, sig));
  const priv = createPrivateKey({ key: der(ED_PKCS8, kp.secretKey), format: 'der', type: 'pkcs8' });
  assert.ok(verify(nodeSign(null, msg, priv), msg, kp.publicKey));
  assert.ok(!verify(sig, utf8('other message'), kp.publicKey));
  assert.ok(!verify(sig.subarray(1), msg, kp.publicKey), 'short signature is false, not a throw');
});

test('Ed25519→X25519 conversion agrees with OpenSSL X25519 both ways', () => {
  const a = generateKeyPair(seed(5));
  const b = generateKeyPair(seed(6));
  const aX = toX25519Secret(a.secretKey);
  const bXPub = toX25519Public(b.publicKey);
  const ours = diffieHellman({
    privateKey: createPrivateKey({ key: der(X_PKCS8, aX), format: 'der', type: 'pkcs8' }),
    publicKey: createPublicKey({ key: der(X_SPKI, bXPub), format: 'der', type: 'spki' }),
  });
  const theirs = diffieHellman({
    privateKey: createPrivateKey({
      key: der(X_PKCS8, toX25519Secret(b.secretKey)),
      format: 'der',
      type: 'pkcs8',
    }),
    publicKey: createPublicKey({
      key: der(X_SPKI, toX25519Public(a.publicKey)),
      format: 'der',
      type: 'spki',
    }),
  });
  assert.equal(toHex(ours), toHex(theirs));
});

test('transcripts are length-prefixed, so field boundaries cannot shift', () => {
  assert.equal(toHex(tr('L')), toHex(utf8('L')));
  assert.equal(toHex(tr('L', 'ab')), `${toHex(utf8('L'))}00000002${toHex(utf8('ab'))}`);
  assert.equal(toHex(tr('L', 42)), `${toHex(utf8('L'))}00000002${toHex(utf8('42'))}`);
  assert.notEqual(toHex(tr('L', 'ab', 'c')), toHex(tr('L', 'a', 'bc')));
  assert.throws(() => tr('L', 1.5), RangeError);
});

test('SAS is six digits and depends on every input', () => {
  const h = generateKeyPair(seed(7)).publicKey;
  const d = generateKeyPair(seed(8)).publicKey;
  const claim = new Uint8Array(16).fill(9);
  const sas = sasDigits(h, d, claim);
  assert.match(sas, /^\d{6}$/);
  const digest = createHash('sha256')
    .update(tr('pocketshell/sas/v1', h, d, claim))
    .digest();
  assert.equal(sas, String(digest.readUInt32BE(0) % 1_000_000).padStart(6, '0'));
  const other = generateKeyPair(seed(10)).publicKey;
  assert.notEqual(sasDigits(h, other, claim), sas);
});
