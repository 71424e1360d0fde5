/**
 * The alert evaluator's figures (docs/host.md "Alerts", "evaluator cost"):
 * only what the enabled rules watch, read the cheapest way. On Linux
 * straight from the kernel — CPU from two reads of /proc/stat, memory and
 * swap from /proc/meminfo, load from `os.loadavg()`, a mount's use from
 * `statfs`, listening TCP ports from /proc/net/tcp{,6}, processes from the
 * `comm` and `cmdline` of /proc/<pid> (only while a process rule exists) —
 * so a sample costs a few file reads, not the stats collector's full
 * snapshot. Temperature and battery (and every figure elsewhere than
 * Linux) come from the collector, at most one snapshot per
 * `SLOW_FIGURES_MS` for temperature and battery.
 */
import fs from 'node:fs';
import os from 'node:os';
import type { AlertRule } from '@pocketshell/protocol';
import type { StatsCollector } from '../stats/collector.ts';

/** How old a collector snapshot may be for temperature and battery rules. */
export const SLOW_FIGURES_MS = 30_000;

/** Reads each rule's figure (undefined: not known now). */
export interface AlertSampler {
  sample(rules: readonly AlertRule[]): Promise<Map<string, number | undefined>>;
}

const read = (file: string): string | undefined => {
  try {
    return fs.readFileSync(file, 'latin1');
  } catch {
    return undefined;
  }
};

/** Linux /proc/stat's first line: [busy, total] jiffies. */
function cpuTimes(): [number, number] | undefined {
  const line = read('/proc/stat')?.split('\n', 1)[0];
  if (!line?.startsWith('cpu ')) return undefined;
  const f = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  const idle = (f[3] ?? 0) + (f[4] ?? 0);
  return Number.isFinite(total) ? [total - idle, total] : undefined;
}

/** Linux /proc/meminfo: memory and swap percent used. */
function memInfo(): { memory?: number; swap?: number } {
  const text = read('/proc/meminfo');
  if (!text) return {};
  const kb = (name: string) => {
    const m = new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(text);
    return m ? Number(m[1]) : undefined;
  };
  const total = kb('MemTotal');
  const available = kb('MemAvailable');
  const swapTotal = kb('SwapTotal');
  const swapFree = kb('SwapFree');
  return {
    ...(total && available !== undefined ? { memory: (100 * (total - available)) / total } : {}),
    ...(swapTotal && swapFree !== undefined ? { swap: (100 * (swapTotal - swapFree)) / swapTotal } : {}),
  };
}

/** Percent used of a mount, as `df` counts it (undefined when it cannot be read). */
export function diskUse(mount: string): number | undefined {
  try {
    const s = fs.statfsSync(mount);
    const used = s.blocks - s.bfree;
    const usable = used + s.bavail;
    return usable > 0 ? (100 * used) / usable : undefined;
  } catch {
    return undefined;
  }
}

/** Linux: the TCP ports something listens on (v4 and v6). */
export function listeningPorts(): Set<number> {
  const out = new Set<number>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const text = read(file);
    if (!text) continue;
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[3] !== '0A') continue; // LISTEN
      const port = Number.parseInt(f[1]?.split(':')[1] ?? '', 16);
      if (port > 0) out.add(port);
    }
  }
  return out;
}

/** Linux: how many processes' name (comm) equals, or command line contains, each target. */
export function countProcesses(targets: readonly string[]): Map<string, number> {
  const out = new Map(targets.map((t) => [t, 0]));
  let pids: string[];
  try {
    pids = fs.readdirSync('/proc').filter((n) => /^[0-9]+$/.test(n));
  } catch {
    return out;
  }
  for (const pid of pids) {
    if (Number(pid) === process.pid) continue;
    const comm = read(`/proc/${pid}/comm`)?.trim();
    if (comm === undefined) continue;
    let cmdline: string | undefined;
    for (const t of targets) {
      if (comm === t) {
        out.set(t, (out.get(t) ?? 0) + 1);
        continue;
      }
      cmdline ??= (read(`/proc/${pid}/cmdline`) ?? '').replace(/\0/g, ' ').trim();
      if (cmdline.includes(t)) out.set(t, (out.get(t) ?? 0) + 1);
    }
  }
  return out;
}

/** The collector's figure for a rule (every platform; processes: the listed top only). */
function fromSnapshot(
  rule: AlertRule,
  s: Awaited<ReturnType<StatsCollector['snapshot']>>,
  cores: number,
): number | undefined {
  switch (rule.metric) {
    case 'cpu':
      return s.cpu.total;
    case 'memory':
      return s.memory.total > 0 ? (100 * (s.memory.total - s.memory.available)) / s.memory.total : undefined;
    case 'swap':
      return s.memory.swapTotal > 0 ? (100 * s.memory.swapUsed) / s.memory.swapTotal : undefined;
    case 'load':
      return s.cpu.loadavg[0] / cores;
    case 'disk': {
      const d = s.disks.find((x) => x.mount === rule.target);
      return d && d.size > 0 ? (100 * d.used) / d.size : undefined;
    }
    case 'temperature': {
      const list = rule.target ? s.temperatures.filter((t) => t.label === rule.target) : s.temperatures;
      return list.length > 0 ? Math.max(...list.map((t) => t.celsius)) : undefined;
    }
    case 'battery':
      return s.battery ? s.battery.percent : undefined;
    case 'process':
      return s.processes.filter((p) => p.name === rule.target || p.command.includes(rule.target)).length;
    case 'port':
      return s.listening.some((l) => l.proto.startsWith('tcp') && l.port === Number(rule.target)) ? 1 : 0;
  }
}

/** The light sampler: Linux reads, the collector for the rest. */
export class LightSampler implements AlertSampler {
  readonly #collector: StatsCollector | undefined;
  readonly #linux: boolean;
  readonly #cores = os.availableParallelism();
  #cpu: [number, number] | undefined;

  constructor(collector?: StatsCollector, linux = process.platform === 'linux') {
    this.#collector = collector;
    this.#linux = linux;
  }

  async sample(rules: readonly AlertRule[]): Promise<Map<string, number | undefined>> {
    const out = new Map<string, number | undefined>();
    const metrics = new Set(rules.map((r) => r.metric));
    const slow = rules.filter((r) => !this.#linux || r.metric === 'temperature' || r.metric === 'battery');
    if (slow.length > 0 && this.#collector) {
      const maxAge = this.#linux ? SLOW_FIGURES_MS : 0;
      const s = await this.#collector.snapshot(maxAge).catch(() => undefined);
      for (const r of slow) out.set(r.id, s ? fromSnapshot(r, s, this.#cores) : undefined);
    }
    if (!this.#linux) return out;
    let cpu: number | undefined;
    if (metrics.has('cpu')) {
      const now = cpuTimes();
      const before = this.#cpu;
      this.#cpu = now;
      if (now && before && now[1] > before[1])
        cpu = Math.min(100, Math.max(0, (100 * (now[0] - before[0])) / (now[1] - before[1])));
    }
    const mem = metrics.has('memory') || metrics.has('swap') ? memInfo() : {};
    const ports = metrics.has('port') ? listeningPorts() : undefined;
    const procs = metrics.has('process')
      ? countProcesses([...new Set(rules.filter((r) => r.metric === 'process').map((r) => r.target))])
      : undefined;
    for (const r of rules) {
      if (r.metric === 'temperature' || r.metric === 'battery') continue;
      out.set(
        r.id,
        r.metric === 'cpu'
          ? cpu
          : r.metric === 'memory'
            ? mem.memory
            : r.metric === 'swap'
              ? mem.swap
              : r.metric === 'load'
                ? (os.loadavg()[0] ?? 0) / this.#cores
                : r.metric === 'disk'
                  ? diskUse(r.target)
                  : r.metric === 'port'
                    ? ports?.has(Number(r.target))
                      ? 1
                      : 0
                    : procs?.get(r.target),
      );
    }
    return out;
  }
}
