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
