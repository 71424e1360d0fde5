/** `pocketshell audit verify`: checks the audit log's hash chain and head anchor. */
import { verifyAuditLog } from '@pocketshell/host-core';
import type { Command } from 'commander';
import { CliError } from '../exit-codes.ts';
import { type Cli, paths } from './common.ts';

export function auditCommands(program: Command, { io }: Cli): void {
  const audit = program.command('audit').description('the audit log');
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
}
