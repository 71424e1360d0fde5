/**
 * A terminal session: one program on one PTY, mirrored into a headless
 * terminal, watched by any number of attachments, and outliving them all
 * (DETACHED) until its program exits. Output offsets count raw PTY bytes;
 * every attachment starts with `attached` + a snapshot exactly at its offset
 * and then gets every later byte once — or, on a slow link, screen
 * snapshots instead of the bytes it could not take (attachment.ts,
 * pacing.ts). Flow control: the PTY is paused while a streaming
 * attachment's window is full (resumed when all are back under half their
 * window), while a snapshot is being taken, and while the mirror is more
 * than 256 KiB behind. The lifecycle is an explicit state machine.
 */
import {
  concat,
  type ExitReason,
  encodeControl,
  SESSION_KINDS,
  SESSION_STATES,
  type SessionInfo,
  type SessionKind,
  type SessionState,
} from '@pocketshell/protocol';
import { HostError } from '../errors.ts';
import {
  Attachment,
  type AttachmentHost,
  type AttachOptions,
  PACING_DEFAULTS,
  type PacingInfo,
  type SnapshotOptions,
} from './attachment.ts';
import type { AttentionListener } from './attention.ts';
import { AttentionDetector, type AttentionTuning } from './attention-detector.ts';
import type { PtyExit, PtyHandle } from './backend.ts';
import { ScreenMirror, type Snapshot, safeTitle } from './screen-mirror.ts';

// Session states (in lifecycle order; RUNNING means at least one attachment), kinds and the
// listing's shape are the wire's: `sessions.list` carries them (protocol's control-methods.ts).
export { SESSION_KINDS, SESSION_STATES, type SessionInfo, type SessionKind, type SessionState };

const MOVES: Readonly<Record<SessionState, readonly SessionState[]>> = {
  STARTING: ['RUNNING', 'DETACHED', 'EXITED'],
  RUNNING: ['RUNNING', 'DETACHED', 'EXITED'],
  DETACHED: ['RUNNING', 'EXITED'],
  EXITED: [],
};

/** Tunables of a session (defaults in `SESSION_DEFAULTS`). */
export interface SessionTuning {
  /** Unacknowledged bytes per attachment before the PTY is paused. */
  readonly window: number;
  /** Scrollback lines kept by the mirror. */
  readonly scrollback: number;
  /** Largest payload of one data frame. */
  readonly maxFrameData: number;
  /** Largest snapshot; scrollback is trimmed to fit. */
  readonly snapshotMax: number;
  /** How long `close()` waits after SIGHUP before SIGKILL. */
  readonly killGraceMs: number;
  /** Terminal attention timings (attention-detector.ts; default `ATTENTION_DEFAULTS`). */
  readonly attention?: Partial<AttentionTuning>;
}

export const SESSION_DEFAULTS: SessionTuning = {
  window: 256 * 1024,
  scrollback: 1000,
  maxFrameData: 16 * 1024 - 1,
  snapshotMax: 60 * 1024,
  killGraceMs: 3000,
};

/** True for a terminal size a session accepts: whole numbers of columns and rows, 1 to 1000 each. */
export function validTerminalSize(cols: number, rows: number): boolean {
  return (
    Number.isInteger(cols) && Number.isInteger(rows) && cols >= 1 && rows >= 1 && cols <= 1000 && rows <= 1000
  );
}

/** What `Session` is made from (the manager spawns the handle). */
export interface SessionInit {
  readonly id: string;
  readonly kind: SessionKind;
  readonly handle: PtyHandle;
  readonly cols: number;
  readonly rows: number;
  readonly createdAt: number;
  readonly tuning?: Partial<SessionTuning>;
  /** Milliseconds since the epoch (default `Date.now`), for `lastInputAt`. */
  readonly clock?: () => number;
  /** Hears the session's attention events (none detected without it). */
  readonly onAttention?: AttentionListener;
}

type PauseReason = 'flow' | 'snapshot' | 'mirror';

/**
 * Most bytes the headless terminal may be behind the PTY before the PTY is
 * paused (it resumes at half): the mirror's queue stays bounded, and a
 * snapshot never waits for a long parse.
 */
const MIRROR_LAG_MAX = 256 * 1024;

export class Session implements AttachmentHost {
  readonly id: string;
  readonly kind: SessionKind;
  readonly createdAt: number;
  /** The program's process id (the PTY's, fixed for its life). */
  readonly pid: number;
  readonly #handle: PtyHandle;
  readonly #mirror: ScreenMirror;
  readonly #attention: AttentionDetector | undefined;
  /** When the last attachment went (0: never attached, or attached now). */
  #unwatchedSince = 0;
  readonly #tuning: SessionTuning;
  readonly #attachments = new Set<Attachment>();
  readonly #pauses = new Set<PauseReason>();
  readonly #exitListeners: Array<(code: number, reason: ExitReason | undefined) => void> = [];
  readonly #clock: () => number;
  #lastInputAt: number;
  /** Why the host ended it, when it did (the `exit` frame's `reason`). */
  #closeReason: ExitReason | undefined;
  readonly exited: Promise<number>;
  #resolveExited!: (code: number) => void;
  #state: SessionState = 'STARTING';
  #cols: number;
  #rows: number;
  #title = '';
  #name = '';
  #exitCode: number | null = null;
  #killTimer: NodeJS.Timeout | undefined;
  #snapshotsPending = 0;
  /** True once the exit was fully handled (frames sent, watchers ended). */
  #finished = false;
  /** PTY reads not yet handed on (coalesced until the event loop's check phase). */
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;
  #flushScheduled = false;

  constructor(init: SessionInit) {
    this.id = init.id;
    this.kind = init.kind;
    this.createdAt = init.createdAt;
    this.#clock = init.clock ?? Date.now;
    this.#lastInputAt = init.createdAt;
    this.#handle = init.handle;
    this.pid = init.handle.pid;
    this.#cols = init.cols;
    this.#rows = init.rows;
    this.#tuning = { ...SESSION_DEFAULTS, ...init.tuning };
    this.exited = new Promise((resolve) => {
      this.#resolveExited = resolve;
    });
    this.#mirror = new ScreenMirror({
      cols: init.cols,
      rows: init.rows,
      scrollback: this.#tuning.scrollback,
      snapshotMax: this.#tuning.snapshotMax,
    });
    this.#mirror.onTitle((title) => {
      this.#title = safeTitle(title);
      this.#broadcast(encodeControl({ t: 'title', title: this.#title }));
    });
    this.#mirror.onBell(() => this.#broadcast(encodeControl({ t: 'bell' })));
    this.#attention = init.onAttention
      ? new AttentionDetector({
          session: this.id,
          mirror: this.#mirror,
          listener: init.onAttention,
          watched: () => this.#attachments.size > 0,
          watchedAt: (at) => this.#attachments.size > 0 || this.#unwatchedSince >= at,
          title: () => this.#name || this.#title,
          clock: this.#clock,
          ...(this.#tuning.attention ? { tuning: this.#tuning.attention } : {}),
        })
      : undefined;
    this.#mirror.onProgress(() => {
      if (this.#mirror.lag <= MIRROR_LAG_MAX / 2) this.#unpause('mirror');
    });
    this.#handle.onData((data) => this.#onData(data));
    this.#handle.onExit((e) => this.#onExit(e));
    this.#setState('DETACHED');
  }

  get state(): SessionState {
    return this.#state;
  }

  /** Number of live attachments. */
  get attached(): number {
    return this.#attachments.size;
  }

  /** Output bytes read from the PTY so far. */
  get offset(): number {
    return this.#mirror.received;
  }

  /** True while the PTY is not being read. */
  get paused(): boolean {
    return this.#pauses.size > 0;
  }

  info(): SessionInfo {
    return {
      id: this.id,
      kind: this.kind,
      state: this.#state,
      attached: this.#attachments.size,
      pid: this.pid,
      cols: this.#cols,
      rows: this.#rows,
      title: this.#title,
      name: this.#name,
      offset: this.#mirror.received,
      createdAt: this.createdAt,
      exitCode: this.#exitCode,
    };
  }

  /** Sets the name a person gave the session (checked by the caller); empty clears it. */
  rename(name: string): void {
    this.#name = name;
  }

  /** How each attachment is paced now (mode, window, measured rate and RTT). */
  links(): PacingInfo[] {
    return [...this.#attachments].map((a) => a.pacingInfo());
  }

  /** When input last reached the program (ms since the epoch; the start until then). */
  get lastInputAt(): number {
    return this.#lastInputAt;
  }

  /** True once `close()` was called or the program ended. */
  get closing(): boolean {
    return this.#killTimer !== undefined || this.#state === 'EXITED';
  }

  /** Why the host ended the session, if it did (set by `close(reason)`). */
  get closeReason(): ExitReason | undefined {
    return this.#closeReason;
  }

  /**
   * Called once with the exit code (0..255, 128+n for signal n) when the
   * program ends, and the reason when the host ended it.
   */
  onExit(listener: (code: number, reason: ExitReason | undefined) => void): void {
    if (this.#finished && this.#exitCode !== null) listener(this.#exitCode, this.#closeReason);
    else this.#exitListeners.push(listener);
  }

  /**
   * Attaches a watcher: it is sent `attached` + a snapshot at the current
   * offset, then every later byte. Resolves once those two frames were sent.
   */
  attach(opts: AttachOptions): Promise<Attachment> {
    if (this.#state === 'EXITED')
      return Promise.reject(new HostError('closed', `session ${this.id} has exited`));
    const attachment = new Attachment(this, opts, this.#tuning.maxFrameData, {
      maxWindow: this.#tuning.window,
      minWindow: Math.min(PACING_DEFAULTS.minWindow, this.#tuning.window),
    });
    return new Promise((resolve, reject) => {
      this.takeSnapshot((snap) => {
        if (this.#state === 'EXITED') {
          reject(new HostError('closed', `session ${this.id} has exited`));
          return;
        }
        try {
          attachment.start(snap);
        } catch (err) {
          reject(err);
          return;
        }
        this.#attachments.add(attachment);
        this.#setState('RUNNING');
        resolve(attachment);
      });
    });
  }

  /** Writes input to the program (from any attachment, or the host itself). */
  writeInput(data: Uint8Array | string): void {
    if (this.#state === 'EXITED') throw new HostError('closed', `session ${this.id} has exited`);
    if (data.length > 0) this.#lastInputAt = this.#clock();
    this.#attention?.input(data);
    this.#handle.write(data);
  }

  /** Resizes the PTY and the mirror; the latest resize from any attachment wins. */
  resize(cols: number, rows: number): void {
    if (this.#state === 'EXITED') return;
    if (!validTerminalSize(cols, rows)) throw new RangeError(`bad terminal size ${cols}x${rows}`);
    if (cols === this.#cols && rows === this.#rows) return;
    this.#cols = cols;
    this.#rows = rows;
    this.#handle.resize(cols, rows);
    this.#mirror.resize(cols, rows);
  }

  /** @internal */
  resizeFrom(_attachment: Attachment, cols: number, rows: number): void {
    this.resize(cols, rows);
  }

  /** @internal re-evaluates flow control after an ack or a resync. */
  flowChanged(): void {
    let blocking = false;
    let drained = true;
    for (const a of this.#attachments) {
      if (a.blocking) blocking = true;
      if (!a.drained) drained = false;
    }
    if (blocking) this.#pause('flow');
    else if (drained) this.#unpause('flow');
  }

  /**
   * @internal pauses the PTY, waits until the mirror has parsed every byte
   * received, and calls `send` with the snapshot at that exact offset, before
   * any later byte can arrive.
   */
  takeSnapshot(send: (snapshot: Snapshot) => void, opts: SnapshotOptions = {}): void {
    this.#flush();
    this.#snapshotsPending += 1;
    this.#pause('snapshot');
    this.#mirror.whenCaughtUp(() => {
      this.#snapshotsPending -= 1;
      if (this.#snapshotsPending === 0) this.#unpause('snapshot');
      send(this.#mirror.snapshot(opts.screenOnly));
    });
  }

  /** @internal */
  release(attachment: Attachment): void {
    if (!this.#attachments.delete(attachment)) return;
    if (this.#attachments.size === 0) this.#unwatchedSince = this.#clock();
    if (this.#state === 'RUNNING') this.#setState(this.#attachments.size > 0 ? 'RUNNING' : 'DETACHED');
    this.flowChanged();
  }

  /**
   * Ends the session: SIGHUP to the program (a hangup, as when a terminal
   * goes away), SIGKILL after the grace period, and resolves once it has
   * exited. `reason` travels on the `exit` frame and to `onExit`. Idempotent
   * (the first reason given stays).
   */
  async close(reason?: ExitReason): Promise<void> {
    if (this.#state !== 'EXITED' && this.#killTimer === undefined) {
      this.#closeReason = reason;
      this.#handle.resume();
      this.#handle.kill('SIGHUP');
      this.#killTimer = setTimeout(() => this.#handle.kill('SIGKILL'), this.#tuning.killGraceMs);
    }
    await this.exited;
  }

  /**
   * PTY output is coalesced: the reads that arrive in one turn of the event
   * loop (libuv reads a PTY in pieces of a few KiB) are handed on together at
   * the check phase right after, or as soon as a full frame's worth is
   * waiting — fewer, fuller frames for the transport, and no added delay
   * beyond the current turn.
   */
  #onData(data: Uint8Array): void {
    if (this.#state === 'EXITED' || data.length === 0) return;
    this.#pending.push(data);
    this.#pendingBytes += data.length;
    if (this.#pendingBytes >= this.#tuning.maxFrameData) this.#flush();
    else if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(() => this.#flush());
    }
  }

  #flush(): void {
    this.#flushScheduled = false;
    if (this.#pendingBytes === 0) return;
    const data = this.#pending.length === 1 ? this.#pending[0]! : concat(...this.#pending);
    this.#pending = [];
    this.#pendingBytes = 0;
    // Mirror first: its offset then counts `data`, so a snapshot taken while the watchers
    // below are handed `data` (a screen-sync frame) waits for the parser and includes it.
    // The mirror parses asynchronously, so no snapshot completes inside this loop, and a
    // watcher attached later starts after `data`.
    if (this.#attention) {
      const now = this.#clock();
      this.#attention.output(now);
      this.#mirror.write(data, now);
    } else this.#mirror.write(data);
    let over = false;
    for (const a of [...this.#attachments]) {
      a.output(data);
      if (a.blocking) over = true;
    }
    if (over) this.#pause('flow');
    if (this.#mirror.lag > MIRROR_LAG_MAX) this.#pause('mirror');
  }

  #onExit(e: PtyExit): void {
    const code = e.signal ? Math.min(255, 128 + e.signal) : e.exitCode & 0xff;
    clearTimeout(this.#killTimer);
    this.#flush();
    this.#exitCode = code;
    this.#setState('EXITED');
    // Let the mirror finish the last bytes first, so their title and bell frames come before `exit`.
    // Pending snapshot callbacks run before this one (they see EXITED).
    this.#mirror.whenCaughtUp(() => {
      const reason = this.#closeReason;
      this.#broadcast(encodeControl({ t: 'exit', code, ...(reason ? { reason } : {}) }));
      for (const a of [...this.#attachments]) a.end('exited');
      this.#attention?.dispose();
      this.#mirror.dispose();
      this.#finished = true;
      this.#resolveExited(code);
      for (const listener of this.#exitListeners.splice(0)) listener(code, reason);
    });
  }

  #broadcast(frame: Uint8Array): void {
    for (const a of this.#attachments) a.control(frame);
  }

  #pause(reason: PauseReason): void {
    if (this.#pauses.has(reason)) return;
    if (this.#pauses.size === 0 && this.#state !== 'EXITED') this.#handle.pause();
    this.#pauses.add(reason);
  }

  #unpause(reason: PauseReason): void {
    if (!this.#pauses.delete(reason)) return;
    if (this.#pauses.size === 0 && this.#state !== 'EXITED') this.#handle.resume();
  }

  #setState(next: SessionState): void {
    if (!MOVES[this.#state].includes(next)) {
      throw new HostError('bad_transition', `session ${this.id}: ${this.#state} → ${next}`);
    }
    this.#state = next;
  }
}
