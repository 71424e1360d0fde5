/**
 * The session manager: starts sessions (the login shell, or a tmux/screen
 * client), finds them again by id for the `term:<id>` channel labels, lists
 * them, enforces the session caps and the idle and lifetime limits
 * (session-limits.ts), forgets them when their program exits, and kills
 * them all on `close()`. Everything it touches is injected: the PTY backend,
 * the command runner, the environment, clock, timers and randomness.
 */
import { b64u, ProtocolError, randomBytes } from '@pocketshell/protocol';
import { HostError } from '../errors.ts';
import type { PacingInfo } from './attachment.ts';
import type { AttentionListener } from './attention.ts';
import type { PtyBackend } from './backend.ts';
import { type Command, loginShell, sessionCwd, sessionEnv } from './login-shell.ts';
import {
  attachCommand,
  type CommandRunner,
  execRunner,
  listScreenSessions,
  listTmuxSessions,
  type MultiplexerOptions,
  validSessionName,
} from './multiplexers.ts';
import { ScreenMirror } from './screen-mirror.ts';
import {
  Session,
  type SessionInfo,
  type SessionKind,
  type SessionTuning,
  validTerminalSize,
} from './session.ts';
import {
  checkTimeouts,
  type LimitReason,
  type LimitTimers,
  limitsFor,
  nextDeadline,
  REAL_TIMERS,
  type SessionLimits,
  type SessionTimeouts,
  strictest,
} from './session-limits.ts';

/** Sessions one host runs at once, by default. */
export const DEFAULT_SESSION_LIMIT = 16;
/** Sessions one device (owner) may have started and still running, by default. */
export const DEFAULT_OWNER_SESSION_LIMIT = 8;

/** Options of a `SessionManager`. */
export interface SessionManagerOptions {
  readonly backend: PtyBackend;
  /** Most live sessions (default 16); one more is refused with `limit_reached`. */
  readonly limit?: number;
  /** Most live sessions one owner (device) started (default 8); one more is `limit_reached`. */
  readonly ownerLimit?: number;
  readonly tuning?: Partial<SessionTuning>;
  /** The daemon's environment (default `process.env`); sessions get only part of it (`sessionEnv`). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Extra variable names (or `PREFIX*`) sessions get from `env` besides a login's (config `passEnv`). */
  readonly passEnv?: readonly string[];
  /** The program for new sessions (default: the login shell). */
  readonly shell?: Command;
  /** Where new sessions start (default `$HOME`). */
  readonly cwd?: string;
  readonly run?: CommandRunner;
  readonly multiplexers?: MultiplexerOptions;
  /** Idle timeout and maximum lifetime, by device (default: none). */
  readonly timeouts?: SessionTimeouts;
  /** Milliseconds since the epoch. */
  readonly clock?: () => number;
  /** Timers for the limits (default: Node's, unref'd). */
  readonly timers?: LimitTimers;
  /** Hears every session a limit ended, before it is closed. */
  readonly onLimit?: (session: Session, reason: LimitReason) => void;
  /** Hears every session's attention events (pty/attention.ts). */
  readonly onAttention?: AttentionListener;
  readonly random?: (n: number) => Uint8Array;
}

/** Size of a new session. */
export interface OpenOptions {
  readonly cols?: number;
  readonly rows?: number;
  /**
   * Who starts it (a device id), counted against that owner's cap; or who
   * attaches it, whose limits then apply too.
   */
  readonly owner?: string;
}

/** Multiplexer sessions found on this machine. */
export interface Discovered {
  readonly tmux: string[];
  readonly screen: string[];
}

const ID_RE = /^[A-Za-z0-9_-]{12}$/;

export class SessionManager {
  readonly #opts: SessionManagerOptions;
  readonly #limit: number;
  readonly #ownerLimit: number;
  readonly #sessions = new Map<string, Session>();
  /** Who started each session (absent: the host itself). */
  readonly #owners = new Map<string, string>();
  readonly #run: CommandRunner;
  readonly #random: (n: number) => Uint8Array;
  readonly #clock: () => number;
  readonly #timers: LimitTimers;
  #timeouts: SessionTimeouts;
  /** Per live session: every device that opened or attached it (their limits apply). */
  readonly #devices = new Map<string, Set<string | undefined>>();
  readonly #limitTimers = new Map<string, unknown>();
  #closed = false;

  constructor(opts: SessionManagerOptions) {
    this.#opts = opts;
    this.#limit = opts.limit ?? DEFAULT_SESSION_LIMIT;
    this.#ownerLimit = opts.ownerLimit ?? DEFAULT_OWNER_SESSION_LIMIT;
    this.#run = opts.run ?? execRunner();
    this.#random = opts.random ?? randomBytes;
    this.#clock = opts.clock ?? Date.now;
    this.#timers = opts.timers ?? REAL_TIMERS;
    this.#timeouts = checkTimeouts(opts.timeouts ?? {});
  }

  /** The limits in force for new and live sessions; live ones are checked against them at once. */
  setTimeouts(timeouts: SessionTimeouts): void {
    this.#timeouts = checkTimeouts(timeouts);
    for (const id of this.#devices.keys()) this.#arm(id);
  }

  /** The limits in force now. */
  get timeouts(): SessionTimeouts {
    return this.#timeouts;
  }

  /** The limits live session `id` is held to (the strictest of its devices'). */
  limitsOf(id: string): SessionLimits | undefined {
    const devices = this.get(id) ? this.#devices.get(id) : undefined;
    return devices ? strictest([...devices].map((d) => limitsFor(this.#timeouts, d))) : undefined;
  }

  /** Live sessions. */
  list(): SessionInfo[] {
    return [...this.#sessions.values()].filter((s) => s.state !== 'EXITED').map((s) => s.info());
  }

  /** Per live session, how each of its attachments is paced (for `pocketshell sessions`). */
  links(): Record<string, PacingInfo[]> {
    const out: Record<string, PacingInfo[]> = {};
    for (const s of this.#sessions.values()) if (s.state !== 'EXITED') out[s.id] = s.links();
    return out;
  }

  /** A live session by id, or undefined. */
  get(id: string): Session | undefined {
    const s = this.#sessions.get(id);
    return s && s.state !== 'EXITED' ? s : undefined;
  }

  /** The device that started live session `id`, if a device did. */
  ownerOf(id: string): string | undefined {
    return this.get(id) ? this.#owners.get(id) : undefined;
  }

  /** A new session running the login shell. */
  /**
   * Takes the first session's one-off costs (the screen mirror's first
   * terminal, ≈20 ms) off its way; the session holder calls it once it
   * listens. Optional, and harmless to skip.
   */
  prewarm(): Promise<void> {
    return ScreenMirror.prewarm();
  }

  create(opts: OpenOptions = {}): Session {
    const cmd = this.#opts.shell ?? loginShell(this.#opts.env ?? process.env);
    return this.#spawn(this.#newId(), 'shell', cmd, opts);
  }

  /**
   * What a `term:<target>` channel opens: `new` → a new shell session; one of
   * our ids → that session; `tmux:<name>` / `screen:<name>` → the live
   * session attached to it, else a new one attaching it. An unknown id is
   * `not_found`; a malformed target is `bad_message`.
   */
  open(target: string, opts: OpenOptions = {}): Session {
    if (target === 'new') return this.create(opts);
    const existing = this.#sessions.get(target);
    if (existing && existing.state !== 'EXITED') {
      this.#join(existing, opts.owner);
      return existing;
    }
    const colon = target.indexOf(':');
    if (colon > 0) {
      const kind = target.slice(0, colon);
      const name = target.slice(colon + 1);
      if ((kind === 'tmux' || kind === 'screen') && validSessionName(name)) {
        return this.#spawn(target, kind, attachCommand(kind, name, this.#opts.multiplexers), opts);
      }
      throw new ProtocolError(
        'bad_message',
        'terminal target must be new, a session id, tmux:<name> or screen:<name>',
      );
    }
    if (ID_RE.test(target)) throw new ProtocolError('not_found', `no session ${target}`);
    throw new ProtocolError(
      'bad_message',
      'terminal target must be new, a session id, tmux:<name> or screen:<name>',
    );
  }

  /** tmux and screen sessions on this machine. */
  async discover(): Promise<Discovered> {
    const [tmux, screen] = await Promise.all([
      listTmuxSessions(this.#run, this.#opts.multiplexers),
      listScreenSessions(this.#run),
    ]);
    return { tmux, screen };
  }

  /** Kills every session and waits for them to exit. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const t of this.#limitTimers.values()) this.#timers.clearTimeout(t);
    this.#limitTimers.clear();
    await Promise.all([...this.#sessions.values()].map((s) => s.close('shutdown')));
  }

  /**
   * `device` attaches `session`: its limits join the session's. A session
   * already past that device's maximum lifetime is refused
   * (`limit_reached`) and left as it is.
   */
  #join(session: Session, device: string | undefined): void {
    const devices = this.#devices.get(session.id);
    if (!devices || devices.has(device)) return;
    const mine = limitsFor(this.#timeouts, device);
    if (mine.maxLifetimeMs && this.#clock() - session.createdAt >= mine.maxLifetimeMs)
      throw new ProtocolError('limit_reached', "the session is older than this device's maximum lifetime");
    devices.add(device);
    this.#arm(session.id);
  }

  /** (Re)arms session `id`'s limit timer for its next deadline; closes it when one has passed. */
  #arm(id: string): void {
    const old = this.#limitTimers.get(id);
    if (old !== undefined) this.#timers.clearTimeout(old);
    this.#limitTimers.delete(id);
    const session = this.get(id);
    const limits = this.limitsOf(id);
    if (!session || !limits || session.closing) return;
    const next = nextDeadline(limits, session.createdAt, session.lastInputAt);
    if (!next) return;
    const now = this.#clock();
    if (next.at <= now) {
      this.#opts.onLimit?.(session, next.reason);
      void session.close(next.reason);
      return;
    }
    // Input moves the idle deadline without re-arming: the timer re-checks when it fires.
    this.#limitTimers.set(
      id,
      this.#timers.setTimeout(() => this.#arm(id), Math.min(next.at - now, 2 ** 31 - 1)),
    );
  }

  #newId(): string {
    for (;;) {
      const id = b64u(this.#random(9));
      if (!this.#sessions.has(id)) return id;
    }
  }

  #spawn(id: string, kind: SessionKind, cmd: Command, opts: OpenOptions): Session {
    if (this.#closed) throw new HostError('closed', 'the session manager is closed');
    const live = [...this.#sessions.values()].filter((s) => s.state !== 'EXITED');
    if (live.length >= this.#limit) {
      throw new ProtocolError('limit_reached', `at most ${this.#limit} sessions at once`);
    }
    if (
      opts.owner !== undefined &&
      live.filter((s) => this.#owners.get(s.id) === opts.owner).length >= this.#ownerLimit
    ) {
      throw new ProtocolError('limit_reached', `at most ${this.#ownerLimit} sessions per device`);
    }
    const cols = opts.cols ?? 80;
    const rows = opts.rows ?? 24;
    if (!validTerminalSize(cols, rows)) {
      throw new ProtocolError('bad_message', `bad terminal size ${cols}x${rows}`);
    }
    const env = this.#opts.env ?? process.env;
    let handle: ReturnType<PtyBackend['spawn']>;
    try {
      handle = this.#opts.backend.spawn(cmd.file, cmd.args, {
        cols,
        rows,
        cwd: this.#opts.cwd ?? sessionCwd(env),
        env: sessionEnv(env, this.#opts.passEnv),
      });
    } catch (cause) {
      throw new HostError('spawn_failed', `could not start ${cmd.file}`, { cause });
    }
    const session = new Session({
      id,
      kind,
      handle,
      cols,
      rows,
      createdAt: this.#clock(),
      clock: this.#clock,
      ...(this.#opts.tuning ? { tuning: this.#opts.tuning } : {}),
      ...(this.#opts.onAttention ? { onAttention: this.#opts.onAttention } : {}),
    });
    this.#sessions.set(id, session);
    if (opts.owner !== undefined) this.#owners.set(id, opts.owner);
    else this.#owners.delete(id);
    this.#devices.set(id, new Set([opts.owner]));
    session.onExit(() => {
      if (this.#sessions.get(id) === session) {
        this.#sessions.delete(id);
        this.#owners.delete(id);
        this.#devices.delete(id);
        const t = this.#limitTimers.get(id);
        if (t !== undefined) this.#timers.clearTimeout(t);
        this.#limitTimers.delete(id);
      }
    });
    this.#arm(id);
    return session;
  }
}
