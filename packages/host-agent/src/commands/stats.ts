/**
 * `pocketshell stats [--watch] [--json]`: this machine's live figures — CPU,
 * load, memory, swap, disks, network, top processes — from the same
 * collector the `stats` channel serves (docs/host.md "Live monitoring").
 * It runs the collector in this process, so it works with or without a
 * running daemon, and shows the machine it runs on. CPU load and
 * throughput are measured between two samples, so the first figures come
 * after one second. `--watch` refreshes each second until Ctrl-C; `--json`
 * prints the snapshot (under `--watch`, one JSON line per second).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { StatsCollector } from '@pocketshell/host-core';
import type { StatsSnapshot } from '@pocketshell/protocol';
import type { Command } from 'commander';
import { type Cli, table } from './common.ts';

export function statsCommand(program: Command, { io }: Cli): void {
  program
    .command('stats')
    .description('this machine’s CPU, memory, disks, network and top processes')
    .option('--watch', 'refresh each second until Ctrl-C')
    .option('--json', 'the snapshot as JSON (one line per second under --watch)')
    .action(async (o: { watch?: boolean; json?: boolean }) => {
      const collector = new StatsCollector();
      await collector.snapshot(0);
      for (;;) {
        await sleep(1000);
        const s = await collector.snapshot(0);
        if (o.json) io.out(o.watch ? JSON.stringify(s) : JSON.stringify(s, null, 2));
        else io.out(`${o.watch ? '\x1b[H\x1b[2J' : ''}${formatStats(s)}`);
        if (!o.watch) return;
      }
    });
}

const GiB = 1024 ** 3;
const size = (n: number) =>
  n >= GiB
    ? `${(n / GiB).toFixed(1)}G`
    : n >= 1024 ** 2
      ? `${(n / 1024 ** 2).toFixed(0)}M`
      : `${Math.round(n / 1024)}K`;
const rate = (n: number) => `${size(n)}/s`;
const pct = (n: number) => `${n.toFixed(1)}%`;

/** The human summary of a snapshot. */
export function formatStats(s: StatsSnapshot, processes = 10): string {
  const m = s.memory;
  const lines = [
    `${s.system.hostname}  ${s.system.distro} ${s.system.release} (${s.system.kernel}, ${s.system.arch})  up ${Math.floor(s.system.uptime / 86400)}d ${Math.floor((s.system.uptime % 86400) / 3600)}h`,
    `CPU   ${pct(s.cpu.total)} of ${s.cpu.cores.length} cores  [${s.cpu.cores.map((c) => Math.round(c.load)).join(' ')}]  load ${s.cpu.loadavg.map((l) => l.toFixed(2)).join(' ')}`,
    `Mem   ${size(m.used)} / ${size(m.total)} (${pct(m.total ? (100 * m.used) / m.total : 0)})  available ${size(m.available)}`,
    `Swap  ${size(m.swapUsed)} / ${size(m.swapTotal)}`,
  ];
  if (s.temperatures.length > 0)
    lines.push(`Temp  ${s.temperatures.map((t) => `${t.label} ${t.celsius.toFixed(0)}°C`).join('  ')}`);
  if (s.battery) lines.push(`Batt  ${pct(s.battery.percent)}${s.battery.charging ? ' charging' : ''}`);
  lines.push(
    '',
    table([
      ['DISK', 'FS', 'SIZE', 'USED', 'USE%'],
      ...s.disks.map((d) => [
        d.mount,
        d.fs,
        size(d.size),
        size(d.used),
        pct(d.size ? (100 * d.used) / d.size : 0),
      ]),
    ]),
  );
  const io = s.diskIo.filter((d) => d.read > 0 || d.write > 0);
  if (io.length > 0)
    lines.push(
      '',
      table([['DEVICE', 'READ', 'WRITE'], ...io.map((d) => [d.device, rate(d.read), rate(d.write)])]),
    );
  lines.push('', table([['IFACE', 'RX', 'TX'], ...s.network.map((n) => [n.iface, rate(n.rx), rate(n.tx)])]));
  lines.push(
    '',
    table([
      ['PID', 'USER', 'CPU%', 'MEM%', 'RSS', 'S', 'COMMAND'],
      ...s.processes
        .slice(0, processes)
        .map((p) => [
          String(p.pid),
          p.user,
          p.cpu.toFixed(1),
          p.mem.toFixed(1),
          size(p.rss),
          p.state,
          p.command.slice(0, 60) || p.name,
        ]),
    ]),
  );
  return lines.join('\n');
}
