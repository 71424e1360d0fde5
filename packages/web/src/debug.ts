/**
 * The debug hook: the one place where the page shows itself to the browser
 * tests (test/browser), the Chromium benchmark and a person debugging in the
 * console. Installed by `main.ts` only (no other module imports it; a test
 * checks), and nothing in the app depends on it: without it the app behaves
 * the same.
 *
 * While a terminal screen is open, `globalThis.pocketshellTerminal` is an
 * object with: `lines()` (the buffer as text), `state()` (the connection
 * state), `session()` (the session id, as in the route), `settings()` (text
 * size, font, theme and what xterm.js applied), `cellOf(text)` (the page
 * coordinates of the last visible line with `text`), `fontSize()`, `rows()`,
 * `write(data)` (input, as typed), `detach()` / `reattach()` (drop the
 * channel without retrying, attach again) and `onOutput(listener)` (live
 * output bytes; returns the unsubscribe), `predicted()` (predictive echo:
 * the cells drawn over the screen, the SRTT, whether it displays, its
 * counters). It is assigned when the screen
 * opens and set to `undefined` when it closes (the benchmark watches the
 * assignment).
 *
 * It leaks no secret: it never touches the device store, the device key
 * pair, pairing claims, TURN credentials or the control channel. What it
 * reads — the screen's text, the session id (already in the URL), the
 * settings — is what the page shows anyway, and what it does (type, drop
 * and reattach the channel) any script of this origin could already do.
 */
import type { TerminalProbe } from './app.ts';

/** What the tests and the benchmark read of an open terminal screen. */
export interface TerminalHook {
  lines(): string[];
  state(): string;
  session(): string;
  settings(): Record<string, unknown>;
  cellOf(text: string): { x: number; y: number } | null;
  fontSize(): number | undefined;
  rows(): number;
  write(data: string): void;
  detach(): void;
  reattach(): void;
  onOutput(listener: (bytes: Uint8Array) => void): () => void;
  predicted(): {
    cells: { row: number; col: number; ch: string }[];
    srtt: number | undefined;
    displaying: boolean;
    stats: { pending: number; confirmed: number; killed: number; epoch: number };
  };
}

function terminalHook({ term, element, connection, settings, predict }: TerminalProbe): TerminalHook {
  const outputListeners = new Set<(bytes: Uint8Array) => void>();
  connection.on('opening', (c) =>
    c.on('data', ({ bytes, snapshot }) => {
      if (!snapshot) for (const l of outputListeners) l(bytes);
    }),
  );
  return {
    lines: () => {
      const b = term.buffer.active;
      const out: string[] = [];
      for (let i = 0; i < b.length; i++) out.push(b.getLine(i)?.translateToString(true) ?? '');
      return out;
    },
    state: () => connection.state,
    session: () => connection.session,
    settings: () => ({
      ...settings(),
      fontFamily: term.options.fontFamily,
      background: term.options.theme?.background,
    }),
    cellOf: (text) => {
      const b = term.buffer.active;
      const screenEl = element.querySelector('.xterm-screen');
      if (!screenEl) return null;
      const r = screenEl.getBoundingClientRect();
      for (let y = term.rows - 1; y >= 0; y--) {
        const line = b.getLine(b.viewportY + y)?.translateToString(true) ?? '';
        const x = line.indexOf(text);
        if (x < 0) continue;
        const w = r.width / term.cols;
        const hgt = r.height / term.rows;
        return { x: r.left + (x + 0.5) * w, y: r.top + (y + 0.5) * hgt };
      }
      return null;
    },
    fontSize: () => term.options.fontSize,
    rows: () => term.rows,
    write: (data) => connection.channel?.write(data),
    detach: () => connection.detach(),
    reattach: () => connection.reattach(),
    onOutput: (listener) => {
      outputListeners.add(listener);
      return () => outputListeners.delete(listener);
    },
    predicted: () => ({
      cells: predict.shown(),
      srtt: predict.engine.srtt,
      displaying: predict.engine.displaying,
      stats: predict.engine.stats,
    }),
  };
}

/** Installs the hook; returns what `App.probe` calls. */
export function installDebugHook(): (terminal: TerminalProbe | undefined) => void {
  return (terminal) => {
    Object.assign(globalThis, { pocketshellTerminal: terminal ? terminalHook(terminal) : undefined });
  };
}
