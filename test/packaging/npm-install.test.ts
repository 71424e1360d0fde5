/**
 * The npm packages as a user gets them: `scripts/build-packages.ts` builds
 * the `pocketshell`, `pocketshell-relay` and this machine's platform
 * package into tarballs; they are installed with `npm install -g` into a
 * temporary prefix, offline (the registry is a closed loopback port, the
 * cache empty), with a PATH that holds node, npm and a few shell basics but
 * no compiler, make or python. Then, from the installed package only:
 * `--version`, `doctor --json`, `daemon start` against the installed relay,
 * pairing a Node device and a terminal round trip, `daemon stop`, and
 * `pocketshell up` printing a pairing URL within seconds that a device pairs with.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { relayWsUrl } from '@pocketshell/protocol';
import { loopbackDevice, ROOT, waitForOutput, waitForText } from '../support/cli.ts';

const VERSION = (
  JSON.parse(readFileSync(join(ROOT, 'packages/host-agent/package.json'), 'utf8')) as { version: string }
).version;
let work: string;
let prefix: string;
let env: Record<string, string>;
const children: ChildProcess[] = [];

/** A PATH with node and npm and the shell basics npm's scripts need — no build tools. */
function barePath(dir: string): string {
  mkdirSync(dir);
  const which = (c: string) => execFileSync('sh', ['-c', `command -v ${c}`], { encoding: 'utf8' }).trim();
  symlinkSync(process.execPath, join(dir, 'node'));
  symlinkSync(realpathSync(which('npm')), join(dir, 'npm'));
  for (const c of ['sh', 'bash', 'env', 'cat', 'ls', 'rm', 'mkdir', 'uname', 'true'])
    symlinkSync(which(c), join(dir, c));
  return dir;
}

function run(args: string[], extra: Record<string, string> = {}, timeoutMs = 60_000) {
  const [cmd, ...rest] = args;
  return spawnSync(cmd!, rest, { env: { ...env, ...extra }, encoding: 'utf8', timeout: timeoutMs });
}

function start(args: string[], extra: Record<string, string> = {}): ChildProcess {
  const [cmd, ...rest] = args;
  const child = spawn(cmd!, rest, {
    env: { ...env, ...extra },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  children.push(child);
  return child;
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    process.kill(-child.pid!, 'SIGTERM');
    setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {}
    }, 10_000).unref();
  });
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'pocketshell-npm-'));
  const built = execFileSync(
    process.execPath,
    [join(ROOT, 'scripts/build-packages.ts'), '--out', join(work, 'out')],
    {
      encoding: 'utf8',
    },
  )
    .trim()
    .split('\n');
  assert.equal(built.length, 3, 'main, relay and one platform package');
  prefix = join(work, 'prefix');
  const bin = barePath(join(work, 'bin'));
  env = {
    PATH: `${join(prefix, 'bin')}:${bin}`,
    HOME: join(work, 'home'),
    SHELL: '/bin/sh',
    POCKETSHELL_KEYSTORE: 'file',
    POCKETSHELL_ICE_ADDRESS: '127.0.0.1',
    POCKETSHELL_ALLOW_ROOT: '1',
    POCKETSHELL_SERVICE: 'detached',
    POCKETSHELL_HOME: join(work, 'state'),
  };
  mkdirSync(env.HOME!);
  for (const tool of ['gcc', 'cc', 'make', 'python3', 'python', 'node-gyp'])
    assert.notEqual(run(['sh', '-c', `command -v ${tool}`]).status, 0, `${tool} must not be on PATH`);
  const install = run(
    [
      'npm',
      'install',
      '-g',
      '--prefix',
      prefix,
      '--offline',
      '--registry',
      'http://127.0.0.1:9',
      '--cache',
      join(work, 'npm-cache'),
      '--no-audit',
      '--no-fund',
      ...built,
    ],
    {},
    120_000,
  );
  assert.equal(install.status, 0, install.stderr);
});

after(async () => {
  run(['pocketshell', 'daemon', 'stop']);
  await Promise.all(children.map(stop));
  rmSync(work, { recursive: true, force: true });
});

test('the installed command runs from the prefix: --version and doctor --json', () => {
  const which = run(['sh', '-c', 'command -v pocketshell']);
  assert.equal(which.stdout.trim(), join(prefix, 'bin', 'pocketshell'));
  const v = run(['pocketshell', '--version']);
  assert.equal(v.status, 0, v.stderr);
  assert.equal(v.stdout.trim(), VERSION);
  const d = run(['pocketshell', 'doctor', '--json']);
  const report = JSON.parse(d.stdout) as { ok: boolean; checks: { id: string; status: string }[] };
  assert.equal(d.status, 0, d.stderr);
  assert.equal(report.ok, true);
  assert.deepEqual(
    report.checks.map((c) => c.id),
    ['node', 'keystore', 'state', 'relay', 'clock', 'ice', 'engine', 'multiplexer', 'service'],
  );
  assert.equal(report.checks.find((c) => c.id === 'node')?.status, 'ok');
});

test('without its platform package the launcher says what is missing and how to fix it', () => {
  const lonely = join(work, 'lonely', 'pocketshell');
  cpSync(join(prefix, 'lib', 'node_modules', 'pocketshell'), lonely, { recursive: true });
  const r = run(['node', join(lonely, 'bin', 'pocketshell.js'), '--version']);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /the platform package @pocketshell\/linux-\w+-\w+ is missing/);
  assert.match(r.stderr, /npm install -g pocketshell/);
  assert.doesNotMatch(r.stderr, /at .*\.js:\d+/, 'no stack trace');
});

test('installed relay and daemon: pair a Node device, run a command, stop', async () => {
  const relay = start(['pocketshell-relay', '--listen', '127.0.0.1:0', '--data', join(work, 'relay')]);
  const [, url] = await waitForOutput(relay, /"msg":"listening".*?"url":"(http:\/\/127\.0\.0\.1:\d+)"/);
  const started = run(['pocketshell', 'daemon', 'start', '--relay', url!]);
  assert.equal(started.status, 0, started.stderr);
  assert.match(started.stdout, /running \(pid \d+\)/);

  const device = loopbackDevice(relayWsUrl(url!));
  try {
    const pair = start(['pocketshell', 'pair', '--yes', '--grants', 'shell']);
    const [pairUrl] = await waitForOutput(pair, /http:\/\/\S+#\/pair\/1\/\S+/);
    const host = await device.pair(pairUrl, { name: 'npm install test' });
    const conn = await device.connect(host.id);
    const term = await conn.openTerminal('new', { cols: 80, rows: 24 });
    term.write('echo installed-$((6*7))\n');
    await waitForText(term, /installed-42/);
    term.close();
    const status = JSON.parse(run(['pocketshell', 'daemon', 'status', '--json']).stdout) as {
      daemon: { devices: number; version: string };
    };
    assert.equal(status.daemon.devices, 1);
    assert.equal(status.daemon.version, VERSION);
  } finally {
    await device.close();
  }
  const stopped = run(['pocketshell', 'daemon', 'stop']);
  assert.equal(stopped.status, 0, stopped.stderr);
  assert.equal(run(['pocketshell', 'daemon', 'status']).status, 3);
  await stop(relay);
});

test('pocketshell up from the installed package prints a pairing URL within seconds; a device pairs', async () => {
  const t0 = Date.now();
  const up = start(
    ['pocketshell', 'up', '--yes', '--listen', '127.0.0.1:0', '--data', join(work, 'up-relay')],
    {
      POCKETSHELL_HOME: join(work, 'up-state'),
    },
  );
  const [url] = await waitForOutput(up, /http:\/\/127\.0\.0\.1:\d+\/#\/pair\/1\/\S+/, 30_000);
  const seconds = (Date.now() - t0) / 1000;
  assert.ok(seconds < 30, `took ${seconds} s`);
  if (existsSync(join(ROOT, 'packages/web/dist/index.html'))) {
    // The pairing URL opens the web client, which the installed package carries.
    const page = await fetch(new URL(url).origin);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
  }
  const device = loopbackDevice(relayWsUrl(new URL(url).origin));
  try {
    const host = await device.pair(url, { name: 'up test' });
    const conn = await device.connect(host.id);
    const term = await conn.openTerminal('new', { cols: 80, rows: 24 });
    term.write('echo up-$((40+2))\n');
    await waitForText(term, /up-42/);
    term.close();
  } finally {
    await device.close();
    await stop(up);
  }
});
