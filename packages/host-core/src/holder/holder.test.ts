/**
 * The session holder over its real unix socket, with real PTYs: the frame
 * reader refuses bad and oversized frames with `bad_message`; a bad frame
 * from one connection closes only that one; a daemon's connection closing
 * detaches its attachments while the session lives on, and the next daemon
 * finds it (same pid) and gets its screen back; a bad device frame is
 * reported with its code; an empty holder with no daemon ends by itself.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { encodeData, utf8 } from '@pocketshell/protocol';
import { alive, FrameRecorder, TEST_SHELL, testShellEnv } from '../../testing/pty.ts';
import { nodePtyBackend } from '../pty/backend.ts';
import { SessionManager } from '../pty/session-manager.ts';
import { RemoteSessionManager } from './client.ts';
import { SessionHolder } from './server.ts';
import { encodeJson, encodeTerm, FRAME_JSON, FRAME_TO_HOLDER, FrameReader, MAX_BODY } from './wire.ts';

let dir: string;
let shellEnv: ReturnType<typeof testShellEnv>;
let holder: SessionHolder | undefined;
let ended: string[];

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return (error as { code?: string }).code;
  }
  return undefined;
}

async function startHolder(idleMs = 60_000): Promise<{ holder: SessionHolder; socketPath: string }> {
  const socketPath = join(dir, 'holder.sock');
  const manager = new SessionManager({ backend: nodePtyBackend(), env: shellEnv.env, shell: TEST_SHELL });
  const h = await SessionHolder.listen({ socketPath, manager, idleMs, onEnd: (why) => ended.push(why) });
  assert.ok(h);
  holder = h;
  return { holder: h, socketPath };
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ps-holder-'));
  shellEnv = testShellEnv();
  ended = [];
});

afterEach(async () => {
  await holder?.end('test over');
  holder = undefined;
  shellEnv.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

test('the frame reader: frames split anywhere come out whole; bad and oversized ones are bad_message', () => {
  const bytes = Buffer.concat([
    encodeJson({ id: 1, call: 'hello' }),
    encodeTerm(FRAME_TO_HOLDER, 7, new Uint8Array([1, 2, 3])),
  ]);
  const r = new FrameReader();
  const frames = [...bytes].flatMap((b) => r.push(new Uint8Array([b])));
  assert.equal(frames.length, 2);
  assert.equal(frames[0]!.type, FRAME_JSON);
  assert.deepEqual(frames[0]!.type === FRAME_JSON && frames[0]!.message, { id: 1, call: 'hello' });
  assert.ok(frames[1]!.type === FRAME_TO_HOLDER && frames[1]!.attachment === 7);
  assert.equal(r.buffered, 0);

  const header = (len: number, type: number) => {
    const b = Buffer.alloc(5);
    b.writeUInt32BE(len, 0);
    b[4] = type;
    return b;
  };
  assert.equal(
    codeOf(() => new FrameReader().push(header(MAX_BODY + 1, 1))),
    'bad_message',
    'oversized',
  );
  assert.equal(
    codeOf(() => new FrameReader().push(header(0, 1))),
    'bad_message',
    'empty body',
  );
  assert.equal(
    codeOf(() => new FrameReader().push(header(1, 9))),
    'bad_message',
    'unknown type',
  );
  const short = Buffer.concat([header(3, 2), Buffer.from([0, 0])]);
  assert.equal(
    codeOf(() => new FrameReader().push(short)),
    'bad_message',
    'short terminal frame',
  );
  const notJson = Buffer.concat([header(3, 1).subarray(0, 5), Buffer.from('{x')]);
  notJson.writeUInt32BE(3, 0);
  assert.equal(
    codeOf(() => new FrameReader().push(notJson)),
    'bad_message',
    'not JSON',
  );
  const arr = Buffer.concat([header(3, 1), Buffer.from('[1]')]);
  assert.equal(
    codeOf(() => new FrameReader().push(arr)),
    'bad_message',
    'an array',
  );
  assert.equal(
    codeOf(() => encodeJson({ big: 'x'.repeat(MAX_BODY) })),
    'bad_message',
    'an oversized message is not sent',
  );
  // After a bad frame the stream is not trusted again.
  const failed = new FrameReader();
  codeOf(() => failed.push(header(1, 9)));
  assert.equal(
    codeOf(() => failed.push(encodeJson({ id: 1 }))),
    'bad_message',
  );
});

test('a bad frame closes that connection with bad_message; the holder serves the next one', async () => {
  const { socketPath } = await startHolder();
  const raw = createConnection(socketPath);
  const got: Buffer[] = [];
  raw.on('data', (d: Buffer) => got.push(d));
  await new Promise<void>((r) => raw.once('connect', () => r()));
  const oversized = Buffer.alloc(5);
  oversized.writeUInt32BE(MAX_BODY + 1, 0);
  raw.write(oversized);
  await new Promise<void>((r) => raw.once('close', () => r()));
  const [frame] = new FrameReader().push(Buffer.concat(got));
  assert.ok(frame?.type === FRAME_JSON);
  assert.equal(frame.message.event, 'error');
  assert.equal(frame.message.code, 'bad_message');
  // An unknown call is refused with its code, the connection kept.
  const m = await RemoteSessionManager.connect({ socketPath });
  await assert.rejects(m.call('nonsense'), { code: 'bad_message' });
  await assert.rejects(m.call('open', { target: 'new', cols: 5000 }), { code: 'bad_message' });
  assert.deepEqual(await m.list(), []);
  await m.close();
});

test('a daemon going away detaches its attachments; the session lives on and the next daemon reattaches it', async () => {
  const { holder: h, socketPath } = await startHolder();
  const first = await RemoteSessionManager.connect({ socketPath });
  const session = await first.open('new', { owner: 'd_phone', cols: 80, rows: 24 });
  const rec = new FrameRecorder();
  const closes: string[] = [];
  const attachment = await session.attach({ send: rec.send, onClose: (r) => closes.push(r) });
  attachment.receive(encodeData(utf8('echo holder-$((6*7))\r')));
  await rec.waitFor(/holder-42/);
  const pid = session.info().pid;
  assert.equal((await first.list())[0]?.state, 'RUNNING');
  assert.equal(first.ownerOf(session.id), 'd_phone');

  await first.close();
  assert.deepEqual(closes, ['detached']);
  const second = await RemoteSessionManager.connect({ socketPath });
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(h.daemons, 1, 'the first connection is gone');
  const again = second.get(session.id);
  assert.ok(again, 'the new daemon knows the session from hello');
  assert.equal(again.info().pid, pid);
  assert.equal(second.ownerOf(session.id), 'd_phone', 'the owner survives');
  const [listed] = await second.list();
  assert.equal(listed?.state, 'DETACHED');
  assert.equal(listed?.attached, 0);
  assert.ok(alive(pid));

  const rec2 = new FrameRecorder();
  const errors: unknown[] = [];
  const a2 = await again.attach({ send: rec2.send, onError: (e) => errors.push(e) });
  await rec2.until(() => rec2.snapshots.length > 0, 'a snapshot');
  assert.match(Buffer.from(rec2.snapshots[0]!).toString(), /holder-42/);
  // A bad device frame is reported with its code; the attachment stays.
  a2.receive(new Uint8Array([0xff, 1, 2]));
  await new Promise((r) => setTimeout(r, 100));
  assert.equal((errors[0] as { code?: string } | undefined)?.code, 'bad_message');
  a2.receive(encodeData(utf8('echo still-$((2+3))\r')));
  await rec2.waitFor(/still-5/);

  // An exit reaches the daemon as the session's exit.
  const exits: number[] = [];
  again.onExit((code) => exits.push(code));
  a2.receive(encodeData(utf8('exit 3\r')));
  await new Promise<void>((r) => {
    const t = setInterval(() => {
      if (exits.length > 0) {
        clearInterval(t);
        r();
      }
    }, 20);
  });
  assert.deepEqual(exits, [3]);
  assert.equal(second.get(session.id), undefined);
  await second.close();
});

test('a session opened to be attached next is attached within the open call: its first output streams live, however late the attach', async () => {
  const { socketPath } = await startHolder();
  const daemon = await RemoteSessionManager.connect({ socketPath });
  const settle = () => new Promise((r) => setTimeout(r, 400));

  // Without it, a shell that printed its prompt before the device attached shows it only in the snapshot.
  const plain = await daemon.open('new', { owner: 'd_phone', cols: 80, rows: 24 });
  await settle();
  const before = new FrameRecorder();
  await plain.attach({ send: before.send });
  await before.until(() => before.snapshots.length > 0, 'a snapshot');
  assert.match(Buffer.from(before.snapshots[0]!).toString(), /[#$] /, 'the prompt is in the snapshot');
  assert.doesNotMatch(before.live.toString(), /[#$] /);

  const early = await daemon.open('new', { owner: 'd_phone', cols: 80, rows: 24, attachNext: true });
  await settle();
  const rec = new FrameRecorder();
  const attachment = await early.attach({ send: rec.send });
  await rec.waitFor(/[#$] /);
  assert.doesNotMatch(
    Buffer.from(rec.snapshots[0] ?? []).toString(),
    /[#$] /,
    'the snapshot was taken before any output',
  );
  assert.equal(rec.controls.filter((c) => c.t === 'attached').length, 1, 'one attachment, not two');
  attachment.receive(encodeData(utf8('echo live-$((6*7))\r')));
  await rec.waitFor(/live-42/);
  assert.equal((await daemon.list()).find((i) => i.id === early.id)?.attached, 1);
  await daemon.close();
});

test('a session that ends while no daemon is connected is reported to the next one after hello', async () => {
  const { socketPath } = await startHolder();
  const first = await RemoteSessionManager.connect({ socketPath });
  const session = await first.open('new', { owner: 'd_phone', cols: 80, rows: 24 });
  const rec = new FrameRecorder();
  const a = await session.attach({ send: rec.send });
  a.receive(encodeData(utf8('sleep 0.5; exit 7\r')));
  await first.close();
  await new Promise((r) => setTimeout(r, 1000)); // it ends with nobody connected

  const exits: [string, number][] = [];
  const second = await RemoteSessionManager.connect({
    socketPath,
    onSessionExit: (id, code) => exits.push([id, code]),
  });
  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(exits, [[session.id, 7]]);
  assert.equal(second.get(session.id), undefined, 'not listed as live');
  // Reported once: a third daemon hears nothing of it.
  await second.close();
  const third: [string, number][] = [];
  const last = await RemoteSessionManager.connect({
    socketPath,
    onSessionExit: (id, code) => third.push([id, code]),
  });
  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(third, []);
  await last.close();
});

test('an empty holder with no daemon ends by itself; one with a session does not', async () => {
  const { socketPath } = await startHolder(200);
  const m = await RemoteSessionManager.connect({ socketPath });
  const s = await m.open('new');
  await m.close();
  await new Promise((r) => setTimeout(r, 500));
  assert.deepEqual(ended, [], 'a live session keeps it');
  const again = await RemoteSessionManager.connect({ socketPath });
  await again.get(s.id)!.close('closed');
  await again.close();
  await new Promise((r) => setTimeout(r, 600));
  assert.deepEqual(ended, ['idle']);
  holder = undefined;
});
