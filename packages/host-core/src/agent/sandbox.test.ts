/**
 * The agent sandbox with the real bubblewrap: a process inside cannot read
 * the deny list of a fake home (`.ssh`, `.aws/credentials`, `.netrc`, the
 * state folder) while it reads the rest of that home, writes in its
 * workspace and nowhere else, has no network when the grant says off (a
 * TCP listener on 127.0.0.1 opened by the test sees no connection, and
 * does see one when on), and dies when the process that started it is
 * killed. The fake home lives under /var/tmp, not /tmp: the sandbox has its
 * own /tmp, which would hide a home there and make the deny checks vacuous.
 *
 * Skipped only when bubblewrap is not installed
 * (scripts/install-system-deps.sh installs it); installed but unusable
 * fails.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isHostError } from '../errors.ts';
import { detectSandbox, noSandboxMessage, type SandboxSpec, sandboxArgv, underTmp } from './sandbox.ts';

const info = detectSandbox();
const skip =
  info.kind === 'none' && info.reason === 'bubblewrap (bwrap) is not installed'
    ? 'bubblewrap is not installed (scripts/install-system-deps.sh installs it)'
    : false;
const bwrap = info.kind === 'bwrap' ? info.path : 'bwrap';

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe('agent sandbox (bubblewrap)', { skip }, () => {
  let root: string;
  let home: string;
  let ws: string;
  let outside: string;
  let state: string;

  before(() => {
    assert.equal(info.kind, 'bwrap', info.kind === 'none' ? info.reason : '');
    root = fs.mkdtempSync('/var/tmp/ps-sandbox-test-');
    home = path.join(root, 'home');
    ws = path.join(root, 'ws');
    outside = path.join(root, 'outside');
    state = path.join(root, 'state');
    for (const d of [
      home,
      ws,
      outside,
      state,
      path.join(home, '.ssh'),
      path.join(home, '.aws'),
      path.join(home, '.docker'),
    ])
      fs.mkdirSync(d, { recursive: true });
    fs.writeFileSync(path.join(home, '.ssh', 'id_ed25519'), 'SSH-SENTINEL');
    fs.writeFileSync(path.join(home, '.aws', 'credentials'), 'AWS-SENTINEL');
    fs.writeFileSync(path.join(home, '.netrc'), 'NETRC-SENTINEL');
    fs.writeFileSync(path.join(home, '.docker', 'config.json'), 'DOCKER-SENTINEL');
    fs.writeFileSync(path.join(home, 'notes.txt'), 'NOTES-READABLE');
    fs.writeFileSync(path.join(state, 'host-key'), 'STATE-SENTINEL');
    // A link into the deny list from the workspace: read through it, still denied.
    fs.symlinkSync(path.join(home, '.ssh', 'id_ed25519'), path.join(ws, 'key-link'));
  });

  after(() => {
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  const spec = (over: Partial<SandboxSpec> = {}): SandboxSpec => ({
    bwrap,
    command: '/bin/sh',
    args: [],
    workspace: [ws],
    home,
    stateDir: state,
    network: 'off',
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home },
    ...over,
  });

  const run = (script: string, over: Partial<SandboxSpec> = {}): Promise<Ran> => {
    const cmd = sandboxArgv(spec({ args: ['-c', script], ...over }));
    return new Promise((resolve) => {
      execFile(cmd.file, cmd.args, { env: cmd.env, timeout: 20_000 }, (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
        resolve({ code, stdout, stderr });
      });
    });
  };

  it('detectSandbox finds bwrap and caches the answer; other systems get a reason', () => {
    assert.equal(detectSandbox(), info);
    assert.deepEqual(detectSandbox({ searchPath: '' }), {
      kind: 'none',
      reason: 'bubblewrap (bwrap) is not installed',
    });
    const mac = detectSandbox({ platform: 'darwin' });
    assert.equal(mac.kind, 'none');
    const msg = noSandboxMessage(mac.kind === 'none' ? mac.reason : '');
    assert.match(msg, /^No sandbox: bubblewrap sandboxes exist on Linux only, and this host runs darwin\. /);
    assert.match(msg, /apt install bubblewrap/);
  });

  it('cannot read the deny list (.ssh, .aws/credentials, .netrc, .docker/config.json, the state folder), can read the rest', async () => {
    const r = await run(
      [
        `cat ${home}/notes.txt`,
        `cat ${home}/.ssh/id_ed25519`,
        `cat ${home}/.aws/credentials`,
        `cat ${home}/.netrc`,
        `cat ${home}/.docker/config.json`,
        `cat ${state}/host-key`,
        `cat ${ws}/key-link`,
        `ls -A ${home}/.ssh ${home}/.aws ${state}`,
        'true',
      ].join('; '),
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /NOTES-READABLE/);
    for (const s of ['SSH', 'AWS', 'NETRC', 'DOCKER', 'STATE'])
      assert.doesNotMatch(r.stdout, new RegExp(`${s}-SENTINEL`));
    assert.doesNotMatch(r.stdout, /id_ed25519|credentials|host-key/, 'the denied folders look empty');
    assert.match(r.stderr, /No such file/);
  });

  it('writes in the workspace and its private /tmp, nowhere else', async () => {
    const marker = `ps-sandbox-marker-${process.pid}-${Date.now()}`;
    const r = await run(
      [
        `echo made > ${ws}/out.txt || exit 10`,
        `echo x > /tmp/${marker} || exit 11`,
        `echo x > ${outside}/evil && exit 12`,
        `echo x > ${home}/evil && exit 13`,
        `mkdir ${home}/.ssh/x 2>/dev/null && exit 14`,
        `echo x >> ${home}/.netrc && exit 15`,
        'exit 0',
      ].join('\n'),
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(fs.readFileSync(path.join(ws, 'out.txt'), 'utf8'), 'made\n');
    assert.ok(!fs.existsSync(`/tmp/${marker}`), "the sandbox's /tmp is its own");
    assert.ok(!fs.existsSync(path.join(outside, 'evil')));
    assert.ok(!fs.existsSync(path.join(home, 'evil')));
    assert.equal(fs.readFileSync(path.join(home, '.netrc'), 'utf8'), 'NETRC-SENTINEL');
    assert.match(r.stderr, /Read-only file system/);
  });

  it('a workspace that is the home keeps the deny list: unreadable, and absent entries cannot be created', async () => {
    const r = await run(
      [
        `cat ${home}/.ssh/id_ed25519`,
        `echo made > ${home}/ok.txt || exit 10`,
        `echo key > ${home}/.npmrc && exit 11`,
        `mkdir -p ${home}/.gnupg/private-keys && exit 12`,
        `echo x > ${home}/.ssh/authorized_keys && exit 13`,
        'exit 0',
      ].join('\n'),
      { workspace: [home] },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /SENTINEL/);
    assert.equal(fs.readFileSync(path.join(home, 'ok.txt'), 'utf8'), 'made\n');
    assert.ok(!fs.existsSync(path.join(home, '.ssh', 'authorized_keys')));
    assert.ok(!fs.existsSync(path.join(home, '.gnupg', 'private-keys')));
    const npmrc = path.join(home, '.npmrc');
    assert.ok(!fs.existsSync(npmrc) || fs.readFileSync(npmrc, 'utf8') === '', 'at most an empty placeholder');
  });

  it('allowPaths lifts one entry (an agent’s own login), and only that one', async () => {
    const r = await run(`cat ${home}/.netrc; cat ${home}/.docker/config.json; true`, {
      allowPaths: [path.join(home, '.netrc')],
    });
    assert.match(r.stdout, /NETRC-SENTINEL/);
    assert.doesNotMatch(r.stdout, /DOCKER-SENTINEL/);
  });

  it('no network when off: a listener on 127.0.0.1 sees no connection (and sees one when on)', async () => {
    let accepted = 0;
    const server = net.createServer((s) => {
      accepted++;
      s.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    try {
      const probe = `const s = require('node:net').connect(${port}, '127.0.0.1');
        s.on('connect', () => { s.destroy(); process.exit(0); });
        s.on('error', (e) => { console.log(e.code); process.exit(3); });`;
      // This node may live under /tmp (a checkout there), which the sandbox's own /tmp hides.
      const node = { command: process.execPath, readOnly: [path.dirname(process.execPath)] };
      const off = await run('', { ...node, args: ['-e', probe] });
      assert.equal(off.code, 3, off.stderr);
      assert.match(off.stdout, /ECONNREFUSED|ENETUNREACH|EADDRNOTAVAIL/);
      assert.equal(accepted, 0);
      const on = await run('', { ...node, args: ['-e', probe], network: 'on' });
      assert.equal(on.code, 0, on.stderr);
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(accepted, 1);
    } finally {
      server.close();
    }
  });

  it('dies when the process that started it dies', async () => {
    const tag = `${900 + (process.pid % 97)}.${Date.now() % 1000}`;
    const cmd = sandboxArgv(spec({ args: ['-c', `echo up > ${ws}/started; exec sleep ${tag}`] }));
    // A parent that starts the sandbox and is then killed outright (no chance to clean up).
    const parent = spawn(
      process.execPath,
      [
        '-e',
        `require('node:child_process').spawn(${JSON.stringify(cmd.file)}, ${JSON.stringify(cmd.args)}, { stdio: 'ignore' }); setInterval(() => {}, 1000);`,
      ],
      { stdio: 'ignore' },
    );
    const findSleep = (): number[] =>
      fs
        .readdirSync('/proc')
        .filter((d) => /^\d+$/.test(d))
        .filter((d) => {
          try {
            return fs.readFileSync(`/proc/${d}/cmdline`, 'utf8') === `sleep\0${tag}\0`;
          } catch {
            return false;
          }
        })
        .map(Number);
    try {
      const until = async (ok: () => boolean, what: string): Promise<void> => {
        for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 50));
        assert.ok(ok(), what);
      };
      await until(
        () => fs.existsSync(path.join(ws, 'started')) && findSleep().length === 1,
        'the sandbox started',
      );
      parent.kill('SIGKILL');
      await until(() => findSleep().length === 0, 'the sandboxed process is gone');
    } finally {
      parent.kill('SIGKILL');
      for (const pid of findSleep()) process.kill(pid, 'SIGKILL');
      fs.rmSync(path.join(ws, 'started'), { force: true });
    }
  });
});

describe('sandboxArgv: the command line', () => {
  const base: SandboxSpec = {
    bwrap: '/usr/bin/bwrap',
    command: 'claude',
    args: ['-p', '--verbose'],
    workspace: ['/'],
    home: '/nonexistent-home-for-test',
    network: 'off',
    env: { PATH: '/usr/bin', ANTHROPIC_API_KEY: 'sk-ant-not-on-the-command-line' },
  };

  it('read-only root, private /tmp, the namespaces, the command last; the environment not on the command line', () => {
    const ws = fs.mkdtempSync('/var/tmp/ps-sandbox-argv-');
    try {
      const c = sandboxArgv({ ...base, workspace: [ws] });
      assert.equal(c.file, '/usr/bin/bwrap');
      assert.deepEqual(c.args.slice(0, 12), [
        '--ro-bind',
        '/',
        '/',
        '--dev',
        '/dev',
        '--proc',
        '/proc',
        '--tmpfs',
        '/tmp',
        '--bind',
        ws,
        ws,
      ]);
      for (const flag of ['--unshare-pid', '--unshare-net', '--die-with-parent', '--new-session'])
        assert.ok(c.args.includes(flag), flag);
      assert.deepEqual(c.args.slice(-6), ['--chdir', ws, '--', 'claude', '-p', '--verbose']);
      assert.ok(!c.args.some((a) => a.includes('sk-ant')), 'the environment stays off the command line');
      assert.equal(c.env.ANTHROPIC_API_KEY, 'sk-ant-not-on-the-command-line');
      assert.ok(!sandboxArgv({ ...base, workspace: [ws], network: 'on' }).args.includes('--unshare-net'));
    } finally {
      fs.rmSync(ws, { recursive: true, force: true });
    }
  });

  it('refuses bad arguments by name, and a workspace on the deny list', () => {
    assert.throws(
      () => sandboxArgv({ ...base, workspace: ['relative/ws'] }),
      /workspace root must be an absolute path/,
    );
    assert.throws(() => sandboxArgv({ ...base, workspace: [] }), /workspace needs at least one root/);
    assert.throws(() => sandboxArgv({ ...base, command: '' }), /command must be/);
    assert.throws(() => sandboxArgv({ ...base, network: 'maybe' as 'on' }), /network must be/);
    const home = fs.mkdtempSync('/var/tmp/ps-sandbox-argv-');
    try {
      fs.mkdirSync(path.join(home, '.ssh', 'inner'), { recursive: true });
      assert.throws(
        () => sandboxArgv({ ...base, home, workspace: [path.join(home, '.ssh', 'inner')] }),
        (e: unknown) => isHostError(e, 'spawn_failed'),
      );
    } finally {
      fs.rmSync(home, { recursive: true, force: true });
    }
  });
});

it('a program under /tmp is bound back read-only by its top folder there (the sandbox’s own /tmp would hide it)', () => {
  assert.equal(underTmp('/tmp/ci-checkout/p/node_modules/node/bin/node'), '/tmp/ci-checkout');
  assert.equal(underTmp('/usr/bin/node'), undefined);
  assert.equal(underTmp('/tmp'), undefined);
  const argv = sandboxArgv({
    bwrap: '/usr/bin/bwrap',
    command: '/tmp/ci-checkout/bin/agent',
    args: [],
    workspace: ['/'],
    home: '/nonexistent-home',
    network: 'on',
    env: {},
    readOnly: ['/tmp/ci-checkout'],
  }).args;
  const tmp = argv.indexOf('/tmp');
  const bound = argv.indexOf('--ro-bind-try');
  assert.ok(tmp > 0 && bound > tmp, 'after the private /tmp');
  assert.deepEqual(argv.slice(bound, bound + 3), ['--ro-bind-try', '/tmp/ci-checkout', '/tmp/ci-checkout']);
});
