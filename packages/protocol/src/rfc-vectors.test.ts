/**
 * Known-answer tests of record for every primitive the protocol uses:
 * RFC 8032 (Ed25519), RFC 7748 (X25519), RFC 8439 (ChaCha20-Poly1305),
 * RFC 5869 (HKDF-SHA256), RFC 9180 A.2 (HPKE), plus Wycheproof low-order
 * X25519 cases. The vectors live in test/vectors/rfc/ with their sources.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { x25519 } from '@noble/curves/ed25519.js';
import { expand, extract } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import aead from '../../../test/vectors/rfc/chacha20poly1305.json' with { type: 'json' };
import ed from '../../../test/vectors/rfc/ed25519.json' with { type: 'json' };
import hkdfVectors from '../../../test/vectors/rfc/hkdf.json' with { type: 'json' };
import hpke from '../../../test/vectors/rfc/hpke.json' with { type: 'json' };
import x from '../../../test/vectors/rfc/x25519.json' with { type: 'json' };
import { fromHex, toHex } from './bytes.ts';
import { ProtocolError } from './errors.ts';
import { AEAD_ID, deriveKeyPair, dh, KDF_ID, KEM_ID, setupRecipient, setupSender } from './hpke.ts';
import { generateKeyPair, sign, verify } from './identity.ts';

describe('RFC 8032 §7.1 Ed25519', () => {
  for (const v of ed.vectors) {
    test(v.name, () => {
      const kp = generateKeyPair(fromHex(v.secretKey));
      assert.equal(toHex(kp.publicKey), v.publicKey);
      const sig = sign(fromHex(v.message), kp.secretKey);
      assert.equal(toHex(sig), v.signature);
      assert.ok(verify(sig, fromHex(v.message), kp.publicKey));
      const bad = sig.slice();
      bad[0]! ^= 1;
      assert.equal(verify(bad, fromHex(v.message), kp.publicKey), false);
    });
  }
  test('has tests 1-3 and SHA(abc)', () => assert.equal(ed.vectors.length, 4));
});

describe('RFC 7748 X25519', () => {
  test('§5.2 single steps', () => {
    for (const v of x.rfc7748_5_2) {
      assert.equal(toHex(x25519.scalarMult(fromHex(v.scalar), fromHex(v.u))), v.output);
    }
  });
  test('§5.2 iterated 1 and 1000 times', () => {
    let k: Uint8Array = fromHex(x.rfc7748_5_2_iterated.initial);
    let u: Uint8Array = k.slice();
    for (let i = 1; i <= 1000; i++) {
      const next = x25519.scalarMult(k, u);
      u = k;
      k = next;
      if (i === 1) assert.equal(toHex(k), x.rfc7748_5_2_iterated.after_1);
    }
    assert.equal(toHex(k), x.rfc7748_5_2_iterated.after_1000);
  });
  test('§6.1 Diffie-Hellman', () => {
    const v = x.rfc7748_6_1;
    assert.equal(toHex(x25519.getPublicKey(fromHex(v.alice_private))), v.alice_public);
    assert.equal(toHex(x25519.getPublicKey(fromHex(v.bob_private))), v.bob_public);
    assert.equal(toHex(dh(fromHex(v.alice_private), fromHex(v.bob_public))), v.shared_secret);
    assert.equal(toHex(dh(fromHex(v.bob_private), fromHex(v.alice_public))), v.shared_secret);
  });
  for (const w of x.wycheproof) {
    test(`Wycheproof tc ${w.tcId} (${w.comment}): low-order key, all-zero secret refused`, () => {
      assert.ok(w.flags.includes('LowOrderPublic') && w.flags.includes('ZeroSharedSecret'));
      assert.match(w.shared, /^(00)+$/);
      assert.throws(
        () => dh(fromHex(w.private), fromHex(w.public)),
        (e: unknown) => e instanceof ProtocolError && e.code === 'bad_key',
      );
      // and so does HPKE setup towards such a key
      assert.throws(
        () => setupSender(fromHex(w.public), new Uint8Array(0)),
        (e: unknown) => e instanceof ProtocolError && e.code === 'bad_key',
      );
    });
  }
});

describe('RFC 8439 §2.8.2 ChaCha20-Poly1305', () => {
  for (const v of aead.vectors) {
    test(v.name, () => {
      const c = chacha20poly1305(fromHex(v.key), fromHex(v.nonce), fromHex(v.aad));
      const out = c.encrypt(fromHex(v.plaintext));
      assert.equal(toHex(out), v.ciphertext + v.tag);
      const back = chacha20poly1305(fromHex(v.key), fromHex(v.nonce), fromHex(v.aad)).decrypt(out);
      assert.equal(toHex(back), v.plaintext);
    });
  }
});

describe('RFC 5869 HKDF-SHA256', () => {
  for (const v of hkdfVectors.vectors) {
    test(v.name, () => {
      const prk = extract(sha256, fromHex(v.ikm), fromHex(v.salt));
      assert.equal(toHex(prk), v.prk);
      assert.equal(toHex(expand(sha256, prk, fromHex(v.info), v.L)), v.okm);
    });
  }
});

describe('RFC 9180 A.2 HPKE DHKEM(X25519)/HKDF-SHA256/ChaCha20-Poly1305', () => {
  for (const v of hpke.vectors) {
    test(v.name, () => {
      assert.deepEqual([v.kem_id, v.kdf_id, v.aead_id], [KEM_ID, KDF_ID, AEAD_ID]);
      const e = deriveKeyPair(fromHex(v.ikmE));
      const r = deriveKeyPair(fromHex(v.ikmR));
      assert.equal(toHex(e.secretKey), v.skEm);
      assert.equal(toHex(e.publicKey), v.pkEm);
      assert.equal(toHex(r.secretKey), v.skRm);
      assert.equal(toHex(r.publicKey), v.pkRm);
      const auth = v.mode === 2;
      if (auth) {
        const s = deriveKeyPair(fromHex(v.ikmS!));
        assert.equal(toHex(s.secretKey), v.skSm);
        assert.equal(toHex(s.publicKey), v.pkSm);
      }
      const info = fromHex(v.info);
      const { enc, context: sender } = setupSender(fromHex(v.pkRm), info, {
        ephemeralSecret: fromHex(v.skEm),
        ...(auth ? { senderSecret: fromHex(v.skSm!) } : {}),
      });
      assert.equal(toHex(enc), v.enc);
      const ks = sender.schedule;
      assert.equal(toHex(ks.sharedSecret), v.shared_secret);
      assert.equal(toHex(ks.keyScheduleContext), v.key_schedule_context);
      assert.equal(toHex(ks.secret), v.secret);
      assert.equal(toHex(ks.key), v.key);
      assert.equal(toHex(ks.baseNonce), v.base_nonce);
      assert.equal(toHex(ks.exporterSecret), v.exporter_secret);
      const recipient = setupRecipient(
        enc,
        fromHex(v.skRm),
        info,
        auth ? { senderPublic: fromHex(v.pkSm!) } : {},
      );
      // Encryptions are listed by sequence number; advance both contexts to each.
      for (const c of v.encryptions) {
        while (sender.seq < c.sequence_number) {
          recipient.open(sender.seal(new Uint8Array(0)));
        }
        const ct = sender.seal(fromHex(c.pt), fromHex(c.aad));
        assert.equal(toHex(ct), c.ct, `ct at seq ${c.sequence_number}`);
        assert.equal(toHex(recipient.open(ct, fromHex(c.aad))), c.pt);
      }
      for (const x of v.exports) {
        assert.equal(toHex(sender.export(fromHex(x.exporter_context), x.L)), x.exported_value);
        assert.equal(toHex(recipient.export(fromHex(x.exporter_context), x.L)), x.exported_value);
      }
    });
  }
  test('includes the A.2.3 auth-mode vector', () => {
    assert.ok(hpke.vectors.some((v) => v.mode === 2));
  });
});
