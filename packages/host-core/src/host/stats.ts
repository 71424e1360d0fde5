/**
 * The `stats` data channel (docs/protocol.md §6, issue 14): the protocol's
 * `STATS_METHODS` served with the shared RPC codec, as the control channel
 * is (size caps, grants checked per request — `stats` for the figures,
 * `admin` for process actions — every refusal audited). Messages larger
 * than one channel message travel as fragments (rpc-frames.ts).
 *
 * `stats.watch` sends a full `snapshot` event, then a `delta` event (only
 * the sections that changed, `statsDelta`) about every `intervalMs`, until
 * the channel closes; while it runs the collector counts one more watcher.
 * `process.signal` and `process.renice` refuse pid 1, the daemon and its
 * parents (`not_permitted`), answer `not_found` for a missing pid, and are
 * audited. Command lines and user names only ever travel on this channel.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import {
  encodeEvent,
  type Handlers,
  type HistoryPoint,
  type HistoryRange,
  MAX_STATS_REQUEST,
  ProtocolError,
  STATS_METHODS,
  type StatsMethods,
  type StatsSnapshot,
  statsDelta,
} from '@pocketshell/protocol';
import type { DataChannel } from '@pocketshell/webrtc';
import type { StatsCollector } from '../stats/collector.ts';
import type { ChannelContext } from './channels.ts';
import { serveRpcChannel } from './rpc-channel.ts';

/** The history store's query side (packages/host-core/src/stats/history.ts). */
export interface StatsHistoryQuery {
  query(
    series: string[],
    range: HistoryRange,
    now: number,
  ): { step: number; series: { name: string; points: HistoryPoint[] }[] };
}

/** What the stats channel serves from: the collector, and the history when the host keeps one. */
export interface StatsService {
  readonly collector: StatsCollector;
  readonly history?: StatsHistoryQuery;
}

/** The pids a device may never signal: 1, the daemon and its ancestors. */
export function protectedPids(pid = process.pid): Set<number> {
  const out = new Set<number>([0, 1, pid]);
  let at = pid;
  for (let i = 0; i < 64 && at > 1; i++) {
    const parent = parentOf(at);
    if (parent === undefined || out.has(parent)) break;
    out.add(parent);
    at = parent;
  }
  return out;
}

function parentOf(pid: number): number | undefined {
  try {
    if (process.platform === 'linux') {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // The command name (field 2) may hold spaces and parentheses: read after its last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      return Number.isInteger(ppid) ? ppid : undefined;
    }
    const out = execFileSync('ps', ['-o', 'ppid=', '-p', String(pid)], { encoding: 'utf8' });
    const ppid = Number(out.trim());
    return Number.isInteger(ppid) ? ppid : undefined;
  } catch {
    return undefined;
  }
}

/** Maps a failed `kill`/`setPriority` to a stable code. */
function processError(error: unknown): ProtocolError {
  // `kill` throws an errno error; `os.setPriority` a SystemError whose errno name is in `info.code`.
  const e = error as NodeJS.ErrnoException & { info?: { code?: string } };
  const code = e.info?.code ?? e.code;
  if (code === 'ESRCH') return new ProtocolError('not_found', 'no such process');
  if (code === 'EPERM' || code === 'EACCES')
    return new ProtocolError('not_permitted', 'the host’s user may not do that to this process');
  return new ProtocolError('internal', 'process action failed', { cause: error });
}

function checkTarget(pid: number): void {
  if (protectedPids().has(pid))
    throw new ProtocolError('not_permitted', 'pid 1, the daemon and its parents are protected');
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM here means the process exists but is another user's: the action itself says so.
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') throw processError(error);
  }
}

/** Serves the stats methods on `channel` until it closes. */
export function openStats(ctx: ChannelContext, channel: DataChannel): void {
  const service = ctx.stats;
  const stops = new Set<() => void>();
  serveRpcChannel(ctx, channel, {
    methods: STATS_METHODS,
    handlers: (send) => statsHandlers(ctx, service, send, stops),
    maxRequest: MAX_STATS_REQUEST,
    context: (id) => id,
    what: 'stats',
  });
  channel.on('close', () => {
    for (const stop of [...stops]) stop();
  });
}

/** The handlers, for one device's channel (the context of a call is its request id). */
export function statsHandlers(
  ctx: ChannelContext,
  service: StatsService | undefined,
  send: (text: string) => void,
  stops: Set<() => void>,
): Handlers<StatsMethods, number> {
  const need = (): StatsService => {
    if (!service) throw new ProtocolError('unsupported', 'this host serves no stats');
    return service;
  };
  return {
    'stats.snapshot': () => need().collector.snapshot(250),
    'stats.watch': ({ intervalMs }, id) =>
      new Promise((resolve) => {
        const { collector } = need();
        let last: StatsSnapshot | undefined;
        const stop = collector.watch(
          intervalMs,
          (s) => {
            if (s === last || !last) return;
            send(encodeEvent(id, 'delta', statsDelta(last, s)));
            last = s;
          },
          (error) => ctx.refuse(error, 'stats sample'),
        );
        const end = (ended: string) => {
          stop();
          stops.delete(onClose);
          resolve({ ended });
        };
        const onClose = () => end('closed');
        stops.add(onClose);
        collector.snapshot(intervalMs / 2).then(
          (s) => {
            last = s;
            send(encodeEvent(id, 'snapshot', s));
          },
          (error) => {
            ctx.refuse(error, 'stats sample');
            end('failed');
          },
        );
      }),
    'stats.history': ({ range, series }) => {
      const history = need().history;
      if (!history) throw new ProtocolError('unsupported', 'this host keeps no history');
      return history.query(series, range, Date.now());
    },
    'process.signal': ({ pid, signal }) => {
      checkTarget(pid);
      try {
        process.kill(pid, `SIG${signal}`);
      } catch (error) {
        throw processError(error);
      }
      // The field is `action`: the audit log refuses names containing `sig` (they look like signatures).
      ctx.audit.append('process.signal', { device: ctx.device, pid, action: signal });
      return { sent: true };
    },
    'process.renice': ({ pid, nice }) => {
      checkTarget(pid);
      try {
        os.setPriority(pid, nice);
      } catch (error) {
        throw processError(error);
      }
      const now = os.getPriority(pid);
      ctx.audit.append('process.renice', { device: ctx.device, pid, nice: now });
      return { nice: now };
    },
  };
}
