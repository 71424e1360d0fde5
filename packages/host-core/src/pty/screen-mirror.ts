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
import { planFastForward } from './fast-forward.ts';

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

/**
 * Output faster than this many bytes per `FLOOD_WINDOW_MS` is a flood: it is
 * handed to the parser in batches, at most `FLOOD_WINDOW_MS` apart, and each
 * batch is fast-forwarded (fast-forward.ts). Slower output — typing, prompts,
 * most commands — goes to the parser as it comes.
 */
const FLOOD_BYTES = 64 * 1024;
const FLOOD_WINDOW_MS = 30;
/** A batch is handed on at once when it reaches this size. */
const BATCH_MAX = 256 * 1024;

/** A piece of output waiting in a batch, with when it was read. */
interface Piece {
  readonly bytes: Uint8Array;
  readonly at: number;
}

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
  readonly #scrollback: number;
  #received = 0;
  /** Bytes handed to the parser (or fast-forwarded); the rest wait in `#batch`. */
  #handed = 0;
  #parsed = 0;
  #batch: Piece[] = [];
  #batchBytes = 0;
  /** Whether the bytes before the batch ended outside any escape sequence or UTF-8 character. */
  #batchClean = true;
  #batchTimer: NodeJS.Timeout | undefined;
  /** A batch is being fed: its first part is with the parser, the rest waits for the state check. */
  #feeding = false;
  #windowStart = 0;
  #windowBytes = 0;
  #skipped = 0;
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
    this.#scrollback = opts.scrollback;
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

  /**
   * Bytes handed to the parser that it has not finished yet (a flood's
   * batch, bounded by itself, not counted): what backpressure on the PTY
   * looks at.
   */
  get lag(): number {
    return this.#handed - this.#parsed;
  }

  /** Bytes of plain-text floods the parser never had to see (fast-forward.ts). */
  get skipped(): number {
    return this.#skipped;
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
    const now = performance.now();
    if (now - this.#windowStart > FLOOD_WINDOW_MS) {
      this.#windowStart = now;
      this.#windowBytes = 0;
    }
    this.#windowBytes += chunk.length;
    if (this.#batch.length > 0 || this.#feeding || this.#windowBytes > FLOOD_BYTES) {
      if (this.#batch.length === 0) {
        this.#batchClean = incompleteTail(this.#tail) === 0;
        this.#armBatch();
      }
      this.#received += chunk.length;
      this.#keepTail(chunk);
      this.#batch.push({ bytes: chunk, at });
      this.#batchBytes += chunk.length;
      if (this.#batchBytes >= BATCH_MAX) this.#flushBatch();
      return;
    }
    this.#received += chunk.length;
    this.#keepTail(chunk);
    this.#feed(chunk, at);
  }

  /** Hands `bytes` to the parser; `#parsed` moves past them (and anything fast-forwarded before) once done. */
  #feed(bytes: Uint8Array, at: number, done?: () => void): void {
    this.#handed += bytes.length;
    const end = this.#handed;
    this.#stamps.push(at);
    this.#term.write(bytes, () => {
      this.#stamps.shift();
      this.#parsed = end;
      done?.();
      this.#wake();
      this.#progress?.();
    });
  }

  /**
   * Hands the waiting batch to the parser, leaving out the plain run
   * `planFastForward` finds when the parser, once it reaches the run, is on
   * the normal screen with no scroll region. New output waits in a new batch
   * until that is decided, so the order of bytes is kept.
   */
  #flushBatch(): void {
    if (this.#feeding || this.#batch.length === 0 || this.#disposed) return;
    clearTimeout(this.#batchTimer);
    this.#batchTimer = undefined;
    const pieces = this.#batch;
    const clean = this.#batchClean;
    this.#batch = [];
    this.#batchBytes = 0;
    const bytes = pieces.length === 1 ? pieces[0]!.bytes : joined(pieces);
    const total = bytes.length;
    const plan = planFastForward(bytes, this.#scrollback + 2 * this.#term.rows, clean);
    if (!plan) {
      for (const p of pieces) this.#feed(p.bytes, p.at);
      return;
    }
    this.#feeding = true;
    const stamp = (offset: number) => {
      let at = 0;
      let pos = 0;
      for (const p of pieces) {
        at = p.at;
        pos += p.bytes.length;
        if (pos > offset) break;
      }
      return at;
    };
    this.#feedRange(pieces, 0, plan.start, () => {
      this.#feeding = false;
      if (this.#disposed) return;
      if (this.#plainScreen()) {
        this.#handed += plan.end - plan.start;
        this.#skipped += plan.end - plan.start;
        if (plan.pen.length > 0) {
          // Its bytes were counted above; the pen's own bytes are not output of their own.
          this.#handed -= plan.pen.length;
          this.#feed(plan.pen, stamp(plan.end));
        }
        this.#feedRange(pieces, plan.end, total);
      } else this.#feedRange(pieces, plan.start, total);
      if (this.#batch.length === 0) return;
      if (this.#waiters.length > 0 || this.#batchBytes >= BATCH_MAX) this.#flushBatch();
      else this.#armBatch();
    });
  }

  /** Hands the batch on `FLOOD_WINDOW_MS` from now (unless it goes sooner). */
  #armBatch(): void {
    this.#batchTimer ??= setTimeout(() => {
      this.#batchTimer = undefined;
      this.#flushBatch();
    }, FLOOD_WINDOW_MS);
  }

  /** Feeds bytes `[from, to)` of the batch `pieces`, piece by piece (keeping when each was read). */
  #feedRange(pieces: readonly Piece[], from: number, to: number, done?: () => void): void {
    let pos = 0;
    let last: [Uint8Array, number] | undefined;
    for (const p of pieces) {
      const s = Math.max(from, pos);
      const e = Math.min(to, pos + p.bytes.length);
      if (e > s) {
        if (last) this.#feed(last[0], last[1]);
        last = [p.bytes.subarray(s - pos, e - pos), p.at];
      }
      pos += p.bytes.length;
    }
    if (last) this.#feed(last[0], last[1], done);
    else done?.();
  }

  /** The normal screen, no scroll region: rows leave through the top into the scrollback. */
  #plainScreen(): boolean {
    const buffer = this.#term.buffer.active;
    if (buffer.type !== 'normal') return false;
    // xterm.js keeps the scroll region on its core buffer (not in the public API); unknown means no.
    const core = (
      this.#term as unknown as { _core?: { buffer?: { scrollTop?: unknown; scrollBottom?: unknown } } }
    )._core?.buffer;
    return core?.scrollTop === 0 && core.scrollBottom === this.#term.rows - 1;
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
    else {
      this.#waiters.push(fn);
      this.#flushBatch();
    }
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
    clearTimeout(this.#batchTimer);
    this.#batch = [];
    this.#waiters = [];
    this.#stamps = [];
    this.#term.dispose();
  }

  #wake(): void {
    if (this.#waiters.length === 0) return;
    if (this.#parsed !== this.#received) {
      if (this.#parsed === this.#handed) this.#flushBatch();
      return;
    }
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

/**
 * One buffer the batches are joined in for planning (only read while
 * planning; the parser is fed the pieces themselves), kept for the next
 * instead of a new one per batch: each allocation freed through a flood
 * leaves glibc's heap a little larger afterwards.
 */
let joinBuffer = new Uint8Array(0);

function joined(pieces: readonly Piece[]): Uint8Array {
  let size = 0;
  for (const p of pieces) size += p.bytes.length;
  if (joinBuffer.length < size) joinBuffer = new Uint8Array(Math.max(size, BATCH_MAX + 64 * 1024));
  let at = 0;
  for (const p of pieces) {
    joinBuffer.set(p.bytes, at);
    at += p.bytes.length;
  }
  return joinBuffer.subarray(0, size);
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
