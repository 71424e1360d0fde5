/**
 * A Node device in its own process moving one file over the `files`
 * channel, for the end-to-end tests that kill a client mid-upload or
 * measure its memory apart from the host's. Run as
 * `node files-client.ts <config.json>`; the config (written 0600 by the
 * test) holds the relay URL, the device's key seed, the paired host and
 * the transfer: `{op: "upload" | "download", local, remote, overwrite?}`.
 *
 * Prints `progress <bytes>` lines as the transfer goes (at most one per
 * MiB), then `result <json>`: the transfer's result, its milliseconds and
 * the process's resident set size at the start and at its peak (sampled
 * every 50 ms). Exits 1 with `error <code> <message>` on failure.
 */
import { readFileSync } from 'node:fs';
import { fromB64u, type Grant, generateKeyPair, type HostId } from '@pocketshell/protocol';
import { type EngineName, filesDevice } from './files-e2e.ts';

interface Config {
  relayWsUrl: string;
  seed: string;
  host: { id: string; pub: string; name: string; grants: string[] };
  op: 'upload' | 'download';
  local: string;
  remote: string;
  overwrite?: boolean;
  engine?: EngineName;
}

const config = JSON.parse(readFileSync(process.argv[2] as string, 'utf8')) as Config;
const startRss = process.memoryUsage().rss;
let peakRss = startRss;
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}, 50);

const device = filesDevice(config.relayWsUrl, generateKeyPair(fromB64u(config.seed)), config.engine);
device.addHost({
  id: config.host.id as HostId,
  pub: fromB64u(config.host.pub),
  name: config.host.name,
  grants: config.host.grants as Grant[],
});

let lastShown = -1;
const progress = (done: number) => {
  const mib = Math.floor(done / (1024 * 1024));
  if (mib === lastShown) return;
  lastShown = mib;
  process.stdout.write(`progress ${done}\n`);
};

try {
  const conn = await device.connect(config.host.id as HostId);
  const files = await conn.openFiles();
  const started = performance.now();
  const result =
    config.op === 'upload'
      ? await files.uploadFile(config.local, config.remote, {
          overwrite: config.overwrite ?? false,
          onProgress: progress,
        })
      : await files.downloadFile(config.remote, config.local, { onProgress: progress });
  const ms = performance.now() - started;
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
  process.stdout.write(`result ${JSON.stringify({ ...result, ms, startRss, peakRss })}\n`);
  clearInterval(sampler);
  await conn.close();
  await device.close();
  process.exit(0);
} catch (error) {
  const e = error as Error & { code?: string };
  process.stdout.write(`error ${e.code ?? 'failure'} ${e.message}\n`);
  process.exit(1);
}
