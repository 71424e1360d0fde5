/**
 * Relay load benchmark (`npm run bench:relay`): spawns a real relay on
 * 127.0.0.1:0, opens N authenticated WebSocket clients (N/2 hosts, N/2
 * devices), pairs them in couples through the real pairing exchange, then
 * measures routing two ways for S seconds each: throughput with every
 * couple ping-ponging one envelope (closed loop), and latency at a fixed
 * offered rate (open loop). Reports connections held, the relay's RSS per
 * connection, routed messages per second and p50/p99 routing latency
 * (send → deliver, measured in this process). Loopback only; bounded in
 * connection count and time. Options: `--connections N` (repeatable;
 * default 1000 and 5000), `--seconds S` (default 10), `--rate R` (open-loop
 * messages/s, default 2000), `--write-docs` to replace the relay section of
 * docs/benchmarks.md with the results.
 * The same run then measures a fleet (`--fleet-connections N`, repeatable,
 * default 10 000; `--fleet-connections 0` skips it): a private Redis and two
 * relay processes sharing one store — a private PostgreSQL cluster, or with
 * `--fleet-store sqlite` one SQLite file —, every host on node 0 and every device
 * on node 1, so every routed message crosses nodes through Redis (the worst
 * case); RSS is reported per node.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { generateKeyPair } from '@pocketshell/protocol';
import { junkEnvelope } from '../testing/fixtures.ts';
import {
  type PostgresCluster,
  pairClients,
  RawClient,
  type StartedRedis,
  type StartedRelay,
  startPostgres,
  startRedis,
  startRelay,
} from '../testing/index.ts';

const MAX_CONNECTIONS = 20_000;
const SETUP_TIMEOUT_MS = 300_000;
const PAIR_CONCURRENCY = 32;
const AUTH_CONCURRENCY = 64;
const CT_BYTES = 256;

interface Result {
  /** Relay processes (2: a fleet sharing Redis, hosts on one node and devices on the other). */
  nodes: number;
  /** The store: SQLite, or for a fleet PostgreSQL or one shared SQLite file. */
  store: 'postgres' | 'sqlite';
  connections: number;
  held: number;
  authSeconds: number;
  authPerSecond: number;
  pairSeconds: number;
  rssBaseMiB: number;
  rssHeldMiB: number;
  rssPerConnectionKiB: number;
  /** Each node's RSS once all connections are held (and under load), MiB. */
  rssPerNodeMiB: number[];
  /** Closed loop: one message in flight per couple. */
  routedPerSecond: number;
  saturatedP50ms: number;
  saturatedP99ms: number;
  /** Open loop at a fixed offered rate. */
  offeredPerSecond: number;
  deliveredPerSecond: number;
  p50ms: number;
  p99ms: number;
  seconds: number;
}

function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /VmRSS:\s+(\d+) kB/.exec(status);
  return kb ? Number(kb[1]) * 1024 : Number.NaN;
}

function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** Runs `task(i)` for i in [0, n) with `concurrency` at a time. */
async function pool(n: number, concurrency: number, deadline: number, task: (i: number) => Promise<void>) {
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      if (Date.now() > deadline) throw new Error('setup took too long');
      await task(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function run(
  connections: number,
  seconds: number,
  rate: number,
  nodes = 1,
  fleetStore: 'postgres' | 'sqlite' = 'postgres',
): Promise<Result> {
  const couples = Math.floor(connections / 2);
  const dir = mkdtempSync(join(tmpdir(), 'relay-bench-'));
  const config = join(dir, 'relay.json');
  const wide = { burst: 1_000_000, perSecond: 1_000_000 };
  writeFileSync(
    config,
    JSON.stringify({
      limits: {
        // every bench client comes from 127.0.0.1: lift the per-IP buckets (and the per-identity send bucket) so
        // the bench measures routing, not the limiter
        rates: {
          connect: { ip: wide },
          auth: { ip: wide },
          'pair.create': { ip: wide, identity: wide },
          'pair.redeem': { ip: wide },
          send: { ip: wide, identity: wide },
        },
        maxConnections: MAX_CONNECTIONS + 100,
        maxConnectionsPerAddress: MAX_CONNECTIONS + 100,
      },
    }),
  );
  const relays: StartedRelay[] = [];
  let redis: StartedRedis | undefined;
  let cluster: PostgresCluster | undefined;
  try {
    let store: { args: string[]; env: Record<string, string> } = { args: [], env: {} };
    if (nodes > 1) {
      redis = await startRedis();
      if (fleetStore === 'postgres') {
        cluster = await startPostgres();
        const db = await cluster.createDatabase();
        store = { args: ['--database', db.url], env: { PGPASSWORD: db.password } };
      }
    }
    for (let n = 0; n < nodes; n++) {
      relays.push(
        await startRelay({
          // without PostgreSQL, one store for every node: the same SQLite file
          dataDir: join(dir, 'data'),
          args: [
            '--config',
            config,
            '--log-level',
            'warn',
            ...store.args,
            ...(redis ? ['--redis', redis.url, '--node-id', `n${n}`] : []),
          ],
          env: store.env,
        }),
      );
    }
  } catch (error) {
    await Promise.all(relays.map((r) => r.stop()));
    await redis?.stop();
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const relay = relays[0]!;
  const nodeOf = (i: number) => relays[i % relays.length]!;
  const clients: RawClient[] = [];
  try {
    const pids = relays.map((r) => r.pid!);
    const rssAll = () => pids.map(rssBytes);
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    const rssBase = sum(rssAll());
    const deadline = Date.now() + SETUP_TIMEOUT_MS;

    // 1. connect + authenticate everyone (keys made beforehand, so this times the handshake and the relay's verify)
    const keys = Array.from({ length: couples * 2 }, () => generateKeyPair());
    const authStart = performance.now();
    await pool(couples * 2, AUTH_CONCURRENCY, deadline, async (i) => {
      clients[i] = await RawClient.connect(nodeOf(i).wsUrl, {
        role: i % 2 === 0 ? 'host' : 'device',
        keyPair: keys[i]!,
      });
    });
    const authSeconds = (performance.now() - authStart) / 1000;

    // 2. pair them in couples through the real exchange
    const pairStart = performance.now();
    const pairs: { host: RawClient; device: RawClient }[] = [];
    await pool(couples, PAIR_CONCURRENCY, deadline, async (c) => {
      const host = clients[2 * c]!;
      const device = clients[2 * c + 1]!;
      await pairClients(relay.wsUrl, { host, device, hostKey: keys[2 * c]!, deviceKey: keys[2 * c + 1]! });
      pairs.push({ host, device });
    });
    const pairSeconds = (performance.now() - pairStart) / 1000;
    let held = 0;
    for (const r of relays) {
      const metrics = await (await fetch(`${r.url}/metrics`)).text();
      held += Number(/^pocketshell_relay_connections (\d+)$/m.exec(metrics)?.[1] ?? Number.NaN);
    }
    const rssHeldNodes = rssAll();
    const rssHeld = sum(rssHeldNodes);

    const body = junkEnvelope('relay-data', CT_BYTES);
    const wire = pairs.map(({ host, device }) => ({
      host,
      device,
      toHost: JSON.stringify({ t: 'send', to: host.id, env: body }),
      toDevice: JSON.stringify({ t: 'send', to: device.id, env: body }),
    }));
    for (const { host, device } of pairs) {
      host.ws.removeAllListeners('message');
      device.ws.removeAllListeners('message');
    }

    // 3. throughput: closed loop, one message in flight per couple, device → host → device → …
    const saturated = new Float64Array(4_000_000);
    let count = 0;
    let routed = 0;
    let measuring = true;
    for (const { host, device, toHost, toDevice } of wire) {
      let sentAt = 0;
      const bounce = (from: RawClient, reply: string) => () => {
        if (!measuring) return;
        const now = performance.now();
        if (count < saturated.length) saturated[count++] = now - sentAt;
        routed += 1;
        sentAt = now;
        from.ws.send(reply);
      };
      host.ws.on('message', bounce(host, toDevice));
      device.ws.on('message', bounce(device, toHost));
      sentAt = performance.now();
      device.ws.send(toHost);
    }
    const loadStart = performance.now();
    await sleep(seconds * 1000);
    measuring = false;
    const loadElapsed = (performance.now() - loadStart) / 1000;
    const rssLoadedNodes = rssAll();
    const rssLoaded = sum(rssLoadedNodes);
    const satSorted = saturated.slice(0, count).sort();
    await sleep(1000); // let the last in-flight messages drain

    // 4. latency: open loop at a fixed offered rate, devices → hosts, per-couple FIFO of send times
    for (const { host, device } of wire) {
      host.ws.removeAllListeners('message');
      device.ws.removeAllListeners('message');
    }
    const sentTimes = wire.map(() => [] as number[]);
    const open = new Float64Array(Math.ceil(rate * seconds * 1.2) + 1000);
    let delivered = 0;
    wire.forEach(({ host }, i) => {
      host.ws.on('message', () => {
        const t0 = sentTimes[i]!.shift();
        if (t0 !== undefined && delivered < open.length) open[delivered++] = performance.now() - t0;
      });
    });
    const tickMs = 10;
    const perTick = rate / (1000 / tickMs);
    let credit = 0;
    let cursor = 0;
    let offered = 0;
    const openStart = performance.now();
    const timer = setInterval(() => {
      credit += perTick;
      while (credit >= 1) {
        credit -= 1;
        const i = cursor++ % wire.length;
        sentTimes[i]!.push(performance.now());
        wire[i]!.device.ws.send(wire[i]!.toHost);
        offered += 1;
      }
    }, tickMs);
    await sleep(seconds * 1000);
    clearInterval(timer);
    const openElapsed = (performance.now() - openStart) / 1000;
    await sleep(1000);
    const openSorted = open.slice(0, delivered).sort();

    return {
      nodes,
      store: nodes > 1 ? fleetStore : 'sqlite',
      connections,
      held,
      authSeconds,
      authPerSecond: (couples * 2) / authSeconds,
      pairSeconds,
      rssBaseMiB: rssBase / 2 ** 20,
      rssHeldMiB: Math.max(rssHeld, rssLoaded) / 2 ** 20,
      rssPerConnectionKiB: (rssHeld - rssBase) / held / 1024,
      rssPerNodeMiB: rssHeldNodes.map((x, n) => Math.max(x, rssLoadedNodes[n]!) / 2 ** 20),
      routedPerSecond: routed / loadElapsed,
      saturatedP50ms: quantile(satSorted, 0.5),
      saturatedP99ms: quantile(satSorted, 0.99),
      offeredPerSecond: offered / openElapsed,
      deliveredPerSecond: delivered / openElapsed,
      p50ms: quantile(openSorted, 0.5),
      p99ms: quantile(openSorted, 0.99),
      seconds,
    };
  } finally {
    for (const c of clients) c?.ws.terminate();
    await Promise.all(relays.map((r) => r.stop()));
    await redis?.stop();
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

function fdLimit(): string {
  try {
    return /Max open files\s+(\d+)/.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function machine(): string {
  const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU';
  return `${cpu}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Node ${process.version}, ${process.platform}`;
}

function markdown(all: Result[], seconds: number, rate: number): string {
  const f = (n: number, d = 0) => n.toFixed(d);
  const results = all.filter((r) => r.nodes === 1);
  const fleet = all.filter((r) => r.nodes > 1);
  const fleetRows = fleet.map(
    (r) =>
      `| ${r.nodes} | ${r.connections} | ${r.held} | ${f(r.authSeconds, 1)} s (${f(r.authPerSecond)}/s) | ${f(r.pairSeconds, 1)} s | ${r.rssPerNodeMiB.map((x) => `${f(x)} MiB`).join(' + ')} | ${f(r.rssPerConnectionKiB, 1)} KiB | ${f(r.routedPerSecond)} (p50 ${f(r.saturatedP50ms, 1)} ms, p99 ${f(r.saturatedP99ms, 1)} ms) | ${f(r.deliveredPerSecond)} | ${f(r.p50ms, 2)} ms | ${f(r.p99ms, 2)} ms |`,
  );
  const rows = results.map(
    (r) =>
      `| ${r.connections} | ${r.held} | ${f(r.authSeconds, 1)} s (${f(r.authPerSecond)}/s) | ${f(r.pairSeconds, 1)} s | ${f(r.rssBaseMiB)} → ${f(r.rssHeldMiB)} MiB | ${f(r.rssPerConnectionKiB, 1)} KiB | ${f(r.routedPerSecond)} (p50 ${f(r.saturatedP50ms, 1)} ms, p99 ${f(r.saturatedP99ms, 1)} ms) | ${f(r.deliveredPerSecond)} | ${f(r.p50ms, 2)} ms | ${f(r.p99ms, 2)} ms |`,
  );
  return [
    '## Relay (`npm run bench:relay`)',
    '',
    `Measured ${new Date().toISOString().slice(0, 10)} on ${machine()}. Relay and clients run on the same machine over loopback and share its cores; other work on the machine shows up in the numbers.`,
    '',
    `Each run spawns a relay and authenticates N WebSocket clients (N/2 hosts, N/2 devices, ${AUTH_CONCURRENCY} handshakes at a time, keys made beforehand). It then pairs the clients in couples through the real pairing exchange, with real sealed envelopes, ${PAIR_CONCURRENCY} pairings at a time.`,
    '',
    '- **Throughput** (closed loop): every couple ping-pongs one envelope with a ' +
      `${CT_BYTES}-byte ciphertext for ${seconds} s, so N/2 messages are always in flight. Latency under saturation is mostly queueing (Little's law).`,
    `- **Latency** (open loop): devices send ${rate} envelopes/s in total, spread over all couples, for ${seconds} s. Latency is send → deliver as the clients see it, so it includes the bench process's own event loop, which drives all N sockets.`,
    "- **RSS per connection**: how much the relay's RSS grew from empty to all connections authenticated and paired, divided by the connections held.",
    `- **File descriptors**: the bench holds N client sockets and the relay N more, so \`ulimit -n\` must be above N + 100 for each process (here: ${fdLimit()}).`,
    '',
    '| connections | held | connect + auth | pairing | relay RSS | RSS / connection | saturated msg/s | delivered msg/s at fixed rate | p50 | p99 |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows,
    ...(fleet.length === 0
      ? []
      : [
          '',
          '### Two nodes sharing Redis',
          '',
          `The same run, with a private Redis and two relay processes sharing one store (${fleet[0]!.store === 'postgres' ? 'a private PostgreSQL cluster on loopback, fsync off' : 'the same SQLite file'}): every host on node 0, every device on node 1, so every routed message crosses nodes (Redis pub/sub, then the ack back). The one-node rows above are the comparison.`,
          '',
          '| nodes | connections | held | connect + auth | pairing | RSS per node | RSS / connection | saturated msg/s | delivered msg/s at fixed rate | p50 | p99 |',
          '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
          ...fleetRows,
        ]),
  ].join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      connections: { type: 'string', multiple: true },
      seconds: { type: 'string' },
      rate: { type: 'string' },
      'fleet-connections': { type: 'string', multiple: true },
      'fleet-store': { type: 'string' },
      'write-docs': { type: 'boolean' },
    },
  });
  const counts = (values.connections ?? ['1000', '5000', '10000']).map(Number);
  const fleetCounts = (values['fleet-connections'] ?? ['10000']).map(Number).filter((n) => n !== 0);
  const fleetStore = values['fleet-store'] ?? 'postgres';
  if (fleetStore !== 'postgres' && fleetStore !== 'sqlite')
    throw new Error('--fleet-store: postgres or sqlite');
  const seconds = Number(values.seconds ?? '10');
  const rate = Number(values.rate ?? '2000');
  if (!(rate > 0 && rate <= 100_000)) throw new Error('--rate: 1..100000');
  for (const n of [...counts, ...fleetCounts]) {
    if (!Number.isInteger(n) || n < 2 || n > MAX_CONNECTIONS)
      throw new Error(`--connections: 2..${MAX_CONNECTIONS}`);
  }
  if (!(seconds > 0 && seconds <= 120)) throw new Error('--seconds: 0..120');
  const results: Result[] = [];
  for (const n of counts) {
    process.stderr.write(`relay bench: ${n} connections, ${seconds} s …\n`);
    const r = await run(n, seconds, rate);
    process.stdout.write(`${JSON.stringify(r)}\n`);
    results.push(r);
  }
  for (const n of fleetCounts) {
    process.stderr.write(
      `relay bench: two nodes sharing Redis and ${fleetStore}, ${n} connections, ${seconds} s …\n`,
    );
    const r = await run(n, seconds, rate, 2, fleetStore);
    process.stdout.write(`${JSON.stringify(r)}\n`);
    results.push(r);
  }
  const md = markdown(results, seconds, rate);
  process.stdout.write(`\n${md}\n`);
  if (values['write-docs']) {
    const path = new URL('../../../docs/benchmarks.md', import.meta.url).pathname;
    const doc = readFileSync(path, 'utf8');
    const start = '<!-- bench:relay:start -->';
    const end = '<!-- bench:relay:end -->';
    const a = doc.indexOf(start);
    const b = doc.indexOf(end);
    if (a < 0 || b < a) throw new Error(`${path}: markers not found`);
    writeFileSync(path, `${doc.slice(0, a + start.length)}\n${md}\n${doc.slice(b)}`);
    process.stderr.write(`relay bench: wrote ${path}\n`);
  }
}

await main();
