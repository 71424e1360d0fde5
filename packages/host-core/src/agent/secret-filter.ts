/**
 * The secret filter of agent sessions (issue 18): what an agent streams to
 * the phone, and what it is given, passes through here first, and known
 * credentials come out as `[REDACTED:<kind>]`. Regex redaction is best
 * effort (docs/security.md "Agents: sandbox and secret filter"): it catches
 * the token formats below and random-looking strings, not a password that
 * reads like a word.
 *
 * What is recognised (the formats as their issuers document them):
 * - AWS access key ids `AKIA…`/`ASIA…` + 16 upper-case letters or digits
 *   (AWS IAM User Guide, "Understanding unique ID prefixes"), and the
 *   40-character secret key after `aws_secret_access_key` /
 *   `SecretAccessKey` (AWS CLI "Configuration and credential file settings",
 *   STS `Credentials` output).
 * - GitHub `ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_` + 36 or more letters and
 *   digits, and fine-grained `github_pat_…` (GitHub Docs, "About
 *   authentication to GitHub", GitHub's token formats).
 * - GitLab personal access tokens `glpat-…` (GitLab Docs, "Personal access
 *   tokens": the `glpat-` prefix).
 * - Slack `xoxb-`, `xoxp-`, `xoxa-`, `xoxr-`, `xoxs-` (Slack API docs,
 *   "Token types").
 * - Stripe `sk_live_`, `rk_live_` (and their `_test_` twins) (Stripe Docs,
 *   "API keys").
 * - Anthropic `sk-ant-…` (Claude API docs: keys `sk-ant-api03-…`, OAuth
 *   tokens `sk-ant-oat01-…`); OpenAI `sk-…`, `sk-proj-…`, `sk-svcacct-…`,
 *   `sk-admin-…` (OpenAI API reference, "Authentication").
 * - Google API keys `AIza` + 35 characters (Google Cloud docs, "Manage API
 *   keys").
 * - npm access tokens `npm_` + 36 characters (GitHub blog, "Introducing
 *   npm granular access tokens / new token format", 2021).
 * - JSON Web Tokens: three base64url parts, the first two JSON objects, so
 *   both start `eyJ` (RFC 7519 §3, RFC 7515 §7.1).
 * - PEM private key blocks `-----BEGIN … PRIVATE KEY-----` … `-----END …`
 *   (RFC 7468 §2; OpenSSH, PKCS#1/#8, EC, encrypted, PGP key blocks), up to
 *   8 KiB between the lines (an RSA-8192 key is about 6.5 KiB).
 * - Assignments whose name ends in password, passwd, passphrase, secret,
 *   token, api_key/apikey, access_key, private_key, client_secret (`X=…`,
 *   `x: …`, `"x": "…"`, `x := …`): the value. Unquoted values that read as
 *   code rather than data are left alone: a plain identifier (`token =
 *   token`), a member access (`process.env.TOKEN`), a `$` reference, a
 *   type or keyword (`password: string`).
 * - URLs with `user:password@`: the password (RFC 3986 §3.2.1).
 * - `Authorization: Bearer|Basic|Token …` (RFC 6750 §2.1, RFC 7617): the
 *   credential.
 * - High-entropy strings, see `isHighEntropy`.
 *
 * Streaming (`SecretStream`) is exact: the text emitted over all `push`es
 * and the `flush` equals `redactSecrets` of the whole input, however it is
 * split. Every pattern is bounded (the longest, a PEM block, about 8.3 KiB),
 * and each pattern also compiles to a "could this still become a match"
 * regex (its prefixes, anchored at the end of the buffer). A position from
 * which no pattern's prefix reaches the end of what has arrived is decided:
 * nothing that arrives later can change what matches there. The stream
 * emits up to the first undecided position and holds the rest — usually the
 * last partial word; a whole block only while a `-----BEGIN … PRIVATE KEY`
 * is open.
 *
 * The filter never logs, and never puts a secret in an error.
 */

/** A secret found: its kind only, never its text. */
export interface SecretFinding {
  readonly kind: SecretKind;
}

/** The kinds of secret the filter names in `[REDACTED:<kind>]`. */
export type SecretKind =
  | 'private_key'
  | 'aws_key'
  | 'aws_secret'
  | 'github_token'
  | 'gitlab_token'
  | 'slack_token'
  | 'stripe_key'
  | 'anthropic_key'
  | 'openai_key'
  | 'google_api_key'
  | 'npm_token'
  | 'jwt'
  | 'url_password'
  | 'authorization'
  | 'password'
  | 'secret'
  | 'high_entropy';

/** The result of `redactSecrets`. */
export interface Redacted {
  readonly text: string;
  readonly found: SecretFinding[];
}

// ---------------------------------------------------------------------------
// Patterns as a small tree, so each compiles both to its regex and to the
// regex of its prefixes (what the stream must hold back).

type Node =
  | { readonly t: 'lit'; readonly s: string; readonly i: boolean }
  | {
      readonly t: 'cls';
      readonly c: string;
      readonly min: number;
      readonly max: number;
      readonly lazy: boolean;
    }
  | { readonly t: 'seq'; readonly items: readonly Node[] }
  | { readonly t: 'alt'; readonly items: readonly Node[] }
  | { readonly t: 'behind'; readonly src: string }
  | { readonly t: 'ahead'; readonly src: string }
  | { readonly t: 'secret'; readonly item: Node };

const lit = (s: string): Node => ({ t: 'lit', s, i: false });
/** A literal matched without case. */
const ilit = (s: string): Node => ({ t: 'lit', s, i: true });
const cls = (c: string, min: number, max: number, lazy = false): Node => ({ t: 'cls', c, min, max, lazy });
const seq = (...items: Node[]): Node => ({ t: 'seq', items });
const alt = (...items: Node[]): Node => ({ t: 'alt', items });
const opt = (item: Node): Node => alt(item, seq());
/** A one-character negative lookbehind: the match may not start right after `c`. */
const notAfter = (c: string): Node => ({ t: 'behind', src: `(?<!${c})` });
/** A negative lookahead: the match may not be followed by `src`. */
const notBefore = (src: string): Node => ({ t: 'ahead', src: `(?!${src})` });
/** The part of the match replaced by `[REDACTED:<kind>]` (the whole match when a pattern has none). */
const secret = (item: Node): Node => ({ t: 'secret', item });

const escapeRe = (s: string): string => s.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
const litSrc = (ch: string, i: boolean): string => {
  const lo = ch.toLowerCase();
  const up = ch.toUpperCase();
  return i && lo !== up ? `[${escapeRe(lo)}${escapeRe(up)}]` : escapeRe(ch);
};
const quant = (min: number, max: number, lazy: boolean): string =>
  `{${min},${max}}${lazy && min !== max ? '?' : ''}`;

/**
 * Compiles a pattern; each `secret` becomes a named group `<prefix><n>`,
 * pushed to `names` (a plain group when `names` is null).
 */
function full(n: Node, prefix: string, names: string[] | null): string {
  switch (n.t) {
    case 'lit':
      return [...n.s].map((ch) => litSrc(ch, n.i)).join('');
    case 'cls':
      return `${n.c}${quant(n.min, n.max, n.lazy)}`;
    case 'seq':
      return n.items.map((x) => full(x, prefix, names)).join('');
    case 'alt':
      return `(?:${n.items.map((x) => full(x, prefix, names)).join('|')})`;
    case 'behind':
    case 'ahead':
      return n.src;
    case 'secret': {
      if (names === null) return `(?:${full(n.item, prefix, null)})`;
      const name = `${prefix}${names.length}`;
      names.push(name);
      return `(?<${name}>${full(n.item, prefix, names)})`;
    }
  }
}

/**
 * The regex of every prefix of a match of `n` (the empty one and the whole
 * match included), without groups. Lookaheads are dropped (what follows is
 * not known yet), lookbehinds kept: the result can only say "maybe" more
 * often than the pattern, never less — a held position too many, never
 * one too few.
 */
function prefixes(n: Node): string {
  switch (n.t) {
    case 'lit': {
      let src = '';
      for (const ch of [...n.s].reverse()) src = `(?:${litSrc(ch, n.i)}${src})?`;
      return src;
    }
    case 'cls':
      return `${n.c}{0,${n.max}}`;
    case 'seq': {
      let src = '';
      for (let i = n.items.length - 1; i >= 0; i--) {
        const item = n.items[i]!;
        if (item.t === 'behind') src = `${item.src}${src}`;
        else if (item.t === 'ahead') continue;
        else
          src =
            i === n.items.length - 1 ? prefixes(item) : `(?:${full(item, '', null)}${src}|${prefixes(item)})`;
      }
      return src;
    }
    case 'alt':
      return `(?:${n.items.map(prefixes).join('|')})`;
    case 'behind':
      return n.src;
    case 'ahead':
      return '';
    case 'secret':
      return prefixes(n.item);
  }
}

/** Letters, digits and the base64/base64url extras: the alphabet of high-entropy candidates. */
const B64 = '[A-Za-z0-9+/=_-]';
const ALNUM = '[A-Za-z0-9]';
const WORD = '[A-Za-z0-9_]';
const B64URL = '[A-Za-z0-9_-]';
const SP = (max: number): Node => cls('[ \\t]', 0, max);

/** A token: not glued to a word before or after. */
const token = (body: Node, before = WORD, after = WORD): Node =>
  seq(notAfter(before), body, notBefore(after));

/** Key names whose value is a secret (matched without case; the name must end with one). */
const SECRET_NAMES = [
  'password',
  'passwd',
  'passphrase',
  'client_secret',
  'client-secret',
  'secret',
  'token',
  'api_key',
  'api-key',
  'apikey',
  'access_key',
  'access-key',
  'private_key',
  'private-key',
];
const PASSWORD_NAMES = new Set(['password', 'passwd', 'passphrase']);

/** One pattern: what it finds and how to tell a real one (`accept`) from a look-alike. */
interface Pattern {
  readonly kind: SecretKind;
  readonly node: Node;
  /**
   * Decides on the match (`whole`), its secret part and which of the
   * pattern's secret groups matched (−1: none); may rename the kind.
   * Default: accept. It sees nothing but the match: the stream depends on it.
   */
  readonly accept?: (whole: string, value: string, which: number) => SecretKind | null;
}

const PATTERNS: readonly Pattern[] = [
  {
    kind: 'private_key',
    node: seq(
      lit('-----BEGIN '),
      cls('[A-Z0-9 ]', 0, 24),
      lit('PRIVATE KEY'),
      opt(lit(' BLOCK')),
      lit('-----'),
      // The body: anything but a run of five dashes (so it ends at the first `-----`, and the stream knows it).
      cls('(?:[^-]|-(?!----))', 0, 8192),
      lit('-----END '),
      cls('[A-Z0-9 ]', 0, 24),
      lit('PRIVATE KEY'),
      opt(lit(' BLOCK')),
      lit('-----'),
    ),
  },
  { kind: 'aws_key', node: token(seq(alt(lit('AKIA'), lit('ASIA')), cls('[A-Z0-9]', 16, 16)), ALNUM, ALNUM) },
  {
    kind: 'aws_secret',
    node: seq(
      notAfter(WORD),
      alt(ilit('aws_secret_access_key'), lit('SecretAccessKey')),
      opt(cls('["\']', 1, 1)),
      SP(4),
      alt(lit('='), lit(':')),
      SP(4),
      opt(cls('["\']', 1, 1)),
      secret(cls('[A-Za-z0-9/+=]', 40, 40)),
      notBefore('[A-Za-z0-9/+=]'),
    ),
  },
  {
    kind: 'github_token',
    node: token(
      alt(
        seq(lit('gh'), cls('[pousr]', 1, 1), lit('_'), cls(ALNUM, 36, 251)),
        seq(lit('github_pat_'), cls(WORD, 22, 244)),
      ),
    ),
  },
  { kind: 'gitlab_token', node: token(seq(lit('glpat-'), cls(B64URL, 20, 250)), WORD, B64URL) },
  {
    kind: 'slack_token',
    node: token(
      seq(lit('xox'), cls('[abprs]', 1, 1), lit('-'), cls('[A-Za-z0-9-]', 10, 250)),
      WORD,
      '[A-Za-z0-9-]',
    ),
  },
  {
    kind: 'stripe_key',
    node: token(
      seq(cls('[sr]', 1, 1), lit('k_'), alt(lit('live'), lit('test')), lit('_'), cls(ALNUM, 10, 247)),
    ),
  },
  { kind: 'anthropic_key', node: token(seq(lit('sk-ant-'), cls(B64URL, 20, 250)), B64URL, B64URL) },
  {
    kind: 'openai_key',
    node: token(seq(lit('sk-'), cls(B64URL, 32, 250)), B64URL, B64URL),
    // Random keys have digits and both cases; a long kebab-case name after `sk-` does not.
    accept: (whole) =>
      /[0-9]/.test(whole) && /[A-Z]/.test(whole) && /[a-z]/.test(whole) ? 'openai_key' : null,
  },
  { kind: 'google_api_key', node: token(seq(lit('AIza'), cls(B64URL, 35, 35)), B64URL, B64URL) },
  { kind: 'npm_token', node: token(seq(lit('npm_'), cls(ALNUM, 36, 36)), WORD, WORD) },
  {
    kind: 'jwt',
    node: token(
      seq(
        lit('eyJ'),
        cls(B64URL, 8, 4096),
        lit('.eyJ'),
        cls(B64URL, 4, 8192),
        lit('.'),
        cls(B64URL, 0, 4096),
      ),
      '[A-Za-z0-9_.-]',
      '[A-Za-z0-9_.-]',
    ),
  },
  {
    kind: 'url_password',
    node: seq(
      notAfter('[A-Za-z0-9+.-]'),
      cls('[A-Za-z]', 1, 1),
      cls('[A-Za-z0-9+.-]', 0, 20),
      lit('://'),
      cls('[^\\s:@/?#\'"<>`]', 0, 128),
      lit(':'),
      secret(cls('[^\\s@/?#\'"<>`]', 1, 256)),
      lit('@'),
    ),
    // `scheme://:@host` and a `$VAR` placeholder are not secrets.
    accept: (_w, v) => (v.startsWith('$') || v.startsWith('[REDACTED') ? null : 'url_password'),
  },
  {
    kind: 'authorization',
    node: seq(
      notAfter(WORD),
      ilit('authorization'),
      opt(cls('["\']', 1, 1)),
      SP(4),
      lit(':'),
      SP(4),
      opt(cls('["\']', 1, 1)),
      alt(ilit('bearer'), ilit('basic'), ilit('token')),
      cls('[ \\t]', 1, 4),
      secret(cls('[A-Za-z0-9._~+/=-]', 8, 4096)),
      notBefore('[A-Za-z0-9._~+/=-]'),
    ),
  },
  {
    kind: 'secret',
    node: seq(
      notAfter('[A-Za-z0-9_.-]'),
      cls('[A-Za-z0-9_.-]', 0, 40, true),
      alt(...SECRET_NAMES.map(ilit)),
      opt(cls('["\']', 1, 1)),
      SP(4),
      alt(lit(':='), lit('=>'), lit('='), lit(':')),
      SP(4),
      alt(
        seq(lit('"'), secret(cls('[^"\\n]', 1, 512)), lit('"')),
        seq(lit("'"), secret(cls("[^'\\n]", 1, 512)), lit("'")),
        seq(secret(cls('[^\\s\'"`,;(){}\\[\\]<>]', 3, 512)), notBefore('[^\\s\'"`,;){}\\]<>]')),
      ),
    ),
    accept: acceptAssignment,
  },
  {
    kind: 'high_entropy',
    node: seq(notAfter(B64), cls(B64, 24, 1024), notBefore(B64)),
    accept: (whole) => (isHighEntropy(whole) ? 'high_entropy' : null),
  },
];

/** Types, keywords and placeholders that stand where a secret's value would in code and config. */
const NOT_VALUES = new Set(
  'true false null none nil undefined string str number int integer bool boolean bytes buffer any unknown object optional required env secret secrets password token'.split(
    ' ',
  ),
);

/** Decides an assignment's value (see the header) and names its kind. */
function acceptAssignment(whole: string, value: string, which: number): SecretKind | null {
  const v = value.trim();
  const specific = kindOfValue(v);
  if (specific) return specific;
  if (v === '' || v.startsWith('$') || v.startsWith('[REDACTED') || /^(.)\1*$/.test(v)) return null;
  if (/^\{\{.*\}\}$/.test(v) || /^<.*>$/.test(v) || /^%\(?\w+\)?s?$/.test(v)) return null;
  const name = /^[A-Za-z0-9_.-]*/.exec(whole)![0];
  if (which < 2) {
    if (NOT_VALUES.has(v.toLowerCase())) return null;
  } else {
    // Unquoted: code rather than data?
    if (/^[A-Za-z_]+$/.test(v)) return null; // a word: `token = token`, `password: string`
    if (/^[A-Za-z_$#][\w$#]*(?:[?!]?\.[A-Za-z_$#][\w$#]*)+!?$/.test(v)) return null; // `process.env.TOKEN`, `this.#key`
    // After `:`, an identifier is a type or a variable (`secret: Uint8Array`, `{ password: pw1 }`).
    const sep = /^["']?[ \t]*(:=|=>|=|:)/.exec(whole.slice(name.length))?.[1];
    if (sep === ':' && /^[A-Za-z_$#][\w$#]*$/.test(v)) return null;
  }
  const lower = name.toLowerCase();
  for (const p of PASSWORD_NAMES) if (lower.includes(p)) return 'password';
  return 'secret';
}

// ---------------------------------------------------------------------------
// High entropy.

/** Shannon entropy of `s`, in bits per character. */
export function shannonEntropy(s: string): number {
  const counts = new Map<string, number>();
  for (const ch of s) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let h = 0;
  for (const c of counts.values()) {
    const p = c / s.length;
    h -= p * Math.log2(p);
  }
  return h;
}

const UUID = /[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}/g;

/** Entropy a candidate of `n` characters must reach (bits per character); see `isHighEntropy`. */
export function entropyThreshold(n: number): number {
  return Math.min(4.25, Math.log2(n) - 0.45);
}

/**
 * True when a run of letters, digits and `+/=_-` (24 to 1024 characters)
 * reads as random, so as a key. The rules, and why:
 * - Hex-only runs are left alone, whatever their length: in agent output
 *   they are commit ids (40 hex), checksums and digests (32, 64, 128 hex)
 *   far more often than keys, and hiding `git log`'s ids breaks the work.
 *   A hex key under a name (`SECRET=ab12…`) is still caught as an
 *   assignment.
 * - UUIDs are identifiers (session ids, request ids — the agent's own
 *   session id is one), removed before judging; so are Subresource
 *   Integrity hashes (`sha512-…` in lock files).
 * - What is left must be at least 24 characters with a digit, an upper- and
 *   a lower-case letter — random base64/base62 of that length almost always
 *   has all three (a 24-character base62 string lacks a digit with
 *   probability 1.5 %), words, paths and snake_case names mostly do not —
 *   and a Shannon entropy of at least min(4.25, log2(n) − 0.45) bits per
 *   character: a random string of n ≤ 64 characters has an entropy just
 *   under log2(n) (few repeats), camelCase names and paths, which repeat
 *   letters, sit below.
 * - Nor may it read as words: runs of four or more lower-case letters may
 *   cover at most half of it (a third when it holds two `/` or more, a
 *   path); random base62 exceeds a half in 0.1 % of 24-character strings.
 *   An alphabet written out (`ABC…xyz0123…`) is not random either.
 * - Measured (figures in docs/host.md): no high-entropy hit in this
 *   repository's sources and docs (`secret-filter.test.ts` keeps that true
 *   for host-core's sources); random base62/base64 strings are caught at
 *   24 characters 81 %, 32 characters 97 %, 40 and more > 99.9 %.
 * - Runs longer than 1024 characters (base64 of files, images) are not
 *   judged: they are data, not keys.
 */
export function isHighEntropy(run: string): boolean {
  // (Also: a string made of runs like `abcdef`, `0123`, an alphabet written out, is not random.)
  if (/^(sha(1|256|384|512))-/.test(run)) return false;
  const s = run.replace(UUID, '');
  if (s.length < 24 || /^[0-9a-fA-F_-]*$/.test(s)) return false;
  if (!/[0-9]/.test(s) || !/[A-Z]/.test(s) || !/[a-z]/.test(s)) return false;
  if (ascending(s) * 4 > s.length) return false;
  // Words make up half of a name, or a third of a path (two or more `/`): random base64 rarely gets there.
  if (inWords(s) * ((s.match(/\//g)?.length ?? 0) >= 2 ? 3 : 2) > s.length) return false;
  return shannonEntropy(s) >= entropyThreshold(s.length);
}

/** How many characters of `s` are in runs of four or more lower-case letters (words, as in paths and names). */
function inWords(s: string): number {
  let n = 0;
  for (const m of s.matchAll(/[a-z]{4,}/g)) n += m[0].length;
  return n;
}

/** How many characters of `s` follow the character before them in code order (`ab`, `89`). */
function ascending(s: string): number {
  let n = 0;
  for (let i = 1; i < s.length; i++) if (s.charCodeAt(i) === s.charCodeAt(i - 1) + 1) n++;
  return n;
}

// ---------------------------------------------------------------------------
// The scanner.

interface Compiled {
  /** All patterns in priority order, global: finds the leftmost candidate from `lastIndex`. */
  readonly find: RegExp;
  /** Any pattern's prefix reaching the end of the text: finds the first undecided position. */
  readonly pending: RegExp;
  /** Per pattern: its group name and its secret groups' names. */
  readonly groups: readonly { readonly name: string; readonly secrets: readonly string[] }[];
  /** The token formats, each anchored to a whole value (to name an assignment's kind). */
  readonly specific: readonly (readonly [SecretKind, RegExp])[];
}

function compile(): Compiled {
  const groups: { name: string; secrets: string[] }[] = [];
  const parts = PATTERNS.map((p, i) => {
    const secrets: string[] = [];
    const src = full(p.node, `s${i}x`, secrets);
    groups.push({ name: `p${i}`, secrets });
    return `(?<p${i}>${src})`;
  });
  return {
    find: new RegExp(parts.join('|'), 'gd'),
    pending: new RegExp(`(?:${PATTERNS.map((p) => prefixes(p.node)).join('|')})$`, 'g'),
    groups,
    specific: PATTERNS.filter((p) => SPECIFIC.has(p.kind)).map(
      (p) => [p.kind, new RegExp(`^${full(p.node, '', null)}$`)] as const,
    ),
  };
}

/** The kinds recognised by their format alone (an assignment's value of one of them is named by it). */
const SPECIFIC = new Set<SecretKind>([
  'private_key',
  'aws_key',
  'github_token',
  'gitlab_token',
  'slack_token',
  'stripe_key',
  'anthropic_key',
  'openai_key',
  'google_api_key',
  'npm_token',
  'jwt',
]);

let compiled: Compiled | undefined;
/** Compiled on first use: nothing runs on import. */
const patterns = (): Compiled => {
  compiled ??= compile();
  return compiled;
};

/** The kind of a value that is, whole, one of the specific token formats; null otherwise. */
function kindOfValue(v: string): SecretKind | null {
  for (const [kind, re] of patterns().specific) if (re.test(v)) return kind;
  return null;
}

/**
 * Redacts `text` from `from` up to `limit`: every candidate starting below
 * `limit` is decided (the caller knows that nothing after the text can
 * change it). Findings are appended to `found`. Returns the output and
 * where the scan stopped: `limit`, or the end of a match that runs past it.
 */
function scan(
  text: string,
  from: number,
  limit: number,
  found: SecretFinding[],
): { out: string; next: number } {
  const c = patterns();
  const re = c.find;
  let out = '';
  let at = from;
  let copied = from;
  while (at < limit) {
    re.lastIndex = at;
    const m = re.exec(text);
    if (!m || m.index >= limit) break;
    const g = m.groups!;
    let k = 0;
    while (g[c.groups[k]!.name] === undefined) k++;
    const p = PATTERNS[k]!;
    const which = c.groups[k]!.secrets.findIndex((n) => g[n] !== undefined);
    const span =
      which < 0
        ? ([m.index, m.index + m[0].length] as const)
        : m.indices!.groups![c.groups[k]!.secrets[which]!]!;
    const kind = p.accept ? p.accept(m[0], text.slice(span[0], span[1]), which) : p.kind;
    if (kind === null) {
      at = m.index + 1;
      continue;
    }
    out += `${text.slice(copied, span[0])}[REDACTED:${kind}]${text.slice(span[1], m.index + m[0].length)}`;
    found.push({ kind });
    copied = at = m.index + m[0].length;
  }
  const next = Math.max(copied, limit);
  return { out: out + text.slice(copied, next), next };
}

/** Redacts the known secrets in a whole string (see the module header). */
export function redactSecrets(text: string): Redacted {
  const found: SecretFinding[] = [];
  return { text: scan(text, 0, text.length, found).out, found };
}

/** How many findings a stream keeps (a long session may redact without end; `count` counts them all). */
export const FOUND_KEPT = 1000;

/** Characters kept before the first undecided position: the patterns look back one. */
const CONTEXT = 8;

/**
 * A streaming redactor: `push` each chunk as it arrives and send what it
 * returns; `flush` at the end (or at a boundary where the text is known to
 * be complete, such as the end of a message). The concatenation of the
 * outputs is exactly `redactSecrets(all the input).text` (see the module
 * header for how); what it holds back is bounded by the longest pattern,
 * a PEM block of about 8.3 KiB, plus the chunk being pushed.
 */
export class SecretStream {
  /** Some decided context, then the undecided text. */
  #buf = '';
  /** Where the undecided text starts in `#buf`. */
  #at = 0;
  readonly #found: SecretFinding[] = [];

  #count = 0;

  /** What was redacted so far (kinds only; the first `FOUND_KEPT`). */
  get found(): readonly SecretFinding[] {
    return this.#found;
  }

  /** How many secrets were redacted so far. */
  get count(): number {
    return this.#count;
  }

  /** How many characters are held back, waiting for more. */
  get pending(): number {
    return this.#buf.length - this.#at;
  }

  /** Adds a chunk; returns the text that is safe to emit now (possibly empty). */
  push(chunk: string): string {
    if (typeof chunk !== 'string') throw new TypeError('SecretStream.push: chunk must be a string');
    if (chunk === '') return '';
    this.#buf += chunk;
    const pending = patterns().pending;
    pending.lastIndex = this.#at;
    // Some prefix always matches at the end (the empty one), so there is a first undecided position.
    const undecided = pending.exec(this.#buf)?.index ?? this.#buf.length;
    return this.#emit(undecided);
  }

  /** Ends the input: returns the rest, redacted. The stream may be used again afterwards. */
  flush(): string {
    const out = this.#emit(this.#buf.length);
    this.#buf = '';
    this.#at = 0;
    return out;
  }

  #emit(limit: number): string {
    const found: SecretFinding[] = [];
    const { out, next } = scan(this.#buf, this.#at, limit, found);
    this.#count += found.length;
    for (const f of found) if (this.#found.length < FOUND_KEPT) this.#found.push(f);
    const keep = Math.max(0, next - CONTEXT);
    this.#buf = this.#buf.slice(keep);
    this.#at = next - keep;
    return out;
  }
}

/** A JSON value. */
export type RedactableJson =
  | null
  | boolean
  | number
  | string
  | RedactableJson[]
  | { [key: string]: RedactableJson };

/**
 * Redacts every string in a JSON value (a new value; the input is not
 * changed). A string under a key named like a secret (`password`,
 * `GITHUB_TOKEN`, `client_secret`, … as in assignments) is redacted whole,
 * unless it is a placeholder (`$VAR`, `<…>`, `***`). Keys are kept.
 */
export function redactJson<T extends RedactableJson>(value: T): { value: T; found: SecretFinding[] } {
  const found: SecretFinding[] = [];
  return { value: walk(value, null, found) as T, found };
}

function walk(v: RedactableJson, key: string | null, found: SecretFinding[]): RedactableJson {
  if (typeof v === 'string') {
    if (key !== null && v !== '' && SECRET_KEY.test(key)) {
      const kind = acceptAssignment(`${key}=`, v, 0);
      if (kind !== null) {
        found.push({ kind });
        return `[REDACTED:${kind}]`;
      }
    }
    const r = redactSecrets(v);
    found.push(...r.found);
    return r.text;
  }
  if (Array.isArray(v)) return v.map((x) => walk(x, null, found));
  if (v !== null && typeof v === 'object') {
    const out: { [key: string]: RedactableJson } = {};
    // defineProperty, not `out[k] =`: a `__proto__` key stays a key.
    for (const [k, x] of Object.entries(v))
      Object.defineProperty(out, k, {
        value: walk(x, k, found),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    return out;
  }
  return v;
}

/** A key whose name ends with one of the secret names (as in assignments). */
const SECRET_KEY = new RegExp(`(?:${SECRET_NAMES.map(escapeRe).join('|')})$`, 'i');
