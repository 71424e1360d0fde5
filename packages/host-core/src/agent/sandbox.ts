/**
 * The agent sandbox (issue 18): on Linux an agent process (Claude Code,
 * Codex) runs inside bubblewrap (`bwrap`, Debian's `bubblewrap`), which
 * sees the whole file system read-only, writes only in its workspace roots
 * (and a private `/tmp`), cannot read the files issue's deny list
 * (`DENIED_IN_HOME`: `~/.ssh`, `~/.aws`, `~/.gnupg`, … and PocketShell's
 * own state), has its own process-id space, and — when the grant says so —
 * no network at all. It dies with the host process that started it.
 *
 * `detectSandbox` says whether bubblewrap is there and works (it tries it
 * once: bwrap needs unprivileged user namespaces, which some kernels and
 * AppArmor policies turn off) and why not; `noSandboxMessage` is the
 * sentence to show a person when it is not. `sandboxArgv` builds the
 * command line. Nothing here spawns the agent: the caller does, with the
 * returned environment (the environment never goes on bwrap's command
 * line, which every local user can read in `/proc`).
 *
 * What bubblewrap does not do (docs/security.md): it does not filter system
 * calls beyond dropping capabilities, does not limit CPU or memory, and a
 * `network: 'on'` sandbox reaches everything the host reaches, loopback
 * services included.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { HostError } from '../errors.ts';
import { DENIED_IN_HOME, isWithin } from '../files/confine.ts';

/** What `detectSandbox` found. */
export type SandboxInfo =
  | { readonly kind: 'bwrap'; readonly path: string }
  | { readonly kind: 'none'; readonly reason: string };

/** Where to look, and on what system (the real process's by default). */
export interface DetectSandboxOptions {
  /** The PATH to search (default `process.env.PATH`). */
  readonly searchPath?: string;
  /** Default `process.platform`. */
  readonly platform?: NodeJS.Platform;
}

const cache = new Map<string, SandboxInfo>();

/**
 * Finds `bwrap` on the PATH and checks that it can build a sandbox here
 * (the same namespaces `sandboxArgv` asks for), once per PATH and
 * platform; later calls return the cached answer.
 */
export function detectSandbox(opts: DetectSandboxOptions = {}): SandboxInfo {
  const platform = opts.platform ?? process.platform;
  const searchPath = opts.searchPath ?? process.env.PATH ?? '';
  const key = `${platform}\0${searchPath}`;
  let info = cache.get(key);
  if (!info) {
    info = probe(platform, searchPath);
    cache.set(key, info);
  }
  return info;
}

function probe(platform: NodeJS.Platform, searchPath: string): SandboxInfo {
  if (platform !== 'linux')
    return {
      kind: 'none',
      reason: `bubblewrap sandboxes exist on Linux only, and this host runs ${platform}`,
    };
  const bwrap = findOnPath('bwrap', searchPath);
  if (!bwrap) return { kind: 'none', reason: 'bubblewrap (bwrap) is not installed' };
  const trial = spawnSync(
    bwrap,
    [
      '--ro-bind',
      '/',
      '/',
      '--dev',
      '/dev',
      '--proc',
      '/proc',
      '--unshare-pid',
      '--unshare-net',
      '--die-with-parent',
      '--new-session',
      '--cap-drop',
      'ALL',
      '--',
      'true',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000, encoding: 'utf8' },
  );
  if (trial.status === 0) return { kind: 'bwrap', path: bwrap };
  const said = (trial.stderr ?? '').trim().split('\n')[0]?.slice(0, 200) ?? '';
  return {
    kind: 'none',
    reason: `bubblewrap is installed but cannot create a sandbox here: ${whyNot(said, trial)}`,
  };
}

/** A person's explanation of a failed trial: the kernel setting at fault when one is, else bwrap's own words. */
function whyNot(said: string, trial: ReturnType<typeof spawnSync>): string {
  const sysctl = (p: string): string | undefined => {
    try {
      return fs.readFileSync(p, 'utf8').trim();
    } catch {
      return undefined;
    }
  };
  if (sysctl('/proc/sys/kernel/unprivileged_userns_clone') === '0')
    return 'unprivileged user namespaces are disabled (sysctl kernel.unprivileged_userns_clone=0)';
  if (sysctl('/proc/sys/user/max_user_namespaces') === '0')
    return 'user namespaces are disabled (sysctl user.max_user_namespaces=0)';
  if (
    sysctl('/proc/sys/kernel/apparmor_restrict_unprivileged_userns') === '1' &&
    /permission|not permitted/i.test(said)
  )
    return 'AppArmor restricts unprivileged user namespaces (sysctl kernel.apparmor_restrict_unprivileged_userns=1)';
  if (trial.error) return `it could not be run (${(trial.error as NodeJS.ErrnoException).code ?? 'error'})`;
  if (trial.signal) return `it was stopped by ${trial.signal}`;
  return said === '' ? `it exited with status ${trial.status}` : `bwrap said “${said}”`;
}

/** The executable `name` on `searchPath`, or null. */
function findOnPath(name: string, searchPath: string): string | null {
  for (const dir of searchPath.split(path.delimiter)) {
    if (!path.isAbsolute(dir)) continue;
    const p = path.join(dir, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      if (fs.statSync(p).isFile()) return p;
    } catch {
      // not here
    }
  }
  return null;
}

/**
 * The sentence to show a person when agents run without a sandbox: what it
 * means, why, and what to do.
 */
export function noSandboxMessage(reason: string): string {
  return (
    `No sandbox: ${reason}. The agent runs as your user and can read and change whatever you can — ` +
    'your approvals on the phone are then the only limit. On Linux, install bubblewrap ' +
    '(Debian and Ubuntu: sudo apt install bubblewrap) to keep it inside its workspace.'
  );
}

/** What to run inside the sandbox, and what it may touch. */
export interface SandboxSpec {
  /** The `bwrap` executable (`detectSandbox().path`). */
  readonly bwrap: string;
  /** The program to run (a path, or a name looked up on `env.PATH` inside). */
  readonly command: string;
  readonly args: readonly string[];
  /** Writable roots (absolute; they must exist). The first is the working directory unless `cwd` says otherwise. */
  readonly workspace: readonly string[];
  /** The host user's home: `DENIED_IN_HOME` is under it. */
  readonly home: string;
  /** PocketShell's state folder (denied). */
  readonly stateDir?: string;
  /** More absolute paths to make unreadable. */
  readonly denyPaths?: readonly string[];
  /**
   * Deny-list entries this agent may use after all (absolute), such as its
   * own login: `~/.claude/.credentials.json` for Claude Code,
   * `~/.codex/auth.json` for Codex. Nothing else.
   */
  readonly allowPaths?: readonly string[];
  /** More writable paths, bound when they exist (an agent's own folder, such as `~/.claude`). */
  readonly writable?: readonly string[];
  /**
   * Paths bound back read-only over the private `/tmp` (when they exist):
   * the programs the agent runs that live there (PocketShell or the agent
   * installed under `/tmp`); see `underTmp`.
   */
  readonly readOnly?: readonly string[];
  readonly network: 'on' | 'off';
  /** The agent's environment (passed as bwrap's own, never on its command line). */
  readonly env: Readonly<Record<string, string>>;
  /** The working directory (default: the first workspace root). */
  readonly cwd?: string;
}

/** A command line to spawn: `spawn(file, args, { env })`. */
export interface SandboxCommand {
  readonly file: string;
  readonly args: string[];
  readonly env: Record<string, string>;
}

/**
 * Builds the bwrap command line for `spec` (see the module header; the
 * mounts in order, later ones over earlier ones):
 * `--ro-bind / /`, `--dev /dev`, `--proc /proc`, `--tmpfs /tmp` (private,
 * writable, gone with the sandbox), each workspace root and `writable` path
 * `--bind` read-write, then each denied path that exists — a folder
 * covered by an empty read-only tmpfs, anything else by `/dev/null` — so a
 * denied path inside a workspace stays denied. Then `--unshare-pid`,
 * `--unshare-ipc`, `--unshare-net` when the network is off,
 * `--die-with-parent`, `--new-session` (no ioctl on the host's terminal),
 * `--cap-drop ALL`, `--chdir`.
 *
 * A denied path is masked both as written and where its links lead. A
 * workspace root on or under the deny list, or holding a denied folder
 * that would hide it, is refused (`spawn_failed`).
 */
export function sandboxArgv(spec: SandboxSpec): SandboxCommand {
  const abs = (p: string, what: string): string => {
    if (typeof p !== 'string' || !path.isAbsolute(p) || p.includes('\0'))
      throw new TypeError(`sandboxArgv: ${what} must be an absolute path`);
    return path.resolve(p);
  };
  if (typeof spec.bwrap !== 'string' || spec.bwrap === '')
    throw new TypeError('sandboxArgv: bwrap must be a path');
  if (typeof spec.command !== 'string' || spec.command === '')
    throw new TypeError('sandboxArgv: command must be a non-empty string');
  if (!Array.isArray(spec.args) || spec.args.some((a) => typeof a !== 'string'))
    throw new TypeError('sandboxArgv: args must be strings');
  if (spec.network !== 'on' && spec.network !== 'off')
    throw new TypeError("sandboxArgv: network must be 'on' or 'off'");
  if (spec.workspace.length === 0) throw new TypeError('sandboxArgv: workspace needs at least one root');
  const workspace = spec.workspace.map((w) => real(abs(w, 'each workspace root')));
  const home = abs(spec.home, 'home');
  const cwd = spec.cwd === undefined ? workspace[0]! : abs(spec.cwd, 'cwd');

  const allowed = new Set((spec.allowPaths ?? []).map((p) => abs(p, 'each allowPaths entry')));
  const named = [
    ...DENIED_IN_HOME.map((d) => path.join(home, d)),
    ...(spec.stateDir === undefined ? [] : [abs(spec.stateDir, 'stateDir')]),
    ...(spec.denyPaths ?? []).map((p) => abs(p, 'each denyPaths entry')),
  ].filter((p) => !allowed.has(p));
  const writable = [...workspace, ...(spec.writable ?? []).map((p) => abs(p, 'each writable path'))];
  const masks = denyMounts(named, allowed, writable);

  for (const w of workspace) {
    for (const m of masks) {
      if (isWithin(w, m.path))
        throw new HostError('spawn_failed', 'a workspace root lies on the deny list', { path: w });
    }
  }

  const args = ['--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc', '--tmpfs', '/tmp'];
  for (const r of spec.readOnly ?? []) {
    const p = abs(r, 'each readOnly path');
    args.push('--ro-bind-try', p, p);
  }
  for (const w of workspace) args.push('--bind', w, w);
  for (const w of writable.slice(workspace.length)) args.push('--bind-try', w, w);
  for (const m of masks) {
    if (m.dir) args.push('--tmpfs', m.path, '--remount-ro', m.path);
    else args.push('--ro-bind', '/dev/null', m.path);
  }
  args.push('--unshare-pid', '--unshare-ipc');
  if (spec.network === 'off') args.push('--unshare-net');
  args.push(
    '--die-with-parent',
    '--new-session',
    '--cap-drop',
    'ALL',
    '--chdir',
    cwd,
    '--',
    spec.command,
    ...spec.args,
  );
  return { file: spec.bwrap, args, env: { ...spec.env } };
}

/**
 * The folder to bind back for a program the sandbox would hide behind its
 * private `/tmp`: the top folder under `/tmp` that holds it (a checkout or
 * an npm prefix made there), or undefined for one elsewhere.
 */
export function underTmp(program: string): string | undefined {
  let p = program;
  try {
    p = fs.realpathSync(program);
  } catch {
    // not there: as given
  }
  const parts = path.resolve(p).split('/');
  return parts[1] === 'tmp' && parts[2] ? `/tmp/${parts[2]}` : undefined;
}

/** One denied path to cover. */
interface Mask {
  readonly path: string;
  readonly dir: boolean;
}

/** Deny-list entries that are files (the others are folders) — for those not there yet. */
const FILE_LIKE = /(^|\/)\.(netrc|npmrc|pypirc|git-credentials|pgpass)$|\.(json|yml|yaml)$/;

/**
 * The denied paths to cover, outermost first, without those under an
 * already-covered folder (an empty tmpfs has nothing to cover), minus the
 * allowed ones:
 * - an existing one as written (unless it is a link) and its real path;
 * - an absent one inside a writable root too — else the agent could create
 *   it (`~/.ssh/authorized_keys` in a workspace that is the home); bwrap
 *   then makes an empty placeholder there first (a folder, or a file for
 *   the file-like names). Absent ones elsewhere cannot appear: `/` is
 *   read-only inside.
 */
function denyMounts(
  named: readonly string[],
  allowed: ReadonlySet<string>,
  writable: readonly string[],
): Mask[] {
  const found = new Map<string, boolean>();
  for (const p of named) {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(p);
    } catch {
      if (writable.some((w) => isWithin(p, w))) found.set(p, !FILE_LIKE.test(p));
      continue;
    }
    if (!st.isSymbolicLink()) found.set(p, st.isDirectory());
    try {
      const r = fs.realpathSync(p);
      if (!allowed.has(r)) found.set(r, fs.statSync(r).isDirectory());
    } catch {
      // a dangling link: nothing to read through it
    }
  }
  const sorted = [...found].sort(([a], [b]) => a.length - b.length);
  const out: Mask[] = [];
  for (const [p, dir] of sorted) {
    if (out.some((m) => m.dir && isWithin(p, m.path))) continue;
    out.push({ path: p, dir });
  }
  return out;
}

/** `realpath`, or the path itself when it does not exist (bwrap then refuses to bind it, loudly). */
function real(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch {
    return p;
  }
}
