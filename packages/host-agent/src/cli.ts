/**
 * `pocketshell`: the host agent's command line. Parses argv (commander),
 * runs one command, and maps errors to stable exit codes and one-line human
 * messages (docs/host.md). Every command takes its state folder from
 * `POCKETSHELL_HOME` (default `~/.pocketshell`).
 */
import { mkdirSync, readFileSync } from 'node:fs';
import {
  AuditLog,
  checkNotRoot,
  IdentityStore,
  openHost,
  openSecretStore,
  type PacingInfo,
  type PinnedDevice,
  privateUmask,
  type StatePaths,
  statePaths,
  TrustStore,
  verifyAuditLog,
} from '@pocketshell/host-core';
import { type DeviceId, GRANTS, type Grant } from '@pocketshell/protocol';
import { Command, CommanderError, Option } from 'commander';
import {
  MAX_LIMIT_MINUTES,
  type MinuteLimits,
  readConfig,
  relayUrls,
  socketPath,
  writeConfig,
} from './config.ts';
import { startDaemon, stderrLog, stopOnSignals } from './daemon.ts';
import { CliError, EXIT, exitCodeOf } from './exit-codes.ts';
import { LocalClient } from './local-api.ts';
import type { DaemonStatus } from './local-methods.ts';
import { chooseGrants, confirmAction, confirmPairing, showPairingUrl } from './pairing-prompt.ts';
import { waitForRelay } from './relay-wait.ts';
import {
  daemonReport,
  formatReport,
  formatStopped,
  relayState,
  serviceBackend,
  serviceSpec,
  startService,
  stopService,
} from './service/index.ts';

const VERSION = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

/*
 * Commands a running daemon never uses are loaded when they run, not at
 * start: `up` brings the whole relay (SQLite, HTTP server), `connect` and
 * `device` the device client, `doctor` its probes. A daemon idles for days;
 * every module it loads stays resident.
 */
const loadUp = () => import('./up.ts');
const loadConnect = () => import('./connect.ts');
const loadDoctor = () => import('./doctor.ts');

interface Io {
  out: (line: string) => void;
  err: (line: string) => void;
  env: Readonly<Record<string, string | undefined>>;
}

function paths(io: Io): StatePaths {
  return statePaths({ env: io.env });
}

function allowRoot(flag: boolean | undefined, io: Io): void {
  checkNotRoot({ allowRoot: flag === true || io.env.POCKETSHELL_ALLOW_ROOT === '1' });
}

function parseGrants(text: string): Grant[] {
  const grants = text
    .split(',')
    .map((g) => g.trim())
    .filter(Boolean);
  for (const g of grants) {
    if (!(GRANTS as readonly string[]).includes(g)) {
      throw new CliError('config_invalid', `unknown grant ${g}; known: ${GRANTS.join(', ')}`);
    }
  }
  return grants as Grant[];
}

/** `--relay URL` checked: a usage error naming the flag when it is not a relay URL. */
function relayFlag(flag: string): { relay: string; web: string } {
  try {
    return relayUrls(flag);
  } catch {
    throw new CliError(
      'config_invalid',
      `--relay ${JSON.stringify(flag.slice(0, 200))} is not a relay URL; give its address, e.g. --relay https://relay.example or --relay http://127.0.0.1:8080`,
    );
  }
}

function relayFrom(p: StatePaths, flag: string | undefined): { relay: string; web: string } {
  if (flag !== undefined) return relayFlag(flag);
  const c = readConfig(p);
  if (!c.relay)
    throw new CliError(
      'config_invalid',
      'no relay configured: pass --relay URL (e.g. https://relay.example)',
    );
  return { relay: c.relay, web: c.web ?? relayUrls(c.relay).web };
}

/** `30m`, `8h`, `2d`, `90` (minutes), `0` or `off` (no limit) → minutes. */
export function parseMinutes(flag: string, text: string): number {
  const m = /^(\d{1,6})([mhd]?)$/.exec(text.trim());
  const minutes =
    text.trim() === 'off'
      ? 0
      : m
        ? Number(m[1]) * ({ '': 1, m: 1, h: 60, d: 1440 } as const)[m[2] as 'm']
        : NaN;
  if (!Number.isSafeInteger(minutes) || minutes > MAX_LIMIT_MINUTES)
    throw new CliError(
      'config_invalid',
      `${flag} takes a duration like 30m, 8h or 2d (at most 365d), or off; got ${JSON.stringify(text.slice(0, 40))}`,
    );
  return minutes;
}

/** `1h30m`-style text for minutes (`off` for 0, `-` for unset). */
function minutesText(m: number | undefined): string {
  if (m === undefined) return '-';
  if (m === 0) return 'off';
  if (m % 1440 === 0) return `${m / 1440}d`;
  if (m % 60 === 0) return `${m / 60}h`;
  return `${m}m`;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

async function daemonClient(p: StatePaths): Promise<LocalClient | null> {
  return LocalClient.connect(socketPath(p));
}

/** Builds the program; `run` executes it. */
export function program(io: Io): Command {
  const cmd = new Command('pocketshell')
    .description('PocketShell host agent: your terminal, from your phone, end-to-end encrypted.')
    .version(VERSION, '-v, --version')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) });

  cmd
    .command('up')
    .description('start a local relay and this machine’s agent, and print pairing codes')
    .option('--listen <host:port>', 'relay address', '127.0.0.1:8080')
    .option('--lan', 'listen on this machine’s LAN address so a phone on the same network can pair')
    .option('--data <dir>', 'relay data folder')
    .option(
      '-y, --yes',
      'accept pairing requests without asking (the SAS is still printed; never a key change)',
    )
    .option('--grants <list>', `grants for each device paired (${GRANTS.join(',')})`, 'shell')
    .option('--accept-key-change', 'also accept a device whose name is paired under another key')
    .option('--allow-root', 'run even as root')
    .action(
      async (o: {
        listen: string;
        lan?: boolean;
        data?: string;
        yes?: boolean;
        grants: string;
        acceptKeyChange?: boolean;
        allowRoot?: boolean;
      }) => {
        allowRoot(o.allowRoot, io);
        const grants = parseGrants(o.grants);
        privateUmask();
        const { up } = await loadUp();
        const running = await up({
          paths: paths(io),
          listen: o.listen,
          yes: o.yes === true || io.env.POCKETSHELL_PAIR_YES === '1',
          grants,
          version: VERSION,
          out: io.out,
          ...(o.acceptKeyChange ? { acceptKeyChange: true } : {}),
          ...(o.lan ? { lan: true } : {}),
          ...(o.data ? { data: o.data } : {}),
        });
        stopOnSignals(running);
        await new Promise(() => {});
      },
    );

  cmd
    .command('pair')
    .description('pair a phone: show a QR code, compare the code, pin the device')
    .option('--relay <url>', 'relay URL (saved for next time)')
    .option('-y, --yes', 'accept without asking (the SAS is still printed; never a key change)')
    .option('--grants <list>', `grants for the device (${GRANTS.join(',')}); asked on a terminal, else shell`)
    .option('--accept-key-change', 'accept a device whose name is already paired under another key')
    .option('--reset', 'wipe this host’s identity and pinned devices first')
    .option('--allow-root', 'run even as root')
    .action(
      async (o: {
        relay?: string;
        yes?: boolean;
        grants?: string;
        acceptKeyChange?: boolean;
        reset?: boolean;
        allowRoot?: boolean;
      }) => {
        allowRoot(o.allowRoot, io);
        const p = paths(io);
        if (o.grants !== undefined) parseGrants(o.grants); // a typo is a usage error before anything else
        const yes = o.yes === true || io.env.POCKETSHELL_PAIR_YES === '1';
        const answers = { yes, out: io.out, ...(o.acceptKeyChange ? { acceptKeyChange: true } : {}) };
        // Checked before anything else, so a typo is a usage error however the rest goes.
        const flagged = o.relay !== undefined ? relayFlag(o.relay) : undefined;
        const grants = await chooseGrants(o.grants, parseGrants, io.out);
        const client = await daemonClient(p);
        if (client && !o.reset) {
          try {
            const live = await client.call('status');
            const runner = live.mode === 'up' ? 'pocketshell up' : 'the pocketshell daemon';
            if (flagged) {
              if (live.relay.url !== flagged.relay) {
                throw new CliError(
                  'config_invalid',
                  `${runner} (pid ${live.pid}) is running with the relay ${live.relay.url}, and pairing goes through it: --relay ${flagged.relay} would not be used. Pair on its relay (run without --relay), or switch: pocketshell daemon stop, then pocketshell pair --relay ${o.relay}`,
                );
              }
            }
            if (live.relay.state !== 'ready' && live.relay.reason)
              throw new CliError(
                'unavailable',
                `${runner} (pid ${live.pid}) cannot reach its relay ${live.relay.url}: ${live.relay.reason} (${live.relay.attempts ?? 1} attempts so far), and pairing needs it. See pocketshell daemon logs; to use another relay: pocketshell daemon stop, then pocketshell pair --relay URL`,
              );
            const result = await client.call(
              'pair',
              { grants },
              {
                onEvent: (event, data) => {
                  if (event === 'url') {
                    const d = data as { url: string; expires: number };
                    void showPairingUrl(d.url, d.expires, io.out);
                  } else if (event === 'prompt') {
                    void confirmPairing(data as Parameters<typeof confirmPairing>[0], answers).then((ok) =>
                      client.confirm(ok),
                    );
                  }
                },
              },
            );
            io.out(
              `Paired "${result.device.name}" (${result.device.id}). Open PocketShell on the phone to connect.`,
            );
          } finally {
            client.close();
          }
          return;
        }
        if (client) {
          client.close();
          throw new CliError('unavailable', 'stop the daemon before --reset (pocketshell daemon stop)');
        }
        if (o.reset) {
          const secrets = await openSecretStore({ paths: p, env: io.env });
          await new IdentityStore({ paths: p, secrets }).reset();
          new TrustStore({ paths: p }).clear();
          io.out('Identity and pinned devices wiped; a new identity is made now.');
        }
        const urls = flagged ?? relayFrom(p, undefined);
        const host = await openHost({ paths: p, relayUrl: urls.relay, env: io.env });
        try {
          host.agent.start();
          await waitForRelay(host.agent, urls.relay, io.err);
          const device = await host.agent.pair({
            webUrl: urls.web,
            grants,
            onUrl: (url, expires) => void showPairingUrl(url, expires, io.out),
            confirm: (prompt) => confirmPairing(prompt, answers),
          });
          // Saved only now that it worked: a mistyped relay never reaches config.json.
          if (flagged) writeConfig(p, { relay: urls.relay, web: urls.web });
          io.out(
            `Paired "${device.name}" (${device.id}). Next: run \`pocketshell daemon run\` (or \`daemon start\`) so it can connect.`,
          );
        } finally {
          await host.close();
        }
      },
    );

  const daemon = cmd.command('daemon').description('run the agent');
  daemon
    .command('run')
    .description('run in the foreground')
    .option('--relay <url>', 'relay URL (saved for next time)')
    .option('--allow-root', 'run even as root')
    .action(async (o: { relay?: string; allowRoot?: boolean }) => {
      allowRoot(o.allowRoot, io);
      privateUmask();
      const p = paths(io);
      const urls = relayFrom(p, o.relay);
      const log = stderrLog(io.env);
      const running = await startDaemon({
        paths: p,
        relayUrl: urls.relay,
        webUrl: urls.web,
        env: io.env,
        version: VERSION,
        log,
      });
      // --relay is saved once the relay answers: a mistyped one never reaches config.json.
      if (o.relay) {
        const off = running.host.agent.on('relay', ({ state }) => {
          if (state !== 'ready') return;
          off();
          writeConfig(p, { relay: urls.relay, web: urls.web });
        });
      }
      log(`pocketshell ${VERSION}: host ${running.host.identity.id} running (relay ${urls.relay})`);
      stopOnSignals(running, undefined, log);
      await new Promise(() => {});
    });

  const backendFor = (p: StatePaths, linger?: boolean) =>
    serviceBackend({ paths: p, env: io.env, note: io.err, ...(linger ? { linger: true } : {}) });
  const specFor = (p: StatePaths, o: { harden?: boolean; allowRoot?: boolean }) =>
    serviceSpec({
      paths: p,
      env: io.env,
      entry: process.argv[1] ?? '',
      hardened: o.harden !== false,
      ...(o.allowRoot ? { allowRoot: true } : {}),
    });
  const say = (s: { running: boolean; pid?: number; detail: string }) =>
    io.out(
      `pocketshell daemon: ${s.running ? 'running' : 'not running'}${s.pid ? ` (pid ${s.pid})` : ''} — ${s.detail}`,
    );
  daemon
    .command('start')
    .description('run as a service (systemd --user, launchd, or a detached process) now and from now on')
    .option('--relay <url>', 'relay URL (saved for next time)')
    .option('--linger', 'systemd: keep running without a login session (loginctl enable-linger)')
    .option('--no-harden', 'systemd: no sandboxing (sudo and the shared /tmp work in phone shells)')
    .option('--allow-root', 'run even as root')
    .action(async (o: { relay?: string; linger?: boolean; harden?: boolean; allowRoot?: boolean }) => {
      allowRoot(o.allowRoot, io);
      const p = paths(io);
      const urls = relayFrom(p, o.relay);
      mkdirSync(p.root, { recursive: true, mode: 0o700 });
      if (o.relay) writeConfig(p, { relay: urls.relay, web: urls.web });
      say(await startService(await backendFor(p, o.linger), specFor(p, o), p));
    });
  daemon
    .command('stop')
    .description('stop the daemon, and keep it stopped (also one started with `daemon run`)')
    .action(async () => {
      const p = paths(io);
      const backend = await backendFor(p);
      const { state, stopped } = await stopService(backend, p);
      io.out(formatStopped(stopped, backend.kind));
      say(state);
    });
  daemon
    .command('restart')
    .description('restart the service (rewrites the unit or plist)')
    .option('--no-harden', 'systemd: no sandboxing')
    .option('--allow-root', 'run even as root')
    .action(async (o: { harden?: boolean; allowRoot?: boolean }) => {
      allowRoot(o.allowRoot, io);
      const p = paths(io);
      relayFrom(p, undefined);
      const backend = await backendFor(p);
      const { stopped } = await stopService(backend, p);
      if (stopped.length > 0) io.out(formatStopped(stopped, backend.kind));
      say(await startService(backend, specFor(p, o), p));
    });
  daemon
    .command('status')
    .description(
      'service state, relay connection, devices, sessions, key store, version (exit 3 when stopped)',
    )
    .option('--json', 'machine-readable output')
    .action(async (o: { json?: boolean }) => {
      const p = paths(io);
      const report = await daemonReport(await backendFor(p), p);
      io.out(o.json ? JSON.stringify({ version: VERSION, ...report }, null, 2) : formatReport(report));
      if (!report.service.running && !report.daemon) throw new CliError('not_running', 'not running');
    });
  daemon
    .command('logs')
    .description('the daemon’s log (the journal under systemd)')
    .option('-f, --follow', 'keep printing new lines')
    .option('-n, --lines <n>', 'how many recent lines', '100')
    .action(async (o: { follow?: boolean; lines: string }) => {
      const lines = Number(o.lines);
      if (!Number.isSafeInteger(lines) || lines < 0)
        throw new CliError('config_invalid', '--lines takes a count');
      const p = paths(io);
      const abort = new AbortController();
      const onSignal = () => abort.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        await (await backendFor(p)).logs({
          lines,
          follow: o.follow === true,
          write: (t) => process.stdout.write(t),
          signal: abort.signal,
        });
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });

  cmd
    .command('doctor')
    .description('check this machine: Node, key store, state permissions, relay, ICE, tmux/screen, service')
    .option('--json', 'machine-readable output')
    .action(async (o: { json?: boolean }) => {
      const p = paths(io);
      const { doctor, formatDoctor } = await loadDoctor();
      const report = await doctor({
        paths: p,
        env: io.env,
        version: VERSION,
        service: () => backendFor(p),
      });
      io.out(o.json ? JSON.stringify(report, null, 2) : formatDoctor(report));
      if (!report.ok) throw new CliError('unavailable', 'some checks failed');
    });

  const devices = cmd.command('devices').description('paired devices');
  devices
    .command('list')
    .option('--json', 'machine-readable output')
    .action((o: { json?: boolean }) => {
      const trust = new TrustStore({ paths: paths(io) });
      const list = trust.list();
      if (o.json) return io.out(JSON.stringify({ devices: list, revoked: trust.revoked() }, null, 2));
      if (list.length === 0) return io.out('No paired devices. Pair one with `pocketshell pair`.');
      io.out(
        table([
          ['ID', 'NAME', 'GRANTS', 'PAIRED', 'LAST SEEN'],
          ...list.map((d) => [
            d.id,
            d.name,
            d.grants.join(','),
            new Date(d.pairedAt * 1000).toISOString(),
            d.lastSeen ? new Date(d.lastSeen * 1000).toISOString() : '-',
          ]),
        ]),
      );
    });
  devices
    .command('revoke <id>')
    .description('forget a device now: its connections close and it can no longer connect')
    .option('-y, --yes', 'do not ask for confirmation')
    .action(async (id: string, o: { yes?: boolean }) => {
      const p = paths(io);
      const known = new TrustStore({ paths: p }).status(id);
      if (known.status !== 'paired') throw new CliError('not_found', `no paired device ${id}`);
      if (!o.yes) {
        const d = known.device;
        const what = `Revoke "${d.name}" (${d.id}, grants ${d.grants.join(',') || 'none'})? Its connections close now and it can no longer connect; pairing it again needs a new code.`;
        if (!process.stdin.isTTY)
          throw new CliError(
            'confirmation_needed',
            `revoking is destructive and there is no terminal to confirm on: pass --yes to revoke ${id}`,
          );
        if (!(await confirmAction(`${what} [y/N] `))) {
          io.out('Not revoked.');
          return;
        }
      }
      const client = await daemonClient(p);
      if (client) {
        try {
          const r = await client.call('revoke', { device: id as DeviceId });
          if (!r.revoked) throw new CliError('not_found', `no paired device ${id}`);
        } finally {
          client.close();
        }
      } else {
        const trust = new TrustStore({ paths: p });
        if (!trust.revoke(id as DeviceId)) throw new CliError('not_found', `no paired device ${id}`);
        const audit = AuditLog.open(p.audit);
        audit.append('revocation', { device: id, by: 'cli' });
        audit.close();
        io.err('The daemon is not running: the relay learns of the revocation when it next starts.');
      }
      io.out(`Revoked ${id}.`);
    });

  devices
    .command('limits <id>')
    .description(
      'show or set the idle timeout and maximum lifetime of sessions for a device id, or `default` for every device',
    )
    .option('--idle <duration>', 'close a session after this long without input, e.g. 30m; off for none')
    .option('--lifetime <duration>', 'close a session this long after it started, e.g. 8h; off for none')
    .option('--reset', "drop this id's entry (a device then gets the default)")
    .option('--json', 'machine-readable output')
    .action(async (id: string, o: { idle?: string; lifetime?: string; reset?: boolean; json?: boolean }) => {
      const p = paths(io);
      if (id !== 'default' && !new TrustStore({ paths: p }).list().some((d) => d.id === id))
        throw new CliError('not_found', `no paired device ${id} (or use default)`);
      const config = readConfig(p);
      const limits = { ...config.sessionLimits };
      const devices = { ...limits.devices };
      let entry: MinuteLimits = id === 'default' ? { ...limits.default } : { ...devices[id] };
      const changing = o.idle !== undefined || o.lifetime !== undefined || o.reset === true;
      if (o.reset) entry = {};
      if (o.idle !== undefined) entry.idleMinutes = parseMinutes('--idle', o.idle);
      if (o.lifetime !== undefined) entry.maxLifetimeMinutes = parseMinutes('--lifetime', o.lifetime);
      if (changing) {
        const empty = Object.keys(entry).length === 0;
        if (id === 'default') {
          if (empty) delete limits.default;
          else limits.default = entry;
        } else {
          if (empty) delete devices[id];
          else devices[id] = entry;
          if (Object.keys(devices).length > 0) limits.devices = devices;
          else delete limits.devices;
        }
        writeConfig(p, { sessionLimits: limits });
        // A running daemon applies them now, to live sessions too.
        const client = await daemonClient(p);
        if (client) {
          try {
            await client.call('limits.reload');
          } finally {
            client.close();
          }
        }
      }
      const effective: MinuteLimits = { ...limits.default, ...(id === 'default' ? {} : devices[id]) };
      if (o.json) return io.out(JSON.stringify({ id, entry, effective }, null, 2));
      io.out(
        `${id}: idle ${minutesText(effective.idleMinutes ?? 0)}, lifetime ${minutesText(effective.maxLifetimeMinutes ?? 0)}${
          id !== 'default' && Object.keys(entry).length === 0 ? ' (the default)' : ''
        }`,
      );
    });

  cmd
    .command('sessions')
    .description('terminal sessions of the running daemon, and tmux/screen sessions')
    .option('--json', 'machine-readable output')
    .action(async (o: { json?: boolean }) => {
      const client = await daemonClient(paths(io));
      if (!client) throw new CliError('not_running', 'the daemon is not running (pocketshell daemon run)');
      try {
        const r = await client.call('sessions');
        if (o.json) return io.out(JSON.stringify(r, null, 2));
        // Per attachment: streaming or screen sync, and the link it measured.
        const link = (p: PacingInfo) =>
          `${p.mode} ${(p.rate / 1e6).toFixed(p.rate < 1e6 ? 2 : 1)} MB/s${p.minRtt === null ? '' : ` rtt ${p.minRtt.toFixed(1)} ms`}`;
        io.out(
          table([
            ['ID', 'KIND', 'STATE', 'ATTACHED', 'LINKS', 'TITLE'],
            ...r.sessions.map((s) => [
              s.id,
              s.kind,
              s.state,
              String(s.attached),
              (r.links?.[s.id] ?? []).map(link).join('; ') || '-',
              s.title,
            ]),
            ...r.tmux.map((n) => [`tmux:${n}`, 'tmux', '-', '-', '-', '']),
            ...r.screen.map((n) => [`screen:${n}`, 'screen', '-', '-', '-', '']),
          ]),
        );
      } finally {
        client.close();
      }
    });

  cmd
    .command('status')
    .description('identity, key store, relay connection, devices and sessions')
    .option('--json', 'machine-readable output')
    .action(async (o: { json?: boolean }) => {
      const p = paths(io);
      const client = await daemonClient(p);
      let live: DaemonStatus | null = null;
      if (client) {
        try {
          live = await client.call('status');
        } finally {
          client.close();
        }
      }
      const secrets = await openSecretStore({ paths: p, env: io.env });
      const identity = await new IdentityStore({ paths: p, secrets }).load();
      const config = readConfig(p);
      const status = {
        version: VERSION,
        state: p.root,
        identity: identity ? { id: identity.id, name: identity.name } : null,
        keystore: { kind: secrets.kind, reason: secrets.reason },
        relay: config.relay ?? null,
        devices: new TrustStore({ paths: p }).list().length,
        daemon: live ? { running: true, ...live } : { running: false },
      };
      if (o.json) return io.out(JSON.stringify(status, null, 2));
      io.out(
        [
          `pocketshell ${VERSION}`,
          `host:      ${identity ? `${identity.name} (${identity.id})` : 'no identity yet (pocketshell pair)'}`,
          `key store: ${secrets.kind} — ${secrets.reason}`,
          `relay:     ${live ? `${(live.relay as { url: string }).url} — ${relayState(live.relay as { state: string })}` : (config.relay ?? 'not configured')}`,
          `devices:   ${status.devices} paired`,
          `daemon:    ${live ? `running (pid ${live.pid}${live.mode ? `, pocketshell ${live.mode}` : ''}), ${(live.sessions as unknown[]).length} sessions, ${(live.connections as unknown[]).length} connections, engine ${live.engine}` : 'not running'}`,
        ].join('\n'),
      );
    });

  const deviceCmd = cmd.command('device').description('this machine as a device of another host');
  deviceCmd
    .command('pair <url>')
    .description('pair this machine as a device, from a pairing URL a host printed')
    .option('--name <name>', 'the name the host will see')
    .option('--accept-key-change', 'pair even when a host of the same name is paired under another key')
    .action(async (url: string, o: { name?: string; acceptKeyChange?: boolean }) => {
      const { devicePair } = await loadConnect();
      await devicePair(paths(io), io.env, url, o, io.out);
    });
  deviceCmd
    .command('hosts')
    .description('hosts this machine can connect to')
    .option('--json', 'machine-readable output')
    .action(async (o: { json?: boolean }) => {
      const { deviceHosts } = await loadConnect();
      const hosts = await deviceHosts(paths(io), io.env);
      if (o.json)
        return io.out(
          JSON.stringify(
            hosts.map((h) => ({ ...h, pub: undefined })),
            null,
            2,
          ),
        );
      if (hosts.length === 0) return io.out('No hosts. Pair with one: pocketshell device pair <url>');
      io.out(
        table([
          ['ID', 'NAME', 'GRANTS', 'RELAY'],
          ...hosts.map((h) => [
            h.id,
            h.replacedBy ? `${h.name} (old key, replaced)` : h.name,
            h.grants.join(','),
            h.relay,
          ]),
        ]),
      );
    });
  cmd
    .command('connect <host>')
    .description('open a terminal on a paired host in this tty (Ctrl-] detaches)')
    .option(
      '--session <id>',
      'attach this session (an id, tmux:NAME or screen:NAME) instead of a new one',
      'new',
    )
    .action(async (query: string, o: { session: string }) => {
      const { connect } = await loadConnect();
      const code = await connect(paths(io), io.env, query, o.session, io.err);
      if (code !== 0)
        throw Object.assign(new Error(`remote program exited with ${code}`), {
          code: 'remote_exit',
          exit: code,
        });
    });

  const audit = cmd.command('audit').description('the audit log');
  audit
    .command('verify')
    .description('check the hash chain (across rotated files) and its head anchor; reports the first break')
    .action(async () => {
      const r = await verifyAuditLog(paths(io).audit);
      if (r.ok)
        return io.out(
          `audit log OK: ${r.entries} entries, head ${r.head.slice(0, 16)}…${r.first > 1 ? ` (entries before ${r.first} rotated away)` : ''}`,
        );
      throw new CliError(
        'audit_corrupt',
        r.line > 0
          ? `audit log broken at ${r.file} line ${r.line}: ${r.reason} (${r.entries} entries before it verify)`
          : `audit log broken: ${r.file}: ${r.reason} (${r.entries} entries verify)`,
      );
    });

  cmd.addOption(new Option('--debug', 'print stack traces').hideHelp());
  return cmd;
}

/** Runs the CLI; resolves with the exit code (long-running commands never resolve). */
export async function run(argv: string[], io: Io): Promise<number> {
  const cmd = program(io);
  try {
    await cmd.parseAsync(argv, { from: 'user' });
    return EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    const code = (error as { code?: string }).code;
    const remoteExit = (error as { exit?: unknown }).exit;
    if (code === 'remote_exit' && typeof remoteExit === 'number') return remoteExit;
    io.err(`pocketshell: ${(error as Error).message}${code ? ` [${code}]` : ''}`);
    if (argv.includes('--debug')) io.err(String((error as Error).stack));
    return exitCodeOf(error);
  }
}
