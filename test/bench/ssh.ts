/**
 * A private OpenSSH server for the terminal and files benchmarks (fresh ed25519 host
 * and client keys, key auth only, no PAM, its own config and port), and the
 * `ssh -tt` command line that reaches it. `wrap` runs sshd (and its readiness
 * probe) under a prefix such as `ip netns exec NS`, for the shaped-link bench.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { until } from '../support/cli.ts';

export interface Sshd {
  proc: ChildProcess;
  port: number;
  key: string;
  dir: string;
}

export interface SshdOptions {
  /** Directory for keys and config (created); also the session's HOME. */
  dir: string;
  home: string;
  /** Address to listen on (default 127.0.0.1). */
  listen?: string;
  /** Command prefix for sshd and the readiness probe, e.g. `['ip', 'netns', 'exec', 'ns']`. */
  wrap?: string[];
}

export async function startSshd(options: SshdOptions): Promise<Sshd> {
  const { dir, home } = options;
  const listen = options.listen ?? '127.0.0.1';
  const wrap = options.wrap ?? [];
  mkdirSync(dir, { mode: 0o700 });
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'host_key')]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'client_key')]);
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'client_key.pub')));
  const port = 20000 + Math.floor(Math.random() * 20000);
  writeFileSync(
    join(dir, 'sshd_config'),
    [
      `Port ${port}`,
      `ListenAddress ${listen}`,
      `HostKey ${join(dir, 'host_key')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PermitRootLogin prohibit-password',
      'StrictModes no',
      'UsePAM no',
      `PidFile ${join(dir, 'sshd.pid')}`,
      'LogLevel ERROR',
      'PrintMotd no',
      'PrintLastLog no',
      `SetEnv HOME=${home}`,
      // scp speaks SFTP (OpenSSH 9 on): the files bench needs the subsystem.
      'Subsystem sftp internal-sftp',
    ].join('\n'),
  );
  const argv = [...wrap, '/usr/sbin/sshd', '-D', '-e', '-f', join(dir, 'sshd_config')];
  const proc = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d));
  // Wait until it accepts connections.
  await until(
    () => {
      try {
        const probe = [...wrap, 'bash', '-c', `exec 3<>/dev/tcp/${listen}/${port}`];
        execFileSync(probe[0]!, probe.slice(1), { stdio: 'ignore' });
        return true;
      } catch {
        if (proc.exitCode !== null) throw new Error(`sshd exited: ${err}`);
        return false;
      }
    },
    10_000,
    50,
  );
  return { proc, port, key: join(dir, 'client_key'), dir };
}

/** Options of `ssh` for a private sshd: no config file, no known hosts, key only, quiet. */
export function sshOptions(port: number, key: string): string[] {
  return [
    '-F',
    '/dev/null',
    '-i',
    key,
    '-p',
    String(port),
    '-o',
    'StrictHostKeyChecking=no',
    '-o',
    'UserKnownHostsFile=/dev/null',
    '-o',
    'BatchMode=yes',
    '-o',
    'LogLevel=ERROR',
  ];
}

/** `ssh -tt … bash --norc --noprofile -i` to the private sshd on `host`. */
export function sshArgs(port: number, key: string, host = '127.0.0.1'): string[] {
  return [
    'ssh',
    '-tt',
    ...sshOptions(port, key),
    `${process.env.USER ?? 'root'}@${host}`,
    'bash',
    '--norc',
    '--noprofile',
    '-i',
  ];
}
