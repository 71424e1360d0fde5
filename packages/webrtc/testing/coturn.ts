/**
 * Test support: Debian's coturn (`turnserver`) started by a test, with a UDP
 * and TCP listener on one port and a TLS listener on another, its TLS
 * certificate issued by a throwaway test CA made with openssl (so clients
 * verify it for real: Node through `ca`, Chromium through an NSS database
 * in its HOME). `ip` picks the address (127.0.0.1, or one inside a network
 * namespace the test made — then `exec` runs it there). Credentials follow
 * the relay's REST scheme (`use-auth-secret`). Never for production code.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IceServer } from '../src/engine.ts';

/** A port on `ip` free for both TCP and UDP right now (coturn listens on both). */
export async function freeTcpUdpPort(ip = '127.0.0.1'): Promise<number> {
  for (;;) {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, ip, () => r()));
    const { port } = server.address() as { port: number };
    const udp = createSocket('udp4');
    const free = await new Promise<boolean>((r) => {
      udp.once('error', () => r(false));
      udp.bind(port, ip, () => r(true));
    });
    await new Promise<void>((r) => server.close(() => r()));
    if (free) await new Promise<void>((r) => udp.close(() => r()));
    if (free) return port;
  }
}

/** A CA made for one test run, and a server certificate it signed. */
export interface TestCa {
  dir: string;
  /** The CA certificate (PEM file and text). */
  caFile: string;
  caPem: string;
  certFile: string;
  keyFile: string;
}

/** Makes a CA and a certificate for `names` (DNS names and IP addresses) signed by it. */
export function makeTestCa(dir: string, names: { dns?: string[]; ip?: string[] }): TestCa {
  const ossl = (args: string[]) =>
    execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const caFile = join(dir, 'ca.pem');
  const certFile = join(dir, 'server.pem');
  const keyFile = join(dir, 'server.key');
  ossl([
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=PocketShell test CA',
    '-keyout',
    join(dir, 'ca.key'),
    '-out',
    caFile,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  const san = [...(names.dns ?? []).map((n) => `DNS:${n}`), ...(names.ip ?? []).map((n) => `IP:${n}`)].join(
    ',',
  );
  writeFileSync(
    join(dir, 'ext.cnf'),
    `subjectAltName=${san}\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\nbasicConstraints=CA:FALSE\n`,
  );
  ossl([
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-subj',
    '/CN=turn.test',
    '-keyout',
    keyFile,
    '-out',
    join(dir, 'server.csr'),
  ]);
  ossl([
    'x509',
    '-req',
    '-in',
    join(dir, 'server.csr'),
    '-CA',
    caFile,
    '-CAkey',
    join(dir, 'ca.key'),
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    join(dir, 'ext.cnf'),
    '-out',
    certFile,
  ]);
  return { dir, caFile, caPem: readFileSync(caFile, 'utf8'), certFile, keyFile };
}

/**
 * An NSS database in `home/.pki/nssdb` that trusts `ca` for TLS servers:
 * where Chromium on Linux looks for user-added trust anchors (certutil from
 * Debian's libnss3-tools). Start Chromium with `HOME=home`.
 */
export function trustInNssDb(home: string, ca: TestCa): void {
  const db = join(home, '.pki', 'nssdb');
  execFileSync('mkdir', ['-p', db]);
  execFileSync('certutil', ['-d', `sql:${db}`, '-N', '--empty-password'], { stdio: 'ignore' });
  execFileSync(
    'certutil',
    ['-d', `sql:${db}`, '-A', '-t', 'C,,', '-n', 'pocketshell-test-ca', '-i', ca.caFile],
    {
      stdio: 'ignore',
    },
  );
}

export interface CoturnOptions {
  /** Address coturn listens on and relays from. */
  ip: string;
  /** UDP and TCP port (TURN), and the TLS port (TURNS). */
  port: number;
  tlsPort: number;
  secret: string;
  ca: TestCa;
  /** Prefix for the command, e.g. `['ip', 'netns', 'exec', ns]`. */
  exec?: string[];
  /** Relay ports (coturn's `min-port`/`max-port`). */
  relayPorts?: [number, number];
}

export interface StartedCoturn {
  /** `turn:ip:port?transport=udp`, `turn:ip:port?transport=tcp`, `turns:ip:tlsPort?transport=tcp`. */
  urls: { udp: string; tcp: string; tls: string };
  /** REST credentials for `id`, valid an hour, with the given URLs. */
  iceServer(urls: string[], id?: string): IceServer;
  log(): string;
  stop(): Promise<void>;
}

/** Starts coturn and waits until its three listeners are up. */
export async function startCoturn(o: CoturnOptions): Promise<StartedCoturn> {
  const dir = mkdtempSync(join(tmpdir(), 'ps-coturn-'));
  const [minPort, maxPort] = o.relayPorts ?? [49152, 65535];
  const argv = [
    ...(o.exec ?? []),
    'turnserver',
    '-n',
    `--listening-ip=${o.ip}`,
    `--listening-port=${o.port}`,
    `--tls-listening-port=${o.tlsPort}`,
    // No alternate ports: coturn would also listen on port+1 and tlsPort+1.
    '--alt-listening-port=0',
    '--alt-tls-listening-port=0',
    `--relay-ip=${o.ip}`,
    `--min-port=${minPort}`,
    `--max-port=${maxPort}`,
    '--use-auth-secret',
    `--static-auth-secret=${o.secret}`,
    '--realm=pocketshell.test',
    `--cert=${o.ca.certFile}`,
    `--pkey=${o.ca.keyFile}`,
    '--no-dtls',
    '--no-cli',
    '--no-tcp-relay',
    '--allow-loopback-peers',
    '--log-file=stdout',
    '--simple-log',
    '--verbose',
    `--pidfile=${join(dir, 'turnserver.pid')}`,
    `--userdb=${join(dir, 'turndb')}`,
  ];
  const child: ChildProcess = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  // Never outlive the test process, even when it ends on an uncaught error.
  const onExit = () => child.kill('SIGKILL');
  process.once('exit', onExit);
  child.once('exit', () => process.off('exit', onExit));
  let log = '';
  child.stdout!.on('data', (d: Buffer) => (log += d));
  child.stderr!.on('data', (d: Buffer) => (log += d));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`coturn did not start:\n${log.slice(-3000)}`)), 20_000);
    const check = () => {
      // coturn's TCP listeners take TLS and plain TCP alike ("TLS/TCP listener opened on : ip:port").
      if (
        log.includes(`TLS/TCP listener opened on : ${o.ip}:${o.tlsPort}`) &&
        log.includes(`UDP listener opened on: ${o.ip}:${o.port}`)
      ) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', check);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`coturn (turnserver) is required: ${e.message}`));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`coturn exited ${code}:\n${log.slice(-3000)}`));
    });
  });
  const urls = {
    udp: `turn:${o.ip}:${o.port}?transport=udp`,
    tcp: `turn:${o.ip}:${o.port}?transport=tcp`,
    tls: `turns:${o.ip}:${o.tlsPort}?transport=tcp`,
  };
  let stopped: Promise<void> | undefined;
  return {
    urls,
    iceServer(list, id = 'test') {
      const username = `${Math.floor(Date.now() / 1000) + 3600}:${id}`;
      const credential = createHmac('sha1', o.secret).update(username).digest('base64');
      return { urls: list, username, credential };
    },
    log: () => log,
    stop() {
      stopped ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          const exited = new Promise((r) => child.once('exit', r));
          child.kill('SIGTERM');
          await exited;
        }
        rmSync(dir, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
}
