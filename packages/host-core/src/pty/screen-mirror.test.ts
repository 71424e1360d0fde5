/**
 * Tests of the screen mirror: for every split point of a stream full of
 * colours, multi-byte UTF-8, CSI and OSC sequences, a snapshot taken there
 * plus the rest of the stream draws exactly the screen of the whole stream
 * (so cutting inside a sequence or a character is safe), the snapshot is
 * trimmed to its size cap, and `incompleteTail` finds unfinished sequences.
 * Known gaps of `@xterm/addon-serialize` (not of the offset logic), left out
 * of the stream: a charset designation (`ESC ( 0`) in force at the cut, an
 * open OSC 8 hyperlink and a saved cursor (`ESC 7`) are not part of the
 * serialized state.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { utf8 } from '@pocketshell/protocol';
import serializeAddon from '@xterm/addon-serialize';
import xtermHeadless from '@xterm/headless';
import { incompleteTail, ScreenMirror, type Snapshot, safeTitle } from './screen-mirror.ts';

async function screen(chunks: Uint8Array[], cols = 30, rows = 6): Promise<string> {
  const t = new xtermHeadless.Terminal({ cols, rows, scrollback: 100, allowProposedApi: true });
  const s = new serializeAddon.SerializeAddon();
  t.loadAddon(s);
  for (const c of chunks) await new Promise<void>((r) => t.write(c, r));
  const out = s.serialize({ scrollback: 0 });
  t.dispose();
  return out;
}

function snapshotAt(
  chunks: Uint8Array[],
  opts = { cols: 30, rows: 6, scrollback: 100, snapshotMax: 1 << 20 },
) {
  const m = new ScreenMirror(opts);
  for (const c of chunks) m.write(c);
  return new Promise<Snapshot>((resolve) =>
    m.whenCaughtUp(() => {
      resolve(m.snapshot());
      m.dispose();
    }),
  );
}

describe('screen mirror', () => {
  test('a snapshot at any byte plus the rest reproduces the screen exactly', async () => {
    const stream = utf8(
      'hello \x1b[1;31mred\x1b[0m wörld ✓ 😀\r\n' +
        '\x1b]0;a title\x07\x1b[2;5Hmoved\x1b[38;5;208morange\x1b[m\r\n' +
        '\x1b[44m blue bg \x1b[49m\x1b]2;t2\x1b\\ end\x1b[K\r\nλ\x1b[1Dμ\x1b[?2004h\x1b[4hab\x1b[2Dc',
    );
    const whole = await screen([stream]);
    for (let k = 0; k <= stream.length; k++) {
      const snap = await snapshotAt([stream.subarray(0, k)]);
      assert.equal(snap.offset, k);
      const replica = await screen([snap.data, stream.subarray(k)]);
      assert.equal(replica, whole, `split at byte ${k}`);
    }
  });

  test('the snapshot is trimmed to its cap by dropping scrollback', async () => {
    const lines = Array.from({ length: 300 }, (_, i) => `line ${i} ${'x'.repeat(20)}\r\n`).join('');
    const opts = { cols: 40, rows: 5, scrollback: 1000, snapshotMax: 2000 };
    const snap = await snapshotAt([utf8(lines)], opts);
    assert.ok(snap.data.length <= 2000, `snapshot of ${snap.data.length} bytes`);
    assert.match(Buffer.from(snap.data).toString(), /line 299/);
  });

  test('prewarm runs a throwaway mirror to its snapshot and resolves; mirrors made after it work', async () => {
    await ScreenMirror.prewarm();
    const m = new ScreenMirror({ cols: 20, rows: 3, scrollback: 10, snapshotMax: 1 << 16 });
    m.write(new TextEncoder().encode('after'));
    await new Promise<void>((r) => m.whenCaughtUp(r));
    assert.match(new TextDecoder().decode(m.snapshot().data), /after/);
    m.dispose();
  });

  test('incompleteTail finds unfinished escape sequences and characters', () => {
    const cases: Array<[string, number]> = [
      ['abc', 0],
      ['a\x1b', 1],
      ['a\x1b[', 2],
      ['a\x1b[31', 4],
      ['a\x1b[31m', 0],
      ['a\x1b]0;title', 9],
      ['a\x1b]0;title\x07', 0],
      ['a\x1b]0;t\x1b\\', 0],
      ['a\x1b(', 2],
      ['a\x1b(B', 0],
      ['a\x1b7', 0],
    ];
    for (const [s, n] of cases) assert.equal(incompleteTail(utf8(s)), n, JSON.stringify(s));
    const euro = utf8('x€');
    assert.equal(incompleteTail(euro.subarray(0, 2)), 1);
    assert.equal(incompleteTail(euro.subarray(0, 3)), 2);
    assert.equal(incompleteTail(euro), 0);
    const emoji = utf8('😀');
    assert.equal(incompleteTail(emoji.subarray(0, 3)), 3);
  });

  test('titles are made safe for a title control', () => {
    assert.equal(safeTitle('a\x1b[31mb\tc'), 'a[31mb\tc');
    assert.equal(safeTitle('x\uD800y\uDC00z 😀'), 'xyz 😀');
    assert.equal(safeTitle('t'.repeat(255) + '😀'), 't'.repeat(255));
    assert.equal(safeTitle('t'.repeat(5000)).length, 256);
  });
});
