/**
 * Fast-forwarding the screen mirror through a flood of plain text
 * (docs/host.md "The screen mirror under a flood").
 *
 * A headless terminal keeps `rows` lines on screen and `scrollback` lines
 * above them; older lines are dropped. When a batch of output holds a run of
 * plain lines followed by at least `scrollback + 2 × rows` more lines, the
 * run cannot be seen in the final screen or scrollback however it is parsed:
 * every row it writes is pushed out of the kept history by the lines after
 * it. Parsing it is wasted work — at a `cat` of a log, most of the mirror's
 * CPU. `planFastForward` finds such a run so the mirror can leave it out.
 *
 * What makes leaving it out exact (the mirror's tests compare screens with
 * and without it, byte for byte):
 *
 * - the run starts and ends right after a CR LF, in the parser's ground
 *   state: the cursor is in column 0, no wrap is pending, no UTF-8
 *   character or escape sequence is open, on both sides of the cut;
 * - the run holds only printable text, tabs, CR, LF, DEL, UTF-8 (no C1
 *   controls), SGR sequences (`CSI … m`, which change the pen: they are kept
 *   and fed, in order) and erase-in-line (`CSI K`, which only changes rows
 *   that are dropped) — nothing that changes modes, margins, tab stops,
 *   character sets, the title, or rings the bell;
 * - the mirror checks, when the parser reaches the run, that the normal
 *   screen is active with no scroll region (rows leave through the top into
 *   the scrollback); otherwise it feeds the run;
 * - the lines after the run number at least `scrollback + 2 × rows`: one
 *   screen for the cursor to reach the bottom in either case (the run would
 *   have moved it there), one screen of rows that may differ because the
 *   run's rows are not there to overwrite, and the whole scrollback above —
 *   all of which the following lines push out.
 */

/** How a batch can be fed: bytes `[0, start)` as they are, the pen changes of `[start, end)`, then `[end, …)`. */
export interface FastForward {
  /** First byte of the run left out (right after a CR LF). */
  readonly start: number;
  /** First byte after the run (right after a CR LF). */
  readonly end: number;
  /** The run's SGR sequences, in order: fed in its place so the pen ends as it would have. */
  readonly pen: Uint8Array;
}

/** Smallest run worth leaving out. */
const MIN_RUN = 4096;

const ESC = 0x1b;
const CR = 0x0d;
const LF = 0x0a;

/**
 * The run of `bytes` the mirror can leave out, or `undefined`. `lines` is the
 * number of line feeds that must follow the run (`scrollback + 2 × rows`);
 * `clean` says the bytes before `bytes` ended in the ground state (no
 * escape sequence or UTF-8 character open) — when not, nothing is left out.
 */
export function planFastForward(bytes: Uint8Array, lines: number, clean: boolean): FastForward | undefined {
  if (!clean || bytes.length < MIN_RUN) return undefined;
  const end = tailStart(bytes, lines);
  if (end < MIN_RUN) return undefined;
  // Forward: where the last run of allowed bytes that reaches `end` starts.
  let start = -1;
  let pens: Array<[number, number]> = [];
  let i = 0;
  while (i < end) {
    const b = bytes[i]!;
    if ((b >= 0x20 && b < 0x7f) || b === 0x09 || b === 0x7f) {
      i++;
      continue;
    }
    if (b === LF) {
      if (start < 0 && i > 0 && bytes[i - 1] === CR) {
        start = i + 1;
        pens = [];
      }
      i++;
      continue;
    }
    if (b === CR) {
      i++;
      continue;
    }
    if (b >= 0x80) {
      // UTF-8: a lead byte C2 with 80–9F encodes a C1 control (CSI, OSC, …), which changes the parser's state.
      if (b === 0xc2 && i + 1 < bytes.length && bytes[i + 1]! >= 0x80 && bytes[i + 1]! <= 0x9f)
        return undefined;
      i++;
      continue;
    }
    if (b === ESC) {
      const seq = escapeAt(bytes, i);
      if (seq.next < 0) return undefined; // open past the batch's end: nothing is known after it
      if (seq.kind === 'sgr') pens.push([i, seq.next]);
      else if (seq.kind !== 'erase') start = -1;
      i = seq.next;
      continue;
    }
    // Any other C0 control (BEL, BS, SO, SI, VT, FF, …).
    start = -1;
    i++;
  }
  if (start < 0 || end - start < MIN_RUN) return undefined;
  let size = 0;
  // `pens` was emptied when the run started: every colour change in it is inside the run.
  for (const [s, e] of pens) size += e - s;
  const pen = new Uint8Array(size);
  let at = 0;
  for (const [s, e] of pens) {
    pen.set(bytes.subarray(s, e), at);
    at += e - s;
  }
  return { start, end, pen };
}

/**
 * The latest offset right after a CR LF with at least `lines` line feeds
 * after it; -1 when there is none.
 */
function tailStart(bytes: Uint8Array, lines: number): number {
  let count = 0;
  let i = bytes.length - 1;
  for (;;) {
    const lf = bytes.lastIndexOf(LF, i);
    if (lf < 1) return -1;
    if (count >= lines && bytes[lf - 1] === CR) return lf + 1;
    count++;
    i = lf - 1;
  }
}

type Sequence = { kind: 'sgr' | 'erase' | 'other'; next: number };

/**
 * The escape sequence at `bytes[at] === ESC`: an SGR (`CSI` digits, `;`,
 * `:`, then `m`), an erase in line (`CSI` 0–2 `K`), or anything else; `next`
 * is the offset after it, -1 when it does not end inside `bytes`. String
 * sequences (OSC, DCS, SOS, PM, APC) end at BEL (OSC) or ST; CAN and SUB
 * abort any sequence.
 */
function escapeAt(bytes: Uint8Array, at: number): Sequence {
  const n = bytes.length;
  if (at + 1 >= n) return { kind: 'other', next: -1 };
  const kind = bytes[at + 1]!;
  if (kind === 0x5b) {
    let plain = true;
    let erase = true;
    for (let i = at + 2; i < n; i++) {
      const b = bytes[i]!;
      if (b >= 0x40 && b <= 0x7e) {
        if (b === 0x6d && plain) return { kind: 'sgr', next: i + 1 };
        if (b === 0x4b && erase && i - at <= 3) return { kind: 'erase', next: i + 1 };
        return { kind: 'other', next: i + 1 };
      }
      if (b === 0x18 || b === 0x1a) return { kind: 'other', next: i + 1 };
      if (b === ESC) return { kind: 'other', next: i };
      if (!((b >= 0x30 && b <= 0x39) || b === 0x3b || b === 0x3a)) plain = false;
      if (b < 0x30 || b > 0x32) erase = false;
    }
    return { kind: 'other', next: -1 };
  }
  if (kind === 0x5d || kind === 0x50 || kind === 0x58 || kind === 0x5e || kind === 0x5f) {
    for (let i = at + 2; i < n; i++) {
      const b = bytes[i]!;
      if ((b === 0x07 && kind === 0x5d) || b === 0x18 || b === 0x1a) return { kind: 'other', next: i + 1 };
      if (b === ESC) {
        // ST ends the string; ESC and anything else ends it and starts a sequence of its own.
        if (i + 1 >= n) return { kind: 'other', next: -1 };
        return { kind: 'other', next: bytes[i + 1] === 0x5c ? i + 2 : i };
      }
    }
    return { kind: 'other', next: -1 };
  }
  // ESC, intermediates 0x20–0x2f, then a final byte 0x30–0x7e.
  for (let i = at + 1; i < n; i++) {
    const b = bytes[i]!;
    if (b >= 0x30 && b <= 0x7e) return { kind: 'other', next: i + 1 };
    if (b < 0x20 || b > 0x2f) return { kind: 'other', next: i };
  }
  return { kind: 'other', next: -1 };
}
