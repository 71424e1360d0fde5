/**
 * The terminal screen's connection without a DOM, in Node with a fake
 * clock (no real waits): the backoff between failed attempts grows and
 * stops at its cap; a live channel resets it; a wake (page visible again,
 * network back) or the host coming back online retries at once; the relay
 * saying the host is offline stops retrying; the state table refuses an
 * illegal move and `ended` is final. The device, its links and channels
 * are small stand-ins with the shape the connection uses (`WebDevice`,
 * `HostLink` and `TermChannel` need a browser's WebRTC).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Emitter, type HostId, ProtocolError } from '@pocketshell/protocol';
import {
  BACKOFF_MS,
  type ConnectionChannelEvents,
  type ConnectionDevice,
  type ConnectionLink,
  type ConnectionTimers,
  TERM_STATES,
  TerminalConnection,
  type TerminalConnectionOptions,
  type TermState,
} from '../../packages/web/src/terminal-connection.ts';

const HOST = 'h_test' as HostId;

/** Lets every promise chain started by a timer or an event run to its end. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Timers on a clock that moves only when told. */
class FakeClock implements ConnectionTimers {
  now = 0;
  #next = 1;
  readonly #timers = new Map<number, { at: number; fn: () => void }>();

  setTimeout(fn: () => void, ms: number): number {
    const id = this.#next++;
    this.#timers.set(id, { at: this.now + ms, fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
  }

  /** Delays (from now) of the armed timers. */
  pending(): number[] {
    return [...this.#timers.values()].map((t) => t.at - this.now);
  }

  /** Moves to the earliest timer, runs it and what it started; returns how far the clock moved. */
  async next(): Promise<number> {
    const [id, timer] = [...this.#timers].sort((a, b) => a[1].at - b[1].at)[0] ?? [];
    assert.ok(id !== undefined && timer, 'a timer is armed');
    this.#timers.delete(id);
    const moved = timer.at - this.now;
    this.now = timer.at;
    timer.fn();
    await settle();
    return moved;
  }
}

class FakeChannel extends Emitter<ConnectionChannelEvents> {
  readonly session: string;
  exitReason: string | undefined;
  closed = false;
  constructor(session: string) {
    super();
    this.session = session;
  }
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.emit('close', undefined);
  }
  exit(code: number): void {
    this.emit('exit', code);
  }
}

class FakeLink extends Emitter<{ close: string }> implements ConnectionLink<FakeChannel> {
  closed = false;
  readonly #device: FakeDevice;
  constructor(device: FakeDevice) {
    super();
    this.#device = device;
  }
  async openTerminal(
    target: string,
    _cols: number,
    _rows: number,
    setup: (c: FakeChannel) => void,
  ): Promise<FakeChannel> {
    this.#device.opened.push(target);
    const session = this.#device.sessions.has(target) ? target : target === 'new' ? 's_new' : undefined;
    if (!session) throw new ProtocolError('unavailable', 'terminal refused');
    const c = new FakeChannel(session);
    setup(c);
    this.#device.channels.push(c);
    return c;
  }
  async route(): Promise<string> {
    return this.#device.route;
  }
  drop(): void {
    this.hangUp('failed');
  }
  hangUp(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.emit('close', reason);
  }
}

/** A device whose host is reachable only while `up` is true. */
class FakeDevice
  extends Emitter<{ presence: { host: HostId; online: boolean } }>
  implements ConnectionDevice<FakeChannel>
{
  up = false;
  /** What each link says its path is. */
  route = 'p2p';
  presence: boolean | undefined;
  links = 0;
  readonly sessions = new Set<string>(['s_1']);
  readonly opened: string[] = [];
  readonly channels: FakeChannel[] = [];
  lastLink: FakeLink | undefined;
  /** Hosts the connection asked to dial again after another tab took them. */
  readonly reclaimed: HostId[] = [];
  reclaim(host: HostId): void {
    this.reclaimed.push(host);
  }
  async link(host: HostId): Promise<FakeLink> {
    assert.equal(host, HOST);
    this.links++;
    if (!this.up) throw new ProtocolError('timeout', 'host hung up: timeout');
    this.lastLink = new FakeLink(this);
    return this.lastLink;
  }
  online(): boolean | undefined {
    return this.presence;
  }
  say(online: boolean): void {
    this.presence = online;
    this.emit('presence', { host: HOST, online });
  }
}

function setup(options: Partial<TerminalConnectionOptions<FakeChannel>> = {}) {
  const clock = new FakeClock();
  const device = new FakeDevice();
  const conn = new TerminalConnection<FakeChannel>({
    host: HOST,
    target: 's_1',
    device,
    size: () => ({ cols: 80, rows: 24 }),
    timers: clock,
    ...options,
  });
  const states: TermState[] = [];
  const failures: string[] = [];
  conn.on('state', (s) => states.push(s));
  conn.on('failed', (e) => failures.push((e as ProtocolError).code));
  return { clock, device, conn, states, failures };
}

test('the backoff grows after each failed attempt and stops at its cap', async () => {
  const { clock, device, conn, failures } = setup();
  conn.start();
  await settle();
  assert.equal(device.links, 1, 'the first attempt is made at once');
  const waits: number[] = [];
  for (let i = 0; i < BACKOFF_MS.length + 2; i++) waits.push(await clock.next());
  assert.deepEqual(waits, [...BACKOFF_MS, 15_000, 15_000]);
  for (let i = 1; i < BACKOFF_MS.length; i++) assert.ok(BACKOFF_MS[i]! > BACKOFF_MS[i - 1]!, 'it grows');
  assert.equal(device.links, BACKOFF_MS.length + 3);
  assert.equal(failures.length, device.links);
  assert.ok(failures.every((c) => c === 'timeout'));
  assert.equal(conn.state, 'connecting', 'never connected: still connecting');
  assert.equal(conn.channel, undefined);
  conn.dispose();
  assert.deepEqual(clock.pending(), [], 'disposed: nothing armed');
});

test('a live channel resets the backoff; a drop retries after the first step, on the same session', async () => {
  const { clock, device, conn, states } = setup();
  const lives: { session: string; sameSession: boolean }[] = [];
  conn.on('live', ({ session, sameSession }) => lives.push({ session, sameSession }));
  conn.start();
  await settle();
  assert.deepEqual([await clock.next(), await clock.next(), await clock.next()], BACKOFF_MS.slice(0, 3));
  device.up = true;
  assert.equal(await clock.next(), BACKOFF_MS[3]);
  assert.equal(conn.state, 'p2p');
  assert.deepEqual(lives, [{ session: 's_1', sameSession: true }]);
  assert.deepEqual(clock.pending(), [], 'live: nothing armed');

  device.up = false;
  device.channels.at(-1)!.close();
  assert.equal(conn.state, 'reconnecting');
  assert.equal(conn.channel, undefined);
  assert.deepEqual(clock.pending(), [BACKOFF_MS[0]], 'the backoff starts over');
  assert.equal(await clock.next(), BACKOFF_MS[0]);
  assert.deepEqual(clock.pending(), [BACKOFF_MS[1]], 'and grows again');
  device.up = true;
  await clock.next();
  assert.equal(conn.state, 'p2p');
  assert.deepEqual(device.opened, ['s_1', 's_1'], 'the same session both times');
  assert.deepEqual(states, ['p2p', 'reconnecting', 'p2p']);
  conn.dispose();
});

test('a session gone at the host: a new one is started and followed', async () => {
  const { device, conn } = setup({ target: 's_gone' });
  let gone = 0;
  conn.on('gone', () => gone++);
  const lives: { session: string; sameSession: boolean }[] = [];
  conn.on('live', ({ session, sameSession }) => lives.push({ session, sameSession }));
  device.up = true;
  conn.start();
  await settle();
  assert.equal(gone, 1);
  assert.deepEqual(device.opened, ['s_gone', 'new']);
  assert.deepEqual(lives, [{ session: 's_new', sameSession: false }]);
  assert.equal(conn.session, 's_new');
  conn.dispose();
});

test('a wake retries at once with the backoff reset; not while hidden, live or ended', async () => {
  let visible = true;
  let wakeSignal: (() => void) | undefined;
  const { clock, device, conn } = setup({
    visible: () => visible,
    wakeOn: (wake) => {
      wakeSignal = wake;
      return () => (wakeSignal = undefined);
    },
  });
  conn.start();
  await settle();
  for (let i = 0; i < 4; i++) await clock.next();
  assert.deepEqual(clock.pending(), [BACKOFF_MS[4]], 'waiting 8 s');

  visible = false;
  wakeSignal!();
  assert.deepEqual(clock.pending(), [BACKOFF_MS[4]], 'hidden: nothing changes');

  visible = true;
  const before = device.links;
  wakeSignal!();
  assert.deepEqual(clock.pending(), [0], 'visible: at once');
  assert.equal(await clock.next(), 0);
  assert.equal(device.links, before + 1);
  // The immediate attempt took the first step's place: the backoff starts over from the second.
  assert.deepEqual(clock.pending(), [BACKOFF_MS[1]], 'the failure after a wake: the backoff starts over');

  device.up = true;
  conn.wake();
  await clock.next();
  assert.equal(conn.state, 'p2p');
  const links = device.links;
  conn.wake();
  assert.deepEqual(clock.pending(), [], 'live: a wake does nothing');
  assert.equal(device.links, links);

  device.channels.at(-1)!.exit(0);
  assert.equal(conn.state, 'ended');
  device.channels.at(-1)!.close();
  conn.wake();
  assert.deepEqual(clock.pending(), [], 'ended: nothing is retried');

  conn.dispose();
  assert.equal(wakeSignal, undefined, 'disposed: the wake signals are unsubscribed');
});

test('presence: offline stops retrying; online again retries at once', async () => {
  const { clock, device, conn } = setup();
  conn.start();
  await settle();
  await clock.next();
  assert.deepEqual(clock.pending(), [BACKOFF_MS[1]]);

  device.say(false);
  assert.equal(conn.state, 'offline');
  assert.deepEqual(clock.pending(), [], 'offline: nothing armed');
  conn.wake();
  assert.equal(conn.state, 'offline', 'a wake while the relay says offline does not dial');
  assert.deepEqual(clock.pending(), []);

  device.up = true;
  device.say(true);
  assert.equal(conn.state, 'reconnecting');
  assert.deepEqual(clock.pending(), [0]);
  await clock.next();
  assert.equal(conn.state, 'p2p');

  device.say(false);
  assert.equal(conn.state, 'offline');
  conn.dispose();
});

test('the state table refuses an illegal move; ended is final', async () => {
  assert.deepEqual(TERM_STATES, [
    'connecting',
    'p2p',
    'turn',
    'relay',
    'reconnecting',
    'offline',
    'elsewhere',
    'ended',
  ]);
  const { clock, device, conn, states } = setup();
  assert.equal(conn.setState('connecting'), true, 'staying is allowed');
  assert.deepEqual(states, [], 'and says nothing');
  device.up = true;
  conn.start();
  await settle();
  assert.equal(conn.state, 'p2p');
  assert.equal(conn.setState('connecting'), false, 'p2p → connecting is refused');
  assert.equal(conn.setState('turn'), false, 'p2p → turn is refused (the route is read per attempt)');
  assert.equal(conn.state, 'p2p');

  device.channels[0]!.exitReason = 'closed';
  const exits: { code: number; reason: string | undefined }[] = [];
  conn.on('exit', (e) => exits.push(e));
  device.channels[0]!.exit(0);
  assert.deepEqual(exits, [{ code: 0, reason: 'closed' }]);
  for (const s of TERM_STATES.filter((s) => s !== 'ended')) {
    assert.equal(conn.setState(s), false, `ended → ${s} is refused`);
  }
  device.say(false);
  device.say(true);
  conn.reattach();
  assert.equal(conn.state, 'ended');
  assert.deepEqual(clock.pending(), []);
  assert.deepEqual(states, ['p2p', 'ended']);
  conn.dispose();
});

test('a connection on the relay path shows it; a reconnection reads the path again', async () => {
  const { device, conn, states } = setup();
  device.up = true;
  device.route = 'relay';
  conn.start();
  await settle();
  assert.equal(conn.state, 'relay');
  assert.equal(conn.setState('p2p'), false, 'relay → p2p only through a reconnection');
  device.route = 'p2p';
  device.channels[0]!.close();
  await settle();
  assert.deepEqual(states.slice(0, 2), ['relay', 'reconnecting']);
  conn.dispose();
});

test('replaced by a newer connection of this device: no retry; a tap or the page shown again takes it back', async () => {
  let wakeSignal: (() => void) | undefined;
  const { clock, device, conn, states } = setup({
    wakeOn: (wake) => {
      wakeSignal = wake;
      return () => (wakeSignal = undefined);
    },
  });
  device.up = true;
  conn.start();
  await settle();
  assert.equal(conn.state, 'p2p');

  // The host's hangup closes the link; the channel's close can come first or after: both orders.
  device.links = 0;
  device.channels.at(-1)!.close();
  device.lastLink!.hangUp('replaced');
  assert.equal(conn.state, 'elsewhere');
  assert.equal(conn.channel, undefined);
  assert.deepEqual(clock.pending(), [], 'nothing armed: it does not take the newer one’s place');
  device.say(false);
  device.say(true);
  assert.equal(conn.state, 'elsewhere', 'presence does not dial either');
  assert.deepEqual(clock.pending(), []);
  assert.equal(device.links, 0);

  assert.deepEqual(device.reclaimed, []);
  conn.reattach();
  assert.deepEqual(device.reclaimed, [HOST], 'the device may dial the host again');
  await clock.next();
  assert.equal(conn.state, 'p2p', 'a tap takes it back');
  assert.equal(device.links, 1);

  device.lastLink!.hangUp('replaced');
  device.channels.at(-1)!.close();
  assert.equal(conn.state, 'elsewhere', 'link first, then the channel');
  assert.deepEqual(clock.pending(), []);
  wakeSignal!();
  assert.deepEqual(device.reclaimed, [HOST, HOST]);
  await clock.next();
  assert.equal(conn.state, 'p2p', 'the page shown again takes it back');
  assert.deepEqual(states, [
    'p2p',
    'reconnecting',
    'elsewhere',
    'reconnecting',
    'p2p',
    'elsewhere',
    'reconnecting',
    'p2p',
  ]);

  // Any other reason retries as before.
  device.lastLink!.hangUp('closed');
  device.channels.at(-1)!.close();
  assert.equal(conn.state, 'reconnecting');
  assert.deepEqual(clock.pending(), [BACKOFF_MS[0]]);
  conn.dispose();
});
