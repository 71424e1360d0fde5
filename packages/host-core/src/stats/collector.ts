/**
 * The stats collector (issue 14, docs/host.md "Live monitoring"): builds a
 * `StatsSnapshot` of this machine from the npm package `systeminformation`,
 * loaded on first use (never on import: src/module-graph.test.ts).
 *
 * Cheap figures (CPU load and per-core speed, memory and swap, load
 * average, disk and network throughput) are read at every sample, i.e. at
 * the rate a watching device asked for. Expensive ones are cached with a
 * time to live (`STATS_TTL`): the process list every second (a process's
 * CPU share is measured between two lists, and one not seen before gets its
 * lifetime average, so a new busy process shows within two seconds; on
 * Linux read straight from /proc, ./procfs.ts, elsewhere from
 * systeminformation's `processes()`, i.e. `ps`), temperatures every
 * 5 s, TCP connections every 10 s, logged-in users every 15 s, filesystem
 * sizes and battery every 30 s, OS and hardware info once. Besides the
 * process list, at most one expensive figure is refreshed per sample (the
 * most overdue), so they never all run in the same tick.
 *
 * Nothing runs at the fast rate unless a device watches: `watch` keeps a
 * count of watchers, each with its own timer; with none, only the history
 * timer samples, once a minute (`onSample` hears every sample's numeric
 * series, whoever caused it).
 *
 * Linux and macOS. On Linux network throughput is read from
 * /sys/class/net/<iface>/statistics (the interfaces with an address, as
 * systeminformation's `networkStats('*')` lists them, without its shell
 * commands each sample). Linux-only: per-device disk throughput (read from
 * /proc/diskstats; on macOS one `all` entry from `fsStats`), per-core
 * frequency where the kernel exposes it (else the nominal speed), and
 * temperatures (lm-sensors / hwmon; macOS reports them only on some
 * machines, as systeminformation can). Where a figure is missing on a
 * machine its list is empty (or `battery` null), never invented.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { MAX_PROCESSES, MAX_STATS_LIST, type ProcessInfo, type StatsSnapshot } from '@pocketshell/protocol';
import type * as Si from 'systeminformation';
import { ProcfsReader, procfsAvailable } from './procfs.ts';

/** The systeminformation module (injected in tests, loaded on first use otherwise). */
export type SystemInformation = typeof Si;

let loaded: SystemInformation | undefined;
/** The real module, loaded on first use (literal `require`, so the bundle inlines it). */
export function loadSystemInformation(): SystemInformation {
  if (loaded) return loaded;
  const load = typeof require === 'function' ? undefined : createRequire(import.meta.url);
  loaded = (load ? load('systeminformation') : require('systeminformation')) as SystemInformation;
  return loaded;
}

/** How long each expensive figure is kept, in milliseconds (`info`: once). */
export const STATS_TTL = {
  processes: 1_000,
  temperatures: 5_000,
  connections: 10_000,
  users: 15_000,
  disks: 30_000,
  battery: 30_000,
  info: Number.POSITIVE_INFINITY,
} as const;
type Slow = Exclude<keyof typeof STATS_TTL, 'processes'>;
const SLOW: readonly Slow[] = ['info', 'disks', 'temperatures', 'connections', 'users', 'battery'];

/** How often the collector samples for the history when nobody watches. */
export const HISTORY_SAMPLE_MS = 60_000;

export interface StatsCollectorOptions {
  /** The systeminformation module (default: the real one, loaded on first use). */
  si?: SystemInformation;
  /** The clock, in ms since the epoch (default `Date.now`). */
  now?: () => number;
  /** Hears every sample's numeric series (the history store). */
  onSample?: (values: Record<string, number>, at: number) => void;
  /**
   * The /proc process reader (default: one when /proc is readable on Linux);
   * null: systeminformation's `processes()` instead.
   */
  procfs?: ProcfsReader | null;
}

/** A figure fetched now and then, with when it is due again. */
interface Cached<T> {
  value: T;
  due: number;
}

type Info = StatsSnapshot['system'];
type Listening = StatsSnapshot['listening'];
interface Connections {
  tcp: Record<string, number>;
  listening: Listening;
}

const clamp = (n: unknown, lo: number, hi: number): number => {
  const v = typeof n === 'number' && Number.isFinite(n) ? n : 0;
  return Math.min(hi, Math.max(lo, v));
};
const bytes = (n: unknown) => Math.round(clamp(n, 0, Number.MAX_SAFE_INTEGER));
const cut = (s: unknown, max: number): string => (typeof s === 'string' ? s : '').slice(0, max);

/** Seconds since a systeminformation `YYYY-MM-DD HH:MM:SS` local time (0 when unreadable). */
function elapsedSince(started: string, now: number): number {
  const t = new Date(started.replace(' ', 'T')).getTime();
  return Number.isFinite(t) ? Math.max(0, Math.round((now - t) / 1000)) : 0;
}

/** Linux block devices' byte counters (read, written; whole disks, not partitions, loop or ram devices). */
function linuxDiskCounters(): Map<string, readonly number[]> {
  const out = new Map<string, readonly number[]>();
  let text: string;
  try {
    text = readFileSync('/proc/diskstats', 'utf8');
  } catch {
    return out;
  }
  let whole: Set<string>;
  try {
    whole = new Set(
      readFileSync('/proc/partitions', 'utf8')
        .split('\n')
        .map((l) => l.trim().split(/\s+/)[3] ?? ''),
    );
  } catch {
    whole = new Set();
  }
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    const name = f[2];
    if (!name || f.length < 10 || /^(loop|ram|zram|fd|sr)\d/.test(name)) continue;
    if (whole.size > 0 && !whole.has(name)) continue;
    // A partition shares its disk's name plus a number (sda1, nvme0n1p1): keep disks only.
    if (
      /^(sd[a-z]+|vd[a-z]+|xvd[a-z]+|hd[a-z]+)\d+$/.test(name) ||
      /^(nvme\d+n\d+|mmcblk\d+)p\d+$/.test(name)
    )
      continue;
    out.set(name, [Number(f[5]) * 512, Number(f[9]) * 512]);
  }
  return out;
}

/**
 * Linux: the byte counters (received, sent) of the interfaces that have an
 * address — the ones systeminformation's `networkStats('*')` lists — read
 * from /sys/class/net rather than through its `cat`s each sample.
 */
function linuxNetCounters(): Map<string, readonly number[]> {
  const out = new Map<string, readonly number[]>();
  for (const iface of Object.keys(os.networkInterfaces())) {
    if (!/^[^/]{1,64}$/.test(iface) || iface === '.' || iface === '..') continue;
    try {
      const dir = `/sys/class/net/${iface}/statistics`;
      const rx = Number(readFileSync(`${dir}/rx_bytes`, 'latin1'));
      const tx = Number(readFileSync(`${dir}/tx_bytes`, 'latin1'));
      if (Number.isFinite(rx) && Number.isFinite(tx)) out.set(iface, [rx, tx]);
    } catch {
      // Gone since it was listed.
    }
  }
  return out;
}

/** Byte counters read at `at` (ms), by device. */
interface Counters {
  at: number;
  values: Map<string, readonly number[]>;
}

/** Each device's two counters in bytes per second since `before` (0 for a device it lacks, or without one). */
function ratesSince(before: Counters, after: Counters): [string, number, number][] {
  const seconds = before.at > 0 ? (after.at - before.at) / 1000 : 0;
  const rate = (v: number | undefined, old: number | undefined) =>
    seconds > 0 && v !== undefined && old !== undefined ? bytes((v - old) / seconds) : 0;
  return [...after.values].slice(0, MAX_STATS_LIST).map(([device, v]) => {
    const old = before.values.get(device);
    return [cut(device, 64), rate(v[0], old?.[0]), rate(v[1], old?.[1])];
  });
}

/** Linux: seconds since boot (undefined when unreadable). */
function linuxUptime(): number | undefined {
  try {
    const up = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
    return Number.isFinite(up) ? up : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Linux: a process's CPU time over its life, in percent of one core, from
 * /proc/<pid>/stat (utime, stime, starttime in clock ticks; USER_HZ is 100
 * on every Linux Node runs on). 0 when unreadable or younger than 0.2 s.
 */
function lifetimeCpu(pid: number, uptime: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(f[11]) + Number(f[12]);
    const age = uptime - Number(f[19]) / 100;
    return age >= 0.2 && Number.isFinite(ticks) ? (100 * ticks) / 100 / age : 0;
  } catch {
    return 0;
  }
}

/** The numeric series of a snapshot the history keeps (docs/protocol.md §6). */
export function seriesOf(s: StatsSnapshot): Record<string, number> {
  const values: Record<string, number> = {
    cpu: s.cpu.total,
    mem: s.memory.total > 0 ? (100 * s.memory.used) / s.memory.total : 0,
    swap: s.memory.swapTotal > 0 ? (100 * s.memory.swapUsed) / s.memory.swapTotal : 0,
    load1: s.cpu.loadavg[0],
    'net.rx': s.network.reduce((a, n) => a + n.rx, 0),
    'net.tx': s.network.reduce((a, n) => a + n.tx, 0),
  };
  const name = /^[A-Za-z0-9_./-]{1,64}$/;
  for (const d of s.disks)
    if (d.size > 0 && name.test(d.mount)) values[`disk:${d.mount}`] = (100 * d.used) / d.size;
  for (const t of s.temperatures) if (name.test(t.label)) values[`temp:${t.label}`] = t.celsius;
  return values;
}

/**
 * Samples this machine. `snapshot(maxAgeMs)` answers a sample younger than that
 * old (sharing one in flight); `watch` calls a listener at its interval
 * until unsubscribed; `startHistory` samples once a minute for `onSample`.
 */
export class StatsCollector {
  readonly #si: SystemInformation | undefined;
  readonly #now: () => number;
  readonly #onSample: ((values: Record<string, number>, at: number) => void) | undefined;
  readonly #procfs: ProcfsReader | null;
  #processes: Cached<ProcessInfo[]> | undefined;
  #seenPids = new Set<number>();
  readonly #slow: { [K in Slow]?: Cached<unknown> } = {};
  #diskCounters: Counters = { at: 0, values: new Map() };
  #netCounters: Counters = { at: 0, values: new Map() };
  #last: StatsSnapshot | undefined;
  #inFlight: Promise<StatsSnapshot> | undefined;
  readonly #watchers = new Set<{ timer: NodeJS.Timeout }>();
  #historyTimer: NodeJS.Timeout | undefined;
  /** How many samples have been taken (for tests and the benchmark). */
  samples = 0;

  constructor(options: StatsCollectorOptions = {}) {
    this.#si = options.si;
    this.#now = options.now ?? Date.now;
    this.#onSample = options.onSample;
    this.#procfs =
      options.procfs !== undefined ? options.procfs : procfsAvailable() ? new ProcfsReader() : null;
  }

  get #sys(): SystemInformation {
    return this.#si ?? loadSystemInformation();
  }

  /** The latest sample, if any. */
  get last(): StatsSnapshot | undefined {
    return this.#last;
  }

  /** Devices watching now (the reference count). */
  get watching(): number {
    return this.#watchers.size;
  }

  /** A snapshot younger than `maxAgeMs` (0: a fresh one). */
  snapshot(maxAgeMs = 0): Promise<StatsSnapshot> {
    if (this.#last && this.#now() - this.#last.at < maxAgeMs) return Promise.resolve(this.#last);
    this.#inFlight ??= this.#sample().finally(() => {
      this.#inFlight = undefined;
    });
    return this.#inFlight;
  }

  /**
   * Calls `listener` with a snapshot about every `intervalMs` until the
   * returned function is called. Errors of one sample are passed on and the
   * timer goes on.
   */
  watch(
    intervalMs: number,
    listener: (s: StatsSnapshot) => void,
    onError?: (e: unknown) => void,
  ): () => void {
    const watcher = { timer: undefined as unknown as NodeJS.Timeout };
    let stopped = false;
    const tick = async () => {
      // The next tick is due `intervalMs` after this one started, not after its sample ended.
      const started = performance.now();
      try {
        const s = await this.snapshot(intervalMs / 2);
        if (!stopped) listener(s);
      } catch (error) {
        if (!stopped) onError?.(error);
      }
      if (!stopped) watcher.timer = setTimeout(tick, Math.max(0, intervalMs - (performance.now() - started)));
    };
    watcher.timer = setTimeout(tick, intervalMs);
    this.#watchers.add(watcher);
    return () => {
      stopped = true;
      clearTimeout(watcher.timer);
      this.#watchers.delete(watcher);
    };
  }

  /** Samples once a minute for the history when no sample was taken in that minute (unref'd timer). */
  startHistory(): void {
    if (this.#historyTimer) return;
    this.#historyTimer = setInterval(() => {
      if (this.#last && this.#now() - this.#last.at < HISTORY_SAMPLE_MS / 2) return;
      this.snapshot(0).catch(() => {});
    }, HISTORY_SAMPLE_MS);
    this.#historyTimer.unref();
  }

  /** Stops every timer. */
  close(): void {
    clearInterval(this.#historyTimer);
    this.#historyTimer = undefined;
    for (const w of this.#watchers) clearTimeout(w.timer);
    this.#watchers.clear();
  }

  /** Which expensive figures the next sample refreshes (the process list when due, and the most overdue other one). */
  due(now = this.#now()): string[] {
    const out: string[] = [];
    if (!this.#processes || this.#processes.due <= now) out.push('processes');
    const missing = SLOW.filter((k) => !this.#slow[k]);
    if (missing.length > 0) return [...out, ...missing];
    let most: Slow | undefined;
    for (const k of SLOW) {
      const c = this.#slow[k] as Cached<unknown>;
      if (c.due <= now && (!most || c.due < (this.#slow[most] as Cached<unknown>).due)) most = k;
    }
    return most ? [...out, most] : out;
  }

  async #refresh(key: string, now: number): Promise<void> {
    const si = this.#sys;
    if (key === 'processes') {
      this.#processes = { value: await this.#readProcesses(si, now), due: now + STATS_TTL.processes };
      return;
    }
    const k = key as Slow;
    const value =
      k === 'info'
        ? await this.#readInfo(si)
        : k === 'disks'
          ? await this.#readDisks(si)
          : k === 'temperatures'
            ? await this.#readTemperatures(si)
            : k === 'connections'
              ? await this.#readConnections(si)
              : k === 'users'
                ? await this.#readUsers(si)
                : await this.#readBattery(si);
    this.#slow[k] = { value, due: now + STATS_TTL[k] };
  }

  async #sample(): Promise<StatsSnapshot> {
    const si = this.#sys;
    const now = this.#now();
    const [load, speed, mem, net, diskIo] = await Promise.all([
      si.currentLoad(),
      si.cpuCurrentSpeed(),
      si.mem(),
      this.#readNetwork(si, now),
      this.#readDiskIo(si, now),
      ...this.due(now).map((k) => this.#refresh(k, now)),
    ]);
    const slow = <T>(k: Slow, fallback: T): T => (this.#slow[k]?.value as T | undefined) ?? fallback;
    const avg = speed.avg > 0 ? speed.avg : 0;
    const la = os.loadavg();
    const conns = slow<Connections>('connections', { tcp: {}, listening: [] });
    const snapshot: StatsSnapshot = {
      at: Math.round(now),
      system: { ...slow<Info>('info', EMPTY_INFO), uptime: Math.round(os.uptime()) },
      cpu: {
        total: clamp(load.currentLoad, 0, 100),
        cores: (load.cpus ?? []).slice(0, MAX_STATS_LIST).map((c, i) => ({
          load: clamp(c.load, 0, 100),
          mhz: Math.round(clamp((speed.cores?.[i] ?? avg) || avg, 0, 1000) * 1000),
        })),
        loadavg: [clamp(la[0], 0, 1e6), clamp(la[1], 0, 1e6), clamp(la[2], 0, 1e6)],
      },
      memory: {
        total: bytes(mem.total),
        used: bytes(mem.active ?? mem.used),
        available: bytes(mem.available),
        swapTotal: bytes(mem.swaptotal),
        swapUsed: bytes(mem.swapused),
      },
      disks: slow('disks', []),
      diskIo,
      network: net,
      temperatures: slow('temperatures', []),
      battery: slow('battery', null),
      users: slow('users', []),
      processes: this.#processes?.value ?? [],
      tcp: conns.tcp,
      listening: conns.listening,
    };
    this.#last = snapshot;
    this.samples++;
    this.#onSample?.(seriesOf(snapshot), snapshot.at);
    return snapshot;
  }

  async #readDiskIo(si: SystemInformation, now: number): Promise<StatsSnapshot['diskIo']> {
    if (process.platform === 'linux') {
      const before = this.#diskCounters;
      this.#diskCounters = { at: now, values: linuxDiskCounters() };
      return ratesSince(before, this.#diskCounters).map(([device, read, write]) => ({ device, read, write }));
    }
    const fs = await si.fsStats().catch(() => null);
    return fs ? [{ device: 'all', read: bytes(fs.rx_sec), write: bytes(fs.wx_sec) }] : [];
  }

  async #readNetwork(si: SystemInformation, now: number): Promise<StatsSnapshot['network']> {
    if (process.platform === 'linux') {
      const before = this.#netCounters;
      this.#netCounters = { at: now, values: linuxNetCounters() };
      return ratesSince(before, this.#netCounters).map(([iface, rx, tx]) => ({ iface, rx, tx }));
    }
    const net = await si.networkStats('*');
    return (Array.isArray(net) ? net : [])
      .filter((n) => n.iface)
      .slice(0, MAX_STATS_LIST)
      .map((n) => ({ iface: cut(n.iface, 64), rx: bytes(n.rx_sec), tx: bytes(n.tx_sec) }));
  }

  async #readProcesses(si: SystemInformation, now: number): Promise<ProcessInfo[]> {
    if (this.#procfs) return this.#procfs.read();
    const data = await si.processes();
    const list = data.list ?? [];
    // On Linux systeminformation gives a share of all cores; the snapshot says percent of one core.
    const linux = process.platform === 'linux';
    const scale = linux ? os.cpus().length || 1 : 1;
    // systeminformation measures a process's share between two lists, so one it has not seen
    // before reads ~0; on Linux it gets its lifetime average instead (as `ps` shows), so a new
    // busy process is listed at once rather than a list later.
    const seen = this.#seenPids;
    this.#seenPids = new Set(list.map((p) => p.pid));
    const uptime = linux && seen.size > 0 ? linuxUptime() : undefined;
    return list
      .map((p) => {
        let cpu = (p.cpu || 0) * scale;
        if (uptime !== undefined && !seen.has(p.pid)) cpu = Math.max(cpu, lifetimeCpu(p.pid, uptime));
        return { p, cpu: clamp(cpu, 0, 100_000) };
      })
      .sort((a, b) => b.cpu - a.cpu || (b.p.memRss || 0) - (a.p.memRss || 0) || a.p.pid - b.p.pid)
      .slice(0, MAX_PROCESSES)
      .map(({ p, cpu }) => ({
        pid: Math.round(clamp(p.pid, 0, 2 ** 31)),
        user: cut(p.user, 64),
        cpu,
        mem: clamp(p.mem, 0, 100),
        rss: bytes((p.memRss || 0) * 1024),
        state: cut(p.state, 32),
        elapsed: elapsedSince(p.started ?? '', now),
        name: cut(p.name, 256),
        command: cut([p.command, p.params].filter(Boolean).join(' '), 1024),
      }));
  }

  async #readInfo(si: SystemInformation): Promise<Info> {
    const [o, sys, cpu] = await Promise.all([si.osInfo(), si.system(), si.cpu()]);
    return {
      hostname: cut(o.hostname || os.hostname(), 256),
      platform: cut(o.platform || process.platform, 32),
      distro: cut(o.distro, 256),
      release: cut(o.release, 256),
      kernel: cut(o.kernel || os.release(), 256),
      arch: cut(o.arch || process.arch, 32),
      model: cut([sys.manufacturer, sys.model].filter(Boolean).join(' '), 256),
      cpuModel: cut([cpu.manufacturer, cpu.brand].filter(Boolean).join(' '), 256),
      uptime: 0,
    };
  }

  async #readDisks(si: SystemInformation): Promise<StatsSnapshot['disks']> {
    const list = await si.fsSize().catch(() => []);
    return list
      .filter((d) => d.mount && d.size > 0)
      .slice(0, MAX_STATS_LIST)
      .map((d) => ({
        mount: cut(d.mount, 1024),
        fs: cut(d.type || d.fs, 64),
        size: bytes(d.size),
        used: bytes(Math.min(d.used, d.size)),
      }));
  }

  async #readTemperatures(si: SystemInformation): Promise<StatsSnapshot['temperatures']> {
    const t = await si.cpuTemperature().catch(() => null);
    if (!t) return [];
    const out: { label: string; celsius: number }[] = [];
    const add = (label: string, c: unknown) => {
      if (typeof c === 'number' && Number.isFinite(c) && c > -273 && c < 1000 && c !== -1 && c !== 0)
        out.push({ label, celsius: c });
    };
    add('main', t.main);
    for (const [i, c] of (t.cores ?? []).entries()) add(`core${i}`, c);
    if (t.chipset !== undefined) add('chipset', t.chipset);
    return out.slice(0, MAX_STATS_LIST);
  }

  async #readConnections(si: SystemInformation): Promise<Connections> {
    const list = await si.networkConnections().catch(() => []);
    const tcp: Record<string, number> = {};
    const listening: { port: number; proto: string; process: string }[] = [];
    const seen = new Set<string>();
    for (const c of list) {
      const proto = (c.protocol || '').toLowerCase();
      const state = (c.state || '')
        .toUpperCase()
        .replace(/[^A-Z_0-9]/g, '_')
        .slice(0, 16);
      if (proto.startsWith('tcp') && state && (state in tcp || Object.keys(tcp).length < 16))
        tcp[state] = (tcp[state] ?? 0) + 1;
      const port = Number(c.localPort);
      const listens = state === 'LISTEN' || (proto.startsWith('udp') && !c.peerPort);
      if (listens && Number.isInteger(port) && port > 0 && port <= 65535) {
        const key = `${proto.slice(0, 8)}:${port}`;
        if (seen.has(key) || listening.length >= MAX_STATS_LIST) continue;
        seen.add(key);
        listening.push({ port, proto: proto.slice(0, 8), process: cut(c.process, 256) });
      }
    }
    // A plain comparison: the protocol names are ASCII, and localeCompare would load ICU into the daemon.
    listening.sort((a, b) => a.port - b.port || (a.proto < b.proto ? -1 : a.proto > b.proto ? 1 : 0));
    return { tcp, listening };
  }

  async #readUsers(si: SystemInformation): Promise<StatsSnapshot['users']> {
    const list = await si.users().catch(() => []);
    return list.slice(0, MAX_STATS_LIST).map((u) => {
      const t = new Date(`${u.date}T${u.time || '00:00'}`).getTime();
      return {
        user: cut(u.user, 64),
        tty: cut(u.tty, 64),
        from: cut(u.ip, 256),
        since: Number.isFinite(t) && t > 0 ? t : 0,
      };
    });
  }

  async #readBattery(si: SystemInformation): Promise<StatsSnapshot['battery']> {
    const b = await si.battery().catch(() => null);
    if (!b?.hasBattery) return null;
    return { percent: clamp(b.percent, 0, 100), charging: b.isCharging === true };
  }
}

const EMPTY_INFO: Info = {
  hostname: '',
  platform: process.platform,
  distro: '',
  release: '',
  kernel: '',
  arch: process.arch,
  model: '',
  cpuModel: '',
  uptime: 0,
};
