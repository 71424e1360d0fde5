/**
 * `pocketshell`: the host agent's command line. Parses argv (commander),
 * runs one command, and maps errors to stable exit codes and one-line human
 * messages (docs/host.md). Each command lives in `commands/`; this file
 * assembles them under the global options. Every command takes its state
 * folder from `POCKETSHELL_HOME` (default `~/.pocketshell`).
 *
 * Commands a running daemon never uses (`up`, `device`, `connect`, `cp`,
 * `doctor`) load their modules when they run, not at start: a daemon idles
 * for days, and every module it loads stays resident.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { agentPermissionMcpCommand } from './commands/agent-permission-mcp.ts';
import { alertsCommands } from './commands/alerts.ts';
import { auditCommands } from './commands/audit.ts';
import { type Cli, type Io, refuseRoot } from './commands/common.ts';
import { cpCommand } from './commands/cp.ts';
import { daemonCommands } from './commands/daemon.ts';
import { connectCommand, deviceCommands } from './commands/device.ts';
import { devicesCommands } from './commands/devices.ts';
import { doctorCommand } from './commands/doctor.ts';
import { pairCommand } from './commands/pair.ts';
import { sessionHolderCommand } from './commands/session-holder.ts';
import { sessionsCommand } from './commands/sessions.ts';
import { statsCommand } from './commands/stats.ts';
import { statusCommand } from './commands/status.ts';
import { upCommand } from './commands/up.ts';
import { EXIT, exitCodeOf } from './exit-codes.ts';

export type { Io } from './commands/common.ts';

/* Read here, beside the bundle's package.json: dist/lib/pocketshell.mjs reads ../package.json. */
const VERSION = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

/** The commands in the order `--help` lists them. */
const COMMANDS: readonly ((program: Command, cli: Cli) => void)[] = [
  upCommand,
  pairCommand,
  daemonCommands,
  doctorCommand,
  devicesCommands,
  sessionsCommand,
  statusCommand,
  statsCommand,
  alertsCommands,
  deviceCommands,
  connectCommand,
  cpCommand,
  auditCommands,
  sessionHolderCommand,
  agentPermissionMcpCommand,
];

/** Builds the program; `run` executes it. */
export function program(io: Io): Command {
  const cmd = new Command('pocketshell')
    .description('PocketShell host agent: your terminal, from your phone, end-to-end encrypted.')
    .version(VERSION, '-v, --version')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) });
  for (const add of COMMANDS) add(cmd, { io, version: VERSION });
  cmd.hook('preAction', refuseRoot(io));
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
