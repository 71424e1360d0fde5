/**
 * The terminal benchmark's Chromium columns: one `pocketshell-relay` process
 * serving the built web client, one `pocketshell daemon run` process on a
 * chosen WebRTC engine (`POCKETSHELL_ENGINE`), and the web client in
 * headless Chromium (phone emulation, xterm.js) paired to it, all on
 * loopback. Everything is measured in the page with performance.now() on
 * the page's own live terminal output (the `pocketshellTerminal.onOutput`
 * debug tap: bytes as they come off the data channel, before xterm.js
 * renders them), the same way test/bench/measure.ts does it for the Node
 * client:
 *
 * - connect to first shell byte: from the terminal screen starting (route
 *   `#/t/<host>/new`) to the new shell's first live output byte, which takes
 *   the signed offer/answer through the relay, ICE, DTLS, the data channels
 *   and a new PTY. Cold is the first one after pairing (no WebRTC connection
 *   to the host yet in this page). Warm: the page leaves the terminal
 *   screen, closes its WebRTC connection to the host (the control data
 *   channel, which makes the client hang up and close the peer connection),
 *   waits until it is closed, and opens `#/t/<host>/new` again — a new peer
 *   connection and a new session, the relay connection staying up, as the
 *   Node client's warm connects do; the median of 4.
 * - throughput: `cat` of a file then a marker, bytes counted from the first
 *   output byte.
 * - echo: one `x` echoed by readline per sample, p50/p99.
 * - Ctrl-C to prompt under `yes`: `yes` for 1 s, then ^C to the prompt
 *   marker (PS1), median of 3.
 * - idle: the daemon's RSS and CPU over 5 s with the page's session open.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DAEMON_NODE_FLAGS } from '@pocketshell/host-agent';
import type { StartedRelay } from '@pocketshell/relay/testing';
import type { Page } from 'playwright-core';
import { idle } from '../bench/measure.ts';
import { POCKETSHELL, startReadyDaemon, until } from '../support/cli.ts';
import { browserAvailable, buildWeb, launchPhone, type Phone, startWebRelay } from './harness.ts';

export type BenchEngine = 'werift' | 'node-datachannel';

export interface ChromiumBenchOptions {
  engine: BenchEngine;
  /** The text file to `cat` for throughput. */
  file: string;
  /** A scratch folder (the daemon's state goes under it). */
  work: string;
  /** Extra environment for the daemon and its shells (TERM, HOME, SHELL…). */
  env?: Record<string, string>;
  /** Build the web client first (default true; false when the caller built it already). */
  build?: boolean;
  echoSamples?: number;
  warmConnects?: number;
  /** Whether to measure the daemon's idle RSS/CPU (5 s). Default true. */
  idle?: boolean;
}

export interface ChromiumFigures {
  engine: BenchEngine;
  chromium: string;
  /**
   * `stream`: the end marker came in the live stream (bytes counted as they
   * arrived); `screen`: the host switched this link to screen sync and the
   * marker was first seen on the screen — the time until the final screen
   * was shown, over the file's size (what the user waited for).
   */
  tput: { bytes: number; seconds: number; mbps: number; mode: 'stream' | 'screen' };
  echo: { p50: number; p99: number; mean: number };
  connectCold: number;
  connectWarm: number;
  connectWarmAll: number[];
  ctrl: number;
  ctrlAll: number[];
  idle: { rssMiB: number; cpuPercent: number } | null;
}

export { browserAvailable };

const PROMPT = '__PR__';

/** One pairing code from the daemon (`pocketshell pair --yes` accepts by itself). */
async function pairingUrl(psEnv: Record<string, string>): Promise<{ url: string; done: Promise<unknown> }> {
  const pair = spawn(process.execPath, [POCKETSHELL, 'pair', '--yes', '--grants', 'shell'], {
    env: { ...process.env, ...psEnv },
  });
  let out = '';
  pair.stdout.on('data', (d: Buffer) => (out += d));
  await until(() => /http:\/\/\S+#\/pair\/1\/\S+/.test(out), 20_000, 20);
  return {
    url: /http:\/\/\S+#\/pair\/1\/\S+/.exec(out)![0],
    done: new Promise((r) => pair.on('exit', r)),
  };
}

/**
 * Runs in every document before the app: records the peer connections and
 * their data channels (so the bench can hang up), and taps each terminal
 * screen as it is created (its start time and its first live output byte).
 */
function initScript(): void {
  interface Tap {
    onOutput(l: (b: Uint8Array) => void): () => void;
  }
  const g = globalThis as unknown as Record<string, unknown>;
  const pcs: RTCPeerConnection[] = [];
  const channels: RTCDataChannel[] = [];
  g.__psPeers = pcs;
  g.__psChannels = channels;
  const Native = globalThis.RTCPeerConnection;
  const createDataChannel = Native.prototype.createDataChannel;
  Native.prototype.createDataChannel = function (this: RTCPeerConnection, label, init) {
    const c = createDataChannel.call(this, label, init);
    channels.push(c);
    return c;
  };
  globalThis.RTCPeerConnection = new Proxy(Native, {
    construct(target, args, newTarget) {
      const pc = Reflect.construct(target, args, newTarget) as RTCPeerConnection;
      pcs.push(pc);
      return pc;
    },
  });
  let current: unknown;
  Object.defineProperty(globalThis, 'pocketshellTerminal', {
    configurable: true,
    get: () => current,
    set: (value: Tap | undefined) => {
      current = value;
      if (!value) return;
      const view = { start: performance.now(), first: 0 };
      g.__psView = view;
      const off = value.onOutput(() => {
        view.first = performance.now();
        off();
      });
    },
  });
}

/** Opens `#/t/<host>/new` in the page and resolves with ms from the screen's start to the first live byte. */
async function openTerminal(page: Page, hostId: string): Promise<number> {
  return page.evaluate(async (host) => {
    interface View {
      start: number;
      first: number;
    }
    const g = globalThis as unknown as { __psView: View | undefined };
    g.__psView = undefined;
    const current = (): View | undefined => g.__psView;
    location.hash = `#/t/${host}/new`;
    const end = performance.now() + 30_000;
    for (;;) {
      const view = current();
      if (view && view.first > 0) return view.first - view.start;
      if (performance.now() > end) throw new Error('no shell output within 30 s');
      await new Promise((r) => setTimeout(r, 1));
    }
  }, hostId);
}

/** Leaves the terminal screen and closes the page's WebRTC connections, waiting until they are closed. */
async function hangUp(page: Page): Promise<void> {
  await page.evaluate(async () => {
    const g = globalThis as unknown as { __psPeers: RTCPeerConnection[]; __psChannels: RTCDataChannel[] };
    location.hash = '#/hosts';
    for (const c of g.__psChannels) if (c.label === 'control' && c.readyState !== 'closed') c.close();
    const end = performance.now() + 10_000;
    while (g.__psPeers.some((pc) => pc.connectionState !== 'closed')) {
      if (performance.now() > end) {
        for (const pc of g.__psPeers) pc.close();
        break;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  });
  // Let the hangup reach the host before the next offer.
  await new Promise((r) => setTimeout(r, 200));
}

/** Throughput, echo and Ctrl-C in the page, on the open terminal screen's live output. */
function measureInPage(
  page: Page,
  args: { samples: number; path: string; fileBytes: number; prompt: string },
): Promise<{
  tput: { bytes: number; seconds: number; mbps: number; mode: 'stream' | 'screen' };
  echo: { p50: number; p99: number; mean: number };
  ctrl: number[];
}> {
  return page.evaluate(async ({ samples, path, fileBytes, prompt }) => {
    interface Tap {
      write(s: string): void;
      lines(): string[];
      onOutput(l: (b: Uint8Array) => void): () => void;
    }
    const t = (globalThis as unknown as { pocketshellTerminal: Tap }).pocketshellTerminal;
    const latin1 = new TextDecoder('latin1');
    const text = (b: Uint8Array, max: number) => latin1.decode(b.subarray(Math.max(0, b.length - max)));
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    const quiet = (ms: number) =>
      new Promise<void>((resolve) => {
        let timer = setTimeout(done, ms);
        const off = t.onOutput(() => {
          clearTimeout(timer);
          timer = setTimeout(done, ms);
        });
        function done() {
          off();
          resolve();
        }
      });
    /** Resolves with performance.now() when `marker` appears in output from now on. */
    const waitFor = (marker: string, timeoutMs: number) =>
      new Promise<number>((resolve, reject) => {
        let tail = '';
        const timer = setTimeout(() => {
          off();
          reject(new Error(`timed out waiting for ${marker}; tail ${JSON.stringify(tail.slice(-200))}`));
        }, timeoutMs);
        const off = t.onOutput((b) => {
          tail = (tail + text(b, 512)).slice(-1024);
          if (tail.includes(marker)) {
            const at = performance.now();
            clearTimeout(timer);
            off();
            resolve(at);
          }
        });
      });

    t.write(`PS1='${prompt}'\r`);
    await waitFor(prompt, 20_000);
    await quiet(200);

    // Throughput.
    let bytes = 0;
    let first = 0;
    const counting = t.onOutput((b) => {
      if (first === 0) first = performance.now();
      bytes += b.length;
    });
    // The end marker in the live stream, or — when the host switched this
    // link to screen sync and skipped the backlog — first seen on the screen.
    let mode: 'stream' | 'screen' = 'stream';
    const start = performance.now();
    let poll: ReturnType<typeof setInterval> | undefined;
    const onScreen = new Promise<number>((resolve) => {
      poll = setInterval(() => {
        if (t.lines().some((l) => l.includes('__TPUT_END__'))) resolve(performance.now());
      }, 20);
    });
    const done = Promise.race([
      waitFor('__TPUT_END__', 180_000),
      onScreen.then((at) => {
        mode = 'screen';
        return at;
      }),
    ]);
    t.write(`cat ${path}; echo __TPUT_""END__\r`);
    const end = await done.finally(() => clearInterval(poll));
    counting();
    const seconds = (end - (mode === 'stream' ? first : start)) / 1000;
    await quiet(200);

    // Echo.
    const times: number[] = [];
    for (let i = 0; i < samples; i++) {
      const got = new Promise<number>((resolve) => {
        const off = t.onOutput((b) => {
          if (!b.includes(0x78)) return;
          off();
          resolve(performance.now());
        });
      });
      const t0 = performance.now();
      t.write('x');
      times.push((await got) - t0);
      if (i % 50 === 49) {
        t.write('\x15');
        await quiet(100);
      }
    }
    t.write('\x15');
    await quiet(100);
    const s = [...times].sort((a, b) => a - b);
    const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;

    // Ctrl-C under `yes`: the prompt back in the live stream or — in screen sync, where the host
    // answers input with the screen — as the screen's last line (looked at every 2 ms).
    const ctrl: number[] = [];
    for (let i = 0; i < 3; i++) {
      t.write('yes\r');
      await sleep(1000);
      let look: ReturnType<typeof setInterval> | undefined;
      const live = waitFor(prompt, 120_000);
      live.catch(() => {}); // seen on the screen first: the live wait times out unheard
      const promptBack = Promise.race([
        live,
        new Promise<number>((resolve) => {
          look = setInterval(() => {
            const last = t
              .lines()
              .map((l) => l.trimEnd())
              .filter((l) => l !== '')
              .at(-1);
            if (last === prompt) resolve(performance.now());
          }, 2);
        }),
      ]).finally(() => clearInterval(look));
      const t0 = performance.now();
      t.write('\x03');
      ctrl.push((await promptBack) - t0);
      await sleep(300);
    }
    await quiet(200);
    return {
      tput:
        mode === 'stream'
          ? { bytes, seconds, mbps: bytes / seconds / 1e6, mode }
          : { bytes: fileBytes, seconds, mbps: fileBytes / seconds / 1e6, mode },
      echo: { p50: at(0.5), p99: at(0.99), mean: s.reduce((a, b) => a + b, 0) / s.length },
      ctrl,
    };
  }, args);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** The terminal measurements against a fresh relay + daemon on `engine`, from the web client in Chromium. */
export async function chromiumTerminalBench(o: ChromiumBenchOptions): Promise<ChromiumFigures> {
  if (o.build !== false) await buildWeb();
  const home = join(o.work, `chromium-${o.engine}`);
  mkdirSync(home, { recursive: true });
  const relay: StartedRelay = await startWebRelay();
  const psEnv = {
    TERM: 'xterm-256color',
    LANG: 'C.UTF-8',
    SHELL: '/bin/bash',
    HOME: home,
    ...o.env,
    POCKETSHELL_ENGINE: o.engine,
    POCKETSHELL_HOME: join(home, 'state'),
    POCKETSHELL_KEYSTORE: 'file',
    POCKETSHELL_ICE_ADDRESS: '127.0.0.1',
    POCKETSHELL_ALLOW_ROOT: '1',
  };
  let daemon: ChildProcess | undefined;
  let phone: Phone | undefined;
  try {
    // With the service's Node flags, as `pocketshell daemon start` runs it.
    daemon = await startReadyDaemon(psEnv, relay.url, [...DAEMON_NODE_FLAGS]);
    phone = await launchPhone();
    const chromium = phone.context.browser()?.version() ?? '';
    const { page } = phone;
    if (process.env.BENCH_VERBOSE)
      page.on('console', (m) => console.error(`[chromium ${o.engine}] ${m.type()}: ${m.text()}`));
    await page.addInitScript(initScript);
    const pairing = await pairingUrl(psEnv);
    await page.goto(pairing.url);
    await pairing.done;
    const row = page.locator('[data-host][data-state="online"]');
    await row.waitFor();
    const hostId = (await row.getAttribute('data-host'))!;

    const connectCold = await openTerminal(page, hostId);
    await hangUp(page);
    const warm: number[] = [];
    for (let i = 0; i < (o.warmConnects ?? 4); i++) {
      warm.push(await openTerminal(page, hostId));
      await hangUp(page);
    }
    await openTerminal(page, hostId);
    await page.locator('[data-testid="conn"][data-state="p2p"]').waitFor();
    const m = await measureInPage(page, {
      samples: o.echoSamples ?? 300,
      path: o.file,
      fileBytes: statSync(o.file).size,
      prompt: PROMPT,
    });
    const idleStats = o.idle === false ? null : await idle([daemon.pid!]);
    return {
      engine: o.engine,
      chromium,
      tput: m.tput,
      echo: m.echo,
      connectCold,
      connectWarm: median(warm),
      connectWarmAll: warm,
      ctrl: median(m.ctrl),
      ctrlAll: m.ctrl,
      idle: idleStats,
    };
  } finally {
    await phone?.close();
    if (daemon && daemon.exitCode === null) {
      daemon.kill('SIGTERM');
      await new Promise((r) => daemon!.once('exit', r));
    }
    await relay.stop();
  }
}

/** Figures as a one-line summary (for logs). */
export function describeFigures(f: ChromiumFigures): string {
  return JSON.stringify({
    ...f,
    connectWarmAll: f.connectWarmAll.map((v) => Math.round(v * 10) / 10),
    ctrlAll: f.ctrlAll.map((v) => Math.round(v * 10) / 10),
  });
}
