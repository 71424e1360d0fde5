/**
 * Tests of sessions on real PTYs (node-pty, /bin/sh): the attach sequence,
 * input/resize/ack through raw frames, sessions outliving attachments,
 * several watchers, exact snapshots during a flood (nothing lost or
 * duplicated), flow control and resync, title/bell/exit controls, the limit,
 * the environment, and that `close()` leaves no process behind.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { encodeControl, encodeData, ProtocolError, utf8 } from '@pocketshell/protocol';
import serializeAddon from '@xterm/addon-serialize';
import xtermHeadless from '@xterm/headless';
import { alive, countingBackend, FrameRecorder, TEST_SHELL, testShellEnv } from '../../testing/pty.ts';
import type { Attachment } from './attachment.ts';
import { nodePtyBackend } from './backend.ts';
import { SESSION_STATES } from './session.ts';
import { SessionManager, type SessionManagerOptions } from './session-manager.ts';

let shellEnv: ReturnType<typeof testShellEnv>;
let manager: SessionManager;
let backend: ReturnType<typeof countingBackend>;

function makeManager(opts: Partial<SessionManagerOptions> = {}): SessionManager {
  return new SessionManager({
    backend,
    env: shellEnv.env,
    passEnv: ['PS1'],
    shell: TEST_SHELL,
    run: async () => ({ code: null, stdout: '' }),
    ...opts,
  });
}

beforeEach(() => {
  shellEnv = testShellEnv();
  backend = countingBackend(nodePtyBackend());
  manager = makeManager();
});

afterEach(async () => {
  await manager.close();
  for (const pid of backend.pids) assert.equal(alive(pid), false, `process ${pid} left behind`);
  shellEnv.cleanup();
});

/** Renders terminal bytes in a fresh headless terminal and returns the visible lines. */
async function render(bytes: Uint8Array[], cols: number, rows: number): Promise<string> {
  const t = new xtermHeadless.Terminal({ cols, rows, scrollback: 1000, allowProposedApi: true });
  const s = new serializeAddon.SerializeAddon();
  t.loadAddon(s);
  for (const b of bytes) await new Promise<void>((r) => t.write(b, r));
  const out = s.serialize({ scrollback: 0 });
  t.dispose();
  return out;
}

describe('sessions', () => {
  test('attach sends attached, then a snapshot, then live output; input and resize go through frames', async () => {
    const session = manager.create({ cols: 100, rows: 30 });
    assert.equal(session.state, 'DETACHED');
    const rec = new FrameRecorder();
    const a = await session.attach({ send: rec.send });
    assert.equal(session.state, 'RUNNING');
    assert.equal(session.attached, 1);
    const attached = rec.controls[0];
    assert.ok(attached?.t === 'attached');
    assert.deepEqual(
      { ...attached, offset: 0, snapshot: 0 },
      { t: 'attached', session: session.id, offset: 0, cols: 100, rows: 30, snapshot: 0 },
    );
    assert.equal(rec.snapshots[0]?.length, attached.snapshot);
    assert.ok(attached.offset <= a.sent);
    assert.equal(rec.snapshots.length, 1);
    a.receive(encodeData(utf8('echo "$TERM $COLORTERM $PWD" mark$((40+2))\r')));
    await rec.waitFor(/mark42/);
    assert.match(rec.text(), new RegExp(`xterm-256color truecolor ${shellEnv.home} mark42`));
    a.receive(encodeControl({ t: 'resize', cols: 120, rows: 40 }));
    a.receive(encodeData(utf8('stty size; echo done$((1+1))\r')));
    await rec.waitFor(/40 120\r\ndone2/);
    assert.equal(session.info().cols, 120);
    assert.equal(a.sent, session.offset);
    assert.throws(() => a.receive(Uint8Array.of(9)), ProtocolError);
    assert.throws(() => a.receive(encodeControl({ t: 'bell' })), ProtocolError);
    assert.throws(() => a.ack(a.sent + 1), ProtocolError);
  });

  test('a session outlives its attachments and a new one sees the old screen', async () => {
    const session = manager.create();
    const first = new FrameRecorder();
    const a = await session.attach({ send: first.send });
    a.input(utf8("printf '\\033]2;kept title\\007'; echo before$((2*3))\r"));
    await first.waitFor(/before6/);
    let closed = '';
    const b = await session.attach({ send: () => {}, onClose: (r) => (closed = r) });
    b.detach();
    b.detach();
    assert.equal(closed, 'detached');
    a.detach();
    assert.equal(session.state, 'DETACHED');
    assert.throws(() => a.input(utf8('x')));
    const second = new FrameRecorder();
    const c = await session.attach({ send: second.send });
    assert.match(Buffer.from(second.snapshots[0]!).toString(), /before6/);
    assert.deepEqual(
      second.controls[1],
      { t: 'title', title: 'kept title' },
      'the title follows the snapshot',
    );
    assert.equal(session.info().title, 'kept title');
    c.input(utf8('echo after$((3*3))\r'));
    await second.waitFor(/after9/);
    assert.equal(manager.get(session.id), session);
    assert.equal(backend.spawns, 1);
  });

  test('several watchers get the same bytes; a snapshot taken during a flood is exact', async () => {
    const session = manager.create({ cols: 80, rows: 24 });
    // Watchers that ack everything, as a device on a fast link does.
    const acking = (rec: FrameRecorder) => {
      const box: { a?: Attachment } = {};
      const send = (f: Uint8Array) => {
        rec.send(f);
        queueMicrotask(() => box.a?.open && box.a.sent > box.a.acked && box.a.ack(box.a.sent));
      };
      return { send, box };
    };
    const early = new FrameRecorder();
    const ea = acking(early);
    const a = await session.attach({ send: ea.send });
    ea.box.a = a;
    const start = a.sent;
    a.input(
      utf8(
        'i=0; while [ $i -lt 20000 ]; do printf "\\033[3%dmline %d \\342\\224\\200\\n" $((i%8)) $i; i=$((i+1)); done; echo fin$((5+5))\r',
      ),
    );
    await early.until(() => early.live.length > 20_000, 'flood under way');
    const late = new FrameRecorder();
    const la = acking(late);
    const b = await session.attach({ send: la.send });
    la.box.a = b;
    // The offset is the one in `attached` (by the time `attach` resolves, more may have been sent).
    const attached = late.controls[0];
    assert.ok(attached?.t === 'attached' && b.sent >= attached.offset);
    const from = attached.offset - start;
    assert.ok(!/fin10/.test(early.live.subarray(0, from).toString()), 'attached while the flood was running');
    await late.waitFor(/fin10/, 60_000);
    await early.waitFor(/fin10/, 60_000);
    // Byte for byte, the late watcher's live stream is the early one's from the snapshot offset.
    assert.ok(early.live.subarray(from).equals(late.live), 'live bytes after the snapshot offset differ');
    // Snapshot + live reproduces the screen of a watcher that saw everything.
    const snapshotOfEarly = early.snapshots[0]!;
    const fromScratch = await render([snapshotOfEarly, early.live], 80, 24);
    const fromLate = await render([late.snapshots[0]!, late.live], 80, 24);
    const fresh = new FrameRecorder();
    await session.attach({ send: fresh.send });
    const now = await render([fresh.snapshots[0]!], 80, 24);
    assert.match(now, /fin10/);
    assert.equal(fromLate, fromScratch);
    assert.equal(now, fromScratch);
    assert.equal(session.attached, 3);
  });

  test('after a flood of text with colours the screen is exact (the mirror fast-forwarded through it)', async () => {
    // 4 MB of lines with colours: the mirror takes the flood in batches and skips most of it
    // (fast-forward.ts); a new attachment's snapshot must still be the screen of every byte.
    const file = join(shellEnv.home, 'flood.txt');
    const lines: string[] = [];
    for (let i = 0; i < 80_000; i++)
      lines.push(i % 50 === 0 ? `\x1b[3${i % 8}mline ${i}\x1b[0m` : `line ${i} ${'x'.repeat(i % 70)}`);
    writeFileSync(file, `${lines.join('\n')}\n`);
    const session = manager.create({ cols: 80, rows: 24 });
    const rec = new FrameRecorder();
    const box: { a?: Attachment } = {};
    const a = await session.attach({
      send: (f) => {
        rec.send(f);
        queueMicrotask(() => box.a?.open && box.a.sent > box.a.acked && box.a.ack(box.a.sent));
      },
    });
    box.a = a;
    await rec.waitFor(/\$ $/);
    a.input(utf8(`cat ${file}; echo fin$((5+5))\r`));
    await rec.waitFor(/fin10/, 60_000);
    const fresh = new FrameRecorder();
    await session.attach({ send: fresh.send });
    assert.equal(
      await render([fresh.snapshots[0]!], 80, 24),
      await render([rec.snapshots[0]!, rec.live], 80, 24),
    );
    assert.match(await render([fresh.snapshots[0]!], 80, 24), /line 79999/);
  });

  test('screen sync: a slow link gets snapshots instead of a backlog, answers Ctrl-C at once, then streams again', async () => {
    const session = manager.create({ cols: 80, rows: 24 });
    const rec = new FrameRecorder();
    // A link of about 100 KB/s with 40 ms round trips: acks come back 40 ms after
    // a frame, and no sooner than its bytes take at that rate.
    const RATE = 100; // bytes per millisecond
    const box: { a?: Attachment; busyUntil: number } = { busyUntil: 0 };
    const a = await session.attach({
      send: (frame) => {
        rec.send(frame);
        const now = performance.now();
        box.busyUntil = Math.max(box.busyUntil, now) + frame.length / RATE;
        const ackAt = rec.offset;
        setTimeout(() => box.a?.open && ackAt > box.a.acked && box.a.ack(ackAt), box.busyUntil - now + 40);
      },
    });
    box.a = a;
    a.input(utf8('yes\r'));
    await rec.until(() => a.pacingInfo().mode === 'sync', 'sync mode', 20_000);
    // Flooding: the PTY runs free (not paused by this watcher), little is in flight.
    await new Promise((r) => setTimeout(r, 1000));
    const info = a.pacingInfo();
    assert.equal(info.mode, 'sync');
    assert.ok(info.syncs >= 3, `snapshots sent while flooding: ${info.syncs}`);
    assert.ok(info.skipped > 256 * 1024, `bytes skipped: ${info.skipped}`);
    assert.ok(info.window <= 64 * 1024, `window follows the link: ${info.window}`);
    assert.ok(info.rate > 30_000 && info.rate < 300_000, `measured rate ${info.rate} B/s`);
    // This watcher does not hold the PTY back (the mirror may, briefly, when it falls behind).
    assert.equal(a.blocking, false);
    // Ctrl-C: the prompt comes next, not behind a backlog — a streamed window would put
    // ≥ 32 KiB of `y` lines ahead of it; screen sync sends a few small screens.
    const bytesBefore = rec.bytes;
    const promptIn = (b: Uint8Array) =>
      /PS\$ $/m.test(
        Buffer.from(b)
          .toString('utf8')
          // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping CSI sequences
          .replace(/\x1b\[[0-9;?]*[A-Za-z]/g, ''),
      );
    a.input(Uint8Array.of(3));
    await rec.until(
      () => promptIn(rec.snapshots.at(-1) ?? new Uint8Array(0)) || /\^C[\s\S]*PS\$ $/.test(rec.text()),
      'the prompt after Ctrl-C',
      10_000,
    );
    const ahead = rec.bytes - bytesBefore;
    assert.ok(ahead < 8 * 1024, `${ahead} bytes came before the prompt`);
    // Every sync frame shows something new: no burst of snapshots at one offset (the one
    // that ends sync mode may repeat the last).
    const offsets = rec.controls.flatMap((c) => (c.t === 'attached' ? [c.offset] : []));
    const repeats = offsets.filter((o, i) => i > 0 && o === offsets[i - 1]).length;
    assert.ok(repeats <= 1, `${repeats} snapshots repeated the offset before them`);
    // Quiet: streaming again, so a keystroke's echo arrives as live bytes.
    await rec.until(() => a.pacingInfo().mode === 'stream', 'stream mode', 5_000);
    a.input(utf8('echo back$((6*7))\r'));
    await rec.waitFor(/back42\r\nPS\$ $/);
    // The device's screen (last snapshot + live bytes) equals the host's.
    const last = rec.snapshots.at(-1)!;
    const rendered = await render([last, rec.live], 80, 24);
    const host = await new Promise<string>((resolve) =>
      session.takeSnapshot((snap) => resolve(render([snap.data], 80, 24))),
    );
    assert.equal(rendered, await host);
  });

  test('flow control: an attachment that does not ack pauses the PTY; acks or a resync resume it', async () => {
    const window = 32 * 1024;
    manager = makeManager({ tuning: { window } });
    const session = manager.create();
    const fast = new FrameRecorder();
    const slow = new FrameRecorder();
    const f = await session.attach({
      send: (fr) => {
        fast.send(fr);
      },
    });
    // Lossless pacing: a slow watcher pauses the PTY (screen sync is tested below).
    const s = await session.attach({ send: slow.send, pacing: { sync: false } });
    // The fast watcher acks everything it gets; the slow one acks nothing.
    const ackFast = () => f.open && f.sent > f.acked && f.ack(f.sent);
    f.input(utf8('seq 1 200000; echo end$((6*7))\r'));
    await fast.until(() => {
      ackFast();
      return session.paused;
    }, 'the PTY to pause');
    const bound = window + 64 * 1024;
    assert.ok(s.unacked > window && s.unacked <= bound, `unacked ${s.unacked}`);
    // Paused: nothing more arrives however long we wait (bounded memory).
    const sentAtPause = s.sent;
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(s.sent, sentAtPause);
    // Acking half is not enough (hysteresis); acking all resumes.
    s.ack(s.sent - Math.floor(window * 0.75));
    assert.equal(session.paused, true);
    s.ack(s.sent);
    assert.equal(session.paused, false);
    await fast.until(() => {
      ackFast();
      return session.paused;
    }, 'the PTY to pause again');
    // A resync drops the backlog: fresh attached + snapshot at the current offset, nothing unacked.
    const before = slow.controls.filter((c) => c.t === 'attached').length;
    const offset = await s.resync();
    assert.equal(s.acked, offset, 'everything before the fresh snapshot counts as acknowledged');
    assert.ok(s.unacked <= window, 'the backlog is gone');
    assert.equal(slow.controls.filter((c) => c.t === 'attached').length, before + 1);
    assert.equal(slow.snapshots.length, 2);
    // Ctrl-C while flooding ends it; the slow watcher keeps acking so the end is seen.
    f.input(Uint8Array.of(3));
    await fast.until(
      () => {
        ackFast();
        if (s.sent > s.acked) s.ack(s.sent);
        return /PS\$ $/.test(fast.text()) || /end42/.test(fast.text());
      },
      'the prompt after Ctrl-C',
      60_000,
    );
  });

  test('title, bell and exit reach every watcher; the exited session is forgotten', async () => {
    const session = manager.create();
    const rec = new FrameRecorder();
    let closed = '';
    const a = await session.attach({ send: rec.send, onClose: (r) => (closed = r) });
    a.input(utf8("printf '\\033]0;my title\\007'; printf '\\007'; exit 3\r"));
    await session.exited;
    assert.deepEqual(
      rec.controls.filter((c) => c.t !== 'attached'),
      [{ t: 'title', title: 'my title' }, { t: 'bell' }, { t: 'exit', code: 3 }],
    );
    assert.equal(closed, 'exited');
    assert.equal(session.state, 'EXITED');
    assert.equal(session.info().exitCode, 3);
    assert.equal(manager.get(session.id), undefined);
    await assert.rejects(session.attach({ send: () => {} }));
    assert.throws(
      () => manager.open(session.id),
      (e: unknown) => e instanceof ProtocolError && e.code === 'not_found',
    );
    assert.deepEqual([...SESSION_STATES], ['STARTING', 'RUNNING', 'DETACHED', 'EXITED']);
  });

  test('the number of sessions is limited; close() kills them all and is idempotent', async () => {
    manager = makeManager({ limit: 2 });
    const one = manager.create();
    const two = manager.open('new');
    assert.throws(
      () => manager.create(),
      (e: unknown) => e instanceof ProtocolError && e.code === 'limit_reached',
    );
    assert.equal(manager.list().length, 2);
    await one.close();
    const three = manager.create();
    assert.equal(manager.list().length, 2);
    const pids = [two.pid, three.pid];
    await manager.close();
    await manager.close();
    for (const pid of pids) assert.equal(alive(pid), false);
    assert.throws(() => manager.create());
    assert.throws(() => manager.open('bad target!'), ProtocolError);
  });

  test('a transport whose send throws loses its attachment, not the session', async () => {
    const session = manager.create();
    const good = new FrameRecorder();
    const g = await session.attach({ send: good.send });
    let broken = false;
    let calls = 0;
    const bad = await session.attach({
      send: () => {
        calls += 1;
        if (broken) throw new Error('channel closed');
      },
    });
    broken = true;
    g.input(utf8('echo still$((4+4))\r'));
    await good.waitFor(/still8/);
    assert.equal(bad.open, false);
    assert.match(String(bad.error), /channel closed/);
    assert.ok(calls >= 2, `the broken transport was called ${calls} times`);
    assert.equal(session.attached, 1);
  });
});
