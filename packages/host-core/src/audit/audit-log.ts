/**
 * The host's audit log: one JSON object per line in a 0600 file, each entry
 * `{seq, ts, event, ...fields, prev, hash}` where `hash` is SHA-256 (hex)
 * over the canonical encoding of the entry without `hash` (keys sorted,
 * flat values only) and `prev` is the hash of the entry before (64 zeros
 * for the first). An edited, deleted or reordered line therefore breaks the
 * chain, and `verifyAuditLog` names the first broken line. Each append is one
 * `write` of one whole line on an O_APPEND descriptor; on open, the chain
 * head is recovered from the file's last line.
 *
 * A truncated tail leaves a valid chain, so the head is also anchored apart
 * from the log: `audit.head` (0600, replaced atomically after each append)
 * holds the last entry's `seq` and `hash`; `open` and `verifyAuditLog`
 * refuse a log that ends before its anchor. The log is bounded: past
 * `maxBytes` the file rotates (`audit.jsonl` → `audit.1.jsonl` → … up to
 * `keep` old files, the oldest dropped) and the chain continues across
 * files — the new file's first entry links to the previous file's last
 * hash, and `verifyAuditLog` checks every kept file in order, then the
 * anchor. Someone who can write both the log and the anchor can still
 * rewrite history consistently; only a copy kept elsewhere can catch that.
 * Fields named like secrets
 * (key, secret, claim, sig, token, …) are refused at compile time and at run
 * time: the log must never hold one. One writer per file.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { HostError } from '../errors.ts';
import {
  currentOwner,
  ensurePrivateDir,
  type Owner,
  readJsonFile,
  writeJsonFile,
} from '../state/private-files.ts';

/** The events the host audits. */
export const AUDIT_EVENTS = [
  'pairing',
  'connection',
  'refusal',
  'session.opened',
  'session.closed',
  'revocation',
  'session.renamed',
  'key_changed',
  'grants.changed',
  'process.signal',
  'process.renice',
  // files channel, entry operations (files/ops.ts)
  'files.mkdir',
  'files.rename',
  'files.move',
  'files.copy',
  'files.delete',
  'files.root',
  // files channel, transfers (files/transfers.ts)
  'files.write',
  // alerts (alerts/center.ts, issue 16)
  'alerts.rules',
  'alerts.mute',
  'alerts.snooze',
  'alerts.exec',
  // agents (agent/manager.ts, issue 18)
  'agent.start',
  'agent.stop',
  'agent.approval',
  'agent.tier',
  // a device at its connection limit took its oldest connection's place (host/host-agent.ts)
  'connection.replaced',
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
  key_changed: { device: string };
  'grants.changed': { device: string };
  'process.signal': { device: string };
  'process.renice': { device: string };
  'files.mkdir': { device: string };
  'files.rename': { device: string };
  'files.move': { device: string };
  'files.copy': { device: string };
  'files.delete': { device: string };
  'files.root': { device: string };
  'files.write': { device: string; path: string };
  'alerts.rules': { device: string };
  'alerts.mute': { device: string };
  'alerts.snooze': { device: string };
  'alerts.exec': { outcome: string };
  'agent.start': { session: string; device: string };
  'agent.stop': { session: string };
  'agent.approval': { session: string; decision: string };
  'agent.tier': { device: string };
  'connection.replaced': { device: string };
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
  key_changed: 'device',
  'grants.changed': 'device',
  'process.signal': 'device',
  'process.renice': 'device',
  'files.mkdir': 'device',
  'files.rename': 'device',
  'files.move': 'device',
  'files.copy': 'device',
  'files.delete': 'device',
  'files.root': 'device',
  'files.write': 'device',
  'alerts.rules': 'device',
  'alerts.mute': 'device',
  'alerts.snooze': 'device',
  'alerts.exec': 'outcome',
  'agent.start': 'session',
  'agent.stop': 'session',
  'agent.approval': 'session',
  'agent.tier': 'device',
  'connection.replaced': 'device',
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
  /** The file rotates before it would grow past this many bytes (default 8 MiB). */
  readonly maxBytes?: number;
  /** Rotated files kept (`audit.1.jsonl` … `audit.<keep>.jsonl`; default 4, at least 1). */
  readonly keep?: number;
}

/** Default size at which the audit log rotates. */
export const AUDIT_MAX_BYTES = 8 * 1024 * 1024;
/** Default number of rotated audit files kept. */
export const AUDIT_KEEP = 4;

/** The anchor file of `file`: `audit.jsonl` → `audit.head`. */
export function auditHeadPath(file: string): string {
  return file.endsWith('.jsonl') ? `${file.slice(0, -6)}.head` : `${file}.head`;
}

/** Rotated file `i` (1 = the newest old one) of `file`: `audit.jsonl` → `audit.1.jsonl`. */
export function auditRotatedPath(file: string, i: number): string {
  return file.endsWith('.jsonl') ? `${file.slice(0, -6)}.${i}.jsonl` : `${file}.${i}`;
}

/** The head anchor: the last entry's number and hash. */
interface AuditAnchor {
  readonly seq: number;
  readonly hash: string;
}

function parseAnchor(value: unknown): AuditAnchor {
  const o = value as Record<string, unknown> | null;
  if (
    typeof o !== 'object' ||
    o === null ||
    typeof o.seq !== 'number' ||
    !Number.isSafeInteger(o.seq) ||
    o.seq < 0 ||
    typeof o.hash !== 'string' ||
    !HASH_RE.test(o.hash)
  )
    throw new Error('not an audit head anchor');
  return { seq: o.seq, hash: o.hash };
}

function readAnchor(file: string, owner?: Owner): AuditAnchor | null {
  return readJsonFile(auditHeadPath(file), parseAnchor, owner);
}

/** Files of the log, oldest first: the rotated ones that exist, then `file`. */
function auditFiles(file: string): string[] {
  const old: string[] = [];
  for (let i = 1; i <= 1000 && fs.existsSync(auditRotatedPath(file, i)); i++)
    old.unshift(auditRotatedPath(file, i));
  return [...old, file];
}

function openForAppend(file: string): number {
  try {
    return fs.openSync(
      file,
      fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT | fs.constants.O_NOFOLLOW,
      0o600,
    );
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') throw new HostError('state_insecure', `${file}: is a symlink`, { path: file });
    throw new HostError('state_io', `${file}: cannot open`, { cause, path: file });
  }
}

/** An open, append-only audit log. */
export class AuditLog {
  readonly path: string;
  #fd: number | null;
  #seq: number;
  #head: string;
  #size: number;
  readonly #clock: () => number;
  readonly #maxBytes: number;
  readonly #keep: number;

  private constructor(file: string, fd: number, at: AuditAnchor & { size: number }, opts: AuditLogOptions) {
    this.path = file;
    this.#fd = fd;
    this.#seq = at.seq;
    this.#head = at.hash;
    this.#size = at.size;
    this.#clock = opts.clock ?? Date.now;
    this.#maxBytes = opts.maxBytes ?? AUDIT_MAX_BYTES;
    this.#keep = Math.max(1, opts.keep ?? AUDIT_KEEP);
  }

  /**
   * Opens (creating 0600 if needed), recovers the chain head from the last
   * line (of the newest rotated file when the current one is empty) and
   * checks it against the head anchor: a log that ends before its anchor
   * (truncated) or disagrees with it is `audit_corrupt`. A missing anchor is
   * created (first run with one); one entry past it (a crash between the
   * append and the anchor's update) is re-anchored.
   */
  static open(file: string, opts: AuditLogOptions = {}): AuditLog {
    const owner = opts.owner ?? currentOwner();
    ensurePrivateDir(path.dirname(file), owner);
    const fd = openForAppend(file);
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
      let last = readLastLine(file);
      const newestOld = auditRotatedPath(file, 1);
      if (last === null && fs.existsSync(newestOld)) last = readLastLine(newestOld);
      let at: AuditAnchor = { seq: 0, hash: GENESIS_HASH };
      let prev = GENESIS_HASH;
      if (last !== null) {
        const entry = parseLine(last);
        if (typeof entry === 'string' || entry.hash !== auditHash(entry)) {
          throw new HostError(
            'audit_corrupt',
            `${file}: the last entry is damaged; run pocketshell audit verify`,
            { path: file },
          );
        }
        at = { seq: entry.seq, hash: entry.hash };
        prev = entry.prev;
      }
      const anchor = readAnchor(file, owner);
      if (anchor === null) {
        if (at.seq > 0) writeJsonFile(auditHeadPath(file), at);
      } else if (anchor.seq === at.seq - 1 && anchor.hash === prev) {
        writeJsonFile(auditHeadPath(file), at);
      } else if (anchor.seq !== at.seq || anchor.hash !== at.hash) {
        throw new HostError(
          'audit_corrupt',
          anchor.seq > at.seq
            ? `${file}: ends at entry ${at.seq} but its head anchor names entry ${anchor.seq} (truncated); run pocketshell audit verify`
            : `${file}: does not match its head anchor; run pocketshell audit verify`,
          { path: file },
        );
      }
      return new AuditLog(file, fd, { ...at, size: st.size }, opts);
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
    if (this.#size > 0 && this.#size + line.length > this.#maxBytes) this.#rotate();
    const written = fs.writeSync(this.#fd as number, line);
    if (written !== line.length) {
      throw new HostError('state_io', `${this.path}: short write (${written} of ${line.length} bytes)`);
    }
    this.#size += line.length;
    this.#seq += 1;
    this.#head = hash;
    writeJsonFile(auditHeadPath(this.path), { seq: this.#seq, hash });
    return { ...body, hash } as unknown as AuditEntry;
  }

  /** `audit.jsonl` → `audit.1.jsonl` (older ones shift up, the one past `keep` is dropped); a new empty file. */
  #rotate(): void {
    fs.closeSync(this.#fd as number);
    this.#fd = null;
    fs.rmSync(auditRotatedPath(this.path, this.#keep), { force: true });
    for (let i = this.#keep - 1; i >= 1; i--) {
      const from = auditRotatedPath(this.path, i);
      if (fs.existsSync(from)) fs.renameSync(from, auditRotatedPath(this.path, i + 1));
    }
    fs.renameSync(this.path, auditRotatedPath(this.path, 1));
    this.#fd = openForAppend(this.path);
    this.#size = 0;
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
  | {
      readonly ok: true;
      readonly entries: number;
      readonly head: string;
      /** `seq` of the oldest entry kept (above 1 when older files were rotated away). */
      readonly first: number;
    }
  | {
      readonly ok: false;
      readonly entries: number;
      /** The file (base name) and its 1-based line; line 0 when the finding is about the head anchor. */
      readonly file: string;
      readonly line: number;
      readonly reason: string;
    };

/**
 * Checks the whole chain — every kept file, oldest first, each linking to
 * the one before — then the head anchor, and reports the first break: its
 * file and line number and why (not JSON, edited, a line missing or out of
 * order, a broken link, a torn last line, a tail truncated below the
 * anchor, a missing anchor). `entries` counts the entries that checked out
 * before it. What this proves: the kept entries are the ones written, in
 * order, up to the anchored head, unless someone rewrote the log and the
 * anchor together (both are files this user can write).
 */
export async function verifyAuditLog(file: string): Promise<AuditVerification> {
  const st = fs.lstatSync(file, { throwIfNoEntry: false });
  if (!st) throw new HostError('state_io', `${file}: no such audit log`, { path: file });
  if (!st.isFile()) throw new HostError('state_insecure', `${file}: not a regular file`, { path: file });
  let head = GENESIS_HASH;
  let seq = 0;
  let first = 0;
  let lastPrev = GENESIS_HASH;
  let count = 0;
  for (const f of auditFiles(file)) {
    const name = path.basename(f);
    let n = 0;
    const broken = (reason: string) => ({ ok: false as const, entries: count, file: name, line: n, reason });
    const input = fs.createReadStream(f, {
      fd: fs.openSync(f, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW),
    });
    const lines = readline.createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
    try {
      for await (const line of lines) {
        n += 1;
        const entry = parseLine(line);
        if (typeof entry === 'string') return broken(entry);
        if (auditHash(entry) !== entry.hash) return broken('hash does not match the entry (edited)');
        if (first === 0) {
          // The oldest kept entry: the chain starts at genesis, or older files were rotated away.
          if (entry.seq === 1 && entry.prev !== GENESIS_HASH)
            return broken('the first entry does not start the chain');
          first = entry.seq;
        } else {
          if (entry.seq !== seq + 1) {
            return broken(
              entry.seq > seq + 1
                ? `seq ${entry.seq} where ${seq + 1} was expected (entries deleted)`
                : `seq ${entry.seq} where ${seq + 1} was expected (out of order or duplicated)`,
            );
          }
          if (entry.prev !== head)
            return broken('prev does not match the hash of the entry before (chain broken)');
        }
        head = entry.hash;
        lastPrev = entry.prev;
        seq = entry.seq;
        count += 1;
      }
    } finally {
      lines.close();
      input.destroy();
    }
    const size = fs.statSync(f).size;
    if (size > 0) {
      const fd = fs.openSync(f, 'r');
      const last = Buffer.alloc(1);
      fs.readSync(fd, last, 0, 1, size - 1);
      fs.closeSync(fd);
      if (last[0] !== 0x0a)
        return { ok: false, entries: count - 1, file: name, line: n, reason: 'the last line is incomplete' };
    }
  }
  const anchored = (reason: string) => ({
    ok: false as const,
    entries: count,
    file: path.basename(auditHeadPath(file)),
    line: 0,
    reason,
  });
  const anchor = readAnchor(file);
  if (anchor === null) {
    if (count > 0) return anchored('the head anchor is missing (a truncated tail cannot be ruled out)');
  } else if (anchor.seq > seq) {
    return anchored(`the log ends at entry ${seq} but the head anchor names entry ${anchor.seq} (truncated)`);
  } else if (
    anchor.seq === seq ? anchor.hash !== head : !(anchor.seq === seq - 1 && anchor.hash === lastPrev)
  ) {
    // One entry past the anchor is a crash between an append and the anchor's update; more is not.
    return anchored('the head anchor does not match the end of the log');
  }
  return { ok: true, entries: count, head, first };
}
