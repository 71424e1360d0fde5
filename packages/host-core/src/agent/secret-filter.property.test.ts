/**
 * Property tests of the secret stream (issue 18): for random text with
 * secrets, pieces of secrets and look-alikes embedded, split into chunks at
 * random points, the concatenated output of `SecretStream` is exactly
 * `redactSecrets` of the whole (12 000 runs); and a secret set apart by
 * spaces never reaches the output, however the text is split (4 000 runs).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { redactSecrets, SecretStream } from './secret-filter.ts';

const SECRETS = [
  'AKIAIOSFODNN7EXAMPLE',
  'ghp_16C7e42F292c6912E7710c838347Ae178B4a',
  'github_pat_11ABCDEFG0123456789abc_0123456789abcdefghijABCDEFGHIJ0123456789abcdefghijklmnopq',
  'glpat-Abc123Def456Ghi789Jk',
  'xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx',
  'sk_live_4eC39HqLyjWDarjtT1zdp7dc',
  'sk-ant-api03-Zx9Qm2Lp8Rt4Vw7Yb3Nc6Hd1Kf5Jg0Aa-Bb_Cc9Dd8Ee7Ff6Gg5Hh4Ii3Jj2Kk1LlAA',
  'sk-proj-Zx9Qm2Lp8Rt4Vw7Yb3Nc6Hd1Kf5Jg0AaBbCc9Dd8Ee7Ff6Gg5Hh4Ii3Jj2Kk1Ll',
  'AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe',
  'npm_Zx9Qm2Lp8Rt4Vw7Yb3Nc6Hd1Kf5Jg0AaBbCc',
  'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c',
  '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\nAAAAtzc2gtZW-x\n-----END OPENSSH PRIVATE KEY-----',
  'Zx9Qm2Lp8Rt4Vw7Yb3Nc6Hd1Kf5Jg0Ty',
];
/** Text that a secret is embedded in: `[before, secret part, after]`, where only the middle is secret. */
const CONTEXTS = [
  ['password=', 'hunter2x9', ''],
  ['aws_secret_access_key = ', 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', ''],
  ['"api_key": "', 'k-93jd8-Q', '"'],
  ['https://alice:', 's3cr3tpw', '@github.com/x'],
  ['Authorization: Bearer ', 'abcdefgh12345678', ''],
] as const;
/** Pieces and look-alikes: the beginnings of patterns without their ends, delimiters. */
const FRAGMENTS = [
  '-----BEGIN RSA PRIVATE KEY-----\n',
  '-----END RSA PRIVATE KEY-----',
  '-----BEGIN CERTIFICATE-----\n',
  '-----',
  'password',
  'token: "',
  'secret = ',
  '"',
  "'",
  'https://',
  'u:',
  '@',
  'Authorization: ',
  'Bearer ',
  'AKIA',
  'ghp_',
  'eyJ',
  '.eyJ',
  'sk-',
  'xoxb-',
  '3f786850e387550fdab836ed7e6dc881de23001b',
  '550e8400-e29b-41d4-a716-446655440000',
  ' ',
  '\n',
  '-',
  '.',
  ':',
  '=',
];
const B64 = [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=_-'];

const piece = fc.oneof(
  { arbitrary: fc.constantFrom(...SECRETS), weight: 3 },
  { arbitrary: fc.constantFrom(...CONTEXTS).map((c) => c.join('')), weight: 2 },
  { arbitrary: fc.constantFrom(...FRAGMENTS), weight: 4 },
  { arbitrary: fc.string({ unit: fc.constantFrom(...'abcXYZ019 _-+/=.:@"\n'), maxLength: 12 }), weight: 3 },
  { arbitrary: fc.string({ unit: fc.constantFrom(...B64), minLength: 16, maxLength: 48 }), weight: 2 },
);

/** Splits `text` at the given points (any order, any values) and streams it. */
function streamed(text: string, points: readonly number[]): string {
  const cuts = [...new Set(points.map((p) => p % (text.length + 1)))].sort((a, b) => a - b);
  const s = new SecretStream();
  let out = '';
  let at = 0;
  for (const c of [...cuts, text.length]) {
    out += s.push(text.slice(at, c));
    at = c;
  }
  return out + s.flush();
}

describe('secret stream: properties', () => {
  it('the stream’s output equals redactSecrets of the whole, however split (12 000 runs)', () => {
    fc.assert(
      fc.property(
        fc.array(piece, { maxLength: 14 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        (pieces, points) => {
          const text = pieces.join('');
          assert.equal(streamed(text, points), redactSecrets(text).text);
        },
      ),
      { numRuns: 12_000 },
    );
  });

  it('one character at a time too (1 000 runs)', () => {
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 10 }), (pieces) => {
        const text = pieces.join('');
        assert.equal(
          streamed(
            text,
            [...text].map((_, i) => i),
          ),
          redactSecrets(text).text,
        );
      }),
      { numRuns: 1_000 },
    );
  });

  it('a secret set apart by white space never reaches the output (4 000 runs)', () => {
    const secretPiece = fc.oneof(
      fc.constantFrom(...SECRETS).map((s) => ({ text: s, secret: s })),
      fc.constantFrom(...CONTEXTS).map(([a, s, b]) => ({ text: a + s + b, secret: s })),
    );
    const prose = fc.string({ unit: fc.constantFrom(...'abcdef .,:;\n'), maxLength: 20 });
    fc.assert(
      fc.property(
        fc.array(fc.tuple(prose, secretPiece), { minLength: 1, maxLength: 6 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        (parts, points) => {
          const text = parts.map(([p, s]) => `${p} ${s.text}\n`).join('');
          const out = streamed(text, points);
          for (const [, s] of parts) assert.ok(!out.includes(s.secret), `leaked ${s.secret.slice(0, 8)}…`);
        },
      ),
      { numRuns: 4_000 },
    );
  });
});
