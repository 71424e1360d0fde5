/**
 * The key bar above the soft keyboard: the keys a phone keyboard lacks
 * (Esc, Tab, Shift+Tab, arrows, Home/End, PgUp/PgDn, `|~/`), paste, and
 * the Ctrl and Alt modifiers; `Fn` turns to a second page with F1–F12 (as
 * xterm sends them, modifiers included) and `-`. A modifier has three states: off → one-shot
 * (applies to the next key, typed or tapped) → locked (until tapped again)
 * → off. Keys keep the focus where it was, so the soft keyboard stays up.
 * `transform` applies the modifiers to typed input; it is pure given the
 * modifier state, and the bar's tests drive it through the page.
 */
import { h } from './ui.ts';

export type ModState = 'off' | 'once' | 'locked';

/** xterm's view of the terminal modes the keys depend on. */
export interface KeyModes {
  applicationCursorKeysMode: boolean;
}

const CSI = '\x1b[';

/** The sequence of a cursor-style key (`A` up … `H` home) with a modifier code (1 = none). */
function cursorKey(final: string, mod: number, app: boolean): string {
  if (mod > 1) return `${CSI}1;${mod}${final}`;
  return app ? `\x1bO${final}` : `${CSI}${final}`;
}

function tildeKey(code: number, mod: number): string {
  return mod > 1 ? `${CSI}${code};${mod}~` : `${CSI}${code}~`;
}

/** xterm's F1–F12: SS3 P–S for F1–F4 (CSI 1;mod P–S with a modifier), CSI n~ for F5–F12. */
export function functionKey(n: number, mod = 1): string {
  if (n >= 1 && n <= 4) {
    const final = 'PQRS'[n - 1]!;
    return mod > 1 ? `${CSI}1;${mod}${final}` : `\x1bO${final}`;
  }
  const codes = [15, 17, 18, 19, 20, 21, 23, 24];
  const code = codes[n - 5];
  if (code === undefined) throw new RangeError(`functionKey: F${n}`);
  return tildeKey(code, mod);
}

/** Ctrl applied to one typed character, or null when it has no control form. */
export function ctrlOf(ch: string): string | null {
  if (ch.length !== 1) return null;
  const c = ch.toLowerCase().charCodeAt(0);
  if (c >= 0x61 && c <= 0x7a) return String.fromCharCode(c - 0x60);
  const map: Record<string, number> = {
    '@': 0,
    ' ': 0,
    '[': 27,
    '\\': 28,
    ']': 29,
    '^': 30,
    _: 31,
    '?': 127,
    '2': 0,
    '3': 27,
    '4': 28,
    '5': 29,
    '6': 30,
    '7': 31,
    '8': 127,
  };
  const v = map[ch];
  return v === undefined ? null : String.fromCharCode(v);
}

interface KeyDef {
  id: string;
  label: string;
  aria?: string;
  /** Input to send given the modifier code and the cursor mode. */
  send?: (mod: number, app: boolean) => string;
}

const KEYS: KeyDef[] = [
  { id: 'esc', label: 'Esc', send: () => '\x1b' },
  { id: 'tab', label: 'Tab', send: () => '\t' },
  { id: 'shift-tab', label: '⇧Tab', aria: 'Shift+Tab', send: () => `${CSI}Z` },
  { id: 'ctrl', label: 'Ctrl' },
  { id: 'alt', label: 'Alt' },
  { id: 'home', label: 'Home', send: (m, a) => cursorKey('H', m, a) },
  { id: 'up', label: '↑', aria: 'Up', send: (m, a) => cursorKey('A', m, a) },
  { id: 'end', label: 'End', send: (m, a) => cursorKey('F', m, a) },
  { id: 'pgup', label: 'PgUp', send: (m) => tildeKey(5, m) },
  { id: 'pipe', label: '|', send: () => '|' },
  { id: 'tilde', label: '~', send: () => '~' },
  { id: 'slash', label: '/', send: () => '/' },
  { id: 'fn', label: 'Fn', aria: 'Function keys' },
  { id: 'paste', label: 'Paste' },
  { id: 'left', label: '←', aria: 'Left', send: (m, a) => cursorKey('D', m, a) },
  { id: 'down', label: '↓', aria: 'Down', send: (m, a) => cursorKey('B', m, a) },
  { id: 'right', label: '→', aria: 'Right', send: (m, a) => cursorKey('C', m, a) },
  { id: 'pgdn', label: 'PgDn', send: (m) => tildeKey(6, m) },
  ...Array.from({ length: 12 }, (_, i) => ({
    id: `f${i + 1}`,
    label: `F${i + 1}`,
    send: (m: number) => functionKey(i + 1, m),
  })),
  { id: 'dash', label: '-', send: () => '-' },
];

/** The two pages of the bar, in grid order; Esc, Ctrl, Alt, Paste and Fn are on both. */
const PAGES: readonly (readonly string[])[] = [
  ['esc', 'tab', 'shift-tab', 'ctrl', 'alt', 'home', 'up', 'end', 'pgup'].concat([
    'pipe',
    'tilde',
    'slash',
    'fn',
    'paste',
    'left',
    'down',
    'right',
    'pgdn',
  ]),
  ['esc', 'f1', 'f2', 'f3', 'f4', 'f5', 'f6', 'f7', 'f8'].concat([
    'f9',
    'f10',
    'f11',
    'f12',
    'ctrl',
    'alt',
    'dash',
    'paste',
    'fn',
  ]),
];

export interface KeyBarOptions {
  /** Sends input to the terminal. */
  send: (data: string) => void;
  /** Pastes text (bracketed when the program asked for it). */
  paste: (text: string) => void;
  modes: () => KeyModes;
  /** Reads the clipboard (the browser may ask the person first). */
  readClipboard?: () => Promise<string>;
  /** The clipboard could not be read (refused, or no clipboard API here). */
  onPasteRefused?: () => void;
}

export class KeyBar {
  readonly el: HTMLElement;
  ctrl: ModState = 'off';
  alt: ModState = 'off';
  readonly #o: KeyBarOptions;
  readonly #buttons = new Map<string, HTMLButtonElement>();
  /** The page shown: 0 = main keys, 1 = F1–F12. */
  page = 0;

  constructor(options: KeyBarOptions) {
    this.#o = options;
    this.el = h('div', {
      class: 'keybar',
      role: 'toolbar',
      'aria-label': 'Terminal keys',
      'data-testid': 'keybar',
    });
    for (const key of KEYS) {
      const b = h(
        'button',
        {
          type: 'button',
          class: `key key-${key.id}`,
          'data-key': key.id,
          'aria-label': key.aria ?? key.label,
        },
        key.label,
      );
      // Keep the focus (and the soft keyboard) where it is.
      const keep = (e: Event) => e.preventDefault();
      b.addEventListener('pointerdown', keep);
      b.addEventListener('mousedown', keep);
      b.addEventListener('click', () => this.#press(key));
      this.#buttons.set(key.id, b);
    }
    this.#showPage(0);
  }

  /** Shows one page; only its keys are in the bar (each key exists once). */
  #showPage(page: number): void {
    this.page = page;
    this.el.dataset.page = String(page + 1);
    this.el.replaceChildren(...(PAGES[page] ?? []).map((id) => this.#buttons.get(id)!));
    const fn = this.#buttons.get('fn');
    if (fn) {
      fn.dataset.state = page === 1 ? 'locked' : 'off';
      fn.setAttribute('aria-pressed', page === 1 ? 'true' : 'false');
    }
  }

  #modCode(): number {
    return 1 + (this.alt !== 'off' ? 2 : 0) + (this.ctrl !== 'off' ? 4 : 0);
  }

  #consume(): void {
    if (this.ctrl === 'once') this.ctrl = 'off';
    if (this.alt === 'once') this.alt = 'off';
    this.#render();
  }

  #cycle(state: ModState): ModState {
    return state === 'off' ? 'once' : state === 'once' ? 'locked' : 'off';
  }

  #press(key: KeyDef): void {
    if (key.id === 'ctrl') {
      this.ctrl = this.#cycle(this.ctrl);
      this.#render();
      return;
    }
    if (key.id === 'alt') {
      this.alt = this.#cycle(this.alt);
      this.#render();
      return;
    }
    if (key.id === 'fn') {
      this.#showPage(this.page === 0 ? 1 : 0);
      return;
    }
    if (key.id === 'paste') {
      const read = this.#o.readClipboard ?? (() => navigator.clipboard.readText());
      // No clipboard API (an insecure origin) throws at once; a refusal rejects.
      Promise.resolve()
        .then(read)
        .then(
          (text) => text && this.#o.paste(text),
          () => this.#o.onPasteRefused?.(),
        );
      return;
    }
    if (!key.send) return;
    const mod = this.#modCode();
    const seq = key.send(mod, this.#o.modes().applicationCursorKeysMode);
    // Single characters go through the modifiers like typed ones.
    this.#o.send(seq.length === 1 && key.id !== 'esc' && key.id !== 'tab' ? this.transform(seq, false) : seq);
    this.#consume();
  }

  /** Applies the active modifiers to typed input (and consumes one-shots). */
  transform(data: string, consume = true): string {
    if (this.ctrl === 'off' && this.alt === 'off') return data;
    let out = data;
    if (this.ctrl !== 'off') out = ctrlOf(data) ?? data;
    if (this.alt !== 'off') out = `\x1b${out}`;
    if (consume) this.#consume();
    return out;
  }

  #render(): void {
    for (const [id, state] of [
      ['ctrl', this.ctrl],
      ['alt', this.alt],
    ] as const) {
      const b = this.#buttons.get(id);
      if (!b) continue;
      b.dataset.state = state;
      b.setAttribute('aria-pressed', state === 'off' ? 'false' : 'true');
    }
  }
}
