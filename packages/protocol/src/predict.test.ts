/**
 * The prediction engine against a small model screen and a model host (a
 * line with echo on or off), with a hand-driven clock: typing confirmed,
 * backspace, arrows, a misprediction that kills its epoch, the timeout of a
 * password prompt, the SRTT hysteresis, the alternate screen and pastes —
 * and, as properties over random key sequences, that the overlay never
 * lies about the real screen once the host has caught up, stays inside the
 * line, and never changes the screen it reads.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { type OverlayCell, PredictionEngine, type ScreenView } from './predict.ts';

class Screen implements ScreenView {
  lines: string[][] = [];
  cursorRow = 0;
  cursorCol = 0;
  altScreen = false;
  readonly cols: number;
  constructor(cols = 20) {
    this.cols = cols;
  }
  cell(row: number, col: number): string {
    return this.lines[row]?.[col] ?? ' ';
  }
  /** The host's output: printable glyphs, backspace-space-backspace, CR LF. */
  write(text: string): void {
    for (const ch of text) {
      if (ch === '\b') this.cursorCol = Math.max(0, this.cursorCol - 1);
      else if (ch === '\r') this.cursorCol = 0;
      else if (ch === '\n') this.cursorRow++;
      else {
        const line = this.lines[this.cursorRow] ?? [];
        this.lines[this.cursorRow] = line;
        line[this.cursorCol] = ch;
        this.cursorCol = Math.min(this.cols, this.cursorCol + 1);
      }
    }
  }
  text(row: number): string {
    return (this.lines[row] ?? []).map((c) => c ?? ' ').join('');
  }
}

function setup(mode: 'auto' | 'always' | 'never' = 'always') {
  let t = 0;
  const clock = { advance: (ms: number) => (t += ms) };
  const engine = new PredictionEngine({ mode, now: () => t });
  const screen = new Screen();
  screen.write('$ ');
  return { engine, screen, clock };
}

const shown = (cells: OverlayCell[]) => cells.map((c) => `${c.row}:${c.col}:${c.ch}`);

describe('PredictionEngine', () => {
  it('shows nothing for the first key of an epoch, then shows the ones after its confirmation', () => {
    const { engine, screen, clock } = setup();
    engine.keystroke('l', screen);
    assert.deepEqual(engine.overlay(), [], 'tentative: not shown before the host vouches');
    clock.advance(100);
    screen.write('l');
    assert.equal(engine.reconcile(screen), true);
    assert.equal(engine.srtt, 100);
    engine.keystroke('s', screen);
    engine.keystroke(' ', screen);
    engine.keystroke('-', screen);
    assert.deepEqual(shown(engine.overlay()), ['0:3:s', '0:4: ', '0:5:-']);
    assert.deepEqual(engine.cursor(), { row: 0, col: 6 });
    clock.advance(100);
    screen.write('s -');
    engine.reconcile(screen);
    assert.deepEqual(engine.overlay(), []);
    assert.equal(engine.cursor(), undefined, 'no predicted cursor once all is confirmed');
    assert.equal(engine.stats.confirmed, 4);
    assert.equal(engine.stats.killed, 0);
  });

  it('predicts at the predicted cursor while the echo is behind', () => {
    const { engine, screen, clock } = setup();
    engine.keystroke('a', screen);
    clock.advance(80);
    screen.write('a');
    engine.reconcile(screen);
    engine.keystroke('bc', screen);
    engine.keystroke('d', screen);
    screen.write('b'); // the host caught up with one of three
    engine.reconcile(screen);
    assert.deepEqual(shown(engine.overlay()), ['0:4:c', '0:5:d']);
  });

  it('backspace predicts a blank one cell left, and the arrows move the predicted cursor', () => {
    const { engine, screen, clock } = setup();
    engine.keystroke('a', screen);
    clock.advance(80);
    screen.write('a');
    engine.reconcile(screen);
    engine.keystroke('x', screen);
    engine.keystroke('\x7f', screen);
    assert.deepEqual(shown(engine.overlay()), ['0:3: ']);
    engine.keystroke('\x1b[D', screen);
    engine.keystroke('z', screen);
    assert.deepEqual(shown(engine.overlay()), ['0:3: ', '0:2:z']);
    engine.keystroke('\x1bOC', screen);
    engine.keystroke('q', screen);
    assert.deepEqual(shown(engine.overlay()), ['0:3: ', '0:2:z', '0:4:q']);
  });

  it('a contradicted prediction kills its epoch: every later prediction goes', () => {
    const { engine, screen, clock } = setup();
    engine.keystroke('a', screen);
    clock.advance(80);
    screen.write('a');
    engine.reconcile(screen);
    engine.keystroke('bcd', screen);
    assert.equal(engine.overlay().length, 3);
    screen.write('B'); // the program shows something else
    assert.equal(engine.reconcile(screen), true);
    assert.deepEqual(engine.overlay(), []);
    assert.equal(engine.stats.killed, 3);
    // Tentative again: the next key is not shown until the host confirms one.
    engine.keystroke('e', screen);
    assert.deepEqual(engine.overlay(), []);
  });

  it('a password prompt (echo off) is repaired by the timeout', () => {
    const { engine, screen, clock } = setup();
    engine.keystroke('a', screen);
    clock.advance(100);
    screen.write('a');
    engine.reconcile(screen);
    // Echo goes off: the keys typed now never come back.
    engine.keystroke('s', screen);
    engine.keystroke('e', screen);
    assert.equal(engine.overlay().length, 2);
    assert.equal(engine.timeout(), 300);
    assert.equal(engine.nextDeadline(), 400);
    clock.advance(299);
    assert.equal(engine.reconcile(screen), false);
    assert.equal(engine.overlay().length, 2);
    clock.advance(2);
    assert.equal(engine.reconcile(screen), true);
    assert.deepEqual(engine.overlay(), []);
    assert.equal(engine.nextDeadline(), undefined);
    assert.equal(screen.text(0), '$ a', 'the real screen was never touched');
  });

  it('Enter, control keys, other escapes and pastes start a new epoch and predict nothing', () => {
    for (const key of ['\r', '\x03', '\x1b[A', '\x1b[200~hello\x1b[201~', 'a much longer paste', 'é']) {
      const { engine, screen, clock } = setup();
      engine.keystroke('a', screen);
      clock.advance(50);
      screen.write('a');
      engine.reconcile(screen);
      const { epoch } = engine.stats;
      engine.keystroke(key, screen);
      assert.ok(engine.stats.epoch > epoch, JSON.stringify(key));
      assert.equal(engine.stats.pending, 0, JSON.stringify(key));
    }
  });

  it('stops at the end of the line', () => {
    const { engine, screen, clock } = setup();
    screen.write('x'.repeat(17)); // cursor at column 19 of 20
    engine.keystroke('a', screen);
    clock.advance(50);
    screen.write('a');
    engine.reconcile(screen);
    engine.keystroke('b', screen);
    assert.equal(engine.stats.pending, 0, 'column 20 is past the line');
  });

  it('auto: shown above 30 ms SRTT, hidden below 20 ms, with hysteresis between', () => {
    const { engine, screen, clock } = setup('auto');
    let n = 0;
    const echo = (ms: number) => {
      const k = n++ % 2 ? 'k' : 'j';
      engine.keystroke(k, screen);
      clock.advance(ms);
      screen.write(k);
      engine.reconcile(screen);
      screen.write('\b'); // back over it: the line never fills
    };
    echo(5);
    assert.equal(engine.displaying, false);
    for (let i = 0; i < 30; i++) echo(100);
    assert.ok(engine.srtt! > 90);
    assert.equal(engine.displaying, true);
    while (engine.srtt! > 25) echo(24);
    assert.equal(engine.displaying, true, 'between 20 and 30 ms: unchanged');
    for (let i = 0; i < 40; i++) echo(2);
    assert.equal(engine.displaying, false);
    while (engine.srtt! < 25) echo(28);
    assert.equal(engine.displaying, false, 'between 20 and 30 ms: unchanged');
  });

  it('never predicts in `never` or on the alternate screen', () => {
    const { engine, screen } = setup('never');
    engine.keystroke('a', screen);
    assert.equal(engine.stats.pending, 0);
    engine.mode = 'always';
    screen.altScreen = true;
    engine.keystroke('a', screen);
    assert.equal(engine.stats.pending, 0);
  });

  it('properties: the overlay stays in the line, never changes the screen, and is empty once the host caught up', () => {
    const key = fc.oneof(
      fc.constantFrom('a', 'b', 'z', ' ', '1', '~'),
      fc.constantFrom('\x7f', '\x1b[D', '\x1b[C', '\r', '\x03'),
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(key, fc.boolean(), fc.nat(200)), { maxLength: 60 }), (steps) => {
        const { engine, screen, clock } = setup('always');
        /** The host's line editor: what it echoes for each key (or nothing, echo off). */
        const host = { col: 2, echo: true };
        const backlog: string[] = [];
        for (const [k, echoOn, delay] of steps) {
          const before = JSON.stringify(screen);
          engine.keystroke(k, screen);
          assert.equal(JSON.stringify(screen), before);
          host.echo = echoOn;
          let out = '';
          if (k.length === 1 && k >= ' ' && k <= '~') {
            if (host.col < screen.cols) {
              out = host.echo ? k : '';
              host.col++;
            }
          } else if (k === '\x7f' && host.col > 2) {
            out = host.echo ? '\b \b' : '';
            host.col--;
          } else if (k === '\r') {
            out = '\r\n$ ';
            host.col = 2;
          }
          // When echo is off the cursor still has to move as the host would, so model that as well.
          if (!host.echo && out === '' && k.length === 1 && k >= ' ' && k <= '~') out = '\x1b-skip';
          backlog.push(out);
          clock.advance(delay);
          if (delay > 100) {
            for (const o of backlog.splice(0)) {
              if (o === '\x1b-skip') screen.cursorCol = Math.min(screen.cols, screen.cursorCol + 1);
              else screen.write(o);
            }
          }
          const snapshot = JSON.stringify(screen);
          engine.reconcile(screen);
          assert.equal(JSON.stringify(screen), snapshot);
          for (const c of engine.overlay()) assert.ok(c.col >= 0 && c.col < screen.cols);
        }
        for (const o of backlog.splice(0)) {
          if (o === '\x1b-skip') screen.cursorCol = Math.min(screen.cols, screen.cursorCol + 1);
          else screen.write(o);
        }
        clock.advance(engine.timeout() + 1);
        engine.reconcile(screen);
        // Caught up and past every deadline: nothing predicted is left over the real screen.
        assert.deepEqual(engine.overlay(), []);
        assert.equal(engine.stats.pending, 0);
      }),
      { numRuns: 300 },
    );
  });
});
