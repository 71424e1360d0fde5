/**
 * Predictive local echo, as mosh does it (src/frontend/terminaloverlay.cc,
 * `PredictionEngine`): on a slow link a printable key is shown at once, as
 * an overlay cell over the real screen, and taken away when the host's echo
 * confirms it or contradicts it. Pure: no DOM, no Node, the clock injected;
 * the web client (an overlay layer over xterm.js) and `pocketshell connect`
 * (underlined cells drawn on the local tty over a headless mirror) both
 * drive it through a read-only `ScreenView` of the real screen.
 *
 * The rules (docs/web.md, "Predictive echo"):
 * - Each printable ASCII key predicts its glyph at the predicted cursor,
 *   which then moves right; backspace predicts a blank one cell left; left
 *   and right arrows move the predicted cursor. Anything else (Enter, a
 *   control key, another escape sequence, non-ASCII, a paste of more than
 *   `MAX_TYPED` characters, the end of the line) predicts nothing and makes
 *   prediction tentative: a new epoch starts.
 * - Predictions of an epoch are shown only once one of them is confirmed
 *   (mosh's `confirmed_epoch`), so the first key after Enter is never shown
 *   ahead: it waits for the host, which then vouches for the ones after it.
 * - A prediction is confirmed when the real screen shows its glyph in its
 *   cell; it is contradicted when the cell shows something that is neither
 *   the glyph nor what was there when the key was typed, or when no
 *   confirmation came within `timeout()` (max(250 ms, 2·SRTT + 100 ms)): a
 *   password prompt with echo off. A contradiction kills its epoch and all
 *   later ones — every prediction removed, the real screen shown — and
 *   prediction becomes tentative again.
 * - Rows are absolute (scrollback lines above the screen + row), so a
 *   prediction stays on its line when the screen scrolls.
 * - SRTT is the key-to-confirmation time, smoothed like TCP (1/8). In `auto`
 *   predictions are shown when SRTT rises above 30 ms and hidden when it
 *   falls below 20 ms (mosh's hysteresis); `always` shows them on any link,
 *   `never` predicts nothing. On the alternate screen nothing is predicted.
 */

/** The user's choice: predictions shown on slow links only, always, or never. */
export const PREDICT_MODES = ['auto', 'always', 'never'] as const;
export type PredictMode = (typeof PREDICT_MODES)[number];

/** Whether `value` names a prediction mode (argv, stored settings). */
export function isPredictMode(value: unknown): value is PredictMode {
  return typeof value === 'string' && (PREDICT_MODES as readonly string[]).includes(value);
}

/** SRTT above which `auto` shows predictions (ms). */
export const SHOW_ABOVE_MS = 30;
/** SRTT below which `auto` hides them again (ms). */
export const HIDE_BELOW_MS = 20;
/** A key event longer than this (characters) is a paste: not predicted. */
export const MAX_TYPED = 8;
/** The least time a prediction waits for its confirmation (ms). */
export const MIN_TIMEOUT_MS = 250;

/** A read-only view of the real screen (the client's terminal emulator). */
export interface ScreenView {
  readonly cols: number;
  /** The cursor's absolute row (lines of scrollback above the screen + its row on screen). */
  readonly cursorRow: number;
  readonly cursorCol: number;
  /** True on the alternate screen buffer (a full-screen program): nothing is predicted there. */
  readonly altScreen: boolean;
  /** The glyph at an absolute row and a column; a blank cell is `' '`. */
  cell(row: number, col: number): string;
}

/**
 * What `xtermView` reads of a terminal: the buffer API xterm.js and
 * @xterm/headless share (structural, so this package depends on neither).
 */
export interface XtermLike {
  readonly cols: number;
  readonly buffer: {
    readonly active: {
      readonly type: string;
      readonly baseY: number;
      readonly cursorX: number;
      readonly cursorY: number;
      getLine(row: number): { getCell(col: number): { getChars(): string } | undefined } | undefined;
    };
  };
}

/** The real screen of an xterm.js terminal (web) or headless mirror (`connect`), rows absolute. */
export function xtermView(term: XtermLike): ScreenView {
  return {
    get cols() {
      return term.cols;
    },
    get cursorRow() {
      const b = term.buffer.active;
      return b.baseY + b.cursorY;
    },
    get cursorCol() {
      return term.buffer.active.cursorX;
    },
    get altScreen() {
      return term.buffer.active.type === 'alternate';
    },
    cell(row, col) {
      return term.buffer.active.getLine(row)?.getCell(col)?.getChars() || ' ';
    },
  };
}

/** One predicted cell to draw over the real screen. */
export interface OverlayCell {
  /** Absolute row (as `ScreenView.cursorRow`). */
  readonly row: number;
  readonly col: number;
  readonly ch: string;
}

interface Prediction {
  row: number;
  col: number;
  ch: string;
  /** What the real cell held when the key was typed. */
  before: string;
  /** When the key was typed (the injected clock, ms). */
  at: number;
  epoch: number;
}

export interface PredictionEngineOptions {
  mode?: PredictMode;
  /** Milliseconds, monotonic (`performance.now`). */
  now: () => number;
}

/** Right and left arrow, normal and application cursor mode. */
const ARROW_RIGHT = new Set(['\x1b[C', '\x1bOC']);
const ARROW_LEFT = new Set(['\x1b[D', '\x1bOD']);

export class PredictionEngine {
  #mode: PredictMode;
  readonly #now: () => number;
  #predictions: Prediction[] = [];
  #epoch = 0;
  /** The newest epoch one of whose predictions the host confirmed. */
  #confirmedEpoch = -1;
  /** Where the next key lands; undefined: at the real cursor. */
  #cursor: { row: number; col: number } | undefined;
  #srtt: number | undefined;
  /** `auto`'s trigger, with hysteresis. */
  #slow = false;
  #confirmed = 0;
  #killed = 0;

  constructor(options: PredictionEngineOptions) {
    this.#mode = options.mode ?? 'auto';
    this.#now = options.now;
  }

  get mode(): PredictMode {
    return this.#mode;
  }

  set mode(mode: PredictMode) {
    this.#mode = mode;
    if (mode === 'never') this.#clear();
  }

  /** Smoothed key-to-echo time (ms), once one prediction was confirmed. */
  get srtt(): number | undefined {
    return this.#srtt;
  }

  /** True when confirmed-epoch predictions are drawn (by mode and, in `auto`, by SRTT). */
  get displaying(): boolean {
    return this.#mode === 'always' || (this.#mode === 'auto' && this.#slow);
  }

  /** Counters for tests and the debug probe. */
  get stats(): { pending: number; confirmed: number; killed: number; epoch: number } {
    return {
      pending: this.#predictions.length,
      confirmed: this.#confirmed,
      killed: this.#killed,
      epoch: this.#epoch,
    };
  }

  /** How long a prediction waits for its confirmation (ms). */
  timeout(): number {
    return Math.max(MIN_TIMEOUT_MS, 2 * (this.#srtt ?? 0) + 100);
  }

  /** The earliest time a pending prediction times out, or undefined when none is pending. */
  nextDeadline(): number | undefined {
    let first: number | undefined;
    for (const p of this.#predictions) if (first === undefined || p.at < first) first = p.at;
    return first === undefined ? undefined : first + this.timeout();
  }

  /** What the user typed (a key event's data, before it is sent), against the screen as shown now. */
  keystroke(data: string, screen: ScreenView): void {
    if (this.#mode === 'never') return;
    if (screen.altScreen) {
      this.#clear();
      return;
    }
    if (ARROW_RIGHT.has(data) || ARROW_LEFT.has(data)) {
      const at = this.#at(screen);
      const col = at.col + (ARROW_RIGHT.has(data) ? 1 : -1);
      if (col < 0 || col >= screen.cols) this.#tentative();
      else this.#cursor = { row: at.row, col };
      return;
    }
    if (data.length > MAX_TYPED || data.includes('\x1b')) {
      this.#tentative();
      return;
    }
    for (const ch of data) {
      const code = ch.charCodeAt(0);
      if (code >= 0x20 && code <= 0x7e && ch.length === 1) {
        const at = this.#at(screen);
        // mosh stops at the end of the line: where the glyph goes next is the program's choice.
        if (at.col >= screen.cols) {
          this.#tentative();
          continue;
        }
        this.#predict(at.row, at.col, ch, screen);
        this.#cursor = { row: at.row, col: at.col + 1 };
      } else if (code === 0x7f || code === 0x08) {
        const at = this.#at(screen);
        if (at.col === 0 || at.col > screen.cols) {
          this.#tentative();
          continue;
        }
        this.#predict(at.row, at.col - 1, ' ', screen);
        this.#cursor = { row: at.row, col: at.col - 1 };
      } else this.#tentative();
    }
  }

  /**
   * Checks every pending prediction against the real screen — call it after
   * the host's output is parsed, and at `nextDeadline()`. Returns true when
   * what `overlay()` shows may have changed.
   */
  reconcile(screen: ScreenView): boolean {
    if (this.#predictions.length === 0) return false;
    if (screen.altScreen) {
      this.#clear();
      return true;
    }
    const now = this.#now();
    const timeout = this.timeout();
    let changed = false;
    for (const p of [...this.#predictions]) {
      if (!this.#predictions.includes(p)) continue; // killed with its epoch by an earlier one
      const real = screen.cell(p.row, p.col);
      if (real === p.ch) {
        this.#remove(p);
        this.#confirmed++;
        if (p.epoch > this.#confirmedEpoch) this.#confirmedEpoch = p.epoch;
        // A blank, or a glyph that was already there, says nothing about the link.
        if (p.ch !== ' ' && p.before !== p.ch) this.#sample(now - p.at);
        changed = true;
      } else if (real !== p.before || now - p.at > timeout) {
        this.#kill(p.epoch);
        changed = true;
      }
    }
    if (this.#predictions.length === 0) this.#cursor = undefined;
    return changed;
  }

  /** The cells to draw over the real screen now (empty when not displaying). */
  overlay(): OverlayCell[] {
    if (!this.displaying) return [];
    return this.#predictions
      .filter((p) => p.epoch <= this.#confirmedEpoch)
      .map(({ row, col, ch }) => ({ row, col, ch }));
  }

  /**
   * Where the cursor is predicted to be, when predicted cells are drawn (a
   * client may draw a cursor there: the real one is under the first of them).
   */
  cursor(): { row: number; col: number } | undefined {
    if (this.#cursor === undefined || this.overlay().length === 0) return undefined;
    return { ...this.#cursor };
  }

  /** Forgets every prediction (a new channel, a reset screen, a resize). */
  reset(): void {
    this.#clear();
  }

  #at(screen: ScreenView): { row: number; col: number } {
    return this.#cursor ?? { row: screen.cursorRow, col: screen.cursorCol };
  }

  #predict(row: number, col: number, ch: string, screen: ScreenView): void {
    const old = this.#predictions.find((p) => p.row === row && p.col === col);
    if (old) this.#remove(old);
    this.#predictions.push({
      row,
      col,
      ch,
      before: old?.before ?? screen.cell(row, col),
      at: this.#now(),
      epoch: this.#epoch,
    });
  }

  #remove(p: Prediction): void {
    const i = this.#predictions.indexOf(p);
    if (i >= 0) this.#predictions.splice(i, 1);
  }

  #sample(ms: number): void {
    this.#srtt = this.#srtt === undefined ? ms : this.#srtt + (ms - this.#srtt) / 8;
    if (this.#srtt > SHOW_ABOVE_MS) this.#slow = true;
    else if (this.#srtt < HIDE_BELOW_MS) this.#slow = false;
  }

  /** A misprediction: this epoch and every later one go, the real screen shows. */
  #kill(epoch: number): void {
    const before = this.#predictions.length;
    this.#predictions = this.#predictions.filter((p) => p.epoch < epoch);
    this.#killed += before - this.#predictions.length;
    this.#tentative();
  }

  #tentative(): void {
    this.#epoch++;
    this.#cursor = undefined;
  }

  #clear(): void {
    this.#predictions = [];
    this.#tentative();
  }
}
