/**
 * The Node `FilesClient` part of the files benchmark, alone (for side-by-side
 * before/after runs; `npm run bench:files` has it beside the raw channel,
 * the CLI and scp): a real relay process, a real `pocketshell daemon run`
 * (node-datachannel) and the FilesClient here over one `files` channel,
 * `downloadFile` then `uploadFile` of one file of random bytes, each the
 * median of `BENCH_FILES_RUNS` (3); `BENCH_FILES_MB` (64) MiB;
 * `BENCH_CPU_PROF=<dir>`: the daemon and this process are profiled.
 * `iceServers: []`, candidates on 127.0.0.1.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Device } from '@pocketshell/client';
import { generateKeyPair, type WebSocketFactory } from '@pocketshell/protocol';
import { startRelay } from '@pocketshell/relay/testing';
import { isLoopbackIPv4, NodeDataChannelEngine } from '@pocketshell/webrtc';
import { WebSocket } from 'ws';
import { POCKETSHELL, startReadyDaemon, until } from '../support/cli.ts';
import { median } from './measure.ts';

const MIB = 2 ** 20;

/** FilesClient download and upload of a `sizeMB` MiB file, `runs` times each; MiB/s. */
export async function nodeFilesBench(o: {
  sizeMB: number;
  runs: number;
  daemonArgs?: string[];
}): Promise<{ down: number[]; up: number[] }> {
  const work = mkdtempSync(join(tmpdir(), 'pocketshell-filesnode-'));
  const hostHome = join(work, 'host');
  const here = join(work, 'here');
  mkdirSync(hostHome);
  mkdirSync(here);
  const data = randomBytes(o.sizeMB * MIB);
  const sum = createHash('sha256').update(data).digest('hex');
  writeFileSync(join(hostHome, 'data.bin'), data);
  const relay = await startRelay();
  const psEnv = {
    LANG: 'C.UTF-8',
    HOME: hostHome,
    SHELL: '/bin/sh',
    POCKETSHELL_ENGINE: 'node-datachannel',
    POCKETSHELL_HOME: join(work, 'state-host'),
    POCKETSHELL_KEYSTORE: 'file',
    POCKETSHELL_ICE_ADDRESS: '127.0.0.1',
    POCKETSHELL_ALLOW_ROOT: '1',
  };
  const daemon = await startReadyDaemon(psEnv, relay.url, o.daemonArgs ?? []);
  const device = new Device({
    keyPair: generateKeyPair(),
    relayUrl: relay.wsUrl,
    WebSocket: WebSocket as unknown as WebSocketFactory,
    engine: new NodeDataChannelEngine({ bindAddress: '127.0.0.1' }),
    localAddressFilter: isLoopbackIPv4,
    iceServers: [],
  });
  device.start();
  try {
    const pair = spawn(
      process.execPath,
      [POCKETSHELL, 'pair', '--yes', '--grants', 'files:read,files:write'],
      {
        env: { ...process.env, ...psEnv },
      },
    );
    let out = '';
    pair.stdout.on('data', (d: Buffer) => (out += d));
    const exited = new Promise((r) => pair.on('exit', r));
    await until(() => /http:\/\/\S+#\/pair\/1\/\S+/.test(out), 20_000, 20);
    const host = await device.pair(/http:\/\/\S+#\/pair\/1\/\S+/.exec(out)![0], { name: 'bench' });
    await exited;
    const conn = await device.connect(host.id);
    const files = await conn.openFiles();
    const local = join(here, 'ps.bin');
    const remote = join(hostHome, 'ps-up.bin');
    const down: number[] = [];
    const up: number[] = [];
    for (let i = 0; i < o.runs; i++) {
      rmSync(local, { force: true });
      const t0 = performance.now();
      const r = await files.downloadFile('data.bin', local);
      down.push(o.sizeMB / ((performance.now() - t0) / 1000));
      if (r.sha256 !== sum) throw new Error('download: wrong hash');
      console.error(`FilesClient download run ${i + 1}: ${down.at(-1)!.toFixed(1)} MiB/s`);
    }
    if (!readFileSync(local).equals(data)) throw new Error('download: wrong bytes');
    for (let i = 0; i < o.runs; i++) {
      rmSync(remote, { force: true });
      const t0 = performance.now();
      const r = await files.uploadFile(local, 'ps-up.bin');
      up.push(o.sizeMB / ((performance.now() - t0) / 1000));
      if (r.sha256 !== sum) throw new Error('upload: wrong hash');
      console.error(`FilesClient upload run ${i + 1}: ${up.at(-1)!.toFixed(1)} MiB/s`);
    }
    if (!readFileSync(remote).equals(data)) throw new Error('upload: wrong bytes');
    files.close();
    await conn.close();
    return { down, up };
  } finally {
    await device.close();
    daemon.kill('SIGINT');
    await new Promise((r) => daemon.once('exit', r));
    await relay.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const prof = process.env.BENCH_CPU_PROF;
  const f = await nodeFilesBench({
    sizeMB: Number(process.env.BENCH_FILES_MB ?? 64),
    runs: Number(process.env.BENCH_FILES_RUNS ?? 3),
    ...(prof ? { daemonArgs: ['--cpu-prof', `--cpu-prof-dir=${prof}`] } : {}),
  });
  console.log(
    JSON.stringify({ ...f, downMedian: median(f.down), upMedian: median(f.up), load: loadavg()[0] }),
  );
  process.exit(0);
}
