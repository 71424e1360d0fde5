/**
 * The pacing modes as a state machine (fake clock, no PTY): STREAM ⇄ SYNC,
 * a resync back to STREAM from either, and CLOSED, which nothing leaves —
 * an illegal move is refused with `bad_transition`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HostError } from '../errors.ts';
import { PACING_DEFAULTS, PACING_MODES, Pacer } from './pacing.ts';

const badTransition = (err: unknown) => err instanceof HostError && err.code === 'bad_transition';

/** A pacer switched to SYNC: a slow link measured window-limited, then a full window. */
function syncing(): Pacer {
  let t = 0;
  const pacer = new Pacer(PACING_DEFAULTS, () => t);
  let sent = 0;
  for (const bytes of [32 * 1024, 32 * 1024]) {
    pacer.output(bytes);
    sent += bytes;
    pacer.link.track(sent, bytes, false);
  }
  t += 200;
  pacer.link.ack(sent);
  pacer.output(pacer.link.window + 1);
  return pacer;
}

describe('pacing modes', () => {
  it('are STREAM, SYNC and CLOSED; a pacer starts streaming', () => {
    assert.deepEqual(PACING_MODES, ['STREAM', 'SYNC', 'CLOSED']);
    assert.equal(new Pacer(PACING_DEFAULTS, () => 0).mode, 'STREAM');
  });

  it('a resync returns to STREAM from either mode, with nothing left to sync', () => {
    const streaming = new Pacer(PACING_DEFAULTS, () => 0);
    streaming.resync();
    assert.equal(streaming.mode, 'STREAM');
    const pacer = syncing();
    assert.equal(pacer.mode, 'SYNC');
    assert.equal(pacer.dirty, true);
    pacer.resync();
    assert.equal(pacer.mode, 'STREAM');
    assert.equal(pacer.dirty, false);
    assert.equal(pacer.output(10), 'send');
  });

  it('CLOSED is final: a resync or a second close is refused with bad_transition', () => {
    for (const pacer of [new Pacer(PACING_DEFAULTS, () => 0), syncing()]) {
      pacer.close();
      assert.equal(pacer.mode, 'CLOSED');
      assert.throws(() => pacer.resync(), badTransition);
      assert.throws(() => pacer.close(), badTransition);
      assert.equal(pacer.mode, 'CLOSED');
      // Nothing more to do, and a snapshot that arrives late does not reopen it.
      assert.deepEqual(pacer.step(), { kind: 'none' });
      assert.equal(pacer.final(1_000_000), false);
      assert.equal(pacer.mode, 'CLOSED');
      assert.equal(pacer.blocking, false);
    }
  });
});

/**
 * A flood on a fake clock: the program writes 16 KiB frames whenever the
 * window lets it, up to `program` bytes per ms; the device takes `device`
 * bytes per ms and acks them; the program writes only in the first `duty`
 * ms of every 100. Returns the pacer and when it left STREAM.
 */
function flood(pace: string | undefined, program: number, device: number, ms = 1000, duty = 100) {
  let t = 0;
  const pacer = new Pacer(PACING_DEFAULTS, () => t);
  pacer.prefer(pace);
  let sent = 0;
  let acked = 0;
  let budget = 0;
  let syncAt = -1;
  while (t < ms) {
    // The program writes in the first `duty` ms of every 100.
    if (t % 100 < duty) budget += program;
    while (budget >= 16384 && !pacer.blocking) {
      budget -= 16384;
      if (pacer.output(16384) === 'send') {
        sent += 16384;
        pacer.link.track(sent, 16384, false);
      }
    }
    if (pacer.mode === 'SYNC' && syncAt < 0) syncAt = t;
    t += 1;
    const next = Math.min(sent, acked + device);
    if (next > acked) {
      acked = next;
      pacer.link.ack(acked);
    }
  }
  return { pacer, syncAt };
}

describe('a device that prefers the screen', () => {
  it('gets screen sync once it has held a flood back for `behindMs`, on a link that is not slow', () => {
    // The page's parser: 7 MB/s, against a program writing 60 MB/s.
    const screen = flood('screen', 60_000, 7_000);
    assert.equal(screen.pacer.mode, 'SYNC');
    const behind = PACING_DEFAULTS.behindMs;
    assert.ok(screen.syncAt >= behind && screen.syncAt < behind + 100, `sync at ${screen.syncAt} ms`);
    // The same link without the preference keeps every byte: 7 MB/s is not a slow link.
    assert.equal(flood(undefined, 60_000, 7_000).pacer.mode, 'STREAM');
    assert.equal(flood('stream', 60_000, 7_000).pacer.mode, 'STREAM');
  });

  it('keeps streaming while it keeps pace with the program', () => {
    // Bursts of 600 KB that fill the window each time, which the device drains between them.
    assert.equal(flood('screen', 60_000, 20_000, 1000, 10).pacer.mode, 'STREAM');
    // The same device under a flood that does not stop falls behind.
    assert.equal(flood('screen', 60_000, 20_000).pacer.mode, 'SYNC');
  });
});
