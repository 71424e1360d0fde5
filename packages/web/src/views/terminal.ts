/**
 * The terminal screen: a full-height xterm.js (WebGL renderer on a real
 * GPU, xterm's DOM renderer otherwise), the key bar, font size by pinch or buttons,
 * a settings sheet (font size and family, colour theme; kept per device),
 * links opened on tap, copy on selection, paste with a typed fallback when
 * the clipboard is refused, keys typed while disconnected queued (bounded)
 * and sent on resume, and the connection's life shown: the indicator, the
 * banner that says why an attempt failed or that the session ended. The
 * connection itself (attach, backoff, wake, presence, its state table) is
 * `TerminalConnection`, which this screen drives: it gives it the browser's
 * wake signals (`visibilitychange`, `online`, a network change) and draws
 * each channel's output, the snapshot first. Predictive echo
 * (`PredictOverlay`) draws typed keys ahead of the host's echo on a slow
 * link. The route carries the session id, so a reload reattaches the same
 * session.
 */

import {
  isPredictMode,
  LINK_PATHS,
  type LinkPath,
  linkPathLabel,
  type PredictMode,
} from '@pocketshell/protocol';
import { FitAddon } from '@xterm/addon-fit';
import { WebLinksAddon } from '@xterm/addon-web-links';
import { WebglAddon } from '@xterm/addon-webgl';
import { Terminal } from '@xterm/xterm';
import type { App } from '../app.ts';
import { exitMessage } from '../exit-message.ts';
import { takeFirstInput } from '../first-input.ts';
import { InputQueue } from '../input-queue.ts';
import { KeyBar } from '../keybar.ts';
import { PredictOverlay } from '../predict-overlay.ts';
import type { TermChannel } from '../term-channel.ts';
import { FONTS, PREDICT_LABELS, type TermSettings, THEMES, termTheme } from '../term-settings.ts';
import { TerminalConnection, type TermState } from '../terminal-connection.ts';
import { h, sheet, toast } from '../ui.ts';
import { sessionMute } from './session-mute.ts';

/** ESC c: a full reset (screen, scrollback, modes), as `Terminal.reset()` does. */
const RIS = Uint8Array.of(0x1b, 0x63);

const LABELS: Record<TermState, string> = {
  connecting: 'Connecting…',
  p2p: 'Peer-to-peer',
  turn: 'TURN relay',
  relay: 'Through the relay (end-to-end)',
  reconnecting: 'Reconnecting…',
  offline: 'Host offline',
  elsewhere: 'Open in another tab · Use here',
  ended: 'Session ended',
};

/** A failed connection attempt in the person's words (the host's hangup reason is an error code). */
export function whyNoConnection(message: string): string {
  const reason = /^host hung up: (.+)$/.exec(message)?.[1];
  if (reason === undefined) return message;
  if (reason === 'timeout')
    return 'the connection did not complete in time (timeout): a network or relay between you may be holding it back';
  if (reason === 'limit_reached') return 'the computer has too many connections open (limit_reached)';
  if (reason === 'host offline') return 'the computer went offline';
  return `the computer refused the connection (${reason})`;
}

const MIN_FONT = 9;
const MAX_FONT = 28;

/**
 * Whether WebGL runs on a real GPU. Software GL (SwiftShader, llvmpipe) is
 * slower than xterm's DOM renderer and mis-sizes its canvas on high-DPI
 * screens, so there the DOM renderer is used.
 */
function hardwareWebgl(): boolean {
  const gl = document.createElement('canvas').getContext('webgl2');
  if (!gl) return false;
  const info = gl.getExtension('WEBGL_debug_renderer_info');
  const renderer = info ? String(gl.getParameter(info.UNMASKED_RENDERER_WEBGL)) : '';
  gl.getExtension('WEBGL_lose_context')?.loseContext();
  return !/swiftshader|llvmpipe|softpipe|software/i.test(renderer);
}

/**
 * xterm.js 6 syncs its scrollbar (VS Code's scrollable element: dimensions,
 * position, reveal and hide timers) on every line the buffer scrolls — under
 * a flood that is over a third of the parser's time. The screen is drawn
 * once per animation frame, so the scrollbar is synced once per frame too:
 * a scroll-driven sync (no explicit position) is deferred to the next frame
 * and coalesced. Internal API, guarded: if it is not there, nothing changes.
 */
function coalesceViewportSync(term: Terminal): void {
  const viewport = (term as unknown as { _core?: { _viewport?: { _sync?: (ydisp?: number) => void } } })._core
    ?._viewport;
  const sync = viewport?._sync;
  if (!viewport || typeof sync !== 'function') return;
  let queued = false;
  viewport._sync = (ydisp?: number) => {
    if (ydisp !== undefined) return sync.call(viewport, ydisp);
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => {
      queued = false;
      sync.call(viewport);
    });
  };
}

/** The browser's signals to retry at once: the page shown again, the network back or changed. */
function browserWakeSignals(wake: () => void): () => void {
  const netInfo = (navigator as Navigator & { connection?: EventTarget }).connection;
  document.addEventListener('visibilitychange', wake);
  window.addEventListener('online', wake);
  netInfo?.addEventListener('change', wake);
  return () => {
    document.removeEventListener('visibilitychange', wake);
    window.removeEventListener('online', wake);
    netInfo?.removeEventListener('change', wake);
  };
}

export function terminalView(app: App, [hostId, target]: string[]): () => void {
  const host = app.device.host(hostId ?? '');
  if (!host) {
    app.go('#/hosts', true);
    return () => {};
  }
  let disposed = false;
  /** The session attached (for muting its alerts from the settings sheet). */
  let liveSession: string | undefined;
  const cleanups: (() => void)[] = [];
  /** What another screen left to type first in a new session (the Files screen's "Open a terminal here"). */
  let firstInput = target === undefined || target === 'new' ? takeFirstInput(host.id) : undefined;

  const indicator = h(
    'span',
    { class: 'conn', 'data-testid': 'conn', 'data-state': 'connecting' },
    LABELS.connecting,
  );
  const pendingEl = h('div', {
    class: 'pending',
    'data-testid': 'pending-input',
    role: 'status',
    hidden: true,
  });
  const settingsButton = h(
    'button',
    {
      class: 'icon-button',
      type: 'button',
      'aria-label': 'Terminal settings',
      'data-testid': 'term-settings',
    },
    '⚙',
  );
  const fontDown = h('button', { class: 'icon-button', type: 'button', 'aria-label': 'Smaller text' }, 'A−');
  const fontUp = h('button', { class: 'icon-button', type: 'button', 'aria-label': 'Larger text' }, 'A+');
  const termEl = h('div', { class: 'term', 'data-testid': 'terminal' });
  const banner = h('div', { class: 'banner', 'data-testid': 'term-banner', hidden: true });
  const wrap = h('div', { class: 'term-wrap' }, termEl);
  const settings: TermSettings = { fontSize: 14, font: 'system', theme: 'auto', predict: 'auto' };
  const term = new Terminal({
    fontSize: settings.fontSize,
    fontFamily: FONTS.system.stack,
    theme: termTheme(settings.theme),
    scrollback: 5000,
    cursorBlink: false,
    allowProposedApi: false,
    macOptionIsMeta: true,
  });
  const conn = new TerminalConnection<TermChannel>({
    host: host.id,
    target: target ?? 'new',
    device: app.device,
    size: () => ({ cols: term.cols, rows: term.rows }),
    visible: () => document.visibilityState !== 'hidden',
    wakeOn: browserWakeSignals,
  });
  // Predictive echo: typed keys drawn over the screen ahead of the host's echo on a slow link.
  const predict = new PredictOverlay(term, settings.predict);
  const fit = new FitAddon();
  term.loadAddon(fit);
  // Links open only when tapped or clicked, in a new tab that cannot reach back to this one.
  term.loadAddon(
    new WebLinksAddon((event, uri) => {
      if (event.button !== 0 || !/^https?:\/\//i.test(uri)) return;
      window.open(uri, '_blank', 'noopener,noreferrer');
    }),
  );
  // Keys typed while no channel is open wait here (bounded) for the next one.
  const queue = new InputQueue();
  /** True while the banner offers the queued keys to a new session (it says so instead). */
  let offered = false;
  const showPending = () => {
    pendingEl.hidden = offered || (queue.size === 0 && queue.dropped === 0);
    pendingEl.textContent =
      queue.dropped > 0
        ? `${queue.size} B typed, waiting for the connection; ${queue.dropped} B not kept (queue full)`
        : `${queue.size} B typed, sent when the connection is back`;
  };
  const send = (data: string) => {
    const chan = conn.channel;
    if (chan?.live) {
      predict.keystroke(data);
      chan.write(data);
      return;
    }
    queue.push(data);
    showPending();
  };
  const pasteFallback = () => {
    const field = h('textarea', {
      class: 'paste-field',
      rows: 4,
      autofocus: true,
      'aria-label': 'Text to paste',
      'data-testid': 'paste-field',
    });
    const { result } = sheet({
      title: 'Paste',
      testid: 'paste-sheet',
      content: [
        h(
          'p',
          { class: 'muted' },
          'This browser did not allow reading the clipboard. Paste into the field below (long-press, Paste), then send it.',
        ),
        field,
      ],
      actions: [
        { label: 'Cancel', value: 'cancel' },
        { label: 'Send to terminal', value: 'send', kind: 'primary', testid: 'paste-send' },
      ],
    });
    void result.then((v) => {
      if (v === 'send' && field.value) term.paste(field.value);
      term.focus();
    });
  };
  const keybar = new KeyBar({
    send,
    paste: (text) => term.paste(text),
    modes: () => term.modes,
    onPasteRefused: pasteFallback,
  });
  const screen = h(
    'div',
    { class: 'screen term-screen' },
    h(
      'header',
      { class: 'bar' },
      h('a', { class: 'icon-button', href: `#/host/${host.id}`, 'aria-label': 'Back' }, '‹'),
      h('h1', {}, host.name),
      indicator,
      fontDown,
      fontUp,
      settingsButton,
    ),
    wrap,
    pendingEl,
    banner,
    keybar.el,
  );
  app.root.replaceChildren(screen);
  document.body.classList.add('term-mode');
  term.open(termEl);
  coalesceViewportSync(term);
  cleanups.push(() => predict.dispose());
  if (hardwareWebgl()) {
    try {
      const gl = new WebglAddon();
      gl.onContextLoss(() => gl.dispose());
      term.loadAddon(gl);
    } catch {
      // WebGL refused after all: xterm keeps its DOM renderer.
    }
  }

  // Another tab of this browser took the connection (the device's peer cap): a tap takes it back.
  indicator.addEventListener('click', () => {
    if (conn.state === 'elsewhere') conn.reattach();
  });
  conn.on('state', (next) => {
    indicator.dataset.state = next;
    if (next === 'elsewhere') indicator.setAttribute('role', 'button');
    else indicator.removeAttribute('role');
    // Which path (docs/transport.md): "TURN/TCP relay" says how far the network let us.
    const path = conn.path;
    indicator.dataset.path = next === 'p2p' || next === 'turn' || next === 'relay' ? path : '';
    indicator.textContent =
      next === 'turn' && (LINK_PATHS as readonly string[]).includes(path)
        ? `${linkPathLabel(path as LinkPath)} relay`
        : LABELS[next];
  });

  // ------------------------------------------------------------ layout
  const refit = () => {
    if (disposed) return;
    try {
      fit.fit();
    } catch {
      return;
    }
    term.scrollToBottom();
  };
  const vv = window.visualViewport;
  const onViewport = () => {
    // The soft keyboard shrinks the visual viewport: size the screen to it so the cursor line stays visible.
    if (vv) document.documentElement.style.setProperty('--app-height', `${Math.round(vv.height)}px`);
    requestAnimationFrame(refit);
  };
  vv?.addEventListener('resize', onViewport);
  cleanups.push(() => vv?.removeEventListener('resize', onViewport));
  onViewport();
  const ro = new ResizeObserver(() => refit());
  ro.observe(wrap);
  cleanups.push(() => ro.disconnect());
  term.onResize(({ cols, rows }) => {
    predict.reset();
    conn.channel?.resize(cols, rows);
  });

  // ------------------------------------------------------------ font size
  const setFont = (size: number) => {
    const next = Math.max(MIN_FONT, Math.min(MAX_FONT, Math.round(size)));
    if (next === term.options.fontSize) return;
    term.options.fontSize = next;
    settings.fontSize = next;
    refit();
    void app.store.setSetting('fontSize', next);
  };
  const applySettings = () => {
    term.options.fontFamily = FONTS[settings.font].stack;
    const colors = termTheme(settings.theme);
    term.options.theme = colors;
    // The padding around the grid takes the terminal's background (CSSOM: allowed by the CSP).
    wrap.style.background = colors.background ?? '';
    wrap.dataset.theme = settings.theme;
    refit();
  };
  void Promise.all([
    app.store.setting<number>('fontSize'),
    app.store.setting<string>('fontFamily'),
    app.store.setting<string>('theme'),
    app.store.setting<string>('predictiveEcho'),
  ]).then(([size, font, themeId, predictMode]) => {
    if (disposed) return;
    if (isPredictMode(predictMode)) {
      settings.predict = predictMode;
      predict.mode = predictMode;
    }
    if (typeof font === 'string' && Object.hasOwn(FONTS, font)) settings.font = font as TermSettings['font'];
    if (typeof themeId === 'string' && Object.hasOwn(THEMES, themeId))
      settings.theme = themeId as TermSettings['theme'];
    applySettings();
    if (typeof size === 'number') setFont(size);
  });
  const openSettings = () => {
    const fontSelect = h(
      'select',
      { 'data-testid': 'setting-font', 'aria-label': 'Font' },
      ...Object.entries(FONTS).map(([id, f]) =>
        h('option', { value: id, selected: id === settings.font }, f.label),
      ),
    );
    const themeSelect = h(
      'select',
      { 'data-testid': 'setting-theme', 'aria-label': 'Theme' },
      ...Object.entries(THEMES).map(([id, t]) =>
        h('option', { value: id, selected: id === settings.theme }, t.label),
      ),
    );
    const predictSelect = h(
      'select',
      { 'data-testid': 'setting-predict', 'aria-label': 'Predictive echo' },
      ...Object.entries(PREDICT_LABELS).map(([id, label]) =>
        h('option', { value: id, selected: id === settings.predict }, label),
      ),
    );
    predictSelect.addEventListener('change', () => {
      const mode = predictSelect.value as PredictMode;
      settings.predict = mode;
      predict.mode = mode;
      void app.store.setSetting('predictiveEcho', mode);
    });
    const sizeValue = h(
      'output',
      { class: 'size-value', 'data-testid': 'setting-size' },
      String(settings.fontSize),
    );
    const step = (d: number) => {
      setFont(settings.fontSize + d);
      sizeValue.textContent = String(settings.fontSize);
    };
    fontSelect.addEventListener('change', () => {
      settings.font = fontSelect.value as TermSettings['font'];
      applySettings();
      void app.store.setSetting('fontFamily', settings.font);
    });
    themeSelect.addEventListener('change', () => {
      settings.theme = themeSelect.value as TermSettings['theme'];
      applySettings();
      void app.store.setSetting('theme', settings.theme);
    });
    const mute = sessionMute(app, host.id, liveSession);
    const { result } = sheet({
      title: 'Terminal settings',
      testid: 'settings-sheet',
      content: [
        h(
          'div',
          { class: 'setting' },
          h('span', { class: 'label' }, 'Text size'),
          h(
            'span',
            { class: 'stepper' },
            h(
              'button',
              { class: 'icon-button', type: 'button', 'aria-label': 'Smaller', onclick: () => step(-1) },
              '−',
            ),
            sizeValue,
            h(
              'button',
              { class: 'icon-button', type: 'button', 'aria-label': 'Larger', onclick: () => step(1) },
              '+',
            ),
          ),
        ),
        h('label', { class: 'setting' }, h('span', { class: 'label' }, 'Font'), fontSelect),
        h('label', { class: 'setting' }, h('span', { class: 'label' }, 'Theme'), themeSelect),
        h('label', { class: 'setting' }, h('span', { class: 'label' }, 'Predictive echo'), predictSelect),
        h('p', { class: 'muted' }, 'Kept on this device.'),
        mute.el,
      ],
      actions: [{ label: 'Done', value: 'done', kind: 'primary', testid: 'settings-done' }],
    });
    void result.then(() => {
      mute.close();
      term.focus();
    });
  };
  settingsButton.addEventListener('click', openSettings);
  fontDown.addEventListener('click', () => setFont((term.options.fontSize ?? 14) - 1));
  fontUp.addEventListener('click', () => setFont((term.options.fontSize ?? 14) + 1));
  let pinch: { dist: number; size: number } | undefined;
  const distance = (t: TouchList) => Math.hypot(t[0]!.clientX - t[1]!.clientX, t[0]!.clientY - t[1]!.clientY);
  wrap.addEventListener(
    'touchstart',
    (e) => {
      if (e.touches.length === 2) pinch = { dist: distance(e.touches), size: term.options.fontSize ?? 14 };
    },
    { passive: true },
  );
  wrap.addEventListener(
    'touchmove',
    (e) => {
      if (pinch && e.touches.length === 2) setFont((pinch.size * distance(e.touches)) / pinch.dist);
    },
    { passive: true },
  );
  wrap.addEventListener('touchend', () => (pinch = undefined));

  // ------------------------------------------------------------ input and copy
  term.onData((data) => send(keybar.transform(data)));
  let copyTimer: ReturnType<typeof setTimeout> | undefined;
  term.onSelectionChange(() => {
    clearTimeout(copyTimer);
    copyTimer = setTimeout(() => {
      const text = term.getSelection();
      if (!text) return;
      navigator.clipboard?.writeText(text).then(
        () => toast('Copied'),
        () => {},
      );
    }, 400);
  });
  cleanups.push(() => clearTimeout(copyTimer));
  const mq = matchMedia('(prefers-color-scheme: dark)');
  const onScheme = () => applySettings();
  mq.addEventListener('change', onScheme);
  cleanups.push(() => mq.removeEventListener('change', onScheme));

  // ------------------------------------------------------------ connection life
  type BannerAction = { label: string; run: () => void };
  const showBanner = (text: string | null, ...actions: BannerAction[]) => {
    banner.hidden = text === null;
    delete banner.dataset.code;
    banner.replaceChildren(
      ...(text === null
        ? []
        : [
            h('span', {}, text),
            h(
              'span',
              { class: 'banner-actions' },
              ...actions.map((a) =>
                h('button', { class: 'button small', type: 'button', onclick: a.run }, a.label),
              ),
            ),
          ]),
    );
  };

  const flushQueue = () => {
    const data = queue.take();
    offered = false;
    showPending();
    if (data) conn.channel?.write(data);
  };
  // The session changed (the old one is gone): what was typed for it is not sent unasked.
  const offerQueue = () => {
    offered = true;
    showPending();
    showBanner(
      `${queue.size} B typed while disconnected were not sent: this is a new session.`,
      {
        label: 'Send',
        run: () => {
          showBanner(null);
          flushQueue();
        },
      },
      {
        label: 'Discard',
        run: () => {
          showBanner(null);
          queue.take();
          offered = false;
          showPending();
        },
      },
    );
  };

  // Each channel's output, the snapshot first, from the moment it is opened.
  conn.on('opening', (c) => {
    // The reset travels in band, in the same write as the snapshot's first bytes, so
    // no frame is drawn blank between them (screen sync repaints many times a second).
    let resetPending = false;
    c.on('attached', (a) => {
      predict.reset();
      resetPending = true;
      if (a.snapshot === 0) {
        resetPending = false;
        term.write(RIS);
      }
    });
    c.on('data', ({ bytes, snapshot, consumed }) => {
      // Acknowledged once xterm.js has parsed it: the host's window bounds what waits here.
      // Then predictive echo checks its cells against what the host sent.
      const parsed = () => {
        consumed();
        predict.reconcile();
      };
      if (resetPending && snapshot) {
        resetPending = false;
        const withReset = new Uint8Array(RIS.length + bytes.length);
        withReset.set(RIS, 0);
        withReset.set(bytes, RIS.length);
        term.write(withReset, parsed);
      } else term.write(bytes, parsed);
    });
    c.on('title', (t) => (document.title = t ? `${t} — PocketShell` : 'PocketShell'));
  });
  conn.on('gone', () => {
    term.reset();
    toast('That session is gone; started a new one.');
  });
  conn.on('live', ({ channel, session, sameSession }) => {
    liveSession = session;
    app.rewrite(`#/t/${host.id}/${encodeURIComponent(session)}`);
    showBanner(null);
    refit();
    channel.resize(term.cols, term.rows);
    if (firstInput !== undefined) {
      channel.write(firstInput);
      firstInput = undefined;
    }
    if (queue.size > 0) {
      if (sameSession) flushQueue();
      else offerQueue();
    }
  });
  conn.on('failed', (error) => {
    console.warn(`pocketshell: attaching failed (${error.message}); retrying`);
    // Say why: a host that hangs up, or a relay that drops or forges signaling, is not silent.
    showBanner(`Cannot connect to ${host.name}: ${whyNoConnection(error.message)}. Retrying…`);
    banner.dataset.code = (error as { code?: string }).code ?? 'internal';
  });
  conn.on('exit', ({ code, reason }) => {
    showBanner(exitMessage(code, reason), {
      label: 'New session',
      run: () => app.go(`#/t/${host.id}/new`, true),
    });
  });

  // For the debug hook (the browser tests, the benchmark): before the first channel opens.
  app.probe({ term, element: termEl, connection: conn, settings: () => settings, predict });

  conn.start();
  term.focus();

  return () => {
    disposed = true;
    for (const c of cleanups) c();
    conn.dispose();
    conn.removeAllListeners();
    term.dispose();
    document.body.classList.remove('term-mode');
    document.title = 'PocketShell';
    app.probe(undefined);
  };
}
