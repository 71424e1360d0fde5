/**
 * `pocketshell device pair <url>` and `pocketshell connect <host>`: this
 * machine as a device. `connect` opens a signed WebRTC connection to a
 * paired host and puts its terminal in the local tty — raw mode, resize on
 * SIGWINCH, Ctrl-] to detach (the session lives on at the host), the
 * remote program's exit code as ours — and predictive echo on slow links
 * (`--predict auto|always|never`, `predict-tty.ts`).
 */

import { hostname } from 'node:os';
import { createInterface } from 'node:readline/promises';
import { type ConnectPath, Device } from '@pocketshell/client';
import { engineFromEnv, openSecretStore, type StatePaths, WeriftEngine } from '@pocketshell/host-core';
import {
  fingerprint,
  linkPathLabel,
  type PredictMode,
  parsePairUrl,
  relayWsUrl,
  type WebSocketFactory,
} from '@pocketshell/protocol';
import { WebSocket } from 'ws';
import { DeviceStore, type KnownHost } from './device-store.ts';

/** The detach key: Ctrl-] (as telnet). */
export const DETACH_KEY = 0x1d;

/** This machine's device (its key from the store) on `relay`, not started. */
export async function openDevice(
  paths: StatePaths,
  env: Readonly<Record<string, string | undefined>>,
  relay: string,
) {
  const secrets = await openSecretStore({ paths, env });
  const store = new DeviceStore(paths, secrets);
  const device = new Device({
    keyPair: await store.keyPair(),
    relayUrl: relay,
    WebSocket: WebSocket as unknown as WebSocketFactory,
    engine: engineFromEnv(env),
    // node-datachannel speaks TURN over UDP only: on a network that drops UDP the device
    // connects on werift instead (docs/transport.md); a forced engine is kept.
    ...(env.POCKETSHELL_ENGINE
      ? {}
      : {
          tcpTurnEngine: new WeriftEngine(
            env.POCKETSHELL_ICE_ADDRESS ? { bindAddress: env.POCKETSHELL_ICE_ADDRESS } : {},
          ),
        }),
  });
  return { store, device };
}

/** The warning `device pair` prints when a known host name comes with a new key. */
export function hostKeyChangeWarning(
  old: KnownHost,
  host: { id: string; pub: Uint8Array; name: string },
): string {
  return [
    '@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@',
    `@  WARNING: HOST KEY CHANGED for "${host.name}"`,
    '@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@',
    `This device is already paired with a host named "${host.name}" on this relay, with another key:`,
    `  old key: ${fingerprint(old.pub)}  (${old.id})`,
    `  new key: ${fingerprint(host.pub)}  (${host.id})`,
    'It may be the same computer after `pocketshell pair --reset` or a reinstall, another',
    'computer with the same name — or someone posing as it. Pair only if the code above',
    'matches the one your computer shows. The old host stays, marked "old key, replaced".',
  ].join('\n');
}

/**
 * Pairs this machine as a device with the host of a pairing URL. A host
 * whose name and relay are already paired under another key is a key
 * change: shown, and completed only with `acceptKeyChange` or a typed "yes"
 * on a terminal — else `pair.confirm` is never sent and it fails
 * `key_changed`.
 */
export async function devicePair(
  paths: StatePaths,
  env: Readonly<Record<string, string | undefined>>,
  url: string,
  options: { name?: string | undefined; acceptKeyChange?: boolean | undefined },
  out: (line: string) => void,
): Promise<KnownHost> {
  const relay = relayWsUrl(parsePairUrl(url).webUrl);
  const { store, device } = await openDevice(paths, env, relay);
  device.start();
  let replaces: KnownHost[] = [];
  try {
    const host = await device.pair(url, {
      name: options.name ?? `${hostname()} (cli)`,
      onSas: (sas) => out(`Compare with the host: ${sas.slice(0, 3)} ${sas.slice(3)} — confirm it there.`),
      beforeConfirm: async (host) => {
        replaces = store.sameName(host.name, relay, host.id);
        if (replaces.length === 0) return true;
        out(hostKeyChangeWarning(replaces.at(-1)!, host));
        if (options.acceptKeyChange) {
          out('Accepted (--accept-key-change).');
          return true;
        }
        if (!process.stdin.isTTY) {
          out('Not paired: the host key changed. Confirm on a terminal, or pass --accept-key-change.');
          return false;
        }
        const rl = createInterface({ input: process.stdin, output: process.stdout });
        try {
          return (await rl.question('Type yes to pair with the new key: ')).trim().toLowerCase() === 'yes';
        } finally {
          rl.close();
        }
      },
    });
    const known: KnownHost = { ...host, relay };
    store.save(
      known,
      replaces.map((h) => h.id),
    );
    out(`Paired with "${host.name}" (${host.id}); grants: ${host.grants.join(', ') || 'none'}.`);
    return known;
  } finally {
    await device.close();
  }
}

/** Lists the hosts this machine paired with as a device. */
export async function deviceHosts(
  paths: StatePaths,
  env: Readonly<Record<string, string | undefined>>,
): Promise<KnownHost[]> {
  const secrets = await openSecretStore({ paths, env });
  return new DeviceStore(paths, secrets).hosts();
}

/**
 * Predictive echo on the local tty (`--predict`): a headless mirror of the
 * remote screen for the engine to read, loaded only when asked for.
 */
async function ttyPredictor(mode: PredictMode, cols: number, rows: number) {
  const [headless, { PredictTty }] = await Promise.all([
    import('@xterm/headless'),
    import('./predict-tty.ts'),
  ]);
  // A CommonJS module: under Node its classes are on the default export.
  const { Terminal } = headless.default;
  const mirror = new Terminal({ cols, rows, scrollback: 1000, allowProposedApi: true });
  const tty = new PredictTty({
    mirror,
    out: (data) => process.stdout.write(data),
    mode,
    now: () => performance.now(),
  });
  return { mirror, tty };
}

/** How often `connect` on the relay path tries WebRTC again (`POCKETSHELL_UPGRADE_MS` overrides). */
const UPGRADE_EVERY_MS = 30_000;

/** The connection path asked for: `--path`, else `POCKETSHELL_PATH`, else `auto`. */
export function connectPathOf(
  option: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
): ConnectPath {
  const value = option ?? env.POCKETSHELL_PATH ?? 'auto';
  if (value === 'auto' || value === 'direct' || value === 'relay') return value;
  throw Object.assign(new Error(`unknown path ${value} (auto, direct or relay)`), { code: 'usage' });
}

/** Interactive terminal on a paired host; resolves with the exit code to use. */
export async function connect(
  paths: StatePaths,
  env: Readonly<Record<string, string | undefined>>,
  query: string,
  session: string,
  err: (line: string) => void,
  predict: PredictMode = 'auto',
  path: ConnectPath = 'auto',
): Promise<number> {
  const secrets = await openSecretStore({ paths, env });
  const host = new DeviceStore(paths, secrets).find(query);
  const { device } = await openDevice(paths, env, host.relay);
  device.addHost(host);
  device.start();
  const stdin = process.stdin;
  const stdout = process.stdout;
  const predictor =
    predict === 'never' ? undefined : await ttyPredictor(predict, stdout.columns || 80, stdout.rows || 24);
  let upgrade: ReturnType<typeof setInterval> | undefined;
  try {
    let conn = await device.open(host.id, { path });
    let term = await conn.openTerminal(session, {
      cols: stdout.columns || 80,
      rows: stdout.rows || 24,
    });
    // Which way the bytes go (docs/transport.md): direct, TURN over UDP/TCP/TLS, or the relay path.
    const linkPath = await conn.path();
    const via = linkPath ? ` · ${linkPath === 'relay' ? 'via relay' : linkPathLabel(linkPath)}` : '';
    err(`[connected to ${host.name}${via}, session ${term.session}; Ctrl-] detaches]`);
    // A snapshot redraws the whole remote screen: clear ours first (now for the first one,
    // and again for each later `attached` — a resync, or screen sync on a slow link).
    const CLEAR = '\x1b[H\x1b[2J';
    stdout.write(CLEAR);
    const clear = () => {
      stdout.write(CLEAR);
      predictor?.tty.reset();
      predictor?.mirror.reset();
    };
    let finish: (code: number) => void = () => {};
    const done = new Promise<number>((resolve) => {
      finish = resolve;
    });
    const wire = (t: typeof term) => {
      t.on('attached', clear);
      t.on('data', ({ bytes }) => {
        if (t !== term) return;
        if (predictor) predictor.tty.output(bytes);
        else stdout.write(bytes);
      });
      void t.exited.then((code) => {
        if (t === term) finish(code);
      });
      void t.closed.then(() => {
        if (t === term) finish(t.exitCode ?? 0);
      });
    };
    wire(term);
    // On the relay path (chosen by `auto`), keep trying WebRTC; when it connects, the terminal
    // re-attaches there (the host's session keeps the screen) and the relay link closes.
    if (linkPath === 'relay' && path === 'auto') {
      let trying = false;
      upgrade = setInterval(() => {
        if (trying) return;
        trying = true;
        void (async () => {
          try {
            const better = await device.connect(host.id, { timeoutMs: 10_000 });
            const next = await better.openTerminal(term.session, {
              cols: stdout.columns || 80,
              rows: stdout.rows || 24,
            });
            const old = { conn, term };
            conn = better;
            term = next;
            wire(next);
            clearInterval(upgrade);
            err(`\r\n[now via ${linkPathLabel((await better.path()) ?? 'direct')}]`);
            old.term.close();
            await old.conn.close();
          } catch {
            // Still no direct way: stay on the relay path, try again later.
          } finally {
            trying = false;
          }
        })();
      }, Number(env.POCKETSHELL_UPGRADE_MS) || UPGRADE_EVERY_MS);
    }
    const onResize = () => {
      const cols = stdout.columns || 80;
      const rows = stdout.rows || 24;
      predictor?.tty.reset();
      predictor?.mirror.resize(cols, rows);
      term.resize(cols, rows);
    };
    process.on('SIGWINCH', onResize);
    if (stdin.isTTY) stdin.setRawMode(true);
    stdin.resume();
    stdin.on('data', (chunk: Buffer) => {
      const i = chunk.indexOf(DETACH_KEY);
      if (i >= 0) {
        if (i > 0) term.write(chunk.subarray(0, i));
        finish(0);
        return;
      }
      predictor?.tty.keystroke(chunk.toString('latin1'));
      term.write(chunk);
    });
    stdin.on('end', () => finish(0));
    const code = await done;
    clearInterval(upgrade);
    process.off('SIGWINCH', onResize);
    predictor?.tty.close();
    if (term.exitCode === undefined) {
      // The host may have ended the link alone (a newer connection of this device took its place).
      const why =
        conn.hangupReason === 'replaced'
          ? 'a newer connection from this device took this one’s place'
          : conn.hangupReason
            ? `the host hung up (${conn.hangupReason})`
            : 'detached';
      err(`\r\n[${why}; session ${term.session} lives on]`);
    }
    // The host ended it (a session limit, a close, its shutdown): say why.
    else if (term.exitReason) err(`\r\n[session ${term.session} ended by the host: ${term.exitReason}]`);
    await conn.close();
    return code;
  } finally {
    clearInterval(upgrade);
    predictor?.tty.close();
    predictor?.mirror.dispose();
    if (stdin.isTTY) stdin.setRawMode(false);
    stdin.pause();
    await device.close();
  }
}
