/**
 * The pacing unit on a fake clock — no PTY, no timers, no waits: the link
 * estimator's rate and RTT samples and window bounds, and the pacer's
 * switch to screen sync and back, with the guard against a stale snapshot
 * (one taken while more output came). The same paths run end to end on
 * real shells in session.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LinkEstimator, RATE_WINDOW_MS, SNAPSHOT_ACK_TIMEOUT_MS } from './link-estimator.ts';
import { PACING_DEFAULTS, Pacer, type PacingStep } from './pacing.ts';

const KiB = 1024;

/** A clock that moves only when told. */
function fakeClock(): { now: () => number; advance: (ms: number) => void } {
  let t = 0;
  return { now: () => t, advance: (ms) => (t += ms) };
}

/** The milliseconds of a `wait` step (failing on any other step). */
function waitMs(step: PacingStep): number {
  assert.equal(step.kind, 'wait');
  return step.kind === 'wait' ? step.ms : 0;
}

const BOUNDS = { maxWindow: 256 * KiB, minWindow: 32 * KiB, drainMs: 100 };

describe('link estimator', () => {
  it('acks that arrive bunched do not read as a faster link (the rate spans the ack interval, as BBR)', () => {
    // A busy daemon between holder and device passes acks on in bursts: 200 KiB queued at t=0,
    // 10 KiB more at t=190, both acknowledged together at t=200. The link moved 210 KiB in
    // 200 ms; over the late segment's own round trip (10 ms) it would read as 20 times that.
    const clock = fakeClock();
    const link = new LinkEstimator(BOUNDS, clock.now);
    link.track(200 * KiB, 200 * KiB, false);
    clock.advance(190);
    link.track(210 * KiB, 10 * KiB, false);
    clock.advance(10);
    link.ack(210 * KiB);
    assert.equal(link.inflight, 0);
    assert.ok(Math.abs(link.rate - (210 * KiB) / 200) < 1, `rate ${link.rate} bytes/ms`);
    assert.equal(link.window, Math.round((210 * KiB) / 2), 'the window is what that link drains in 100 ms');
  });

  it('measures the round trip and the delivery rate from acks', () => {
    const clock = fakeClock();
    const link = new LinkEstimator(BOUNDS, clock.now);
    assert.equal(link.minRtt, null);
    assert.equal(link.rate, 0);
    assert.equal(link.rtt(), 100, 'planned with 100 ms before any sample');
    link.track(10_000, 10_000, false);
    link.track(20_000, 10_000, false);
    assert.equal(link.inflight, 20_000);
    assert.equal(link.nextAckAt, 10_000);
    clock.advance(40);
    link.ack(10_000);
    assert.equal(link.inflight, 10_000);
    assert.equal(link.minRtt, 40);
    assert.equal(link.rate, 10_000 / 40, 'bytes delivered while it was in flight, over its round trip');
    clock.advance(10);
    link.ack(20_000);
    assert.equal(link.inflight, 0);
    assert.equal(link.nextAckAt, undefined);
    assert.equal(link.minRtt, 40, 'a longer round trip does not replace the minimum');
    assert.equal(link.rate, 20_000 / 50);
  });

  it('an ack covers everything before its offset and one segment group ending at it', () => {
    const clock = fakeClock();
    const link = new LinkEstimator(BOUNDS, clock.now);
    link.track(100, 100, false);
    link.track(100, 500, true); // a snapshot sent at the same offset
    clock.advance(10);
    link.ack(100);
    assert.equal(link.inflight, 500, 'the snapshot waits for its own ack');
    assert.equal(link.nextAckAt, 100);
    link.ack(100);
    assert.equal(link.inflight, 0);
  });

  it('the minimum round trip and the maximum rate age out after the sample window', () => {
    const clock = fakeClock();
    const link = new LinkEstimator(BOUNDS, clock.now);
    link.track(50_000, 50_000, false);
    clock.advance(10);
    link.ack(50_000);
    assert.equal(link.minRtt, 10);
    assert.equal(link.rate, 5_000);
    // More than half the largest window in flight: these samples are window-limited, they measure the link.
    link.track(200_000, 150_000, false);
    link.track(210_000, 10_000, false);
    clock.advance(100);
    link.ack(210_000);
    assert.equal(link.minRtt, 10, 'a fresh minimum holds');
    assert.equal(link.rate, 5_000, 'a slower sample does not lower a fresh maximum');
    link.track(360_000, 150_000, false);
    link.track(370_000, 10_000, false);
    clock.advance(RATE_WINDOW_MS);
    link.ack(370_000);
    assert.equal(link.minRtt, RATE_WINDOW_MS, 'an old minimum is replaced');
    assert.equal(link.rate, 160_000 / RATE_WINDOW_MS, 'an old maximum gives way to a limited sample');
  });

  it('the window is what the link drains in drainMs, within its bounds', () => {
    const clock = fakeClock();
    const link = new LinkEstimator(BOUNDS, clock.now);
    assert.equal(link.window, 32 * KiB, 'the smallest window before any sample');
    // 40 KiB in 100 ms: 409.6 bytes/ms, 40 KiB per drainMs.
    link.track(40 * KiB, 40 * KiB, false);
    clock.advance(100);
    link.ack(40 * KiB);
    assert.equal(link.window, 40 * KiB);
    // 4 MiB in 10 ms: far past the largest window.
    link.track(44 * KiB + 4096 * KiB, 4096 * KiB, false);
    clock.advance(10);
    link.ack(44 * KiB + 4096 * KiB);
    assert.equal(link.window, 256 * KiB);
    // A smallest window above the largest is capped by it.
    const capped = new LinkEstimator({ maxWindow: 16 * KiB, minWindow: 32 * KiB, drainMs: 100 }, clock.now);
    assert.equal(capped.window, 16 * KiB);
  });

  it('a link is slow only once a window-limited sample measured it', () => {
    const clock = fakeClock();
    const link = new LinkEstimator(BOUNDS, clock.now);
    // Little in flight: a slow sample, but app-limited.
    link.track(1_000, 1_000, false);
    clock.advance(100);
    link.ack(1_000);
    assert.equal(link.slowerThan(250), false);
    // More than half the window in flight: now it measures the link (20 KB/s here).
    link.track(21_000, 20_000, false);
    link.track(22_000, 1_000, false);
    clock.advance(1_000);
    link.ack(22_000);
    assert.equal(link.slowerThan(250), true);
  });

  it('a snapshot never acknowledged (an old client) counts as delivered after the timeout; drop forgets all', () => {
    const clock = fakeClock();
    const link = new LinkEstimator(BOUNDS, clock.now);
    link.track(0, 3_000, true);
    link.track(5_000, 5_000, false);
    clock.advance(SNAPSHOT_ACK_TIMEOUT_MS - 1);
    link.expireSnapshots();
    assert.equal(link.inflight, 8_000);
    clock.advance(1);
    link.expireSnapshots();
    assert.equal(link.inflight, 5_000, 'only the snapshot at the head expires');
    link.drop();
    assert.equal(link.inflight, 0);
    assert.equal(link.nextAckAt, undefined);
  });
});

/**
 * A pacer on a fake clock, with what an attachment would do: each frame
 * sent is tracked, and `ackAll` is the device acknowledging everything.
 */
function pacerOnSlowLink() {
  const clock = fakeClock();
  const pacer = new Pacer(PACING_DEFAULTS, clock.now);
  let sent = 0;
  const send = (bytes: number) => {
    assert.equal(pacer.output(bytes), 'send');
    sent += bytes;
    pacer.link.track(sent, bytes, false);
  };
  const ackAll = () => pacer.link.ack(sent);
  /** The snapshot `step` asked for, taken at everything seen so far, sent and tracked. */
  const snapshotAt = (offset: number, bytes = 2_000) => {
    sent = offset;
    pacer.link.track(offset, bytes, true);
  };
  // Measure a slow link: 64 KiB, the last half of it window-limited, acknowledged after 200 ms
  // (≈330 KB/s: 256 KiB would take ≈800 ms to drain, more than syncDrainMs).
  send(32 * KiB);
  send(32 * KiB);
  clock.advance(200);
  ackAll();
  return { clock, pacer, send, ackAll, snapshotAt, sentNow: () => sent };
}

describe('pacer: stream and screen sync', () => {
  it('streams while the window has room, and switches to screen sync when a slow link fills it', () => {
    const { pacer, send } = pacerOnSlowLink();
    assert.equal(pacer.mode, 'STREAM');
    assert.ok(pacer.link.slowerThan(PACING_DEFAULTS.syncDrainMs));
    const window = pacer.link.window;
    send(window - 100);
    assert.equal(pacer.blocking, false);
    assert.equal(pacer.output(200), 'skip', 'over the window: skipped');
    assert.equal(pacer.mode, 'SYNC');
    assert.equal(pacer.blocking, false, 'sync never pauses the PTY');
    assert.equal(pacer.drained, true);
    assert.equal(pacer.info().mode, 'sync');
    assert.equal(pacer.info().skipped, 200);
  });

  it('a fast link (or sync turned off) stays lossless: a full window pauses the PTY instead', () => {
    const clock = fakeClock();
    const pacer = new Pacer({ ...PACING_DEFAULTS, sync: false }, clock.now);
    let sent = 0;
    for (const bytes of [32 * KiB, 32 * KiB]) {
      assert.equal(pacer.output(bytes), 'send');
      sent += bytes;
      pacer.link.track(sent, bytes, false);
    }
    clock.advance(200);
    pacer.link.ack(sent);
    assert.equal(pacer.output(pacer.link.window + 1), 'send');
    pacer.link.track(sent + pacer.link.window + 1, pacer.link.window + 1, false);
    assert.equal(pacer.mode, 'STREAM');
    assert.equal(pacer.blocking, true);
    assert.equal(pacer.drained, false);
    assert.deepEqual(pacer.step(), { kind: 'none' });
  });

  it('sends the screen when little is in flight, then, once output is quiet, the final snapshot and streams again', () => {
    const { clock, pacer, send, snapshotAt, ackAll, sentNow } = pacerOnSlowLink();
    send(pacer.link.window - 100);
    assert.equal(pacer.output(50_000), 'skip');
    const seen = sentNow() + 50_000;
    // Much in flight: wait for acks (or an old client's snapshot timeout).
    assert.deepEqual(pacer.step(), { kind: 'wait', ms: SNAPSHOT_ACK_TIMEOUT_MS });
    clock.advance(200);
    ackAll();
    assert.deepEqual(pacer.step(), { kind: 'snapshot', final: false });
    assert.deepEqual(pacer.step(), { kind: 'none' }, 'one snapshot at a time');
    pacer.synced(seen);
    assert.equal(pacer.dirty, false, 'the snapshot shows every byte skipped');
    snapshotAt(seen);
    const quietMs = Math.max(150, 2 * pacer.link.rtt());
    assert.deepEqual(pacer.syncSent(), { kind: 'wait', ms: quietMs }, 'then waits for quiet');
    assert.equal(pacer.info().syncs, 1);
    // More output within the quiet time: skipped, and the next screen waits for acks.
    clock.advance(10);
    assert.equal(pacer.output(1_000), 'skip');
    assert.equal(pacer.step().kind, 'wait');
    clock.advance(200);
    ackAll();
    assert.deepEqual(pacer.step(), { kind: 'snapshot', final: false });
    pacer.synced(seen + 1_000);
    snapshotAt(seen + 1_000);
    pacer.syncSent();
    // Quiet counts from the last output, 200 ms ago.
    assert.deepEqual(pacer.step(), { kind: 'wait', ms: quietMs - 200 });
    clock.advance(quietMs - 201);
    assert.deepEqual(pacer.step(), { kind: 'wait', ms: 1 }, 'not quiet long enough yet');
    clock.advance(1);
    assert.deepEqual(pacer.step(), { kind: 'snapshot', final: true });
    assert.equal(pacer.final(seen + 1_000), true);
    assert.equal(pacer.mode, 'STREAM');
    assert.equal(pacer.info().mode, 'stream');
    assert.equal(pacer.info().skipped, 51_000);
    assert.equal(pacer.output(10), 'send', 'streaming again');
  });

  it('a stale snapshot (output came while it was taken) does not end sync: another one is due', () => {
    const { clock, pacer, send, ackAll, sentNow } = pacerOnSlowLink();
    send(pacer.link.window - 100);
    const before = sentNow();
    assert.equal(pacer.output(50_000), 'skip');
    clock.advance(200);
    ackAll();
    assert.deepEqual(pacer.step(), { kind: 'snapshot', final: false });
    // The screen-sync snapshot was taken at `before + 50_000`, and 700 more bytes came meanwhile.
    assert.equal(pacer.output(700), 'skip');
    pacer.synced(before + 50_000);
    assert.equal(pacer.dirty, true, 'the 700 bytes are not in it');
    // The next one waits for its slot.
    clock.advance(waitMs(pacer.syncSent()));
    assert.deepEqual(pacer.step(), { kind: 'snapshot', final: false });
    pacer.synced(before + 50_700);
    assert.equal(pacer.dirty, false);
    clock.advance(waitMs(pacer.syncSent()));
    // The final snapshot: output comes while it is taken, so it is stale and sync goes on.
    assert.deepEqual(pacer.step(), { kind: 'snapshot', final: true });
    assert.equal(pacer.output(10), 'skip');
    assert.equal(pacer.final(before + 50_700), false);
    assert.equal(pacer.mode, 'SYNC');
    assert.equal(pacer.dirty, true);
    assert.deepEqual(pacer.step(), { kind: 'snapshot', final: false });
  });

  /** In sync with one large screen in flight (more than "little") and output skipped since. */
  function largeScreenInFlight() {
    const link = pacerOnSlowLink();
    const { clock, pacer, send, ackAll, snapshotAt, sentNow } = link;
    send(pacer.link.window - 100);
    const seen = sentNow() + 1_000;
    assert.equal(pacer.output(1_000), 'skip');
    clock.advance(200);
    ackAll();
    assert.equal(pacer.step().kind, 'snapshot');
    pacer.synced(seen);
    snapshotAt(seen, 10_000);
    pacer.syncSent();
    assert.equal(pacer.output(10), 'skip');
    return link;
  }

  it('right after input the screen goes out at once, ahead of the pacing slot', () => {
    const { pacer } = largeScreenInFlight();
    assert.equal(pacer.step().kind, 'wait', 'too much in flight, and the slot has not come');
    pacer.input();
    assert.deepEqual(pacer.step(), { kind: 'snapshot', final: false }, 'the answer to a keystroke');
  });

  it('an old client that never acknowledges snapshots still gets the next one after the timeout', () => {
    const { clock, pacer } = largeScreenInFlight();
    assert.deepEqual(pacer.step(), { kind: 'wait', ms: SNAPSHOT_ACK_TIMEOUT_MS });
    clock.advance(SNAPSHOT_ACK_TIMEOUT_MS);
    assert.deepEqual(pacer.step(), { kind: 'snapshot', final: false });
  });
});
