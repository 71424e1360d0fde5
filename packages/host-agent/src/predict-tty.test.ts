/**
 * `PredictTty` against two real terminal emulators (`@xterm/headless`): the
 * mirror it reads, and a "tty" fed every byte it writes — what a person
 * sees. Keys are drawn underlined ahead of the echo with the host's cursor
 * and colours untouched; once the host's output arrives (or a prediction
 * times out), the tty shows exactly what the host sent, glyphs and
 * attributes, cell for cell.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import xtermHeadless from '@xterm/headless';
import { PredictTty } from './predict-tty.ts';

const { Terminal } = xtermHeadless;
type Term = InstanceType<typeof Terminal>;

const write = (t: Term, data: string | Uint8Array) => new Promise<void>((r) => t.write(data, r));

/** Each visible cell as glyph + SGR-relevant attributes. */
function cells(t: Term): string[] {
  const b = t.buffer.active;
  const out: string[] = [];
  for (let y = 0; y < t.rows; y++) {
    const line = b.getLine(b.baseY + y);
    for (let x = 0; x < t.cols; x++) {
      const c = line?.getCell(x);
      if (!c) continue;
      out.push(
        `${y}:${x}:${c.getChars()}:${c.getFgColorMode()}/${c.getFgColor()}:${c.getBgColorMode()}/${c.getBgColor()}:${c.isBold()}${c.isUnderline()}${c.isInverse()}`,
      );
    }
  }
  return out;
}

function setup() {
  let now = 0;
  const mirror = new Terminal({ cols: 20, rows: 5, allowProposedApi: true });
  const tty = new Terminal({ cols: 20, rows: 5, allowProposedApi: true });
  const pending: Promise<void>[] = [];
  const p = new PredictTty({
    mirror,
    out: (d) => pending.push(write(tty, d)),
    mode: 'always',
    now: () => now,
  });
  const host = async (text: string) => {
    p.output(new TextEncoder().encode(text));
    await write(mirror, ''); // the mirror parsed it (writes are in order)
    await new Promise((r) => setImmediate(r));
    await Promise.all(pending.splice(0));
  };
  const settle = () => Promise.all(pending.splice(0));
  return {
    p,
    mirror,
    tty,
    host,
    settle,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

describe('PredictTty', () => {
  it('draws keys underlined ahead of the echo, then the tty equals the host’s screen', async () => {
    const { p, mirror, tty, host, settle, advance } = setup();
    await host('\x1b[1;32m$\x1b[0m \x1b[44m');
    p.keystroke('a');
    advance(100);
    await host('a');
    p.keystroke('b');
    p.keystroke('c');
    await settle();
    const drawn = tty.buffer.active.getLine(0)!;
    assert.equal(drawn.translateToString(true), '$ abc');
    assert.equal(drawn.getCell(3)!.isUnderline(), 1, 'a prediction is underlined');
    assert.equal(tty.buffer.active.cursorX, 3, 'the host’s cursor is where the host left it');
    advance(100);
    await host('bc');
    assert.deepEqual(cells(tty), cells(mirror));
    assert.equal(tty.buffer.active.cursorX, 5);
    p.close();
  });

  it('keys typed with echo off are taken away at the timeout, the screen left exact', async () => {
    const { p, mirror, tty, host, settle, advance } = setup();
    await host('pw: ');
    p.keystroke('x');
    advance(100);
    await host('x');
    p.keystroke('s');
    p.keystroke('e');
    await settle();
    assert.equal(tty.buffer.active.getLine(0)!.translateToString(true), 'pw: xse');
    advance(1000);
    await new Promise((r) => setTimeout(r, p.engine.timeout() + 20));
    await settle();
    assert.equal(p.engine.stats.pending, 0);
    assert.deepEqual(cells(tty), cells(mirror));
    assert.equal(tty.buffer.active.getLine(0)!.translateToString(true), 'pw: x');
    p.close();
  });
});
