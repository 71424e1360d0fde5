/**
 * Fast-forwarding the screen mirror through floods (fast-forward.ts): the
 * planner's cuts, and — the property that matters — a mirror that leaves
 * runs out ends with exactly the screen and scrollback of a terminal that
 * parsed every byte, for random floods of text, colours, erases, wide and
 * combining characters, and the things that must stop a fast-forward
 * (scroll regions, the alternate screen, titles, bells, cursor moves,
 * staircase line feeds), in random pieces and batches.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { utf8 } from '@pocketshell/protocol';
import serializeAddon from '@xterm/addon-serialize';
import xtermHeadless from '@xterm/headless';
import { mulberry32 } from '../../testing/random.ts';
import { planFastForward } from './fast-forward.ts';
import { ScreenMirror } from './screen-mirror.ts';

const lines = (n: number, text = 'some text') =>
  Array.from({ length: n }, (_, i) => `${text} ${i}\r\n`).join('');

describe('fast-forward planner', () => {
  test('leaves out a plain run followed by enough lines, cutting right after CR LF', () => {
    const head = 'first line\r\n';
    const body = lines(400);
    const tail = lines(50, 'tail');
    const bytes = utf8(head + body + tail);
    const plan = planFastForward(bytes, 50, true);
    assert.ok(plan);
    assert.equal(plan.start, head.length);
    assert.equal(plan.end, head.length + body.length);
    assert.equal(plan.pen.length, 0);
    // Not enough lines after: nothing.
    assert.equal(planFastForward(bytes, 451, true), undefined);
    // The bytes before ended inside a sequence: nothing.
    assert.equal(planFastForward(bytes, 50, false), undefined);
  });

  test('keeps the pen changes of the run, in order, and drops its erases', () => {
    const body = Array.from({ length: 300 }, (_, i) => `\x1b[1;3${i % 8}mline ${i}\x1b[K\x1b[0m\r\n`).join(
      '',
    );
    const bytes = utf8(`x\r\n${body}${lines(40)}`);
    const plan = planFastForward(bytes, 40, true);
    assert.ok(plan);
    const pen = new TextDecoder().decode(plan.pen);
    assert.equal(pen, Array.from({ length: 300 }, (_, i) => `\x1b[1;3${i % 8}m\x1b[0m`).join(''));
  });

  test('a run starts only after the last thing that changes more than the pen', () => {
    for (const stop of [
      '\x07',
      '\x1b]0;title\x07',
      '\x1b[2;5r',
      '\x1b[?1049h',
      '\x1b[5;1H',
      '\x1b(0',
      '\x0e',
      '\x1bH',
    ]) {
      const before = lines(200, 'before');
      const after = lines(600, 'after');
      const bytes = utf8(`${before}${stop}tail of line\r\n${after}${lines(30)}`);
      const plan = planFastForward(bytes, 30, true);
      assert.ok(plan, JSON.stringify(stop));
      assert.equal(plan.start, utf8(`${before}${stop}tail of line\r\n`).length, JSON.stringify(stop));
    }
  });

  test('an OSC holding CR LF, a C1 control or a sequence open at the end stop it', () => {
    const osc = utf8(`${lines(100)}\x1b]0;a\r\nb${lines(300)}`); // the OSC never ends: all of it is its text
    assert.equal(planFastForward(osc, 30, true), undefined);
    const c1 = utf8(`${lines(100)}\u009b2J${lines(300)}`);
    assert.equal(planFastForward(c1, 30, true), undefined);
    const open = utf8(`${lines(600)}\x1b[1;3`);
    const plan = planFastForward(open, 30, true);
    assert.ok(plan, 'the sequence is after the cut, in the fed tail');
    // A CSI with line feeds inside is not text: the run starts after it ends.
    const inside = `${lines(100)}\x1b[1;\r\n3m`;
    const plan2 = planFastForward(utf8(`${inside}more\r\n${lines(600)}`), 30, true);
    assert.equal(plan2?.start, utf8(`${inside}more\r\n`).length);
  });
});

const WORDS = ['build', 'ok', 'été', '✓', '漢字', '😀', 'e\u0301', '\t', 'warning:', 'x'.repeat(37), '-'];
const PENS = [
  '\x1b[1;31m',
  '\x1b[0m',
  '\x1b[m',
  '\x1b[38;2;10;20;30m',
  '\x1b[38:5:208m',
  '\x1b[4;44m',
  '\x1b[7m',
];
const RARE = [
  '\x07',
  '\x1b]0;a title\x07',
  '\x1b]2;other\x1b\\',
  '\x1b[3;6r',
  '\x1b[r',
  '\x1b[?1049h',
  '\x1b[?1049l',
  '\x1b[4h',
  '\x1b[4l',
  '\x1b[2;3H',
  '\x1b[A',
  '\x1bH',
  '\x1b[3g',
  '\x1b[?7l',
  '\x1b[?7h',
  '\x1b[2J',
  '\n\n', // a staircase: line feeds without carriage returns
  '\r',
  '\b',
];

function flood(seed: number, size: number, rareOdds: number): Uint8Array {
  const r = mulberry32(seed);
  let out = '';
  while (out.length < size) {
    let line = '';
    const words = Math.floor(r() * 12);
    for (let w = 0; w < words; w++) {
      if (r() < 0.15) line += PENS[Math.floor(r() * PENS.length)];
      line += `${WORDS[Math.floor(r() * WORDS.length)]} `;
    }
    if (r() < 0.05) line += '\x1b[K';
    if (r() < rareOdds) line += RARE[Math.floor(r() * RARE.length)];
    out += `${line}\r\n`;
  }
  return utf8(out);
}

interface Geometry {
  readonly cols: number;
  readonly rows: number;
  readonly scrollback: number;
}

async function reference(bytes: Uint8Array, g: Geometry): Promise<string> {
  const t = new xtermHeadless.Terminal({ ...g, allowProposedApi: true });
  const s = new serializeAddon.SerializeAddon();
  t.loadAddon(s);
  await new Promise<void>((r) => t.write(bytes, r));
  const out = s.serialize();
  t.dispose();
  return out;
}

/** Feeds `bytes` to a mirror in random pieces, pausing now and then so batches are handed on mid-stream. */
async function mirrored(
  bytes: Uint8Array,
  g: Geometry,
  seed: number,
  pauses = true,
): Promise<{ screen: string; skipped: number }> {
  const r = mulberry32(seed);
  const m = new ScreenMirror({ ...g, snapshotMax: 64 << 20 });
  let at = 0;
  while (at < bytes.length) {
    const n = 1 + Math.floor(r() * 20000);
    m.write(bytes.subarray(at, at + n));
    at += n;
    if (!pauses) continue;
    if (r() < 0.02) await new Promise((resolve) => setTimeout(resolve, 35));
    else if (r() < 0.05) await new Promise((resolve) => setImmediate(resolve));
  }
  const snap = await new Promise<ReturnType<ScreenMirror['snapshot']>>((resolve) =>
    m.whenCaughtUp(() => resolve(m.snapshot())),
  );
  assert.equal(snap.offset, bytes.length);
  const skipped = m.skipped;
  m.dispose();
  return { screen: new TextDecoder().decode(snap.data), skipped };
}

describe('screen mirror under a flood', () => {
  test('fast-forwarded floods end with the same screen and scrollback as parsing every byte', async () => {
    const geometries: Geometry[] = [
      { cols: 40, rows: 10, scrollback: 100 },
      { cols: 80, rows: 24, scrollback: 1000 },
      { cols: 7, rows: 3, scrollback: 0 },
    ];
    let skippedAny = 0;
    for (let seed = 1; seed <= 18; seed++) {
      const g = geometries[seed % geometries.length]!;
      const rareOdds = [0, 0.002, 0.02][seed % 3]!;
      const bytes = flood(seed, 300_000 + (seed % 4) * 400_000, rareOdds);
      const want = await reference(bytes, g);
      const got = await mirrored(bytes, g, seed);
      assert.equal(got.screen, want, `seed ${seed}, ${g.cols}×${g.rows}+${g.scrollback}, rare ${rareOdds}`);
      skippedAny += got.skipped;
    }
    assert.ok(skippedAny > 1_000_000, `fast-forwarded ${skippedAny} bytes`);
  });

  test('a plain flood is mostly left out; inside a scroll region or on the alternate screen nothing is', async () => {
    const g = { cols: 80, rows: 24, scrollback: 1000 };
    const plain = utf8(lines(40_000, 'a log line of some length, as from cat'));
    const got = await mirrored(plain, g, 7, false);
    assert.equal(got.screen, await reference(plain, g));
    assert.ok(got.skipped > plain.length * 0.8, `skipped ${got.skipped} of ${plain.length}`);
    // The pen set inside the run left out colours the lines after it.
    const pen = utf8(`${lines(20_000)}\x1b[1;32mgreen from here\r\n${lines(20_000)}`);
    const green = await mirrored(pen, g, 7, false);
    assert.equal(green.screen, await reference(pen, g));
    assert.ok(green.skipped > pen.length * 0.8, `skipped ${green.skipped} of ${pen.length}`);
    assert.ok(green.screen.startsWith('\x1b[32;1m'), 'the lines after the run are green');
    for (const mode of ['\x1b[2;20r', '\x1b[?1049h']) {
      const bytes = utf8(mode + lines(40_000, 'a log line of some length, as from cat'));
      const m = await mirrored(bytes, g, 7, false);
      assert.equal(m.screen, await reference(bytes, g), JSON.stringify(mode));
      assert.equal(m.skipped, 0, JSON.stringify(mode));
    }
  });

  test('titles and bells inside a flood still reach their listeners, in order', async () => {
    const m = new ScreenMirror({ cols: 80, rows: 24, scrollback: 1000, snapshotMax: 1 << 20 });
    const heard: string[] = [];
    m.onTitle((t) => heard.push(`title ${t}`));
    m.onBell(() => heard.push('bell'));
    const bytes = utf8(
      `${lines(20_000)}\x1b]0;one\x07${lines(20_000)}\x07${lines(20_000)}\x1b]0;two\x07${lines(5)}`,
    );
    for (let at = 0; at < bytes.length; at += 16384) m.write(bytes.subarray(at, at + 16384));
    await new Promise<void>((resolve) => m.whenCaughtUp(resolve));
    assert.deepEqual(heard, ['title one', 'bell', 'title two']);
    assert.ok(m.skipped > 0);
    m.dispose();
  });

  test('slow output goes to the parser as it comes; a snapshot mid-flood waits for the batch', async () => {
    const m = new ScreenMirror({ cols: 80, rows: 24, scrollback: 1000, snapshotMax: 1 << 20 });
    m.write(utf8('typed'));
    assert.equal(m.lag, 5, 'handed to the parser at once');
    await new Promise<void>((resolve) => m.whenCaughtUp(resolve));
    const big = utf8(lines(12_000)); // over 64 KiB, under a batch's 256 KiB
    m.write(big);
    assert.equal(m.lag, 0, 'a flood waits in a batch, outside the parser');
    const snap = await new Promise<ReturnType<ScreenMirror['snapshot']>>((resolve) =>
      m.whenCaughtUp(() => resolve(m.snapshot())),
    );
    assert.equal(snap.offset, 5 + big.length);
    assert.match(new TextDecoder().decode(snap.data), /some text 11999/);
    m.dispose();
  });
});
