/**
 * `pocketshell doctor`: checks what the agent needs on this machine and
 * explains each result — the Node version, the key store, the state
 * folder's permissions, the relay (reachable, and the clock against its
 * clock), ICE (the relay's STUN/TURN servers answer a binding request),
 * tmux/screen, and the service. Each check is `ok`, `warn` or `fail` with a
 * one-line summary and, when not ok, what to do.
 */
import { createSocket } from 'node:dgram';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import {
  defaultEngineName,
  ENGINE_NAMES,
  IdentityStore,
  nodeDataChannelAvailable,
  openSecretStore,
  type StatePaths,
  TrustStore,
} from '@pocketshell/host-core';
import { RelayClient, type WebSocketFactory } from '@pocketshell/protocol';
import { WebSocket } from 'ws';
import { DOCS, readConfig, relayUrls } from './config.ts';
import { type Runner, runCommand, type ServiceBackend } from './service/backend.ts';
import { liveStatus } from './service/control.ts';

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface Check {
  readonly id: string;
  readonly status: CheckStatus;
  readonly summary: string;
  readonly fix?: string;
}

export interface DoctorReport {
  readonly ok: boolean;
  readonly version: string;
  readonly checks: readonly Check[];
}

export interface DoctorOptions {
  readonly paths: StatePaths;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly version: string;
  readonly service: () => Promise<ServiceBackend>;
  readonly nodeVersion?: string;
  readonly now?: () => number;
  readonly run?: Runner;
  readonly fetch?: typeof fetch;
  readonly timeoutMs?: number;
}

/** The oldest Node the agent runs on. */
export const MIN_NODE = [22, 18] as const;
/** Clock skew past which signed messages risk being refused as stale. */
export const SKEW_WARN_MS = 30_000;

function check(id: string, status: CheckStatus, summary: string, fix?: string): Check {
  return fix && status !== 'ok' ? { id, status, summary, fix } : { id, status, summary };
}

export function checkNode(version: string): Check {
  const [major = 0, minor = 0] = version.replace(/^v/, '').split('.').map(Number);
  const ok = major > MIN_NODE[0] || (major === MIN_NODE[0] && minor >= MIN_NODE[1]);
  return ok
    ? check('node', 'ok', `Node ${version}`)
    : check('node', 'fail', `Node ${version} is too old`, `install Node ${MIN_NODE.join('.')} or newer`);
}

/** The state folder and its files must be the user's own and private. */
export function checkState(paths: StatePaths, uid = process.getuid?.()): Check {
  if (!existsSync(paths.root))
    return check('state', 'ok', `${paths.root} does not exist yet (made at the first pair or start)`);
  const problems: string[] = [];
  const look = (path: string, dir: boolean) => {
    const st = statSync(path);
    if (uid !== undefined && st.uid !== uid) problems.push(`${path} belongs to uid ${st.uid}`);
    if ((st.mode & 0o077) !== 0 && !(dir === false && path.endsWith('.sock')))
      problems.push(`${path} is mode ${(st.mode & 0o777).toString(8)}`);
  };
  look(paths.root, true);
  for (const name of readdirSync(paths.root)) {
    const full = join(paths.root, name);
    const st = statSync(full);
    if (st.isSocket()) continue;
    look(full, st.isDirectory());
  }
  return problems.length === 0
    ? check('state', 'ok', `${paths.root} is private (0700, files 0600)`)
    : check('state', 'fail', problems.slice(0, 3).join('; '), `chmod -R go-rwx ${paths.root}`);
}

/** The state files parse: `config.json` (the relay) and `devices.json` (pinned devices). */
export function checkFiles(paths: StatePaths): Check {
  const problems: string[] = [];
  const files: string[] = [];
  for (const [file, read] of [
    [paths.config, () => readConfig(paths)],
    [paths.devices, () => new TrustStore({ paths }).list()],
  ] as const) {
    if (!existsSync(file)) continue;
    files.push(basename(file));
    try {
      read();
    } catch (error) {
      problems.push((error as Error).message);
    }
  }
  if (problems.length > 0)
    return check(
      'files',
      'fail',
      problems.join('; '),
      `move the damaged file away (mv FILE FILE.bad): config.json is remade by pocketshell pair --relay URL, devices.json by pairing the devices again`,
    );
  return check('files', 'ok', files.length > 0 ? `${files.join(', ')} read fine` : 'no state files yet');
}

async function checkKeystore(o: DoctorOptions): Promise<Check> {
  try {
    const s = await openSecretStore({ paths: o.paths, env: o.env });
    return s.kind === 'keychain'
      ? check('keystore', 'ok', `OS keychain (${s.reason})`)
      : check(
          'keystore',
          'warn',
          `file store, 0600 (${s.reason})`,
          'the host key is as safe as this account; an OS keychain (Secret Service, macOS Keychain) guards it better',
        );
  } catch (error) {
    return check('keystore', 'fail', (error as Error).message, `see ${DOCS}/host.md#state (key store)`);
  }
}

async function checkRelay(o: DoctorOptions, relay: string | undefined): Promise<Check[]> {
  if (!relay)
    return [
      check('relay', 'warn', 'no relay configured', 'pocketshell pair --relay URL (or pocketshell up)'),
      check('clock', 'warn', 'not checked (no relay)'),
    ];
  const web = relayUrls(relay).web;
  const now = o.now ?? Date.now;
  const t0 = now();
  let res: Response;
  try {
    res = await (o.fetch ?? fetch)(`${web}/healthz`, { signal: AbortSignal.timeout(o.timeoutMs ?? 5_000) });
  } catch (error) {
    const why = (error as Error & { cause?: Error }).cause?.message ?? (error as Error).message;
    return [
      check(
        'relay',
        'fail',
        `${web} unreachable: ${why}`,
        'check the URL, DNS, a firewall or the reverse proxy',
      ),
      check('clock', 'warn', 'not checked (relay unreachable)'),
    ];
  }
  const t1 = now();
  await res.arrayBuffer();
  const relayCheck =
    res.status === 200
      ? check('relay', 'ok', `${web} answers (${t1 - t0} ms)`)
      : check('relay', 'fail', `${web}/healthz answered ${res.status}`, 'see the relay’s logs');
  const date = res.headers.get('date');
  if (!date) return [relayCheck, check('clock', 'warn', 'the relay sent no Date header')];
  // Date has one-second resolution: allow it on top of the threshold.
  const skew = Date.parse(date) + 500 - (t0 + t1) / 2;
  const summary = `clock ${Math.abs(Math.round(skew / 1000))} s ${skew > 0 ? 'behind' : 'ahead of'} the relay`;
  return [
    relayCheck,
    Math.abs(skew) > SKEW_WARN_MS + 1_000
      ? check('clock', 'warn', summary, 'turn on time sync (systemd-timesyncd, chrony, or macOS Date & Time)')
      : check('clock', 'ok', summary),
  ];
}

/** Sends one STUN Binding request over UDP; resolves with the round trip in ms, or null. */
export function stunBinding(host: string, port: number, timeoutMs: number): Promise<number | null> {
  return new Promise((resolve) => {
    const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    const txid = crypto.getRandomValues(new Uint8Array(12));
    const req = Buffer.alloc(20);
    req.writeUInt16BE(0x0001, 0);
    req.writeUInt16BE(0, 2);
    req.writeUInt32BE(0x2112a442, 4);
    req.set(txid, 8);
    const start = performance.now();
    const done = (v: number | null) => {
      clearTimeout(timer);
      socket.close();
      resolve(v);
    };
    const timer = setTimeout(() => done(null), timeoutMs);
    socket.on('error', () => done(null));
    socket.on('message', (m) => {
      if (m.length >= 20 && m.readUInt16BE(0) === 0x0101 && Buffer.from(txid).equals(m.subarray(8, 20)))
        done(Math.round(performance.now() - start));
    });
    socket.send(req, port, host);
  });
}

async function checkIce(o: DoctorOptions, relay: string | undefined, daemonUp: boolean): Promise<Check> {
  if (!relay) return check('ice', 'warn', 'not checked (no relay)');
  if (daemonUp)
    return check(
      'ice',
      'warn',
      'not checked while the daemon holds the relay connection',
      'pocketshell daemon stop, then doctor',
    );
  const secrets = await openSecretStore({ paths: o.paths, env: o.env });
  const identity = await new IdentityStore({ paths: o.paths, secrets }).load();
  if (!identity) return check('ice', 'warn', 'not checked (no host identity yet)', 'pocketshell pair');
  const client = new RelayClient({
    url: relay,
    role: 'host',
    keyPair: { publicKey: identity.publicKey, secretKey: identity.secretKey },
    WebSocket: WebSocket as unknown as WebSocketFactory,
  });
  let urls: string[];
  try {
    client.start();
    await client.waitReady(o.timeoutMs ?? 5_000);
    urls = (await client.request({ t: 'turn.credentials' })).urls;
  } catch (error) {
    if ((error as { code?: string }).code === 'not_paired') {
      return check(
        'ice',
        'warn',
        'not checked: the relay gives TURN credentials only once this host has a paired device',
        'pocketshell pair, then doctor',
      );
    }
    return check(
      'ice',
      'warn',
      `no STUN/TURN from the relay (${(error as Error).message})`,
      `host candidates only: fine on one network; configure TURN on the relay for the rest (${DOCS}/relay.md)`,
    );
  } finally {
    client.close();
  }
  if (urls.length === 0)
    return check(
      'ice',
      'warn',
      'the relay offers no STUN/TURN servers',
      `configure --turn-url/--turn-secret on the relay (${DOCS}/relay.md)`,
    );
  const results: string[] = [];
  let answered = 0;
  for (const url of urls) {
    const m = /^(?:stun|turn):(\[[^\]]+\]|[^:?]+)(?::(\d+))?(\?transport=udp)?$/.exec(url);
    if (!m) {
      results.push(`${url}: not probed (TCP/TLS)`);
      continue;
    }
    const host = m[1]!.replace(/^\[|\]$/g, '');
    const rtt = await stunBinding(host, Number(m[2] ?? 3478), o.timeoutMs ?? 3_000);
    if (rtt !== null) answered++;
    results.push(`${url}: ${rtt === null ? 'no answer' : `${rtt} ms`}`);
  }
  return answered > 0
    ? check('ice', 'ok', results.join('; '))
    : check(
        'ice',
        'warn',
        results.join('; '),
        'UDP to the TURN server is blocked: allow it, or offer turns: on 443',
      );
}

/** Which WebRTC engine the daemon runs (`POCKETSHELL_ENGINE`, else node-datachannel where it loads). */
export function checkEngine(
  env: Readonly<Record<string, string | undefined>>,
  available: () => boolean = nodeDataChannelAvailable,
): Check {
  const forced = env.POCKETSHELL_ENGINE;
  if (forced && !(ENGINE_NAMES as readonly string[]).includes(forced))
    return check(
      'engine',
      'fail',
      `POCKETSHELL_ENGINE=${forced} is not an engine`,
      `use one of ${ENGINE_NAMES.join(', ')}, or unset it`,
    );
  const native = available();
  if (forced === 'node-datachannel' && !native)
    return check(
      'engine',
      'fail',
      'POCKETSHELL_ENGINE=node-datachannel, but its native binary does not load here',
      'unset POCKETSHELL_ENGINE (werift, pure JavaScript, runs anywhere)',
    );
  const name = forced || defaultEngineName(available);
  const why = forced
    ? 'forced by POCKETSHELL_ENGINE'
    : native
      ? 'default: the native binary loads'
      : 'default: node-datachannel does not load on this platform';
  return check('engine', 'ok', `${name} (${why})`);
}

async function checkMultiplexers(run: Runner): Promise<Check> {
  const found: string[] = [];
  for (const [cmd, arg] of [
    ['tmux', '-V'],
    ['screen', '-v'],
  ] as const) {
    const r = await run(cmd, [arg]);
    if (r.code === 127) continue;
    found.push((r.stdout || r.stderr).trim().split('\n')[0] ?? cmd);
  }
  return found.length > 0
    ? check('multiplexer', 'ok', found.join('; '))
    : check(
        'multiplexer',
        'warn',
        'neither tmux nor screen found',
        'install tmux so sessions outlive the agent and can be shared',
      );
}

async function checkService(o: DoctorOptions): Promise<{ check: Check; daemonUp: boolean }> {
  const live = await liveStatus(o.paths).catch(() => null);
  try {
    const s = await (await o.service()).status();
    const daemon = live ? `daemon answers (pid ${String(live.pid)})` : 'daemon not answering';
    return {
      daemonUp: live !== null,
      check:
        s.running || live
          ? check('service', 'ok', `${s.detail}; ${daemon}`)
          : check('service', 'warn', `${s.detail}; ${daemon}`, 'pocketshell daemon start'),
    };
  } catch (error) {
    return { daemonUp: live !== null, check: check('service', 'warn', (error as Error).message) };
  }
}

/** Runs every check. */
export async function doctor(o: DoctorOptions): Promise<DoctorReport> {
  const relay = (() => {
    try {
      return readConfig(o.paths).relay;
    } catch {
      return undefined;
    }
  })();
  const service = await checkService(o);
  const checks = [
    checkNode(o.nodeVersion ?? process.versions.node),
    await checkKeystore(o),
    checkState(o.paths),
    checkFiles(o.paths),
    ...(await checkRelay(o, relay)),
    await checkIce(o, relay, service.daemonUp),
    checkEngine(o.env),
    await checkMultiplexers(o.run ?? runCommand),
    service.check,
  ];
  return { ok: checks.every((c) => c.status !== 'fail'), version: o.version, checks };
}

/** The report for people. */
export function formatDoctor(r: DoctorReport): string {
  const mark = { ok: 'ok  ', warn: 'warn', fail: 'FAIL' } as const;
  return [
    `pocketshell ${r.version} doctor`,
    ...r.checks.flatMap((c) => [
      `[${mark[c.status]}] ${c.id.padEnd(11)} ${c.summary}`,
      ...(c.fix ? [`       ${''.padEnd(11)} → ${c.fix}`] : []),
    ]),
  ].join('\n');
}
