/**
 * The chat's reconnecting watch (packages/web/src/agent-watch.ts) on a fake
 * clock, in Node: after a lost channel it asks again from the last event it
 * handed on (events sent twice are dropped, a jump is reported as a gap),
 * the backoff grows 1, 2, 4, 8, 15 s and resets once events flow, `wake()`
 * tries at once, the session gone from the host ends it, a refusal
 * (`unsupported`, `grant_missing`, `not_found`) ends it without retrying,
 * and `stop()` closes the channel and never opens another.
 *
 * The channel here is a stand-in for the RTCDataChannel-backed one, driven
 * by the test: the watch's logic is pure, the transport is covered by the
 * Chromium test (test/browser/agent.test.ts).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type AgentEvent, ProtocolError, parseAgentEvent } from '@pocketshell/protocol';
import {
  AgentWatch,
  type AgentWatchState,
  type WatchableChannel,
} from '../../packages/web/src/agent-watch.ts';

const text = (seq: number): AgentEvent =>
  parseAgentEvent({ seq, at: seq, type: 'text', id: 'm', text: `#${seq}`, delta: true });

/** A channel the test drives: each `watch` call is recorded with its `since`. */
class FakeChannel implements WatchableChannel {
  closed = false;
  since: number | undefined;
  push: ((e: AgentEvent) => void) | undefined;
  #settle: { resolve: (n: number) => void; reject: (e: Error) => void } | undefined;

  watch(_session: string, since: number, onEvent: (e: AgentEvent) => void): Promise<number> {
    this.since = since;
    this.push = onEvent;
    return new Promise((resolve, reject) => {
      this.#settle = { resolve, reject };
    });
  }
  lose(): void {
    this.#settle?.reject(new ProtocolError('unavailable', 'agent channel closed'));
  }
  refuse(code: 'unsupported' | 'grant_missing' | 'not_found'): void {
    this.#settle?.reject(new ProtocolError(code, code));
  }
  gone(seq: number): void {
    this.#settle?.resolve(seq);
  }
  close(): void {
    this.closed = true;
  }
}

/** A fake clock: timers run only when the test advances it. */
function clock() {
  let now = 0;
  const timers: { at: number; fn: () => void; id: number }[] = [];
  let ids = 0;
  return {
    setTimeout: (fn: () => void, ms: number) => {
      const id = ++ids;
      timers.push({ at: now + ms, fn, id });
      return id;
    },
    clearTimeout: (id: unknown) => {
      const i = timers.findIndex((t) => t.id === id);
      if (i >= 0) timers.splice(i, 1);
    },
    /** The delays of the timers waiting now. */
    pending: () => timers.map((t) => t.at - now),
    async advance(ms: number) {
      now += ms;
      for (const t of timers.filter((x) => x.at <= now)) {
        timers.splice(timers.indexOf(t), 1);
        t.fn();
      }
      await settle();
    },
  };
}

const settle = () => new Promise<void>((r) => setImmediate(r));

function setup(since = 0) {
  const c = clock();
  const channels: FakeChannel[] = [];
  const events: number[] = [];
  const gaps: [number, number][] = [];
  const states: AgentWatchState[] = [];
  let opens = 0;
  let failOpen: Error | undefined;
  const watch = new AgentWatch<FakeChannel>({
    session: 'ag_abcdefgh12',
    since,
    open: async () => {
      opens++;
      if (failOpen) throw failOpen;
      const ch = new FakeChannel();
      channels.push(ch);
      return ch;
    },
    onEvent: (e) => events.push(e.seq),
    onGap: (from, to) => gaps.push([from, to]),
    onState: (s) => states.push(s),
    setTimeout: c.setTimeout,
    clearTimeout: c.clearTimeout,
  });
  return {
    c,
    channels,
    events,
    gaps,
    states,
    watch,
    opens: () => opens,
    failOpen: (e: Error | undefined) => {
      failOpen = e;
    },
  };
}

test('after a lost channel it resumes from the last event seen, once each', async () => {
  const t = setup();
  t.watch.start();
  await settle();
  assert.equal(t.watch.state, 'live');
  const first = t.channels[0]!;
  assert.equal(first.since, 0);
  for (const s of [1, 2, 3]) first.push?.(text(s));
  first.lose();
  await settle();
  assert.equal(t.watch.state, 'retrying');
  assert.ok(first.closed, 'the lost channel is closed');
  assert.deepEqual(t.c.pending(), [1000]);
  await t.c.advance(1000);
  const second = t.channels[1]!;
  assert.equal(second.since, 3, 'asked again from the last event seen');
  // The host sends 3 again (it was in flight), then 4, then jumps to 7.
  for (const s of [3, 4, 7]) second.push?.(text(s));
  assert.deepEqual(t.events, [1, 2, 3, 4, 7]);
  assert.deepEqual(t.gaps, [[5, 6]]);
  assert.equal(t.watch.last, 7);
});

test('a watch that starts after events already shown asks from there', async () => {
  const t = setup(41);
  t.watch.start();
  await settle();
  assert.equal(t.channels[0]!.since, 41);
  t.channels[0]!.push?.(text(41));
  t.channels[0]!.push?.(text(42));
  assert.deepEqual(t.events, [42]);
  assert.deepEqual(t.gaps, []);
});

test('backoff grows 1, 2, 4, 8, 15 s, is capped, and resets once events flow; wake tries at once', async () => {
  const t = setup();
  t.failOpen(new ProtocolError('unavailable', 'connection closed'));
  t.watch.start();
  await settle();
  const delays: number[] = [];
  for (let i = 0; i < 6; i++) {
    const [d] = t.c.pending();
    assert.ok(d !== undefined);
    delays.push(d);
    await t.c.advance(d);
  }
  assert.deepEqual(delays, [1000, 2000, 4000, 8000, 15_000, 15_000]);
  // Waking skips the wait.
  const before = t.opens();
  t.watch.wake();
  await settle();
  assert.equal(t.opens(), before + 1);
  // Connected and an event arrives: the next loss waits 1 s again.
  t.failOpen(undefined);
  t.watch.wake();
  await settle();
  const ch = t.channels.at(-1)!;
  ch.push?.(text(1));
  ch.lose();
  await settle();
  assert.deepEqual(t.c.pending(), [1000]);
});

test('the session gone from the host ends the watch; refusals end it without a retry', async () => {
  const gone = setup();
  gone.watch.start();
  await settle();
  gone.channels[0]!.gone(9);
  await settle();
  assert.equal(gone.watch.state, 'ended');
  assert.deepEqual(gone.c.pending(), []);

  for (const code of ['unsupported', 'grant_missing', 'not_found'] as const) {
    const t = setup();
    t.watch.start();
    await settle();
    t.channels[0]!.refuse(code);
    await settle();
    assert.equal(t.watch.state, 'refused', code);
    assert.deepEqual(t.c.pending(), [], `${code}: no retry`);
    t.watch.wake();
    await settle();
    assert.equal(t.opens(), 1, `${code}: wake does not reopen`);
  }
});

test('stop closes the channel, drops late events and never reopens', async () => {
  const t = setup();
  t.watch.start();
  await settle();
  const ch = t.channels[0]!;
  t.watch.stop();
  assert.ok(ch.closed);
  assert.equal(t.watch.state, 'stopped');
  ch.push?.(text(1));
  ch.lose();
  await settle();
  await t.c.advance(60_000);
  assert.deepEqual(t.events, []);
  assert.equal(t.opens(), 1);
  assert.equal(t.watch.state, 'stopped');
  t.watch.stop();
});
