/**
 * `npm run bench:browser`: terminal output throughput host → browser and
 * keystroke echo round trip in the browser (Debian's Chromium, phone-sized,
 * the built web client rendering with xterm.js), beside the Node client's
 * figures measured in the same run against the same `pocketshell daemon
 * run` process and relay, all on loopback. The Node side uses
 * test/bench/measure.ts; the page runs the same two measurements (one `x`
 * echoed by readline per sample; `cat` of a text file then a marker, bytes
 * counted from the first output byte) on the page's own terminal stream.
 * Prints its figures; `npm run bench` (test/bench/terminal.ts) writes the
 * side-by-side run with the Chromium columns to docs/benchmarks.md.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import type { Device, TerminalClient } from '@pocketshell/client';
import type { StartedRelay } from '@pocketshell/relay/testing';
import type { Page } from 'playwright-core';
import { echoRtt, type Stream, throughput } from '../bench/measure.ts';
import { loopbackDevice, POCKETSHELL, pocketshell, until } from '../support/cli.ts';
import { buildWeb, launchPhone, type Phone, startWebRelay } from './harness.ts';

const MB = Number(process.env.BENCH_MB ?? 8);
const SAMPLES = Number(process.env.BENCH_ECHO_SAMPLES ?? 200);
const work = mkdtempSync(join(tmpdir(), 'pocketshell-bench-browser-'));
const file = join(work, 'data.txt');
const env = { TERM: 'xterm-256color', LANG: 'C.UTF-8', HOME: work, SHELL: '/bin/bash' };

interface Figures {
  mbps: number;
  echo: { p50: number; p99: number };
}

function makeFile(): void {
  const line = `${'0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_'.slice(0, 63)}\n`;
  writeFileSync(file, line.repeat(Math.ceil((MB * 1e6) / line.length)));
}

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

async function nodeClient(device: Device, hostId: Parameters<Device['connect']>[0]): Promise<Figures> {
  const conn = await device.connect(hostId);
  const term: TerminalClient = await conn.openTerminal('new', { cols: 120, rows: 40 });
  const stream: Stream = {
    write: (s) => term.write(s),
    onData: (l) => term.on('data', ({ bytes, snapshot }) => !snapshot && l(bytes)),
  };
  const echo = await echoRtt(stream, SAMPLES);
  const tput = await throughput(stream, file);
  term.write('exit\r');
  await conn.close();
  return { mbps: tput.mbps, echo };
}

/** The same two measurements, in the page, on the web client's terminal stream. */
async function browserClient(page: Page): Promise<Figures> {
  return page.evaluate(
    async ({ samples, path }) => {
      interface Tap {
        write(s: string): void;
        onOutput(l: (b: Uint8Array) => void): () => void;
      }
      const t = (globalThis as unknown as { pocketshellTerminal: Tap }).pocketshellTerminal;
      const latin1 = (b: Uint8Array) => String.fromCharCode(...b.subarray(0, 8192));
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
      const times: number[] = [];
      await quiet(200);
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
      times.sort((a, b) => a - b);
      const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))]!;
      let bytes = 0;
      let first = 0;
      let tail = '';
      const end = await new Promise<number>((resolve) => {
        const off = t.onOutput((b) => {
          if (first === 0) first = performance.now();
          bytes += b.length;
          tail = (tail + latin1(b.subarray(Math.max(0, b.length - 64)))).slice(-256);
          if (tail.includes('__TPUT_END__')) {
            off();
            resolve(performance.now());
          }
        });
        t.write(`cat ${path}; echo __TPUT_""END__\r`);
      });
      return { mbps: bytes / ((end - first) / 1000) / 1e6, echo: { p50: at(0.5), p99: at(0.99) } };
    },
    { samples: SAMPLES, path: file },
  );
}

function printFigures(node: Figures, browser: Figures): void {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const machine = `${cpu}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Node ${process.version}, Chromium ${chromiumVersion}, ${process.platform}`;
  const ms = (v: number) => v.toFixed(2);
  const block = `## Browser client (\`npm run bench:browser\`)

Measured ${new Date().toISOString().slice(0, 10)} on ${machine}. One \`pocketshell-relay\` process serving the built web client, one \`pocketshell daemon run\` process (werift engine), and two devices against it in the same run: the Node client (in the bench process, 120×40) and the web client in headless Chromium (412×915 phone emulation, xterm.js DOM renderer, the browser's own WebRTC), all on loopback. Throughput is a \`cat\` of a ${MB} MB text file as the client receives it (in the browser: bytes handed to xterm.js, which renders as it goes); echo is one printable key to bash's readline echo, ${SAMPLES} samples.

| measure | Node client | browser (Chromium) |
|---|---:|---:|
| terminal output throughput host → client | ${node.mbps.toFixed(1)} MB/s | ${browser.mbps.toFixed(1)} MB/s |
| keystroke echo round trip p50 / p99 | ${ms(node.echo.p50)} / ${ms(node.echo.p99)} ms | ${ms(browser.echo.p50)} / ${ms(browser.echo.p99)} ms |
`;
  // Printed only: docs/benchmarks.md carries the side-by-side run of `npm run bench`.
  process.stdout.write(`${block}\n`);
}

let chromiumVersion = '';

async function main(): Promise<void> {
  makeFile();
  await buildWeb();
  const relay: StartedRelay = await startWebRelay();
  const psEnv = {
    ...env,
    POCKETSHELL_HOME: join(work, 'state'),
    POCKETSHELL_KEYSTORE: 'file',
    POCKETSHELL_ICE_ADDRESS: '127.0.0.1',
    POCKETSHELL_ALLOW_ROOT: '1',
  };
  let daemon: ChildProcess | undefined;
  let device: Device | undefined;
  let phone: Phone | undefined;
  try {
    daemon = spawn(process.execPath, [POCKETSHELL, 'daemon', 'run', '--relay', relay.url], {
      env: { ...process.env, ...psEnv },
      stdio: 'ignore',
    });
    await until(
      async () => {
        const r = await pocketshell(['status', '--json'], psEnv).catch(() => null);
        return r?.code === 0 && JSON.parse(r.stdout).daemon.relay?.state === 'ready';
      },
      30_000,
      200,
    );
    device = loopbackDevice(relay.wsUrl);
    const first = await pairingUrl(psEnv);
    const host = await device.pair(first.url, { name: 'bench node' });
    await first.done;
    const node = await nodeClient(device, host.id);

    phone = await launchPhone();
    chromiumVersion = phone.context.browser()?.version() ?? '';
    const { page } = phone;
    const second = await pairingUrl(psEnv);
    await page.goto(second.url);
    await second.done;
    await page.locator(`[data-host="${host.id}"][data-state="online"]`).waitFor();
    await page.goto(`${relay.url}/#/t/${host.id}/new`);
    await page.locator('[data-testid="conn"][data-state="p2p"]').waitFor();
    const browser = await browserClient(page);
    printFigures(node, browser);
  } finally {
    await phone?.close();
    await device?.close();
    if (daemon && daemon.exitCode === null) {
      daemon.kill('SIGTERM');
      await new Promise((r) => daemon!.once('exit', r));
    }
    await relay.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
