/**
 * What a new session runs: the user's login shell (`$SHELL` when it names
 * an executable, else the passwd entry, else /bin/sh) started as a login
 * shell in the home folder, with `TERM=xterm-256color` and
 * `COLORTERM=truecolor` so programs use colour the web terminal can show.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A program to start on a PTY. */
export interface Command {
  readonly file: string;
  readonly args: readonly string[];
}

function executable(file: string | undefined): file is string {
  if (!file || !path.isAbsolute(file)) return false;
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** The user's login shell, started as a login shell. */
export function loginShell(
  env: Readonly<Record<string, string | undefined>> = process.env,
  passwdShell: () => string | null = () => os.userInfo().shell,
): Command {
  let shell = env.SHELL;
  if (!executable(shell)) {
    let fromPasswd: string | null = null;
    try {
      fromPasswd = passwdShell();
    } catch {
      fromPasswd = null; // no passwd entry (containers with arbitrary uids): fall back below
    }
    shell = executable(fromPasswd ?? undefined) ? (fromPasswd as string) : '/bin/sh';
  }
  return { file: shell, args: ['-l'] };
}

/** The environment of a session: the daemon's, with the terminal variables set. */
export function sessionEnv(
  env: Readonly<Record<string, string | undefined>> = process.env,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  out.TERM = 'xterm-256color';
  out.COLORTERM = 'truecolor';
  return out;
}

/** The folder sessions start in: `$HOME`, else the user's home. */
export function sessionCwd(env: Readonly<Record<string, string | undefined>> = process.env): string {
  const home = env.HOME;
  return home && path.isAbsolute(home) && fs.existsSync(home) ? home : os.homedir();
}
