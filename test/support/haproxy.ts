/**
 * A private HAProxy in front of relay nodes, as a fleet's load balancer
 * (docs/operations.md, "TLS and load balancing" prints the configuration
 * `haproxyConfig` makes): Debian's `haproxy` in the foreground on
 * 127.0.0.1 at a free port, HTTP mode with WebSocket upgrades passed
 * through, `X-Forwarded-For` added (the nodes run with `--trust-proxy`),
 * each node health-checked on `/readyz`. Its admin socket answers
 * `serverState` (UP / DOWN as HAProxy sees each node). `stop()` is
 * idempotent. `scripts/install-system-deps.sh` installs the package.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, systemBinary } from '@pocketshell/relay/testing';

/** One relay node behind the balancer. */
export interface Backend {
  name: string;
  host: string;
  port: number;
}

/** How the configuration is written. */
export interface HaproxyConfigOptions {
  /** `bind` line's address (`127.0.0.1:PORT`; production: `:443 ssl crt /etc/haproxy/relay.pem`). */
  bind: string;
  backends: Backend[];
  /** `leastconn` in production; the test uses `first` to know where clients land. */
  balance?: 'leastconn' | 'first' | 'roundrobin';
  /** The admin socket (tests). */
  statsSocket?: string;
  /** Milliseconds between health checks (default 2000; the test: 200). */
  checkIntervalMs?: number;
  /** Client connections at most (default 20 000: two sockets each need the file descriptors; the test: 1000). */
  maxconn?: number;
}

/** The haproxy.cfg the test runs (and docs/operations.md shows). */
export function haproxyConfig(o: HaproxyConfigOptions): string {
  const inter = o.checkIntervalMs ?? 2000;
  return `global
    maxconn ${o.maxconn ?? 20_000}
${o.statsSocket !== undefined ? `    stats socket ${o.statsSocket} mode 600 level admin\n` : ''}
defaults
    mode http
    option forwardfor
    # a node that refuses or dies at connect: try another (a WebSocket is then opened there)
    option redispatch
    retries 3
    timeout connect 2s
    # above the relay's 25 s ping; a WebSocket, once upgraded, lives under the tunnel timeout
    timeout client 90s
    timeout server 90s
    timeout tunnel 1h
    timeout http-request 10s

frontend relay
    bind ${o.bind}
    default_backend nodes

backend nodes
    balance ${o.balance ?? 'leastconn'}
    # out of rotation when /readyz fails (the node lost its store or Redis) or the node is gone
    option httpchk
    http-check send meth GET uri /readyz
    http-check expect status 200
    default-server check inter ${inter}ms fall 2 rise 2
${o.backends.map((b) => `    server ${b.name} ${b.host}:${b.port}`).join('\n')}
`;
}

/** A running private HAProxy. */
export interface StartedHaproxy {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  /** `ws://127.0.0.1:PORT/ws` */
  readonly wsUrl: string;
  readonly config: string;
  /** Each node's state as HAProxy sees it (`UP`, `DOWN`, …), by server name. */
  serverState(): Promise<Map<string, string>>;
  /** Stops it and removes its folder. Idempotent. */
  stop(): Promise<void>;
}

export function haproxyBinary(): string {
  return systemBinary(['/usr/sbin/haproxy', '/usr/local/sbin/haproxy'], '-v', 'haproxy');
}

/** One command on the admin socket; its whole answer. */
function admin(socket: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = createConnection(socket);
    let out = '';
    c.setEncoding('utf8');
    c.on('data', (d: string) => {
      out += d;
    });
    c.once('error', reject);
    c.once('end', () => resolve(out));
    c.once('connect', () => c.write(`${command}\n`));
  });
}

/** Starts HAProxy in front of `backends` and waits until its admin socket answers. */
export async function startHaproxy(
  backends: Backend[],
  options: { balance?: HaproxyConfigOptions['balance'] } = {},
): Promise<StartedHaproxy> {
  const bin = haproxyBinary();
  const dir = mkdtempSync(join(tmpdir(), 'pocketshell-haproxy-'));
  const port = await freePort();
  const statsSocket = join(dir, 'admin.sock');
  const config = haproxyConfig({
    bind: `127.0.0.1:${port}`,
    backends,
    statsSocket,
    checkIntervalMs: 200,
    maxconn: 1000,
    ...(options.balance !== undefined ? { balance: options.balance } : {}),
  });
  const cfgPath = join(dir, 'haproxy.cfg');
  writeFileSync(cfgPath, config);
  let output = '';
  // -db: foreground, no daemon; -W would add a master process (one process is easier to stop)
  const proc: ChildProcess = spawn(bin, ['-db', '-f', cfgPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const keep = (d: Buffer) => {
    output = (output + d.toString()).slice(-8000);
  };
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    })();
    return stopping;
  };
  const serverState = async () => {
    // `show stat`: CSV, one line per proxy and server, `status` UP / DOWN / … (with a check count after a space)
    const text = await admin(statsSocket, 'show stat');
    const header = text.split('\n')[0]!.replace(/^# /, '').split(',');
    const [px, sv, st] = ['pxname', 'svname', 'status'].map((f) => header.indexOf(f)) as [
      number,
      number,
      number,
    ];
    const out = new Map<string, string>();
    for (const line of text.split('\n').slice(1)) {
      const cols = line.split(',');
      if (cols[px] !== 'nodes' || cols[sv] === 'BACKEND' || cols[sv] === undefined) continue;
      out.set(cols[sv]!, cols[st]!.split(' ')[0]!);
    }
    return out;
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const states = await serverState();
      if ([...states.values()].every((s) => s === 'UP') && states.size === backends.length) break;
    } catch {
      // not listening yet
    }
    if (proc.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`haproxy did not start (or its nodes are not up); output:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    config,
    serverState,
    stop,
  };
}
