/**
 * The host's audit log: one JSON object per line in a 0600 file, each entry
 * `{seq, ts, event, ...fields, prev, hash}` where `hash` is SHA-256 (hex)
 * over the canonical encoding of the entry without `hash` (keys sorted,
 * flat values only) and `prev` is the hash of the entry before (64 zeros
 * for the first). An edited, deleted or reordered line therefore breaks the
 * chain, and `verifyAuditLog` names the first broken line. Each append is one
 * `write` of one whole line on an O_APPEND descriptor; on open, the chain
 * head is recovered from the file's last line. Fields named like secrets
 * (key, secret, claim, sig, token, …) are refused at compile time and at run
 * time: the log must never hold one. One writer per file.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { HostError } from '../errors.ts';
import { currentOwner, ensurePrivateDir, type Owner } from '../state/private-files.ts';

/** The events the host audits. */
export const AUDIT_EVENTS = [
  'pairing',
  'connection',
  'refusal',
  'session.opened',
  'session.closed',
  'revocation',
  'session.renamed',
] as const;
/** One audited event. */
export type AuditEvent = (typeof AUDIT_EVENTS)[number];

/** A field value: flat, so the canonical encoding is unambiguous. Numbers must be safe integers. */
export type AuditValue = string | number | boolean | null | readonly string[];

/** Substrings that make a field name look like a secret (compared lowercase). */
export const SECRET_NAME_PARTS = [
  'key',
  'secret',
  'claim',
  'sig',
  'token',
  'passw',
  'credential',
  'nonce',
  'seed',
  'private',
] as const;
type SecretPart = (typeof SECRET_NAME_PARTS)[number];

/** Names the entry itself uses; a field may not shadow them. */
export const RESERVED_AUDIT_NAMES = ['seq', 'ts', 'event', 'prev', 'hash'] as const;
type Reserved = (typeof RESERVED_AUDIT_NAMES)[number];

/** Fields each event must carry (more may be added). */
export interface AuditRequiredFields {
  pairing: { device: string };
  connection: { device: string };
  refusal: { code: string };
  'session.opened': { session: string };
  'session.closed': { session: string };
  revocation: { device: string };
  'session.renamed': { session: string };
}

/** Maps every secret-like or reserved field name of `F` to `never`, so passing one does not compile. */
export type NoSecretFields<F> = {
  [K in keyof F]: Lowercase<K & string> extends `${string}${SecretPart}${string}` | Reserved ? never : F[K];
};

/** An entry as written. */
export interface AuditEntry {
  readonly seq: number;
  /** ISO-8601 UTC time. */
  readonly ts: string;
  readonly event: AuditEvent;
  readonly prev: string;
  readonly hash: string;
  readonly [field: string]: AuditValue;
}

const REQUIRED: Readonly<Record<AuditEvent, string>> = {
  pairing: 'device',
  connection: 'device',
  refusal: 'code',
  'session.opened': 'session',
  'session.closed': 'session',
  revocation: 'device',
  'session.renamed': 'session',
};

/** The `prev` of the first entry. */
export const GENESIS_HASH = '0'.repeat(64);
/** Largest line, in bytes; bigger entries are refused. */
export const MAX_AUDIT_LINE = 8192;
const MAX_STRING = 1024;
const HASH_RE = /^[0-9a-f]{64}$/;

function secretLike(name: string): boolean {
  const n = name.toLowerCase();
  return SECRET_NAME_PARTS.some((p) => n.includes(p));
}

function checkFields(fields: Readonly<Record<string, unknown>>): void {
  for (const [name, value] of Object.entries(fields)) {
    if (secretLike(name)) {
      throw new HostError(
        'audit_field_refused',
        `audit field ${JSON.stringify(name)} is named like a secret`,
      );
    }
    if ((RESERVED_AUDIT_NAMES as readonly string[]).includes(name) || name === '__proto__') {
      throw new HostError('audit_field_refused', `audit field ${JSON.stringify(name)} is reserved`);
    }
    if (!validValue(value)) {
      throw new HostError('audit_field_refused', `audit field ${JSON.stringify(name)} must be a flat value`);
    }
  }
}

function validValue(v: unknown): v is AuditValue {
  if (v === null || typeof v === 'boolean') return true;
  if (typeof v === 'number') return Number.isSafeInteger(v);
  if (typeof v === 'string') return v.length <= MAX_STRING;
  return (
    Array.isArray(v) && v.length <= 64 && v.every((s) => typeof s === 'string' && s.length <= MAX_STRING)
  );
}

/** The canonical encoding hashed for an entry: JSON with keys sorted, `hash` left out. */
export function canonicalAuditEncoding(entry: Readonly<Record<string, unknown>>): string {
  const keys = Object.keys(entry)
    .filter((k) => k !== 'hash')
    .sort();
  return '{' + keys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(entry[k])}`).join(',') + '}';
}

/** SHA-256 hex of the canonical encoding of `entry`. */
export function auditHash(entry: Readonly<Record<string, unknown>>): string {
  return createHash('sha256').update(canonicalAuditEncoding(entry), 'utf8').digest('hex');
}

/** Options for `AuditLog.open`. */
export interface AuditLogOptions {
  /** Milliseconds since the epoch (default `Date.now`). */
  readonly clock?: () => number;
  readonly owner?: Owner;
}

/** An open, append-only audit log. */
export class AuditLog {
  readonly path: string;
  #fd: number | null;
  #seq: number;
  #head: string;
  readonly #clock: () => number;

  private constructor(file: string, fd: number, seq: number, head: string, clock: () => number) {
    this.path = file;
    this.#fd = fd;
    this.#seq = seq;
    this.#head = head;
    this.#clock = clock;
  }

  /** Opens (creating 0600 if needed) and recovers the chain head from the last line. */
  static open(file: string, opts: AuditLogOptions = {}): AuditLog {
    const owner = opts.owner ?? currentOwner();
    ensurePrivateDir(path.dirname(file), owner);
    let fd: number;
    try {
      fd = fs.openSync(
        file,
        fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT | fs.constants.O_NOFOLLOW,
        0o600,
      );
    } catch (cause) {
      const code = (cause as NodeJS.ErrnoException).code;
      if (code === 'ELOOP') throw new HostError('state_insecure', `${file}: is a symlink`, { path: file });
      throw new HostError('state_io', `${file}: cannot open`, { cause, path: file });
    }
    try {
      const st = fs.fstatSync(fd);
      if (!st.isFile())
        throw new HostError('state_insecure', `${file}: is not a regular file`, { path: file });
      if (owner.uid >= 0 && st.uid !== owner.uid) {
        throw new HostError('state_insecure', `${file}: owned by uid ${st.uid}, not by this user`, {
          path: file,
        });
      }
      if (st.mode & 0o077) {
        throw new HostError(
          'state_insecure',
          `${file}: open to group or others (mode ${(st.mode & 0o777).toString(8)}); run: chmod 600 ${file}`,
          { path: file },
        );
      }
      const last = readLastLine(file);
      if (last === null) return new AuditLog(file, fd, 0, GENESIS_HASH, opts.clock ?? Date.now);
      const entry = parseLine(last);
      if (typeof entry === 'string' || entry.hash !== auditHash(entry)) {
        throw new HostError(
          'audit_corrupt',
          `${file}: the last entry is damaged; run pocketshell audit verify`,
          {
            path: file,
          },
        );
      }
      return new AuditLog(file, fd, entry.seq, entry.hash, opts.clock ?? Date.now);
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
  }

  /** The hash of the last entry (anchor it elsewhere to detect truncation). */
  get head(): string {
    return this.#head;
  }

  /** Number of the last entry (0 when empty). */
  get seq(): number {
    return this.#seq;
  }

  /** Appends one entry as one line and returns it. */
  append<E extends AuditEvent, F extends AuditRequiredFields[E] & Record<string, AuditValue>>(
    event: E,
    fields: F & NoSecretFields<F>,
  ): AuditEntry {
    if (this.#fd === null) throw new HostError('closed', 'the audit log is closed');
    if (!(AUDIT_EVENTS as readonly string[]).includes(event)) {
      throw new HostError('audit_field_refused', `unknown audit event ${JSON.stringify(event)}`);
    }
    const extra = fields as unknown as Readonly<Record<string, unknown>>;
    checkFields(extra);
    if (typeof extra[REQUIRED[event]] !== 'string') {
      throw new TypeError(`audit event ${event} needs a string field ${REQUIRED[event]}`);
    }
    const body: Record<string, unknown> = {
      seq: this.#seq + 1,
      ts: new Date(this.#clock()).toISOString(),
      event,
      ...extra,
      prev: this.#head,
    };
    const hash = auditHash(body);
    const line = Buffer.from(`${canonicalAuditEncoding(body).slice(0, -1)},"hash":"${hash}"}\n`, 'utf8');
    if (line.length > MAX_AUDIT_LINE) throw new HostError('audit_field_refused', 'audit entry too large');
    const written = fs.writeSync(this.#fd, line);
    if (written !== line.length) {
      throw new HostError('state_io', `${this.path}: short write (${written} of ${line.length} bytes)`);
    }
    this.#seq += 1;
    this.#head = hash;
    return { ...body, hash } as unknown as AuditEntry;
  }

  /** Closes the file; idempotent. */
  close(): void {
    if (this.#fd === null) return;
    const fd = this.#fd;
    this.#fd = null;
    fs.closeSync(fd);
  }
}

/** The last complete line of `file` (null when empty); throws `audit_corrupt` on a torn (unterminated) tail. */
function readLastLine(file: string): string | null {
  const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  try {
    const size = fs.fstatSync(fd).size;
    if (size === 0) return null;
    const want = Math.min(size, MAX_AUDIT_LINE + 1);
    const buf = Buffer.alloc(want);
    fs.readSync(fd, buf, 0, want, size - want);
    if (buf[want - 1] !== 0x0a) {
      throw new HostError(
        'audit_corrupt',
        `${file}: the last line is incomplete; run pocketshell audit verify`,
        {
          path: file,
        },
      );
    }
    const start = buf.lastIndexOf(0x0a, want - 2);
    if (start < 0 && want < size) {
      throw new HostError('audit_corrupt', `${file}: the last line is too long`, { path: file });
    }
    return buf.subarray(start + 1, want - 1).toString('utf8');
  } finally {
    fs.closeSync(fd);
  }
}

/** A parsed entry, or a string saying why the line is not one. */
function parseLine(line: string): AuditEntry | string {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return 'not JSON';
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'not an object';
  const o = v as Record<string, unknown>;
  if (typeof o.seq !== 'number' || !Number.isSafeInteger(o.seq) || o.seq < 1) return 'bad seq';
  if (typeof o.ts !== 'string') return 'bad ts';
  if (typeof o.event !== 'string' || !(AUDIT_EVENTS as readonly string[]).includes(o.event))
    return 'bad event';
  if (typeof o.prev !== 'string' || !HASH_RE.test(o.prev)) return 'bad prev';
  if (typeof o.hash !== 'string' || !HASH_RE.test(o.hash)) return 'bad hash';
  for (const [k, val] of Object.entries(o)) if (!validValue(val)) return `bad value for ${k}`;
  return o as unknown as AuditEntry;
}

/** The outcome of `verifyAuditLog`. */
export type AuditVerification =
  | { readonly ok: true; readonly entries: number; readonly head: string }
  | { readonly ok: false; readonly entries: number; readonly line: number; readonly reason: string };

/**
 * Checks the whole chain and reports the first broken entry: its line
 * number (1-based) and why (not JSON, edited, a line missing or out of
 * order, a broken link). `entries` counts the entries that checked out
 * before it. A truncated tail can only be caught by comparing `head`
 * against an anchor kept elsewhere.
 */
export async function verifyAuditLog(file: string): Promise<AuditVerification> {
  const st = fs.lstatSync(file, { throwIfNoEntry: false });
  if (!st) throw new HostError('state_io', `${file}: no such audit log`, { path: file });
  if (!st.isFile()) throw new HostError('state_insecure', `${file}: not a regular file`, { path: file });
  const input = fs.createReadStream(file, {
    fd: fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW),
  });
  const lines = readline.createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  let n = 0;
  let head = GENESIS_HASH;
  let seq = 0;
  const broken = (reason: string) => ({ ok: false as const, entries: seq, line: n, reason });
  try {
    for await (const line of lines) {
      n += 1;
      const entry = parseLine(line);
      if (typeof entry === 'string') return broken(entry);
      if (auditHash(entry) !== entry.hash) return broken('hash does not match the entry (edited)');
      if (entry.seq !== seq + 1) {
        return broken(
          entry.seq > seq + 1
            ? `seq ${entry.seq} where ${seq + 1} was expected (entries deleted)`
            : `seq ${entry.seq} where ${seq + 1} was expected (out of order or duplicated)`,
        );
      }
      if (entry.prev !== head)
        return broken('prev does not match the hash of the entry before (chain broken)');
      head = entry.hash;
      seq = entry.seq;
    }
  } finally {
    lines.close();
    input.destroy();
  }
  const size = fs.statSync(file).size;
  if (size > 0) {
    const fd = fs.openSync(file, 'r');
    const last = Buffer.alloc(1);
    fs.readSync(fd, last, 0, 1, size - 1);
    fs.closeSync(fd);
    if (last[0] !== 0x0a)
      return { ok: false, entries: seq - 1, line: n, reason: 'the last line is incomplete' };
  }
  return { ok: true, entries: seq, head };
}
