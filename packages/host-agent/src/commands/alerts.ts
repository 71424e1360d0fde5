/**
 * `pocketshell alerts`: the host's alert center (docs/host.md "Alerts").
 * `list` and `rules` read the state folder's `alerts-history.json` and
 * `alerts.json` (schema-checked, read-only: the daemon is their one
 * writer); `test` asks the running daemon to send a test alert to one
 * paired device or to each, by every path it has.
 */
import { join } from 'node:path';
import {
  ALERT_HISTORY_FILE,
  ALERTS_FILE,
  parseAlertHistory,
  parseAlertsState,
  readJsonFile,
} from '@pocketshell/host-core';
import type { DeviceId } from '@pocketshell/protocol';
import type { Command } from 'commander';
import { CliError } from '../exit-codes.ts';
import { type Cli, paths, print, table, withDaemon } from './common.ts';

const when = (ms: number) => new Date(ms).toISOString().replace('T', ' ').slice(0, 19);

export function alertsCommands(program: Command, { io }: Cli): void {
  const alerts = program.command('alerts').description('alert rules, history and a test alert');
  alerts
    .command('list')
    .description('the alert history, newest first')
    .option('--limit <n>', 'how many', '20')
    .option('--json', 'machine-readable output')
    .action((o: { limit: string; json?: boolean }) => {
      const limit = Number(o.limit);
      if (!Number.isInteger(limit) || limit < 1)
        throw new CliError('bad_message', '--limit: a positive number');
      const history = readJsonFile(join(paths(io).root, ALERT_HISTORY_FILE), parseAlertHistory) ?? [];
      const list = history
        .slice(-limit)
        .reverse()
        .map((e) => e.alert);
      print(io, o, list, () =>
        list.length === 0
          ? 'no alerts yet'
          : table([
              ['AT (UTC)', 'KIND', 'STATE', 'SEVERITY', 'ACKED', 'TITLE'],
              ...list.map((a) => [when(a.at), a.kind, a.state, a.severity, a.ackedAt ? 'yes' : '-', a.title]),
            ]),
      );
    });
  alerts
    .command('rules')
    .description('the alert rules and the terminal attention settings')
    .option('--json', 'machine-readable output')
    .action((o: { json?: boolean }) => {
      const state = readJsonFile(join(paths(io).root, ALERTS_FILE), parseAlertsState);
      if (!state) return io.out('no alert rules yet (the daemon writes the defaults when it starts)');
      const data = {
        rules: state.rules,
        attention: state.attention,
        muted: state.muted,
        snoozes: state.snoozes,
      };
      print(io, o, data, () =>
        [
          table([
            ['ID', 'ON', 'METRIC', 'TARGET', 'CONDITION', 'FOR', 'COOLDOWN', 'FIRING'],
            ...state.rules.map((r) => [
              r.id,
              r.enabled ? 'yes' : 'no',
              r.metric,
              r.target || '-',
              `${r.op} ${r.threshold}`,
              `${r.forSeconds}s`,
              `${r.cooldownSeconds}s`,
              state.state[r.id]?.firing ? 'yes' : '-',
            ]),
          ]),
          `attention: bell ${state.attention.bell ? 'on' : 'off'}, notifications ${state.attention.notify ? 'on' : 'off'}, long commands ${state.attention.longCommandSeconds ? `≥ ${state.attention.longCommandSeconds}s` : 'off'}, prompts ${state.attention.prompt ? 'on' : 'off'}`,
        ].join('\n'),
      );
    });
  alerts
    .command('test [device]')
    .description('send a test alert to one paired device (or to each) through the running daemon')
    .option('--json', 'machine-readable output')
    .action(async (device: string | undefined, o: { json?: boolean }) => {
      const r = await withDaemon(paths(io), (client) =>
        client.call('alerts.test', device ? { device: device as DeviceId } : {}),
      );
      if (!r) throw new CliError('not_running', 'the daemon is not running (pocketshell daemon run)');
      print(io, o, r, () =>
        r.alerts.length === 0
          ? 'no paired device to send to'
          : r.alerts.map((a) => `test alert ${a.id} sent to ${a.device}`).join('\n'),
      );
    });
}
