/**
 * The key bar above the soft keyboard: the keys a phone keyboard lacks
 * (Esc, Tab, Shift+Tab, arrows, Home/End, PgUp/PgDn, `|~/-`), paste, and
 * the Ctrl and Alt modifiers. A modifier has three states: off → one-shot
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
  { id: 'dash', label: '-', send: () => '-' },
  { id: 'paste', label: 'Paste' },
  { id: 'left', label: '←', aria: 'Left', send: (m, a) => cursorKey('D', m, a) },
  { id: 'down', label: '↓', aria: 'Down', send: (m, a) => cursorKey('B', m, a) },
  { id: 'right', label: '→', aria: 'Right', send: (m, a) => cursorKey('C', m, a) },
  { id: 'pgdn', label: 'PgDn', send: (m) => tildeKey(6, m) },
];

export interface KeyBarOptions {
  /** Sends input to the terminal. */
  send: (data: string) => void;
  /** Pastes text (bracketed when the program asked for it). */
  paste: (text: string) => void;
  modes: () => KeyModes;
  /** Reads the clipboard (the browser may ask the person first). */
  readClipboard?: () => Promise<string>;
}

export class KeyBar {
  readonly el: HTMLElement;
  ctrl: ModState = 'off';
  alt: ModState = 'off';
  readonly #o: KeyBarOptions;
  readonly #buttons = new Map<string, HTMLButtonElement>();

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
      this.el.append(b);
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
    if (key.id === 'paste') {
      const read = this.#o.readClipboard ?? (() => navigator.clipboard.readText());
      read().then(
        (text) => text && this.#o.paste(text),
        () => {},
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
