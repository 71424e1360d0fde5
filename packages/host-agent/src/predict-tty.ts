/**
 * Predictive echo for `pocketshell connect`, mosh-style on a real tty: the
 * protocol's `PredictionEngine` reads a local headless mirror of the remote
 * screen (`@xterm/headless`, fed the same bytes as the tty), and its
 * predictions are drawn into the tty itself, underlined — a tty has no
 * layer to draw over. What was drawn is remembered, and taken away before
 * each piece of host output is written (and whenever the overlay changes)
 * by redrawing those cells from the mirror, attributes included: the mirror
 * then equals what the tty shows under the predictions, since nothing but
 * the predictions was written since. Each drawing is wrapped in DECSC/DECRC
 * (cursor and attributes saved and restored), so the host's cursor and
 * rendition are untouched. Predictions are drawn only while the mirror has
 * parsed everything written (`@xterm/headless` parses asynchronously).
 */
import { PredictionEngine, type PredictMode, type ScreenView, xtermView } from '@pocketshell/protocol';
import type { IBufferCell, Terminal } from '@xterm/headless';

const SAVE = '\x1b7';
const RESTORE = '\x1b8';

/** The SGR that gives a mirror cell's rendition (from a reset). */
export function cellSgr(cell: IBufferCell): string {
  const p: (string | number)[] = [0];
  if (cell.isBold()) p.push(1);
  if (cell.isDim()) p.push(2);
  if (cell.isItalic()) p.push(3);
  if (cell.isUnderline()) p.push(4);
  if (cell.isBlink()) p.push(5);
  if (cell.isInverse()) p.push(7);
  if (cell.isInvisible()) p.push(8);
  if (cell.isStrikethrough()) p.push(9);
  const color = (base: number, mode: 'fg' | 'bg') => {
    const c = mode === 'fg' ? cell.getFgColor() : cell.getBgColor();
    const palette = mode === 'fg' ? cell.isFgPalette() : cell.isBgPalette();
    const rgb = mode === 'fg' ? cell.isFgRGB() : cell.isBgRGB();
    if (palette) p.push(`${base + 8};5;${c}`);
    else if (rgb) p.push(`${base + 8};2;${(c >> 16) & 0xff};${(c >> 8) & 0xff};${c & 0xff}`);
  };
  color(30, 'fg');
  color(40, 'bg');
  return `\x1b[${p.join(';')}m`;
}

export class PredictTty {
  readonly engine: PredictionEngine;
  readonly #mirror: Terminal;
  readonly #out: (data: string | Uint8Array) => void;
  readonly #now: () => number;
  readonly #view: ScreenView;
  /** Cells drawn into the tty now (absolute row, column). */
  #drawn: { row: number; col: number }[] = [];
  #pendingWrites = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  constructor(options: {
    mirror: Terminal;
    /** Writes to the tty. */
    out: (data: string | Uint8Array) => void;
    mode: PredictMode;
    /** Milliseconds, monotonic. */
    now: () => number;
  }) {
    this.#mirror = options.mirror;
    this.#out = options.out;
    this.#now = options.now;
    this.engine = new PredictionEngine({ mode: options.mode, now: options.now });
    this.#view = xtermView(this.#mirror);
  }

  /** A key typed (before it is sent). */
  keystroke(data: string): void {
    if (this.#closed || this.#pendingWrites > 0) {
      // The mirror is behind the tty: where the cursor is is not known yet.
      this.engine.reset();
      return;
    }
    this.engine.keystroke(data, this.#view);
    this.#redraw();
  }

  /** Host output: our drawing comes off, the bytes go to the tty and the mirror, then the overlay is checked. */
  output(bytes: Uint8Array): void {
    this.#erase();
    this.#out(bytes);
    this.#pendingWrites++;
    this.#mirror.write(bytes, () => {
      this.#pendingWrites--;
      if (this.#pendingWrites === 0) this.#check();
    });
  }

  /** A new screen (a snapshot follows, the tty is cleared) or a resize: every prediction goes. */
  reset(): void {
    this.#drawn = [];
    this.engine.reset();
    this.#arm();
  }

  close(): void {
    if (this.#closed) return;
    this.#erase();
    this.#closed = true;
    clearTimeout(this.#timer);
  }

  #check(): void {
    if (this.#closed) return;
    this.engine.reconcile(this.#view);
    this.#redraw();
  }

  #arm(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const deadline = this.engine.nextDeadline();
    if (deadline === undefined || this.#closed) return;
    this.#timer = setTimeout(
      () => this.#pendingWrites === 0 && this.#check(),
      Math.max(0, deadline - this.#now()) + 1,
    );
    this.#timer.unref?.();
  }

  #redraw(): void {
    this.#erase();
    const b = this.#mirror.buffer.active;
    const cells = this.engine
      .overlay()
      .filter((c) => c.row - b.baseY >= 0 && c.row - b.baseY < this.#mirror.rows);
    if (cells.length > 0) {
      let s = SAVE;
      for (const c of cells) s += `\x1b[${c.row - b.baseY + 1};${c.col + 1}H\x1b[0;4m${c.ch}`;
      this.#out(`${s}${RESTORE}`);
      this.#drawn = cells.map(({ row, col }) => ({ row, col }));
    }
    this.#arm();
  }

  /** Puts back the mirror's cells where predictions were drawn. */
  #erase(): void {
    if (this.#drawn.length === 0 || this.#closed) return;
    const b = this.#mirror.buffer.active;
    let s = SAVE;
    for (const { row, col } of this.#drawn) {
      const y = row - b.baseY;
      if (y < 0 || y >= this.#mirror.rows) continue;
      const cell = b.getLine(row)?.getCell(col);
      // An empty cell is erased (ECH, in its background), not filled with a space: the tty's cell stays empty.
      const chars = cell?.getChars() ?? '';
      s += `\x1b[${y + 1};${col + 1}H${cell ? cellSgr(cell) : '\x1b[0m'}${chars === '' ? '\x1b[X' : chars}`;
    }
    this.#out(`${s}${RESTORE}`);
    this.#drawn = [];
  }
}
