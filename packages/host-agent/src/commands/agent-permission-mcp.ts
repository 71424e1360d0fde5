/**
 * `pocketshell agent-permission-mcp` (hidden): the permission prompt tool
 * of one Claude Code session (docs/host.md "Agents"). Claude starts it from
 * the MCP config the host wrote for the session; it serves MCP on stdio and
 * forwards every `approve` call over the session's socket, with the token
 * read from the session's token file (0600), to the host, which decides
 * (host-core agent/permission-mcp.ts). It ends when claude closes its stdin.
 */
import { readFileSync } from 'node:fs';
import { runPermissionMcp } from '@pocketshell/host-core';
import type { Command } from 'commander';
import { CliError } from '../exit-codes.ts';
import type { Cli } from './common.ts';

export function agentPermissionMcpCommand(program: Command, _cli: Cli): void {
  program
    .command('agent-permission-mcp', { hidden: true })
    .description("an agent session's permission prompt tool (started by Claude Code)")
    .requiredOption('--socket <path>', "the session's permission socket")
    .requiredOption('--token-file <path>', "the session's token file")
    .action(async (o: { socket: string; tokenFile: string }) => {
      let token: string;
      try {
        token = readFileSync(o.tokenFile, 'utf8').trim();
      } catch {
        throw new CliError('not_found', 'the session token file cannot be read');
      }
      await runPermissionMcp({ socketPath: o.socket, token, input: process.stdin, output: process.stdout });
    });
}
