/**
 * tmux and GNU screen: finding their sessions (`tmux list-sessions`,
 * `screen -ls`) and the command that attaches one in a PTY (`tmux attach -t
 * =NAME`, exact match; `screen -x NAME`, the name never starting with `-`:
 * see `validSessionName`). Commands run through an injected
 * runner with a deadline; a multiplexer that is not installed or has no
 * server simply has no sessions.
 */
import { execFile } from 'node:child_process';
import type { Command } from './login-shell.ts';

/** Which multiplexer. */
export type Multiplexer = 'tmux' | 'screen';

/** Result of running a discovery command. */
export interface RunResult {
  /** Exit code, or null when the program could not be started (not installed). */
  readonly code: number | null;
  readonly stdout: string;
}

/** Runs a command to completion (injected in tests). */
export type CommandRunner = (file: string, args: readonly string[]) => Promise<RunResult>;

/** The real runner: `execFile` with a deadline and a bounded output. */
export function execRunner(env: NodeJS.ProcessEnv = process.env, timeoutMs = 5000): CommandRunner {
  return (file, args) =>
    new Promise((resolve) => {
      execFile(file, [...args], { env, timeout: timeoutMs, maxBuffer: 1024 * 1024 }, (err, stdout) => {
        if (!err) return resolve({ code: 0, stdout });
        const code = (err as { code?: unknown }).code;
        resolve({ code: typeof code === 'number' ? code : null, stdout: stdout ?? '' });
      });
    });
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters
const NAME_RE = /^[\p{L}\p{N}_][^\x00-\x1f\x7f]{0,127}$/u;

/**
 * True when `name` may name a tmux/screen session here: 1–128 characters,
 * no control characters, and it starts with a letter, digit or `_` — so it
 * can never be read as an option (`screen -x -Xquit`: screen takes an
 * argument starting with `-` as the next option and has no `--` for it).
 */
export function validSessionName(name: string): boolean {
  return NAME_RE.test(name);
}

/** Options: extra tmux arguments (e.g. `-L socket`) before the command. */
export interface MultiplexerOptions {
  readonly tmuxArgs?: readonly string[];
}

/** Names of the tmux sessions on the server (none when tmux is missing or has no server). */
export async function listTmuxSessions(run: CommandRunner, opts: MultiplexerOptions = {}): Promise<string[]> {
  const r = await run('tmux', [...(opts.tmuxArgs ?? []), 'list-sessions', '-F', '#{session_name}']);
  if (r.code !== 0) return [];
  return r.stdout.split('\n').filter((n) => n !== '' && validSessionName(n));
}

/** Parses `screen -ls` output into session names (`pid.name`). */
export function parseScreenList(stdout: string): string[] {
  const names: string[] = [];
  for (const line of stdout.split('\n')) {
    const m = /^\t(\d+\.[^\t]+)\t/.exec(line);
    if (m?.[1] && validSessionName(m[1])) names.push(m[1]);
  }
  return names;
}

/** Names of the screen sessions (`screen -ls` exits 1 even when it lists some). */
export async function listScreenSessions(run: CommandRunner): Promise<string[]> {
  const r = await run('screen', ['-ls']);
  if (r.code === null) return [];
  return parseScreenList(r.stdout);
}

/** The command that attaches a multiplexer session in a PTY. */
export function attachCommand(kind: Multiplexer, name: string, opts: MultiplexerOptions = {}): Command {
  if (!validSessionName(name)) throw new RangeError(`bad ${kind} session name`);
  if (kind === 'tmux')
    return { file: 'tmux', args: [...(opts.tmuxArgs ?? []), 'attach-session', '-t', `=${name}`] };
  return { file: 'screen', args: ['-x', name] };
}
