/**
 * What a new session runs: the user's login shell (`$SHELL` when it names
 * an executable, else the passwd entry, else /bin/sh) started as a login
 * shell in the home folder, with a login's environment (not the daemon's),
 * `TERM=xterm-256color` and `COLORTERM=truecolor` so programs use colour
 * the web terminal can show.
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

/**
 * Variables a session gets from the daemon's environment, as a login does
 * (OpenSSH's `do_setup_env`, plus what pam_systemd and tmux add): who and
 * where the user is, the locale and time zone. `LC_*` by prefix.
 */
export const LOGIN_ENV: readonly string[] = [
  'HOME',
  'USER',
  'LOGNAME',
  'SHELL',
  'PATH',
  'MAIL',
  'TZ',
  'LANG',
  'LANGUAGE',
  'LC_*',
  'XDG_RUNTIME_DIR',
  'TMUX_TMPDIR',
];

/** The `PATH` a session gets when the daemon has none (OpenSSH's default user path). */
export const DEFAULT_SESSION_PATH = '/usr/local/bin:/usr/bin:/bin';

/** A `passEnv` entry: a variable name, or a prefix ending in `*`. */
export const PASS_ENV_RE = /^[A-Za-z_][A-Za-z0-9_]{0,127}\*?$/;

/** Names a session never gets, whatever `passEnv` says: the daemon's own settings. */
const NEVER_PASSED = /^POCKETSHELL_/i;

function matches(name: string, patterns: readonly string[]): boolean {
  return patterns.some((p) => (p.endsWith('*') ? name.startsWith(p.slice(0, -1)) : name === p));
}

/**
 * The environment of a session, built like a login's rather than inherited:
 * only the `LOGIN_ENV` variables and those the user allows in `passEnv`
 * (config.json) come from the daemon's environment — never a
 * `POCKETSHELL_*` one — so secrets the daemon was started with (cloud keys,
 * tokens, the relay's TURN secret) do not reach shells. `USER`, `LOGNAME`,
 * `HOME` and `PATH` are filled in when missing; `TERM=xterm-256color` and
 * `COLORTERM=truecolor` are set for the web terminal (the protocol has the
 * device send no environment).
 */
export function sessionEnv(
  env: Readonly<Record<string, string | undefined>> = process.env,
  passEnv: readonly string[] = [],
  user: () => { username: string; homedir: string } = () => os.userInfo(),
): Record<string, string> {
  const allowed = [...LOGIN_ENV, ...passEnv.filter((p) => PASS_ENV_RE.test(p))];
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined || NEVER_PASSED.test(k) || !matches(k, allowed)) continue;
    out[k] = v;
  }
  if (!out.USER || !out.LOGNAME || !out.HOME) {
    try {
      const u = user();
      out.USER ??= u.username;
      out.LOGNAME ??= out.USER;
      out.HOME ??= u.homedir;
    } catch {
      // No passwd entry (containers with arbitrary uids): leave them unset.
    }
  }
  out.PATH ??= DEFAULT_SESSION_PATH;
  out.TERM = 'xterm-256color';
  out.COLORTERM = 'truecolor';
  return out;
}

/** The folder sessions start in: `$HOME`, else the user's home. */
export function sessionCwd(env: Readonly<Record<string, string | undefined>> = process.env): string {
  const home = env.HOME;
  return home && path.isAbsolute(home) && fs.existsSync(home) ? home : os.homedir();
}
