/**
 * The secret filter, pattern by pattern: each documented token format is
 * redacted with its kind (and only the secret part of an assignment, a URL
 * or a header), ordinary agent output is left alone (paths, prose, commit
 * ids, UUIDs, short base64, code that merely names a token), and the
 * stream catches secrets split across chunks, including one character at
 * a time. The sample keys are made up in each format (AWS's documented
 * example key is AWS's own).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { isHighEntropy, redactJson, redactSecrets, SecretStream, shannonEntropy } from './secret-filter.ts';

/** Samples of each format, as `[kind, secret]`. */
const SAMPLES: readonly (readonly [string, string])[] = [
  ['aws_key', 'AKIAIOSFODNN7EXAMPLE'],
  ['aws_key', 'ASIAY34FZKBOKMUTVV7A'],
  ['github_token', 'ghp_16C7e42F292c6912E7710c838347Ae178B4a'],
  ['github_token', 'gho_16C7e42F292c6912E7710c838347Ae178B4a'],
  ['github_token', 'ghu_16C7e42F292c6912E7710c838347Ae178B4a'],
  ['github_token', 'ghs_16C7e42F292c6912E7710c838347Ae178B4a'],
  ['github_token', 'ghr_1B4a2e77838347a7E420ce178F2E7c6912E169246c34E1ccbF66C46812d16D5B1A9Dc86A1498'],
  [
    'github_token',
    'github_pat_11ABCDEFG0123456789abc_0123456789abcdefghijABCDEFGHIJ0123456789abcdefghijklmnopq',
  ],
  ['gitlab_token', 'glpat-Abc123Def456Ghi789Jk'],
  ['slack_token', 'xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx'],
  ['slack_token', 'xoxp-123456789012-123456789012-123456789012-0123456789abcdef0123456789abcdef'],
  ['stripe_key', 'sk_live_4eC39HqLyjWDarjtT1zdp7dc'],
  ['stripe_key', 'rk_live_51H8xYzAbCdEfGhIjKlMnOp'],
  ['anthropic_key', 'sk-ant-api03-Zx9Qm2Lp8Rt4Vw7Yb3Nc6Hd1Kf5Jg0Aa-Bb_Cc9Dd8Ee7Ff6Gg5Hh4Ii3Jj2Kk1LlAA'],
  ['openai_key', 'sk-proj-Zx9Qm2Lp8Rt4Vw7Yb3Nc6Hd1Kf5Jg0AaBbCc9Dd8Ee7Ff6Gg5Hh4Ii3Jj2Kk1Ll'],
  ['openai_key', 'sk-Zx9Qm2Lp8Rt4Vw7Yb3Nc6Hd1Kf5Jg0AaBbCc9Dd8Ee7Ff6Gg5'],
  ['google_api_key', 'AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe'],
  ['npm_token', 'npm_Zx9Qm2Lp8Rt4Vw7Yb3Nc6Hd1Kf5Jg0AaBbCc'],
  [
    'jwt',
    'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c',
  ],
  [
    'private_key',
    '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\nQyNTUxOQAAACB3Zx9Qm2Lp8Rt4Vw7Yb3Nc6Hd1Kf5Jg0AaBbCc9Dd8Ee7Ff6Gg\n-----END OPENSSH PRIVATE KEY-----',
  ],
  [
    'private_key',
    '-----BEGIN RSA PRIVATE KEY-----\r\nProc-Type: 4,ENCRYPTED\r\nDEK-Info: AES-128-CBC,0123456789ABCDEF\r\n\r\nMIIEpAIBAAKCAQEA7Zx9Qm2Lp8Rt4Vw7Yb3Nc6Hd1Kf5Jg0\r\n-----END RSA PRIVATE KEY-----',
  ],
  [
    'private_key',
    '-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQdGBF9Zx9Qm2Lp8\n=Ab12\n-----END PGP PRIVATE KEY BLOCK-----',
  ],
  ['high_entropy', 'Zx9Qm2Lp8Rt4Vw7Yb3Nc6Hd1Kf5Jg0Ty'],
  ['high_entropy', 'k2v657xBsOVe1PQRwOsHsw3bsGT2VzIqz5K+59sNQws='],
];

const r = (text: string): string => redactSecrets(text).text;

describe('secret filter: token formats', () => {
  for (const [kind, secret] of SAMPLES) {
    it(`${kind}: ${secret.slice(0, 12)}…`, () => {
      for (const [before, after] of [
        ['', ''],
        ['key: ', '\n'],
        ['"', '"'],
        ['(', ') and more'],
      ] as const) {
        const got = redactSecrets(`${before}${secret}${after}`);
        assert.equal(got.text, `${before}[REDACTED:${kind}]${after}`);
        assert.deepEqual(got.found, [{ kind }]);
      }
    });
  }

  it('a token glued to a longer word is not that token (but may still be high entropy)', () => {
    assert.equal(r('xAKIAIOSFODNN7EXAMPLE'), 'xAKIAIOSFODNN7EXAMPLE');
    assert.equal(r('AKIAIOSFODNN7EXAMPLEX'), 'AKIAIOSFODNN7EXAMPLEX');
  });

  it('an unterminated PEM block is not a private_key, but its base64 lines are high entropy', () => {
    const pem =
      '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7Zx9Qm2Lp8Rt4\n';
    assert.equal(r(pem), '-----BEGIN PRIVATE KEY-----\n[REDACTED:high_entropy]\n');
    // A certificate is public: left alone.
    const cert = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----';
    assert.equal(r(cert), cert);
  });
});

describe('secret filter: secrets in context', () => {
  it('AWS secret access keys after their name (config file, env, STS JSON)', () => {
    const k = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
    assert.equal(r(`aws_secret_access_key = ${k}`), 'aws_secret_access_key = [REDACTED:aws_secret]');
    assert.equal(r(`AWS_SECRET_ACCESS_KEY=${k}`), 'AWS_SECRET_ACCESS_KEY=[REDACTED:aws_secret]');
    assert.equal(r(`"SecretAccessKey": "${k}",`), '"SecretAccessKey": "[REDACTED:aws_secret]",');
  });

  it('assignments: the value only, named password or secret (or by its format)', () => {
    assert.equal(r('password=hunter2'), 'password=[REDACTED:password]');
    assert.equal(r('DB_PASSWORD="correct horse battery"'), 'DB_PASSWORD="[REDACTED:password]"');
    assert.equal(r("  client_secret: 'abc123def456'"), "  client_secret: '[REDACTED:secret]'");
    assert.equal(r('{"api_key": "k-93jd8", "n": 1}'), '{"api_key": "[REDACTED:secret]", "n": 1}');
    assert.equal(r('export SLACK_TOKEN=xoxb-1-2-AbCdEfGhIjKl'), 'export SLACK_TOKEN=[REDACTED:slack_token]');
    assert.equal(r('token := "s3cr3t-value"'), 'token := "[REDACTED:secret]"');
    assert.equal(r('--api-key=Q9w8e7r6t5'), '--api-key=[REDACTED:secret]');
    assert.equal(r('secret: S3cr3t!x'), 'secret: [REDACTED:secret]');
  });

  it('assignments that are code, not data, are left alone', () => {
    for (const code of [
      'const token = getToken();',
      'const token = this.token;',
      'password: string;',
      'secret: Uint8Array;',
      'senderSecret: this.#o.identity.secretKey,',
      'token: sender?.token ?? fallback,',
      'token=token',
      'password = os.environ.get("PW")',
      'TOKEN=$GITHUB_TOKEN',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell-style reference, as text
      'password: "${PASSWORD}"',
      'api_key: "<your key here>"',
      'password: "********"',
      'max_tokens = 1000',
      'tokenizer = AutoTokenizer.from_pretrained("gpt2")',
      'password: ""',
      'token=[REDACTED:github_token]',
    ])
      assert.equal(r(code), code, code);
  });

  it('URLs: the password of user:password@', () => {
    assert.equal(
      r('git clone https://alice:s3cr3t@github.com/x/y.git'),
      'git clone https://alice:[REDACTED:url_password]@github.com/x/y.git',
    );
    assert.equal(
      r('postgres://app:pa%40ss@db:5432/app'),
      'postgres://app:[REDACTED:url_password]@db:5432/app',
    );
    for (const fine of [
      'https://github.com/x/y',
      'http://localhost:8080/path',
      'ssh://git@github.com/x',
      'mailto:a@b.c',
    ])
      assert.equal(r(fine), fine);
  });

  it('Authorization headers: the credential', () => {
    assert.equal(
      r('curl -H "Authorization: Bearer abcdefgh12345678" https://api'),
      'curl -H "Authorization: Bearer [REDACTED:authorization]" https://api',
    );
    assert.equal(r('authorization: basic dXNlcjpwYXNz'), 'authorization: basic [REDACTED:authorization]');
    assert.equal(
      r('Authorization: token ghp_16C7e42F292c6912E7710c838347Ae178B4a'),
      'Authorization: token [REDACTED:authorization]',
    );
    assert.equal(r('-H "Authorization: Bearer $TOKEN"'), '-H "Authorization: Bearer $TOKEN"');
  });
});

describe('secret filter: ordinary output is left alone', () => {
  it('paths, prose, commit ids, digests, UUIDs, base64 of short words, identifiers', () => {
    for (const text of [
      'commit 3f786850e387550fdab836ed7e6dc881de23001b\nAuthor: A <a@b.c>',
      'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
      '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08  file.tar.gz',
      'session 550e8400-e29b-41d4-a716-446655440000 resumed',
      'request-id: req_550e8400-e29b-41d4-a716-446655440000',
      '/usr/lib/x86_64-linux-gnu/libstdc++.so.6',
      'packages/host-core/src/agent/secret-filter.test.ts',
      'https://developer.mozilla.org/en-US/docs/Web/JavaScript/Reference/Global_Objects/Uint8Array',
      'node_modules/@typescript-eslint/eslint-plugin/dist/configs/recommended.js',
      'The quick brown fox jumps over the lazy dog; tests passed in 12.3 s.',
      'aGVsbG8gd29ybGQ= and c2VjcmV0 are base64 of short words',
      'export function createDeterministicTestPeerConnection2() {}',
      'THIS_IS_A_VERY_LONG_CONSTANT_NAME_WITH_NUMBERS_123',
      '"integrity": "sha512-Zx9Qm2Lp8Rt4Vw7Yb3Nc6Hd1Kf5Jg0Zx9Qm2Lp8Rt4Vw7Yb3Nc6Hd1Kf5Jg0ZxAAAAAAAAAAAAAAAAAAAAAA=="',
      'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_',
      'sk-learn and sk-some-very-long-kebab-case-package-name-here',
      '',
    ]) {
      const got = redactSecrets(text);
      assert.equal(got.text, text, text);
      assert.deepEqual(got.found, []);
    }
  });

  it("this package's own sources give no high-entropy hit", () => {
    const root = path.join(import.meta.dirname, '..');
    let files = 0;
    for (const entry of fs.readdirSync(root, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile() || !entry.name.endsWith('.ts') || entry.name.includes('.test.')) continue;
      if (entry.name.startsWith('secret-filter')) continue;
      const text = fs.readFileSync(path.join(entry.parentPath, entry.name), 'utf8');
      const hits = redactSecrets(text).found.filter((f) => f.kind === 'high_entropy');
      assert.equal(hits.length, 0, `${entry.name}`);
      files++;
    }
    assert.ok(files > 30);
  });

  it('redaction is idempotent', () => {
    const text = SAMPLES.map(([, s]) => `x ${s} password=hunter2 https://a:b1@h`).join('\n');
    const once = r(text);
    assert.equal(r(once), once);
  });
});

describe('secret filter: high entropy', () => {
  it('entropy and the rule', () => {
    assert.equal(shannonEntropy(''), 0);
    assert.equal(shannonEntropy('aaaa'), 0);
    assert.equal(shannonEntropy('abcd'), 2);
    assert.ok(isHighEntropy('Zx9Qm2Lp8Rt4Vw7Yb3Nc6Hd1'));
    assert.ok(!isHighEntropy('Zx9Qm2Lp8Rt4Vw7Yb3Nc6Hd')); // 23 characters
    assert.ok(!isHighEntropy('zx9qm2lp8rt4vw7yb3nc6hd1kf5jg0')); // no upper case
    assert.ok(!isHighEntropy('AaAaAaAaAaAaAaAaAaAaAaA1')); // repeats
    assert.ok(!isHighEntropy('3f786850e387550fdab836ed7e6dc881de23001b')); // a commit id
    assert.ok(!isHighEntropy('550e8400-e29b-41d4-a716-446655440000'));
  });

  it('runs longer than 1024 characters are data, not keys', () => {
    const run = 'Zx9Qm2Lp8Rt4Vw7Yb3Nc6Hd1Kf5Jg0Ty'.repeat(40);
    assert.equal(r(run), run);
  });
});

describe('secret filter: the stream', () => {
  const whole = (chunks: readonly string[]): string => {
    const s = new SecretStream();
    let out = '';
    for (const c of chunks) out += s.push(c);
    return out + s.flush();
  };

  it('a secret split across two chunks, at every point', () => {
    for (const [kind, secret] of SAMPLES) {
      const text = `before ${secret} after`;
      for (let i = 0; i <= text.length; i++) {
        assert.equal(
          whole([text.slice(0, i), text.slice(i)]),
          `before [REDACTED:${kind}] after`,
          `${kind} cut at ${i}`,
        );
      }
    }
  });

  it('one character at a time, and what is held back is bounded', () => {
    const text = SAMPLES.map(([, s]) => s).join(' and ');
    const s = new SecretStream();
    let out = '';
    let maxHeld = 0;
    for (const ch of text) {
      out += s.push(ch);
      maxHeld = Math.max(maxHeld, s.pending);
    }
    out += s.flush();
    assert.equal(out, r(text));
    assert.ok(!SAMPLES.some(([, secret]) => out.includes(secret)));
    assert.ok(maxHeld < 300, `held ${maxHeld}`);
    assert.equal(s.count, SAMPLES.length);
    assert.deepEqual(
      s.found.map((f) => f.kind),
      SAMPLES.map(([k]) => k),
    );
  });

  it('emits prose as it comes, holding back only the last partial word', () => {
    const s = new SecretStream();
    assert.equal(s.push('Running the tests now'), 'Running the tests ');
    assert.equal(s.push('. Done\n'), 'now. Done\n');
    assert.equal(s.pending, 0);
    assert.equal(s.flush(), '');
  });

  it('holds an open private key block until its end (bounded by 8 KiB)', () => {
    const s = new SecretStream();
    assert.equal(s.push('key:\n-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEI'), 'key:\n');
    assert.equal(s.push('Zx9Qm2Lp8\n'), '');
    assert.equal(s.push('-----END EC PRIVATE KEY-----\nok '), '[REDACTED:private_key]\nok ');
    // An unterminated block is let go once it is longer than any key.
    const t = new SecretStream();
    let out = t.push('-----BEGIN PRIVATE KEY-----\n');
    for (let i = 0; i < 200; i++) out += t.push('abcd efgh ijkl mnop qrst uvwx yz01 2345 6789 ABCD EFGH\n');
    assert.ok(out.length > 0 && t.pending < 8500);
    assert.equal(
      out + t.flush(),
      r(
        `-----BEGIN PRIVATE KEY-----\n${'abcd efgh ijkl mnop qrst uvwx yz01 2345 6789 ABCD EFGH\n'.repeat(200)}`,
      ),
    );
  });

  it('refuses a non-string chunk', () => {
    assert.throws(() => new SecretStream().push(42 as unknown as string), TypeError);
  });
});

describe('secret filter: JSON values', () => {
  it('walks strings, redacts values under secret-named keys, keeps keys and other values', () => {
    const input = {
      type: 'assistant',
      message: { content: [{ type: 'text', text: 'your key is ghp_16C7e42F292c6912E7710c838347Ae178B4a' }] },
      env: { GITHUB_TOKEN: 'plain-looking', password: '$PW', HOME: '/home/a' },
      n: 3,
      ok: true,
      none: null,
    };
    const before = JSON.stringify(input);
    const { value, found } = redactJson(input);
    assert.deepEqual(value, {
      type: 'assistant',
      message: { content: [{ type: 'text', text: 'your key is [REDACTED:github_token]' }] },
      env: { GITHUB_TOKEN: '[REDACTED:secret]', password: '$PW', HOME: '/home/a' },
      n: 3,
      ok: true,
      none: null,
    });
    assert.deepEqual(
      found.map((f) => f.kind),
      ['github_token', 'secret'],
    );
    assert.equal(JSON.stringify(input), before, 'the input is unchanged');
  });

  it('a __proto__ key stays a key', () => {
    const { value } = redactJson(JSON.parse('{"__proto__": {"token": "abc123xyz"}}'));
    assert.equal(Object.getPrototypeOf(value), Object.prototype);
    assert.deepEqual(Object.keys(value as object), ['__proto__']);
    assert.equal(JSON.stringify(value), '{"__proto__":{"token":"[REDACTED:secret]"}}');
  });
});
