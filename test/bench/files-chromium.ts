/**
 * The files benchmark's Chromium column (issue 15): the web client in
 * headless Chromium (phone emulation) paired to a real `pocketshell daemon
 * run` process through a real `pocketshell-relay` process serving the built
 * client, all on loopback (`iceServers: []`, candidates on 127.0.0.1). The
 * Files screen uploads one file of random bytes (`setInputFiles`: the page
 * reads the File, hashes it, sends its data frames, the host writes, hashes,
 * fsyncs and renames it into place) and downloads it back (its ⋯ menu: the
 * page takes the frames, hashes them and builds the Blob); each is timed
 * from the action to the transfer's line saying `done` (which it says once
 * the host's SHA-256 matched the page's). Median of `runs`.
 *
 * `npm run bench:files` runs it beside the raw Chromium channel
 * (raw-chromium.ts) for its Chromium rows. Alone (prints JSON):
 * `node test/bench/files-chromium.ts`; BENCH_FILES_MB (64),
 * BENCH_FILES_RUNS (3); BENCH_ENGINE=werift for the daemon;
 * profiling: BENCH_CPU_PROF=<dir> (the daemon's `--cpu-prof`),
 * BENCH_PAGE_PROF=<prefix> (the page's CPU profile over CDP, first upload
 * and download), BENCH_TRACE=<file> (every data and ack frame the page sent
 * or took, with its time).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { browserAvailable, buildWeb, launchPhone, type Phone, startWebRelay } from '../browser/harness.ts';
import { POCKETSHELL, startReadyDaemon, until } from '../support/cli.ts';
import { median } from './measure.ts';

const MIB = 2 ** 20;

export interface ChromiumFilesFigures {
  chromium: string;
  /** MiB/s per run. */
  up: number[];
  down: number[];
}

export { browserAvailable };

/** Waits until at least `count` elements match `selector` (polled in the page every 10 ms). */
async function waitCount(page: Page, selector: string, count: number, timeoutMs: number): Promise<void> {
  await page.waitForFunction(
    ([sel, n]) => document.querySelectorAll(sel as string).length >= (n as number),
    [selector, count] as const,
    { polling: 10, timeout: timeoutMs },
  );
}

/** BENCH_TRACE: records the files channel's binary frames (type, offset, time) in `__psTrace`. */
function traceScript(): void {
  const trace: number[][] = [];
  (globalThis as unknown as Record<string, unknown>).__psTrace = trace;
  const frame = (d: unknown): [number, number] | undefined => {
    const b =
      d instanceof ArrayBuffer
        ? new Uint8Array(d)
        : ArrayBuffer.isView(d)
          ? new Uint8Array(d.buffer, d.byteOffset, d.byteLength)
          : undefined;
    if (!b || b.length < 13 || (b[0] !== 2 && b[0] !== 3)) return undefined;
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    return [b[0]!, v.getUint32(5) * 2 ** 32 + v.getUint32(9)];
  };
  const send = RTCDataChannel.prototype.send;
  RTCDataChannel.prototype.send = function (this: RTCDataChannel, d: never) {
    const f = frame(d);
    if (f) trace.push([0, f[0], f[1], performance.now(), this.bufferedAmount]);
    return send.call(this, d);
  };
  const add = RTCDataChannel.prototype.addEventListener;
  RTCDataChannel.prototype.addEventListener = function (
    this: RTCDataChannel,
    type: string,
    l: never,
    o: never,
  ) {
    if (type === 'message')
      add.call(this, 'message', ((e: MessageEvent) => {
        const f = frame(e.data);
        if (f) trace.push([1, f[0], f[1], performance.now(), 0]);
      }) as EventListener);
    return add.call(this, type, l, o);
  } as never;
}

/** Upload and download of a `sizeMB` MiB file from Chromium, `runs` times each. */
export async function chromiumFilesBench(o: {
  sizeMB: number;
  runs: number;
  /** Build the web client first (default true). */
  build?: boolean;
  /** Node flags for the daemon (e.g. `--cpu-prof`). */
  daemonArgs?: string[];
  log?: (line: string) => void;
  /** The daemon's WebRTC engine (default node-datachannel, the default where it loads). */
  engine?: 'node-datachannel' | 'werift';
}): Promise<ChromiumFilesFigures> {
  const log = o.log ?? ((l: string) => console.error(l));
  if (o.build !== false) await buildWeb();
  const work = mkdtempSync(join(tmpdir(), 'pocketshell-fileschromium-'));
  const hostHome = join(work, 'host');
  const here = join(work, 'here');
  mkdirSync(join(hostHome, 'bench'), { recursive: true });
  mkdirSync(here);
  const size = o.sizeMB * MIB;
  const source = join(here, 'data.bin');
  writeFileSync(source, randomBytes(size));
  const relay = await startWebRelay();
  const psEnv = {
    TERM: 'xterm-256color',
    LANG: 'C.UTF-8',
    SHELL: '/bin/bash',
    HOME: hostHome,
    POCKETSHELL_ENGINE: o.engine ?? 'node-datachannel',
    POCKETSHELL_HOME: join(work, 'state'),
    POCKETSHELL_KEYSTORE: 'file',
    POCKETSHELL_ICE_ADDRESS: '127.0.0.1',
    POCKETSHELL_ALLOW_ROOT: '1',
  };
  let daemon: ChildProcess | undefined;
  let phone: Phone | undefined;
  try {
    daemon = await startReadyDaemon(psEnv, relay.url, o.daemonArgs ?? []);
    phone = await launchPhone();
    const chromium = phone.context.browser()?.version() ?? '';
    const { page } = phone;
    if (process.env.BENCH_TRACE) await page.addInitScript(traceScript);
    const pair = spawn(
      process.execPath,
      [POCKETSHELL, 'pair', '--yes', '--grants', 'files:read,files:write'],
      {
        env: { ...process.env, ...psEnv },
      },
    );
    let out = '';
    pair.stdout.on('data', (d: Buffer) => (out += d));
    const exited = new Promise((r) => pair.on('exit', r));
    await until(() => /http:\/\/\S+#\/pair\/1\/\S+/.test(out), 20_000, 20);
    await page.goto(/http:\/\/\S+#\/pair\/1\/\S+/.exec(out)![0]);
    await exited;
    const row = page.locator('[data-host][data-state="online"]');
    await row.waitFor();
    const hostId = (await row.getAttribute('data-host'))!;
    await page.goto(`${relay.url}#/host/${hostId}`);
    await page.locator('[data-testid="host-files"]').tap();
    await page.locator('li.file-row[data-name="bench"] .row').tap();
    await page.locator(`[data-testid="entries"][data-path="bench"]`).waitFor({ state: 'attached' });

    const timeout = Math.max(120_000, o.sizeMB * 2000);
    // BENCH_PAGE_PROF=<prefix>: the page's CPU profile of the first upload and the first download.
    const pageProf = process.env.BENCH_PAGE_PROF;
    const cdp = pageProf ? await phone.context.newCDPSession(page) : undefined;
    const profile = async (what: string, run: () => Promise<void>) => {
      if (!cdp) return run();
      await cdp.send('Profiler.enable');
      await cdp.send('Profiler.setSamplingInterval', { interval: 200 });
      await cdp.send('Profiler.start');
      await run();
      const { profile: p } = await cdp.send('Profiler.stop');
      writeFileSync(`${pageProf}-${what}.cpuprofile`, JSON.stringify(p));
    };
    const up: number[] = [];
    for (let i = 0; i < o.runs; i++) {
      const name = `up-${i}.bin`;
      const local = join(here, name);
      linkSync(source, local);
      const t0 = performance.now();
      const once = async () => {
        await page.locator('[data-testid="upload-input"]').setInputFiles(local);
        await waitCount(page, `li.transfer[data-name="${name}"][data-state="done"]`, 1, timeout);
      };
      await (i === 0 ? profile('upload', once) : once());
      const s = (performance.now() - t0) / 1000;
      up.push(o.sizeMB / s);
      log(`Chromium upload run ${i + 1}: ${up.at(-1)!.toFixed(1)} MiB/s`);
    }
    const down: number[] = [];
    await page.locator('li.file-row[data-name="up-0.bin"]').waitFor();
    for (let i = 0; i < o.runs; i++) {
      await page.locator('li.file-row[data-name="up-0.bin"] [data-action="menu"]').tap();
      await page.locator('[data-testid="actions-sheet"]').waitFor();
      const t0 = performance.now();
      const once = async () => {
        await page.locator('[data-menu="download"]').tap();
        await waitCount(page, 'li.transfer[data-kind="download"][data-state="done"]', i + 1, timeout);
      };
      await (i === 0 ? profile('download', once) : once());
      const s = (performance.now() - t0) / 1000;
      down.push(o.sizeMB / s);
      log(`Chromium download run ${i + 1}: ${down.at(-1)!.toFixed(1)} MiB/s`);
    }
    if (process.env.BENCH_TRACE)
      writeFileSync(
        process.env.BENCH_TRACE,
        JSON.stringify(await page.evaluate(() => (globalThis as never as { __psTrace: unknown }).__psTrace)),
      );
    return { chromium, up, down };
  } finally {
    await phone?.close();
    if (daemon && daemon.exitCode === null) {
      daemon.kill('SIGINT');
      await new Promise((r) => daemon!.once('exit', r));
    }
    await relay.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const sizeMB = Number(process.env.BENCH_FILES_MB ?? 64);
  const runs = Number(process.env.BENCH_FILES_RUNS ?? 3);
  const prof = process.env.BENCH_CPU_PROF;
  const load = loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
  console.error(`load average ${load}`);
  const f = await chromiumFilesBench({
    sizeMB,
    runs,
    ...(process.env.BENCH_ENGINE === 'werift' ? { engine: 'werift' as const } : {}),
    ...(prof ? { daemonArgs: ['--cpu-prof', `--cpu-prof-dir=${prof}`] } : {}),
  });
  console.log(
    JSON.stringify({ ...f, upMedian: median(f.up), downMedian: median(f.down), load: loadavg()[0] }),
  );
}
