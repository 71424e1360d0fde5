/**
 * `pocketshell devices list|revoke|limits|root|agent`: the devices paired with
 * this host. Revoking and new session limits go through the running daemon
 * when one answers, so they apply at once (its connections close, live
 * sessions get the new limits); else they are written to the state folder
 * for its next start. A device's files root is written to the trust store,
 * which the daemon reads each time a `files` channel opens; so are its
 * agent tier and workspace roots, read at each agent request.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AuditLog, type DeviceAgentPolicy, TrustStore } from '@pocketshell/host-core';
import {
  AGENT_TIERS,
  type AgentTier,
  DEFAULT_AGENT_TIER,
  type DeviceId,
  MAX_AGENT_ROOTS,
} from '@pocketshell/protocol';
import type { Command } from 'commander';
import { MAX_LIMIT_MINUTES, type MinuteLimits, readConfig, writeConfig } from '../config.ts';
import { CliError } from '../exit-codes.ts';
import { confirmAction } from '../pairing-prompt.ts';
import { type Cli, paths, print, table, withDaemon } from './common.ts';

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

export function devicesCommands(program: Command, { io }: Cli): void {
  const devices = program.command('devices').description('paired devices');
  devices
    .command('list')
    .option('--json', 'machine-readable output')
    .action((o: { json?: boolean }) => {
      const trust = new TrustStore({ paths: paths(io) });
      const list = trust.list();
      print(io, o, { devices: list, revoked: trust.revoked() }, () =>
        list.length === 0
          ? 'No paired devices. Pair one with `pocketshell pair`.'
          : table([
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
      const r = await withDaemon(p, (client) => client.call('revoke', { device: id as DeviceId }));
      if (r) {
        if (!r.revoked) throw new CliError('not_found', `no paired device ${id}`);
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
        await withDaemon(p, (client) => client.call('limits.reload'));
      }
      const effective: MinuteLimits = { ...limits.default, ...(id === 'default' ? {} : devices[id]) };
      print(
        io,
        o,
        { id, entry, effective },
        () =>
          `${id}: idle ${minutesText(effective.idleMinutes ?? 0)}, lifetime ${minutesText(effective.maxLifetimeMinutes ?? 0)}${
            id !== 'default' && Object.keys(entry).length === 0 ? ' (the default)' : ''
          }`,
      );
    });
  devices
    .command('root <id> [folder]')
    .description(
      "show or set the folder a device's files are confined to (default: your home folder); applies to files channels opened from then on",
    )
    .option('--reset', 'back to the home folder')
    .option('--json', 'machine-readable output')
    .action(async (id: string, folder: string | undefined, o: { reset?: boolean; json?: boolean }) => {
      const p = paths(io);
      const trust = new TrustStore({ paths: p });
      const known = trust.status(id);
      if (known.status !== 'paired') throw new CliError('not_found', `no paired device ${id}`);
      if (folder !== undefined && o.reset)
        throw new CliError('config_invalid', 'give a folder or --reset, not both');
      let device = known.device;
      if (folder !== undefined || o.reset) {
        let root: string | null = null;
        if (folder !== undefined) {
          root = path.resolve(folder);
          let st: fs.Stats;
          try {
            st = fs.statSync(root);
          } catch {
            throw new CliError('not_found', `no such folder: ${root}`);
          }
          if (!st.isDirectory()) throw new CliError('wrong_type', `not a folder: ${root}`);
        }
        const r = await withDaemon(p, (client) =>
          client.call('devices.root', { device: id as DeviceId, root }),
        );
        if (r) device = r.device;
        else {
          device = trust.setFilesRoot(id, root);
          const audit = AuditLog.open(p.audit);
          try {
            audit.append('files.root', { device: id, root: root ?? '', by: 'cli' });
          } finally {
            audit.close();
          }
        }
      }
      const root = device.filesRoot ?? null;
      print(io, o, { id, root, home: os.homedir() }, () =>
        root === null ? `${id}: ${os.homedir()} (the home folder, the default)` : `${id}: ${root}`,
      );
    });
  devices
    .command('agent <id>')
    .description(
      "show or set a device's agent tier (read-only, ask, auto-edit) and workspace roots (default: ask, your home folder)",
    )
    .option('--tier <tier>', `read-only, ask or auto-edit (default ${DEFAULT_AGENT_TIER})`)
    .option(
      '--root <folder...>',
      'a folder agent sessions may work in (repeat for several; replaces the list)',
    )
    .option('--reset', 'back to the defaults')
    .option('--json', 'machine-readable output')
    .action(async (id: string, o: { tier?: string; root?: string[]; reset?: boolean; json?: boolean }) => {
      const p = paths(io);
      const trust = new TrustStore({ paths: p });
      const known = trust.status(id);
      if (known.status !== 'paired') throw new CliError('not_found', `no paired device ${id}`);
      if (o.reset && (o.tier !== undefined || o.root !== undefined))
        throw new CliError('config_invalid', 'give --tier/--root or --reset, not both');
      if (o.tier !== undefined && !(AGENT_TIERS as readonly string[]).includes(o.tier))
        throw new CliError(
          'config_invalid',
          `--tier takes one of ${AGENT_TIERS.join(', ')}; got ${JSON.stringify(o.tier.slice(0, 40))}`,
        );
      let device = known.device;
      if (o.reset || o.tier !== undefined || o.root !== undefined) {
        let policy: DeviceAgentPolicy | null = null;
        if (!o.reset) {
          const roots = (o.root ?? [...(device.agent?.roots ?? [])]).map((r) => path.resolve(r));
          if (roots.length > MAX_AGENT_ROOTS)
            throw new CliError('config_invalid', `at most ${MAX_AGENT_ROOTS} roots`);
          for (const r of roots) {
            let st: fs.Stats;
            try {
              st = fs.statSync(r);
            } catch {
              throw new CliError('not_found', `no such folder: ${r}`);
            }
            if (!st.isDirectory()) throw new CliError('wrong_type', `not a folder: ${r}`);
          }
          policy = { tier: (o.tier ?? device.agent?.tier ?? DEFAULT_AGENT_TIER) as AgentTier, roots };
        }
        const r = await withDaemon(p, (client) =>
          client.call('devices.agent', { device: id as DeviceId, agent: policy }),
        );
        if (r) device = r.device;
        else {
          device = trust.setAgentPolicy(id, policy);
          const audit = AuditLog.open(p.audit);
          try {
            audit.append('agent.tier', {
              device: id,
              tier: policy?.tier ?? 'default',
              roots: [...(policy?.roots ?? [])],
              by: 'cli',
            });
          } finally {
            audit.close();
          }
        }
      }
      const tier = device.agent?.tier ?? DEFAULT_AGENT_TIER;
      const roots = device.agent?.roots.length ? [...device.agent.roots] : [os.homedir()];
      print(
        io,
        o,
        { id, tier, roots, default: device.agent === undefined },
        () =>
          `${id}: ${tier}, roots ${roots.join(', ')}${device.agent === undefined ? ' (the defaults)' : ''}`,
      );
    });
}
