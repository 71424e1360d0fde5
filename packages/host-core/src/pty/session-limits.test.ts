/**
 * Tests of session limits (docs/host.md "Session limits") on real PTYs
 * (node-pty, /bin/sh) with a manual clock and manual timers, so every
 * assertion is about behaviour at a given instant, never about how fast
 * something ran: input moves the idle deadline, output does not; the
 * lifetime counts from the start whatever the input; the strictest limits
 * of every device that attached a session apply; a device cannot attach a
 * session older than its own lifetime; a limit that hits hangs the shell
 * up (SIGHUP: exit code 129, not SIGKILL's 137), tells every attachment
 * `exit` with the reason, and reports it; and without configured limits
 * nothing is armed.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { type ExitControl, encodeData, ProtocolError, utf8 } from '@pocketshell/protocol';
import { alive, countingBackend, FrameRecorder, TEST_SHELL, testShellEnv } from '../../testing/pty.ts';
import { nodePtyBackend } from './backend.ts';
import type { Session } from './session.ts';
import {
  type LimitReason,
  type LimitTimers,
  limitsFor,
  nextDeadline,
  type SessionTimeouts,
  strictest,
} from './session-limits.ts';
import { SessionManager } from './session-manager.ts';

/** A clock and timers that move only when the test says so. */
class ManualTime implements LimitTimers {
  now = 1_000_000;
  #next = 1;
  readonly pending = new Map<number, { at: number; fn: () => void }>();
  readonly clock = () => this.now;
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.#next++;
    this.pending.set(id, { at: this.now + ms, fn });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as number);
  }
  /** Moves the clock to `start + ms` and runs every timer due by then, in order. */
  advanceTo(at: number): void {
    this.now = at;
    for (;;) {
      const due = [...this.pending.entries()].filter(([, t]) => t.at <= at).sort((a, b) => a[1].at - b[1].at);
      if (due.length === 0) return;
      const [id, t] = due[0]!;
      this.pending.delete(id);
      t.fn();
    }
  }
}

const START = 1_000_000;
const D_OWNER = 'd_owner';
const D_TABLET = 'd_tablet';

let shellEnv: ReturnType<typeof testShellEnv>;
let backend: ReturnType<typeof countingBackend>;
let time: ManualTime;
let manager: SessionManager;
let hits: { session: string; reason: LimitReason }[];

function makeManager(timeouts?: SessionTimeouts): SessionManager {
  return new SessionManager({
    backend,
    env: shellEnv.env,
    passEnv: ['PS1'],
    shell: TEST_SHELL,
    run: async () => ({ code: null, stdout: '' }),
    clock: time.clock,
    timers: time,
    onLimit: (session, reason) => hits.push({ session: session.id, reason }),
    ...(timeouts ? { timeouts } : {}),
  });
}

/** Attaches a recorder and runs one command through it (input, like a device's). */
async function watched(session: Session): Promise<{ rec: FrameRecorder }> {
  const rec = new FrameRecorder();
  const attachment = await session.attach({ send: rec.send });
  // `rea""dy` echoes as typed; `ready` appears only once the shell ran it.
  attachment.receive(encodeData(utf8('echo rea""dy\r')));
  await rec.waitFor(/ready/);
  return { rec };
}

/** Exit code of a program ended by SIGHUP (128 + 1); SIGKILL would be 137. */
const HANGUP = 129;

function exitOf(rec: FrameRecorder): ExitControl | undefined {
  return rec.controls.find((c): c is ExitControl => c.t === 'exit');
}

beforeEach(() => {
  shellEnv = testShellEnv();
  backend = countingBackend(nodePtyBackend());
  time = new ManualTime();
  hits = [];
});

afterEach(async () => {
  await manager.close();
  for (const pid of backend.pids) assert.equal(alive(pid), false, `process ${pid} left behind`);
  shellEnv.cleanup();
});

describe('session limit arithmetic', () => {
  test('a device entry overrides the default key by key; 0 lifts a limit', () => {
    manager = makeManager();
    const t: SessionTimeouts = {
      default: { idleMs: 60_000, maxLifetimeMs: 3_600_000 },
      devices: { [D_TABLET]: { idleMs: 10_000 }, [D_OWNER]: { idleMs: 0, maxLifetimeMs: 0 } },
    };
    assert.deepEqual(limitsFor(t, D_TABLET), { idleMs: 10_000, maxLifetimeMs: 3_600_000 });
    assert.deepEqual(limitsFor(t, D_OWNER), { idleMs: 0, maxLifetimeMs: 0 });
    assert.deepEqual(limitsFor(t, 'd_other'), { idleMs: 60_000, maxLifetimeMs: 3_600_000 });
    assert.deepEqual(limitsFor(t, '__proto__'), { idleMs: 60_000, maxLifetimeMs: 3_600_000 });
    assert.deepEqual(limitsFor({}, D_OWNER), {});
    assert.deepEqual(strictest([{ idleMs: 5 }, { idleMs: 0, maxLifetimeMs: 9 }, { maxLifetimeMs: 7 }]), {
      idleMs: 5,
      maxLifetimeMs: 7,
    });
    assert.equal(nextDeadline({}, 0, 0), undefined);
    assert.deepEqual(nextDeadline({ idleMs: 10, maxLifetimeMs: 100 }, 0, 95), {
      at: 100,
      reason: 'max_lifetime',
    });
    assert.deepEqual(nextDeadline({ idleMs: 10, maxLifetimeMs: 100 }, 0, 50), {
      at: 60,
      reason: 'idle_timeout',
    });
    assert.throws(
      () => makeManager({ default: { idleMs: -1 } }),
      (e: unknown) => e instanceof ProtocolError && e.code === 'bad_message',
    );
  });
});

describe('session limits on real PTYs', () => {
  test('without limits nothing is armed and a session outlives any idle time', async () => {
    manager = makeManager();
    const session = manager.create({ owner: D_OWNER });
    await watched(session);
    assert.equal(time.pending.size, 0);
    time.advanceTo(START + 365 * 24 * 3600 * 1000);
    assert.equal(session.state, 'RUNNING');
    assert.deepEqual(hits, []);
  });

  test('idle timeout: input moves the deadline, output does not; the hit hangs the shell up with reason idle_timeout', async () => {
    manager = makeManager({ default: { idleMs: 10_000 } });
    const session = manager.create({ owner: D_OWNER });
    const { rec } = await watched(session); // input at START
    // At +9 s a command: the deadline moves to +19 s. It prints for a while in the background.
    time.advanceTo(START + 9_000);
    session.writeInput('for i in 1 2 3 4 5; do echo tick$i; sleep 0.05; done &\r');
    time.advanceTo(START + 10_000);
    assert.equal(session.closing, false, 'input at +9 s keeps it open at +10 s');
    // Output alone (a program printing) is not activity.
    await rec.waitFor(/tick5/);
    time.advanceTo(START + 18_999);
    assert.equal(session.closing, false);
    time.advanceTo(START + 19_000);
    assert.equal(session.closing, true, 'idle since +9 s: closed at +19 s');
    assert.deepEqual(hits, [{ session: session.id, reason: 'idle_timeout' }]);
    const code = await session.exited;
    assert.equal(code, HANGUP, 'the shell was hung up (SIGHUP), not killed');
    assert.deepEqual(exitOf(rec), { t: 'exit', code: HANGUP, reason: 'idle_timeout' });
    const reasons: unknown[] = [];
    session.onExit((c, reason) => reasons.push(c, reason));
    assert.deepEqual(reasons, [HANGUP, 'idle_timeout']);
    assert.equal(manager.get(session.id), undefined);
  });

  test('max lifetime counts from the start whatever the input, and the strictest device wins', async () => {
    manager = makeManager({ devices: { [D_TABLET]: { maxLifetimeMs: 60_000 } } });
    const session = manager.create({ owner: D_OWNER });
    const { rec } = await watched(session);
    assert.equal(time.pending.size, 0, "the owner's own session has no limit");
    // The tablet attaches at +30 s: the session now ends at +60 s.
    time.advanceTo(START + 30_000);
    assert.equal(manager.open(session.id, { owner: D_TABLET }), session);
    assert.deepEqual(manager.limitsOf(session.id), { idleMs: 0, maxLifetimeMs: 60_000 });
    time.advanceTo(START + 59_000);
    session.writeInput('echo still here\r');
    time.advanceTo(START + 59_999);
    assert.equal(session.closing, false);
    time.advanceTo(START + 60_000);
    assert.equal(session.closing, true);
    assert.deepEqual(hits, [{ session: session.id, reason: 'max_lifetime' }]);
    assert.equal(await session.exited, HANGUP);
    assert.deepEqual(exitOf(rec), { t: 'exit', code: HANGUP, reason: 'max_lifetime' });
  });

  test('a device cannot attach a session older than its own lifetime; the session is left alone', async () => {
    manager = makeManager({ devices: { [D_TABLET]: { maxLifetimeMs: 10_000 } } });
    const session = manager.create({ owner: D_OWNER });
    const { rec } = await watched(session);
    time.advanceTo(START + 10_000);
    assert.throws(
      () => manager.open(session.id, { owner: D_TABLET }),
      (e: unknown) => e instanceof ProtocolError && e.code === 'limit_reached',
    );
    assert.equal(session.closing, false);
    assert.equal(time.pending.size, 0);
    assert.deepEqual(manager.limitsOf(session.id), { idleMs: 0, maxLifetimeMs: 0 });
    assert.equal(exitOf(rec), undefined);
  });

  test('new limits apply to live sessions at once; lifting them disarms', async () => {
    manager = makeManager();
    const a = manager.create({ owner: D_OWNER });
    const b = manager.create({ owner: D_TABLET });
    const { rec: recA } = await watched(a);
    await watched(b);
    time.advanceTo(START + 120_000);
    manager.setTimeouts({
      devices: { [D_OWNER]: { maxLifetimeMs: 60_000 }, [D_TABLET]: { idleMs: 3_600_000 } },
    });
    assert.equal(a.closing, true, 'already past its new lifetime');
    assert.equal(b.closing, false);
    assert.equal(time.pending.size, 1, "b's idle timer");
    manager.setTimeouts({});
    assert.equal(time.pending.size, 0);
    await a.exited;
    assert.equal(exitOf(recA)?.reason, 'max_lifetime');
    assert.deepEqual(hits, [{ session: a.id, reason: 'max_lifetime' }]);
  });

  test('closing the manager tells attachments the host shut down', async () => {
    manager = makeManager();
    const session = manager.create({ owner: D_OWNER });
    const { rec } = await watched(session);
    await manager.close();
    assert.equal(exitOf(rec)?.reason, 'shutdown');
  });
});
