/**
 * Shared measuring for the terminal benchmarks: the same four measurements
 * run against any byte stream that behaves like a terminal (a local PTY,
 * `ssh -tt` in a PTY, a PocketShell terminal channel), so the figures sit
 * side by side. A `Stream` is: write bytes, and subscribe to output bytes.
 */

import { readFileSync, writeFileSync } from 'node:fs';
import { nodePtyBackend, type PtyHandle } from '@pocketshell/host-core';

export interface Stream {
  write(data: string): void;
  onData(listener: (bytes: Uint8Array) => void): () => void;
}

/** Resolves with the time (ms, performance.now) at which `marker` appears after `since`. */
export function waitFor(stream: Stream, marker: string, timeoutMs = 60_000): Promise<number> {
  return new Promise((resolve, reject) => {
    let tail = '';
    const timer = setTimeout(() => {
      off();
      reject(
        new Error(
          `timed out waiting for ${JSON.stringify(marker)}; tail ${JSON.stringify(tail.slice(-200))}`,
        ),
      );
    }, timeoutMs);
    const off = stream.onData((bytes) => {
      tail = (tail + Buffer.from(bytes).toString('latin1')).slice(-4096);
      if (tail.includes(marker)) {
        clearTimeout(timer);
        off();
        resolve(performance.now());
      }
    });
  });
}

/** Output throughput: `cat FILE` then a marker; bytes counted from the first output byte. */
export async function throughput(
  stream: Stream,
  file: string,
): Promise<{ bytes: number; seconds: number; mbps: number }> {
  let bytes = 0;
  let first = 0;
  const off = stream.onData((b) => {
    if (first === 0) first = performance.now();
    bytes += b.length;
  });
  const done = waitFor(stream, '__TPUT_END__', 180_000);
  stream.write(`cat ${file}; echo __TPUT_""END__\r`);
  const end = await done;
  off();
  const seconds = (end - first) / 1000;
  return { bytes, seconds, mbps: bytes / seconds / 1e6 };
}

/** Waits until no output has arrived for `quietMs`. */
export function quiet(stream: Stream, quietMs = 200): Promise<void> {
  return new Promise((resolve) => {
    let timer = setTimeout(done, quietMs);
    const off = stream.onData(() => {
      clearTimeout(timer);
      timer = setTimeout(done, quietMs);
    });
    function done() {
      off();
      resolve();
    }
  });
}

/** Keystroke echo round trip: one printable byte, wait for its echo, repeated. */
export async function echoRtt(
  stream: Stream,
  samples = 300,
): Promise<{ p50: number; p99: number; mean: number }> {
  const times: number[] = [];
  await quiet(stream);
  for (let i = 0; i < samples; i++) {
    const got = new Promise<number>((resolve) => {
      const off = stream.onData((bytes) => {
        if (!bytes.includes(0x78)) return;
        off();
        resolve(performance.now());
      });
    });
    const t0 = performance.now();
    stream.write('x');
    times.push((await got) - t0);
    if (i % 50 === 49) {
      // Clear the line (Ctrl-U) so it never grows long, and let the redraw pass.
      stream.write('\x15');
      await quiet(stream, 100);
    }
  }
  stream.write('\x15');
  await quiet(stream, 100);
  return summarize(times);
}

/** Ctrl-C under a `yes` flood: time from sending ^C to the prompt marker. */
export async function ctrlC(stream: Stream, promptMarker: string, floodMs = 1000): Promise<number> {
  stream.write('yes\r');
  await new Promise((r) => setTimeout(r, floodMs));
  const prompt = waitFor(stream, promptMarker, 120_000);
  const t0 = performance.now();
  stream.write('\x03');
  const t1 = await prompt;
  await new Promise((r) => setTimeout(r, 300));
  return t1 - t0;
}

/**
 * Sets `PS1` to `prompt`, then takes `samples` Ctrl-C measurements (each
 * after `floodMs` of `yes`), letting the output settle between them; logs
 * each as `label sample N`.
 */
export async function ctrlCSamples(
  stream: Stream,
  prompt: string,
  o: { samples: number; floodMs: number; label: string },
): Promise<number[]> {
  stream.write(`PS1='${prompt}'\r`);
  await waitFor(stream, prompt);
  await quiet(stream, 500);
  const out: number[] = [];
  for (let i = 0; i < o.samples; i++) {
    out.push(await ctrlC(stream, prompt, o.floodMs));
    await quiet(stream, 500);
    console.error(`  ${o.label} sample ${i + 1}: ${out.at(-1)!.toFixed(0)} ms`);
  }
  return out;
}

export function summarize(ms: number[]): { p50: number; p99: number; mean: number } {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  return { p50: at(0.5), p99: at(0.99), mean: s.reduce((a, b) => a + b, 0) / s.length };
}

/**
 * RSS (KiB) and total CPU ticks of a process, from /proc; with `children`,
 * the CPU of its children that ended (and were waited for) counts too — the
 * `ps` a collector runs, say.
 */
export async function procStats(
  pid: number,
  children = false,
): Promise<{ rssKiB: number; cpuTicks: number }> {
  const { readFileSync } = await import('node:fs');
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return {
    rssKiB: Number(/VmRSS:\s*(\d+)/.exec(status)![1]),
    cpuTicks:
      Number(fields[11]) + Number(fields[12]) + (children ? Number(fields[13]) + Number(fields[14]) : 0),
  };
}

/** RSS and CPU% of `pids` summed over an idle `ms` window (`children`: see `procStats`). */
export async function idle(
  pids: number[],
  ms = 5000,
  children = false,
): Promise<{ rssMiB: number; cpuPercent: number }> {
  const a = await Promise.all(pids.map((p) => procStats(p, children)));
  await new Promise((r) => setTimeout(r, ms));
  const b = await Promise.all(pids.map((p) => procStats(p, children)));
  const ticks = b.reduce((n, s, i) => n + s.cpuTicks - a[i]!.cpuTicks, 0);
  return {
    rssMiB: b.reduce((n, s) => n + s.rssKiB, 0) / 1024,
    cpuPercent: (ticks / 100 / (ms / 1000)) * 100,
  };
}

/** Runs `run` while watching `pids`: their summed CPU% over it and their peak summed RSS. */
export async function busy<T>(
  pids: number[],
  run: () => Promise<T>,
): Promise<{ result: T; rssMiB: number; cpuPercent: number }> {
  // A process that ends meanwhile counts as zero.
  const stats = (pid: number) => procStats(pid).catch(() => ({ rssKiB: 0, cpuTicks: 0 }));
  const a = await Promise.all(pids.map(stats));
  const t0 = performance.now();
  let peak = a.reduce((n, s) => n + s.rssKiB, 0);
  const timer = setInterval(() => {
    void Promise.all(pids.map(stats)).then(
      (now) =>
        (peak = Math.max(
          peak,
          now.reduce((n, s) => n + s.rssKiB, 0),
        )),
      () => {},
    );
  }, 50);
  try {
    const result = await run();
    const b = await Promise.all(pids.map(stats));
    const seconds = (performance.now() - t0) / 1000;
    const ticks = b.reduce((n, s, i) => n + s.cpuTicks - a[i]!.cpuTicks, 0);
    peak = Math.max(
      peak,
      b.reduce((n, s) => n + s.rssKiB, 0),
    );
    return { result, rssMiB: peak / 1024, cpuPercent: (ticks / 100 / seconds) * 100 };
  } finally {
    clearInterval(timer);
  }
}

/** A local PTY (120×40) running `argv`, as a Stream. */
export function ptyStream(
  argv: string[],
  opts: { cwd: string; env: Record<string, string | undefined> },
): { pty: PtyHandle; stream: Stream } {
  const pty = nodePtyBackend().spawn(argv[0]!, argv.slice(1), {
    cols: 120,
    rows: 40,
    cwd: opts.cwd,
    env: opts.env as Record<string, string>,
  });
  const listeners = new Set<(b: Uint8Array) => void>();
  pty.onData((d) => {
    for (const l of [...listeners]) l(d);
  });
  const stream: Stream = {
    write: (s) => pty.write(new TextEncoder().encode(s)),
    onData: (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
  };
  return { pty, stream };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Replaces the `<!-- bench:NAME:start/end -->` section of docs/benchmarks.md (appends it when missing). */
export function writeSection(name: string, markdown: string): void {
  const path = new URL('../../docs/benchmarks.md', import.meta.url);
  let doc = '';
  try {
    doc = readFileSync(path, 'utf8');
  } catch {
    doc = '# Benchmarks\n';
  }
  const start = `<!-- bench:${name}:start -->`;
  const end = `<!-- bench:${name}:end -->`;
  const block = `${start}\n${markdown.trim()}\n${end}`;
  doc = doc.includes(start)
    ? doc.replace(new RegExp(`${start}[\\s\\S]*?${end}`), () => block)
    : `${doc.trimEnd()}\n\n${block}\n`;
  writeFileSync(path, doc);
}
