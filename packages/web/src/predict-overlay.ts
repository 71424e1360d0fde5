/**
 * Predictive echo on the web terminal: the protocol's `PredictionEngine`
 * reading xterm.js's buffer, its predictions drawn as a layer of
 * absolutely positioned, underlined cells over `.xterm-screen` — never
 * written into the terminal, so the real buffer (what the host sent) stays
 * exact and a misprediction is repaired by removing a span. The engine is
 * told each key before it is sent, checks its predictions after each write
 * xterm.js has parsed, and at its next deadline (a password prompt whose
 * echo never comes).
 */
import {
  type OverlayCell,
  PredictionEngine,
  type PredictMode,
  type ScreenView,
  xtermView,
} from '@pocketshell/protocol';
import type { Terminal } from '@xterm/xterm';

export class PredictOverlay {
  readonly engine: PredictionEngine;
  readonly #term: Terminal;
  readonly #view: ScreenView;
  readonly #layer: HTMLDivElement;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #drawn = '';

  constructor(term: Terminal, mode: PredictMode) {
    this.#term = term;
    this.#view = xtermView(term);
    this.engine = new PredictionEngine({ mode, now: () => performance.now() });
    this.#layer = document.createElement('div');
    this.#layer.className = 'predict-layer';
    this.#layer.dataset.testid = 'predict-overlay';
    this.#layer.setAttribute('aria-hidden', 'true');
    term.onScroll(() => this.#draw());
  }

  set mode(mode: PredictMode) {
    this.engine.mode = mode;
    this.#draw();
  }

  /** A key the user typed, just before it is sent. */
  keystroke(data: string): void {
    this.engine.keystroke(data, this.#view);
    this.#draw();
    this.#arm();
  }

  /** Host output has been parsed into the buffer. */
  reconcile(): void {
    if (this.engine.reconcile(this.#view)) this.#draw();
    this.#arm();
  }

  /** A new screen (snapshot, reset, resize): every prediction goes. */
  reset(): void {
    this.engine.reset();
    this.#draw();
    this.#arm();
  }

  dispose(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#layer.remove();
  }

  /** The cells drawn now, as text (for the debug hook). */
  shown(): OverlayCell[] {
    return this.engine.overlay();
  }

  #arm(): void {
    clearTimeout(this.#timer);
    const deadline = this.engine.nextDeadline();
    this.#timer =
      deadline === undefined
        ? undefined
        : setTimeout(() => this.reconcile(), Math.max(0, deadline - performance.now()) + 1);
  }

  #draw(): void {
    const term = this.#term;
    const cells = this.engine.overlay();
    const cursor = this.engine.cursor();
    const viewportY = term.buffer.active.viewportY;
    const key = `${viewportY}|${term.cols}x${term.rows}|${cursor?.row},${cursor?.col}|${cells.map((c) => `${c.row},${c.col},${c.ch}`).join(';')}`;
    if (key === this.#drawn) return;
    this.#drawn = key;
    // Into xterm.js's screen element (there once `term.open` ran), above its canvas or rows.
    const screen = term.element?.querySelector<HTMLElement>('.xterm-screen');
    if (screen && this.#layer.parentElement !== screen) screen.append(this.#layer);
    if (!screen || cells.length === 0) {
      this.#layer.replaceChildren();
      return;
    }
    const w = screen.clientWidth / term.cols;
    const h = screen.clientHeight / term.rows;
    const theme = term.options.theme ?? {};
    const spans: HTMLElement[] = [];
    for (const c of cells) {
      const y = c.row - viewportY;
      if (y < 0 || y >= term.rows) continue;
      const span = document.createElement('span');
      span.className = 'predicted';
      span.textContent = c.ch;
      const s = span.style;
      s.left = `${c.col * w}px`;
      s.top = `${y * h}px`;
      s.width = `${w}px`;
      s.height = `${h}px`;
      s.lineHeight = `${h}px`;
      s.fontFamily = term.options.fontFamily ?? 'monospace';
      s.fontSize = `${term.options.fontSize ?? 14}px`;
      if (theme.background) s.background = theme.background;
      if (theme.foreground) s.color = theme.foreground;
      spans.push(span);
    }
    // The cursor where the keys put it (the real one is under the first predicted cell).
    if (
      cursor &&
      cursor.col < term.cols &&
      cursor.row - viewportY >= 0 &&
      cursor.row - viewportY < term.rows
    ) {
      const span = document.createElement('span');
      span.className = 'predicted-cursor';
      const s = span.style;
      s.left = `${cursor.col * w}px`;
      s.top = `${(cursor.row - viewportY) * h}px`;
      s.width = `${w}px`;
      s.height = `${h}px`;
      s.background = theme.cursor ?? theme.foreground ?? 'currentColor';
      spans.push(span);
    }
    this.#layer.replaceChildren(...spans);
  }
}
