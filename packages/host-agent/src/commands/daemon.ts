/**
 * `pocketshell daemon run|start|stop|restart|status|logs`: the agent in the
 * foreground, or as a service (systemd --user, launchd, or a detached
 * process) through the backends of `service/`.
 */
import { mkdirSync } from 'node:fs';
import { holderSocket, privateUmask, type StatePaths, shutdownHolder } from '@pocketshell/host-core';
import type { Command } from 'commander';
import { writeConfig } from '../config.ts';
import { startDaemon, stopOnSignals } from '../daemon.ts';
import { CliError } from '../exit-codes.ts';
import { stderrLog } from '../log.ts';
import {
  daemonReport,
  formatReport,
  formatStopped,
  serviceSpec,
  startService,
  stopService,
} from '../service/index.ts';
import { type Cli, paths, print, relayFrom, serviceFor } from './common.ts';

export function daemonCommands(program: Command, cli: Cli): void {
  const { io } = cli;
  const daemon = program.command('daemon').description('run the agent');
  daemon
    .command('run')
    .description('run in the foreground')
    .option('--relay <url>', 'relay URL (saved for next time)')
    .option('--allow-root', 'run even as root')
    .action((o: { relay?: string }) => foreground(cli, o));

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
      const p = paths(io);
      const urls = relayFrom(p, o.relay);
      mkdirSync(p.root, { recursive: true, mode: 0o700 });
      if (o.relay) writeConfig(p, { relay: urls.relay, web: urls.web });
      say(await startService(await serviceFor(cli, p, o.linger), specFor(p, o), p));
    });
  daemon
    .command('stop')
    .description('stop the daemon, and keep it stopped (also one started with `daemon run`)')
    .action(async () => {
      const p = paths(io);
      const backend = await serviceFor(cli, p);
      const { state, stopped } = await stopService(backend, p);
      io.out(formatStopped(stopped, backend.kind));
      // Stop means stopped: the session holder and its shells end too (restart keeps them).
      const holder = await shutdownHolder(holderSocket(p));
      if (holder && holder.ended > 0)
        io.out(
          `Ended the session holder (pid ${holder.pid}) and its ${holder.ended} shell${holder.ended === 1 ? '' : 's'}.`,
        );
      say(state);
    });
  daemon
    .command('restart')
    .description('restart the service (rewrites the unit or plist)')
    .option('--no-harden', 'systemd: no sandboxing')
    .option('--allow-root', 'run even as root')
    .action(async (o: { harden?: boolean; allowRoot?: boolean }) => {
      const p = paths(io);
      relayFrom(p, undefined);
      const backend = await serviceFor(cli, p);
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
      const report = await daemonReport(await serviceFor(cli, p), p);
      print(io, o, { version: cli.version, ...report }, () => formatReport(report));
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
        await (await serviceFor(cli, p)).logs({
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
}

/** `daemon run`: the agent in this process, until a signal stops it. */
async function foreground({ io, version }: Cli, o: { relay?: string }): Promise<never> {
  privateUmask();
  const p = paths(io);
  const urls = relayFrom(p, o.relay);
  const log = stderrLog(io.env);
  const running = await startDaemon({
    paths: p,
    relayUrl: urls.relay,
    webUrl: urls.web,
    env: io.env,
    version,
    log,
    // POCKETSHELL_SESSIONS=in-process keeps the PTYs in this process (no session holder; benchmarks compare).
    sessions: io.env.POCKETSHELL_SESSIONS === 'in-process' ? 'in-process' : 'holder',
  });
  // --relay is saved once the relay answers: a mistyped one never reaches config.json.
  if (o.relay) {
    const off = running.host.agent.on('relay', ({ state }) => {
      if (state !== 'ready') return;
      off();
      writeConfig(p, { relay: urls.relay, web: urls.web });
    });
  }
  log(`pocketshell ${version}: host ${running.host.identity.id} running (relay ${urls.relay})`);
  stopOnSignals(running, undefined, log);
  return new Promise(() => {});
}
