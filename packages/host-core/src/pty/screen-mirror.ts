/**
 * The screen mirror: a headless xterm.js terminal fed every byte a session's
 * PTY writes, so a new attachment can be sent the screen as it is now.
 * `received` counts bytes handed to the mirror; `parsed` counts bytes its
 * (asynchronous) parser has finished. A snapshot is only taken when the two
 * are equal, so it reflects exactly the bytes up to its offset. Bytes of an
 * escape sequence or UTF-8 character that has not finished yet have no
 * effect on the screen; they are appended raw to the snapshot so the
 * device's parser ends up in the same half-way state as ours, and the live
 * bytes from the offset complete it.
 *
 * The emulator (`@xterm/headless` and its serialize addon) loads with the
 * first mirror, not on import (src/module-graph.test.ts).
 */
import { createRequire } from 'node:module';
import type { SerializeAddon } from '@xterm/addon-serialize';
import type { Terminal } from '@xterm/headless';

/** A screen snapshot: escape sequences that redraw it, valid at `offset`. */
export interface Snapshot {
  readonly data: Uint8Array;
  readonly offset: number;
  readonly cols: number;
  readonly rows: number;
  /** The window title in force (empty when none was set). */
  readonly title: string;
}

/** A place in the mirror's buffer (`ScreenMirror.markCursor`). */
export interface CursorMark {
  /** The text from the mark to the cursor's line (wrapped lines followed), right-trimmed. */
  text(): string;
  dispose(): void;
}

/** How many trailing raw bytes are kept to finish an unfinished sequence in a snapshot. */
const TAIL_KEEP = 4096;

interface Xterm {
  readonly Terminal: typeof Terminal;
  readonly SerializeAddon: typeof SerializeAddon;
}
let xterm: Xterm | undefined;

/**
 * The emulator, loaded on first use. The sources are ES modules without a
 * `require`, so they take Node's; in the npm bundle `require` exists and
 * esbuild inlines these two literal `require`s (the emulator is bundled,
 * not installed beside it).
 */
function loadXterm(): Xterm {
  if (xterm) return xterm;
  const load = typeof require === 'function' ? undefined : createRequire(import.meta.url);
  const headless = load ? load('@xterm/headless') : require('@xterm/headless');
  const serialize = load ? load('@xterm/addon-serialize') : require('@xterm/addon-serialize');
  xterm = { Terminal: headless.Terminal, SerializeAddon: serialize.SerializeAddon };
  return xterm;
}

export class ScreenMirror {
  readonly #term: Terminal;
  readonly #serializer: SerializeAddon;
  readonly #snapshotMax: number;
  #received = 0;
  #parsed = 0;
  #tail: Uint8Array = new Uint8Array(0);
  #waiters: Array<() => void> = [];
  #progress: (() => void) | undefined;
  /** When each chunk not yet parsed was received (ms; the head is the one being parsed). */
  #stamps: number[] = [];
  #disposed = false;
  #title = '';

  constructor(opts: { cols: number; rows: number; scrollback: number; snapshotMax: number }) {
    const { Terminal, SerializeAddon } = loadXterm();
    this.#term = new Terminal({
      cols: opts.cols,
      rows: opts.rows,
      scrollback: opts.scrollback,
      allowProposedApi: true,
    });
    this.#serializer = new SerializeAddon();
    this.#term.loadAddon(this.#serializer);
    this.#term.onTitleChange((title) => {
      this.#title = safeTitle(title);
    });
    this.#snapshotMax = opts.snapshotMax;
  }

  get received(): number {
    return this.#received;
  }

  get parsed(): number {
    return this.#parsed;
  }

  /** Called with the new title whenever the program sets one. */
  onTitle(listener: (title: string) => void): void {
    this.#term.onTitleChange(listener);
  }

  /** Called whenever the program rings the bell. */
  onBell(listener: () => void): void {
    this.#term.onBell(listener);
  }

  /** Bytes received that the parser has not finished yet. */
  get lag(): number {
    return this.#received - this.#parsed;
  }

  /** Called each time the parser finishes a piece (for backpressure on the PTY). */
  onProgress(listener: () => void): void {
    this.#progress = listener;
  }

  /**
   * Feeds PTY output to the mirror; `at` is when it was read (ms since the
   * epoch), handed back by `parsingAt` while the parser is on it.
   */
  write(chunk: Uint8Array, at = 0): void {
    if (this.#disposed || chunk.length === 0) return;
    this.#received += chunk.length;
    this.#keepTail(chunk);
    this.#stamps.push(at);
    const end = this.#received;
    this.#term.write(chunk, () => {
      this.#stamps.shift();
      this.#parsed = end;
      this.#wake();
      this.#progress?.();
    });
  }

  /**
   * When the output the parser is working on was read (the `at` given to
   * `write`; 0 when none): what a parser hook (`onOsc`, `onBell`) runs for.
   */
  get parsingAt(): number {
    return this.#stamps[0] ?? 0;
  }

  /** Called with the payload of every OSC `ident` sequence (split or not), after the parser has seen it whole. */
  onOsc(ident: number, handler: (data: string) => void): void {
    this.#term.parser.registerOscHandler(ident, (data) => {
      handler(data);
      return true;
    });
  }

  /**
   * The line under the cursor up to the cursor, and whether a full-screen program has the alternate screen.
   * Meaningful from `whenCaughtUp` or a parser hook.
   */
  cursor(): { readonly before: string; readonly alternate: boolean } {
    const b = this.#term.buffer.active;
    const x = Math.min(b.cursorX, this.#term.cols);
    return {
      before: b.getLine(b.baseY + b.cursorY)?.translateToString(false, 0, x) ?? '',
      alternate: b.type === 'alternate',
    };
  }

  /**
   * Marks where the cursor is now; `text()` then reads from there to the
   * start of the cursor's line, following wrapped lines only (at most 16):
   * what was typed after a prompt. The mark follows its line as scrollback
   * is trimmed; `dispose()` frees it.
   */
  markCursor(): CursorMark {
    const term = this.#term;
    const x = Math.min(term.buffer.active.cursorX, term.cols);
    const marker = term.registerMarker(0);
    return {
      text: () => {
        const line = marker?.line ?? -1;
        if (line < 0 || this.#disposed) return '';
        const b = term.buffer.active;
        const end = b.baseY + b.cursorY;
        let out = b.getLine(line)?.translateToString(true, x) ?? '';
        for (let y = line + 1; y < end && y <= line + 16; y++) {
          const l = b.getLine(y);
          if (!l?.isWrapped) break;
          out += l.translateToString(true);
        }
        return out;
      },
      dispose: () => marker?.dispose(),
    };
  }

  /** Resizes once the bytes received so far are parsed, so the mirror sees them at the old size. */
  resize(cols: number, rows: number): void {
    this.whenCaughtUp(() => {
      if (!this.#disposed) this.#term.resize(cols, rows);
    });
  }

  /**
   * Runs `fn` synchronously at the first moment the parser has caught up
   * with everything received (now, when it already has). Whatever `fn` does
   * happens before any later byte is received.
   */
  whenCaughtUp(fn: () => void): void {
    if (this.#parsed === this.#received) fn();
    else this.#waiters.push(fn);
  }

  /**
   * The screen now; only valid when called from `whenCaughtUp`. Scrollback
   * is trimmed until the snapshot fits the mirror's `snapshotMax` (the
   * screen itself always goes, whatever its size); `screenOnly` leaves it out.
   */
  snapshot(screenOnly = false): Snapshot {
    if (this.#parsed !== this.#received) throw new Error('snapshot taken before the parser caught up');
    const pending = this.#tail.subarray(this.#tail.length - incompleteTail(this.#tail));
    const encoder = new TextEncoder();
    let scrollback: number | undefined = screenOnly ? 0 : undefined;
    let data = encoder.encode(this.#serializer.serialize(screenOnly ? { scrollback: 0 } : undefined));
    while (data.length + pending.length > this.#snapshotMax && scrollback !== 0) {
      const lines = this.#term.buffer.active.length - this.#term.rows;
      scrollback = scrollback === undefined ? Math.floor(lines / 2) : Math.floor(scrollback / 2);
      data = encoder.encode(this.#serializer.serialize({ scrollback }));
    }
    const out = new Uint8Array(data.length + pending.length);
    out.set(data, 0);
    out.set(pending, data.length);
    return {
      data: out,
      offset: this.#received,
      cols: this.#term.cols,
      rows: this.#term.rows,
      title: this.#title,
    };
  }

  /**
   * Runs a small mirror through construction, a write with styles and a
   * snapshot, then frees it: the first mirror of a process costs ≈20 ms more
   * than later ones (xterm's first terminal; measured in the holder), which
   * would otherwise land on the first session's way. Resolves when done.
   */
  static prewarm(): Promise<void> {
    const m = new ScreenMirror({ cols: 80, rows: 24, scrollback: 100, snapshotMax: 1 << 16 });
    m.write(new TextEncoder().encode('\x1b]0;t\x07\x1b[1;32mready\x1b[0m\r\n$ \u00e9'));
    return new Promise((resolve) =>
      m.whenCaughtUp(() => {
        m.snapshot();
        m.dispose();
        resolve();
      }),
    );
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#waiters = [];
    this.#stamps = [];
    this.#term.dispose();
  }

  #wake(): void {
    if (this.#parsed !== this.#received || this.#waiters.length === 0) return;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const fn of waiters) fn();
  }

  #keepTail(chunk: Uint8Array): void {
    if (chunk.length >= TAIL_KEEP) {
      this.#tail = chunk.slice(chunk.length - TAIL_KEEP);
      return;
    }
    const keep = Math.min(this.#tail.length, TAIL_KEEP - chunk.length);
    const next = new Uint8Array(keep + chunk.length);
    next.set(this.#tail.subarray(this.#tail.length - keep), 0);
    next.set(chunk, keep);
    this.#tail = next;
  }
}

/** Longest title passed on; titles are program-controlled. */
const TITLE_MAX = 256;

/** A program-set title made safe for a `title` control: no control characters or lone surrogates, capped. */
export function safeTitle(title: string): string {
  return (
    title
      // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping control characters
      .replace(/[\x00-\x08\x0a-\x1f\x7f]/g, '')
      .replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '')
      .slice(0, TITLE_MAX)
      .replace(/[\uD800-\uDBFF]$/, '')
  );
}

const ESC = 0x1b;
const BEL = 0x07;

/**
 * Length of the suffix of `bytes` that is an unfinished escape sequence or
 * UTF-8 character (0 when the stream ends at a boundary). Recognises ESC
 * sequences, CSI, and string sequences (OSC, DCS, SOS, PM, APC) ended by BEL
 * (OSC) or ST. A string sequence longer than the kept tail is not seen.
 */
export function incompleteTail(bytes: Uint8Array): number {
  const esc = bytes.lastIndexOf(ESC);
  if (esc >= 0) {
    const open = openSequenceFrom(bytes, esc);
    if (open) return bytes.length - esc;
    // An ESC that is part of a string terminator (ESC \) may close an earlier string; that is complete.
  }
  return incompleteUtf8(bytes);
}

/** True when the sequence starting at `bytes[at] === ESC` has not ended by the end of `bytes`. */
function openSequenceFrom(bytes: Uint8Array, at: number): boolean {
  const n = bytes.length;
  if (at + 1 >= n) return true;
  const kind = bytes[at + 1]!;
  if (kind === 0x5b) {
    // CSI: parameters and intermediates, then a final byte 0x40..0x7e.
    for (let i = at + 2; i < n; i++) {
      const b = bytes[i]!;
      if (b >= 0x40 && b <= 0x7e) return false;
      if (b === 0x18 || b === 0x1a) return false; // CAN/SUB abort
    }
    return true;
  }
  if (kind === 0x5d || kind === 0x50 || kind === 0x58 || kind === 0x5e || kind === 0x5f) {
    // A string sequence: ended by BEL (OSC) or ST (ESC \). The last ESC is this one, so no ST follows.
    for (let i = at + 2; i < n; i++) {
      const b = bytes[i]!;
      if ((b === BEL && kind === 0x5d) || b === 0x18 || b === 0x1a) return false;
    }
    return true;
  }
  if (kind === 0x5c) {
    // ST: closes a string opened earlier; complete.
    return false;
  }
  // ESC, intermediates 0x20..0x2f, then a final byte 0x30..0x7e.
  for (let i = at + 1; i < n; i++) {
    const b = bytes[i]!;
    if (b >= 0x30 && b <= 0x7e) return false;
    if (b < 0x20 || b > 0x2f) return false;
  }
  return true;
}

function incompleteUtf8(bytes: Uint8Array): number {
  const n = bytes.length;
  for (let back = 1; back <= Math.min(3, n); back++) {
    const b = bytes[n - back]!;
    if ((b & 0xc0) === 0x80) continue; // continuation byte: look further back
    if (b < 0x80) return 0;
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return need > back ? back : 0;
  }
  return 0;
}
