/**
 * The `stats` channel's contract (issue 14, docs/protocol.md §6): what a
 * host's live snapshot holds, the compact delta stream, the history the
 * host keeps, and the process actions — as types, parsers that rebuild
 * every field with bounds, and the method map served on the channel with
 * the shared RPC codec. Nothing here ever reaches the relay: the channel is
 * end-to-end, and command lines and user names only travel on it.
 */
import { ProtocolError } from './errors.ts';
import { method, noParams } from './rpc.ts';
import { array, boolean, finite, integer, type Obj, object, oneOf, string } from './schema.ts';

/** Most processes a snapshot lists (the top by CPU). */
export const MAX_PROCESSES = 50;
/** Most entries of every other list (cores, disks, interfaces, sensors, users, ports). */
export const MAX_STATS_LIST = 256;
/** Fastest and slowest live rate a device may ask for, in milliseconds. */
export const STATS_INTERVAL = { min: 250, default: 1000, max: 60_000 } as const;
/** The history ranges a device may ask for. */
export const HISTORY_RANGES = ['1h', '24h', '7d', '30d', '1y'] as const;
/** One history range. */
export type HistoryRange = (typeof HISTORY_RANGES)[number];
/** Signals a device may send to a process (grant `admin`). */
export const PROCESS_SIGNALS = ['TERM', 'KILL', 'STOP', 'CONT'] as const;
/** One such signal. */
export type ProcessSignal = (typeof PROCESS_SIGNALS)[number];

const BIG = Number.MAX_SAFE_INTEGER;
const PCT = (o: Obj, k: string) => finite(o, k, 0, 100_000); // per-process CPU % can pass 100 on many cores
const BYTES = (o: Obj, k: string) => finite(o, k, 0, BIG);
const list = <T>(o: Obj, k: string, item: (v: unknown) => T, max = MAX_STATS_LIST) =>
  array(o, k, max, (v) => item(v));
const text = (o: Obj, k: string, max = 256) => string(o, k, max);

/** A process as listed. */
export interface ProcessInfo {
  readonly pid: number;
  readonly user: string;
  /** Percent of one core. */
  readonly cpu: number;
  /** Percent of memory. */
  readonly mem: number;
  /** Resident bytes. */
  readonly rss: number;
  readonly state: string;
  /** Seconds since it started. */
  readonly elapsed: number;
  readonly name: string;
  /** The command line, capped at 1024 characters. */
  readonly command: string;
}

/** A full snapshot of a host. */
export interface StatsSnapshot {
  /** Milliseconds since the epoch, at the host. */
  readonly at: number;
  readonly system: {
    readonly hostname: string;
    readonly platform: string;
    readonly distro: string;
    readonly release: string;
    readonly kernel: string;
    readonly arch: string;
    readonly model: string;
    readonly cpuModel: string;
    /** Seconds. */
    readonly uptime: number;
  };
  readonly cpu: {
    /** Percent of all cores. */
    readonly total: number;
    readonly cores: readonly { readonly load: number; readonly mhz: number }[];
    /** 1, 5 and 15 minutes. */
    readonly loadavg: readonly [number, number, number];
  };
  readonly memory: {
    readonly total: number;
    readonly used: number;
    readonly available: number;
    readonly swapTotal: number;
    readonly swapUsed: number;
  };
  readonly disks: readonly {
    readonly mount: string;
    readonly fs: string;
    readonly size: number;
    readonly used: number;
  }[];
  /** Bytes per second, per block device. */
  readonly diskIo: readonly { readonly device: string; readonly read: number; readonly write: number }[];
  /** Bytes per second, per interface. */
  readonly network: readonly { readonly iface: string; readonly rx: number; readonly tx: number }[];
  /** Degrees Celsius (empty when the machine exposes no sensor). */
  readonly temperatures: readonly { readonly label: string; readonly celsius: number }[];
  readonly battery: { readonly percent: number; readonly charging: boolean } | null;
  readonly users: readonly {
    readonly user: string;
    readonly tty: string;
    readonly from: string;
    readonly since: number;
  }[];
  readonly processes: readonly ProcessInfo[];
  /** TCP connections by state (`ESTABLISHED`, `LISTEN`, …). */
  readonly tcp: Readonly<Record<string, number>>;
  readonly listening: readonly { readonly port: number; readonly proto: string; readonly process: string }[];
}

function processInfo(v: unknown): ProcessInfo {
  const o = object(v, 'process');
  return {
    pid: integer(o, 'pid', 0, 2 ** 31),
    user: text(o, 'user', 64),
    cpu: PCT(o, 'cpu'),
    mem: finite(o, 'mem', 0, 100),
    rss: BYTES(o, 'rss'),
    state: text(o, 'state', 32),
    elapsed: finite(o, 'elapsed', 0, BIG),
    name: text(o, 'name', 256),
    command: text(o, 'command', 1024),
  };
}

/** Parses a snapshot (every field rebuilt, every number bounded); `bad_message` otherwise. */
export function parseStatsSnapshot(value: unknown): StatsSnapshot {
  const o = object(value, 'snapshot');
  const sys = object(o.system, 'system');
  const cpu = object(o.cpu, 'cpu');
  const mem = object(o.memory, 'memory');
  const loadavg = array(cpu, 'loadavg', 3, (v, f) => finite({ [f]: v }, f, 0, 1e6));
  if (loadavg.length !== 3) throw new ProtocolError('bad_message', 'loadavg: expected 3 numbers');
  const tcpIn = object(o.tcp, 'tcp');
  const tcp: Record<string, number> = {};
  for (const k of Object.keys(tcpIn).slice(0, 16)) {
    if (!/^[A-Z_0-9]{1,16}$/.test(k)) throw new ProtocolError('bad_message', 'tcp: bad state');
    tcp[k] = integer(tcpIn, k, 0, BIG);
  }
  const battery =
    o.battery === null
      ? null
      : (() => {
          const b = object(o.battery, 'battery');
          return { percent: finite(b, 'percent', 0, 100), charging: boolean(b, 'charging') };
        })();
  return {
    at: integer(o, 'at', 0, BIG),
    system: {
      hostname: text(sys, 'hostname'),
      platform: text(sys, 'platform', 32),
      distro: text(sys, 'distro'),
      release: text(sys, 'release'),
      kernel: text(sys, 'kernel'),
      arch: text(sys, 'arch', 32),
      model: text(sys, 'model'),
      cpuModel: text(sys, 'cpuModel'),
      uptime: finite(sys, 'uptime', 0, BIG),
    },
    cpu: {
      total: finite(cpu, 'total', 0, 100),
      cores: list(cpu, 'cores', (v) => {
        const c = object(v, 'core');
        return { load: finite(c, 'load', 0, 100), mhz: finite(c, 'mhz', 0, 1e6) };
      }),
      loadavg: loadavg as [number, number, number],
    },
    memory: {
      total: BYTES(mem, 'total'),
      used: BYTES(mem, 'used'),
      available: BYTES(mem, 'available'),
      swapTotal: BYTES(mem, 'swapTotal'),
      swapUsed: BYTES(mem, 'swapUsed'),
    },
    disks: list(o, 'disks', (v) => {
      const d = object(v, 'disk');
      return {
        mount: text(d, 'mount', 1024),
        fs: text(d, 'fs', 64),
        size: BYTES(d, 'size'),
        used: BYTES(d, 'used'),
      };
    }),
    diskIo: list(o, 'diskIo', (v) => {
      const d = object(v, 'diskIo');
      return { device: text(d, 'device', 64), read: BYTES(d, 'read'), write: BYTES(d, 'write') };
    }),
    network: list(o, 'network', (v) => {
      const n = object(v, 'network');
      return { iface: text(n, 'iface', 64), rx: BYTES(n, 'rx'), tx: BYTES(n, 'tx') };
    }),
    temperatures: list(o, 'temperatures', (v) => {
      const t = object(v, 'temperature');
      return { label: text(t, 'label', 64), celsius: finite(t, 'celsius', -273, 1000) };
    }),
    battery,
    users: list(o, 'users', (v) => {
      const u = object(v, 'user');
      return {
        user: text(u, 'user', 64),
        tty: text(u, 'tty', 64),
        from: text(u, 'from', 256),
        since: finite(u, 'since', 0, BIG),
      };
    }),
    processes: list(o, 'processes', processInfo, MAX_PROCESSES),
    tcp,
    listening: list(o, 'listening', (v) => {
      const l = object(v, 'listening');
      return {
        port: integer(l, 'port', 0, 65535),
        proto: text(l, 'proto', 8),
        process: text(l, 'process', 256),
      };
    }),
  };
}

/** One history point: the minute or hour it starts (ms), then min, avg, max over it. */
export type HistoryPoint = readonly [at: number, min: number, avg: number, max: number];

/** The numeric series the host keeps history for (`cpu`, `mem`, `swap`, `load1`, `net.rx`, `net.tx`, `disk:<mount>`, `temp:<label>`…). */
export const SERIES_NAME = /^[a-z][a-z0-9]*(?:[.:][A-Za-z0-9_./-]{1,64})?$/;
/** Most series one `stats.history` request asks for (so a 7 d answer stays within `MAX_STATS_REPLY`). */
export const MAX_HISTORY_SERIES = 16;

/** The methods of the `stats` channel. */
export const STATS_METHODS = {
  /** A full snapshot now. */
  'stats.snapshot': method({ grant: 'stats', params: noParams, result: parseStatsSnapshot }),
  /**
   * Streams the host's figures until the channel closes: event `snapshot`
   * (a full one, first), then `delta` events (`StatsDelta`: the sections
   * that changed, whole) about every `intervalMs` (bounded by
   * `STATS_INTERVAL`). Resolves when the stream ends.
   */
  'stats.watch': method({
    grant: 'stats',
    params: (v) => {
      if (v === undefined || v === null) return { intervalMs: STATS_INTERVAL.default };
      const o = object(v, 'params');
      return { intervalMs: integer(o, 'intervalMs', STATS_INTERVAL.min, STATS_INTERVAL.max) };
    },
    result: (v) => ({ ended: string(object(v, 'result'), 'ended', 32) }),
  }),
  /** History of some series over a range: 1 h and 24 h by the minute, 7 d by 5 minutes, 30 d by the hour, 1 y by 6 hours (`step` says which). */
  'stats.history': method({
    grant: 'stats',
    params: (v) => {
      const o = object(v, 'params');
      return {
        range: oneOf(o, 'range', HISTORY_RANGES),
        series: array(o, 'series', MAX_HISTORY_SERIES, (x, f) => string({ [f]: x }, f, 80, SERIES_NAME)),
      };
    },
    result: (v) => {
      const o = object(v, 'result');
      return {
        step: integer(o, 'step', 1000, 86_400_000),
        series: array(o, 'series', MAX_HISTORY_SERIES, (x) => {
          const s = object(x, 'series');
          return {
            name: string(s, 'name', 80, SERIES_NAME),
            points: array(s, 'points', 60 * 24 * 31, (p, f) => {
              const a = array({ [f]: p }, f, 4, (n, g) => finite({ [g]: n }, g, -1e18, 1e18));
              if (a.length !== 4)
                throw new ProtocolError('bad_message', `${f}: expected [at, min, avg, max]`);
              return a as unknown as HistoryPoint;
            }),
          };
        }),
      };
    },
  }),
  /** Sends a signal to a process (audited; confirmed on the device first). */
  'process.signal': method({
    grant: 'admin',
    params: (v) => {
      const o = object(v, 'params');
      return { pid: integer(o, 'pid', 2, 2 ** 31), signal: oneOf(o, 'signal', PROCESS_SIGNALS) };
    },
    result: (v) => ({ sent: boolean(object(v, 'result'), 'sent') }),
  }),
  /** Changes a process's niceness (−20…19; lowering it needs the host's own privileges). */
  'process.renice': method({
    grant: 'admin',
    params: (v) => {
      const o = object(v, 'params');
      return { pid: integer(o, 'pid', 2, 2 ** 31), nice: integer(o, 'nice', -20, 19) };
    },
    result: (v) => ({ nice: integer(object(v, 'result'), 'nice', -20, 19) }),
  }),
} as const;

/** The stats method map's type. */
export type StatsMethods = typeof STATS_METHODS;

/** Largest request on the stats channel, in bytes. */
export const MAX_STATS_REQUEST = 4 * 1024;
/** Largest message a device accepts on the stats channel (a snapshot, a history reply). */
export const MAX_STATS_REPLY = 4 * 1024 * 1024;

/** The sections of a snapshot a delta may carry (every key but `at`). */
export const STATS_SECTIONS = [
  'system',
  'cpu',
  'memory',
  'disks',
  'diskIo',
  'network',
  'temperatures',
  'battery',
  'users',
  'processes',
  'tcp',
  'listening',
] as const;
/** One section. */
export type StatsSection = (typeof STATS_SECTIONS)[number];

/**
 * A `delta` event of `stats.watch`: the new `at`, and every top-level
 * section whose value changed since the previous event, whole (a merge
 * patch one level deep; a section left out is unchanged). Applying it to
 * the previous snapshot gives the host's snapshot exactly.
 */
export type StatsDelta = { readonly at: number } & { readonly [K in StatsSection]?: StatsSnapshot[K] };

/** The delta from `prev` to `next`: `at` and the sections whose JSON differs. */
export function statsDelta(prev: StatsSnapshot, next: StatsSnapshot): StatsDelta {
  const delta: Record<string, unknown> = { at: next.at };
  for (const k of STATS_SECTIONS) if (JSON.stringify(prev[k]) !== JSON.stringify(next[k])) delta[k] = next[k];
  return delta as StatsDelta;
}

/**
 * Applies a `delta` event (as received: unchecked) to the snapshot it
 * follows; the result is parsed whole, so a delta with an unknown key or a
 * bad section is `bad_message`.
 */
export function applyStatsDelta(prev: StatsSnapshot, delta: unknown): StatsSnapshot {
  const d = object(delta, 'delta');
  for (const k of Object.keys(d))
    if (k !== 'at' && !(STATS_SECTIONS as readonly string[]).includes(k))
      throw new ProtocolError('bad_message', 'delta: unknown section');
  return parseStatsSnapshot({ ...prev, ...d });
}

/**
 * Follows a `stats.watch` request's events, returning the host's current
 * snapshot after each: `snapshot` replaces it, `delta` changes it (a delta
 * before any snapshot, or another event, returns undefined and changes
 * nothing). A malformed event throws `bad_message`; the caller drops the
 * channel. The Node client and the web client both watch through it.
 */
export function statsFollower(): (event: string, data: unknown) => StatsSnapshot | undefined {
  let current: StatsSnapshot | undefined;
  return (event, data) => {
    if (event === 'snapshot') current = parseStatsSnapshot(data);
    else if (event === 'delta' && current) current = applyStatsDelta(current, data);
    else return undefined;
    return current;
  };
}
