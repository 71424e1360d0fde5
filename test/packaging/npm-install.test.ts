/**
 * The first five minutes, from a fresh clone of this repository (no
 * `packages/web/dist`, no build output): `npm ci`, then the README's
 * `npm start` opened in Chromium as a phone — the app loads, pairs and runs
 * `echo $((6*7))`. Then the npm packages as a user gets them: `npm run
 * package` in that clone builds the `pocketshell`, `pocketshell-relay` and
 * this machine's platform package into tarballs (the web client built by
 * itself); they are installed with `npm install -g` into a temporary
 * prefix, offline (the registry is a closed loopback port, the cache
 * empty), with a PATH that holds node, npm and a few shell basics but no
 * compiler, make or python. Then, from the installed package only:
 * `--version`, `doctor --json`, the one-line refusal of an old Node,
 * `daemon start` against the installed relay, pairing a Node device and a
 * terminal round trip, `daemon stop`, and `pocketshell up` printing a
 * pairing URL that Chromium opens, pairs with and runs a command through.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, type SpawnSyncReturns, spawn, spawnSync } from 'node:child_process';
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
import { firstSession, launchPhone } from '../browser/harness.ts';
import { loopbackDevice, ROOT, waitForOutput, waitForText } from '../support/cli.ts';

const VERSION = (
  JSON.parse(readFileSync(join(ROOT, 'packages/host-agent/package.json'), 'utf8')) as { version: string }
).version;
let work: string;
/** The fresh clone: what a new user has after `git clone`. */
let clone: string;
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

/** The machine's own Node when it is older than the packages need (Debian 12's is 20), else undefined. */
function oldNode(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const node = join(dir, 'node');
    if (dir.includes('node_modules') || !existsSync(node)) continue;
    const v = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim();
    if (Number(v.slice(1).split('.')[0]) < 22) return node;
  }
  return undefined;
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'pocketshell-npm-'));
  clone = join(work, 'clone');
  execFileSync('git', ['clone', '--quiet', ROOT, clone]);
  assert.equal(existsSync(join(clone, 'packages/web/dist')), false, 'a fresh clone has no web build');
  execFileSync('npm', ['ci', '--prefer-offline', '--no-audit', '--no-fund'], {
    cwd: clone,
    stdio: 'ignore',
    timeout: 300_000,
  });
});

test('npm start in the fresh clone: the printed URL, opened on a phone, loads the app, pairs and runs a command', async () => {
  const home = join(work, 'start-home');
  mkdirSync(home);
  const up = spawn(
    'npm',
    ['start', '--', '--yes', '--listen', '127.0.0.1:0', '--data', join(home, 'relay')],
    {
      cwd: clone,
      detached: true,
      env: {
        ...process.env,
        POCKETSHELL_HOME: join(home, 'state'),
        POCKETSHELL_KEYSTORE: 'file',
        POCKETSHELL_ICE_ADDRESS: '127.0.0.1',
        POCKETSHELL_ALLOW_ROOT: '1',
        HOME: home,
        SHELL: '/bin/bash',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.push(up);
  const phone = await launchPhone();
  try {
    let output = '';
    const keep = (d: Buffer) => {
      output += d;
    };
    up.stdout?.on('data', keep);
    up.stderr?.on('data', keep);
    const [url] = await waitForOutput(up, /http:\/\/127\.0\.0\.1:\d+\/#\/pair\/1\/\S+/, 60_000);
    assert.ok(existsSync(join(clone, 'packages/web/dist/index.html')), 'npm start built the web client');
    await firstSession(phone.page, url, 'first-run-npm-start').catch((error: Error) => {
      throw new Error(
        `${error.message}\nnpm start printed (QR codes left out):\n${output
          .replace(/^[ █▀▄]+$/gm, '')
          .replace(/\n{2,}/g, '\n')
          .slice(-2000)}`,
      );
    });
  } finally {
    await phone.close();
    await stop(up);
  }
});

/** Builds the packages in the fresh clone (no web build in it) and installs them offline, once. */
let installed: Promise<void> | undefined;
function install(): Promise<void> {
  installed ??= installPackages();
  return installed;
}

async function installPackages(): Promise<void> {
  rmSync(join(clone, 'packages/web/dist'), { recursive: true, force: true });
  const built = execFileSync('npm', ['run', '--silent', 'package', '--', '--out', join(work, 'out')], {
    cwd: clone,
    encoding: 'utf8',
  })
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
  for (const pkg of ['pocketshell', 'pocketshell-relay'])
    assert.ok(
      existsSync(join(prefix, 'lib/node_modules', pkg, 'web/dist/index.html')),
      `${pkg} carries the web client`,
    );
}

after(async () => {
  run(['pocketshell', 'daemon', 'stop']);
  await Promise.all(children.map(stop));
  rmSync(work, { recursive: true, force: true });
});

test('the installed command runs from the prefix: --version and doctor --json', async () => {
  await install();
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
    ['node', 'keystore', 'state', 'files', 'relay', 'clock', 'ice', 'engine', 'multiplexer', 'service'],
  );
  assert.equal(report.checks.find((c) => c.id === 'node')?.status, 'ok');
});

test('on a Node older than 22 every entry point says which Node it found and needs, in one line, exit 2', async (t) => {
  await install();
  const node = oldNode();
  if (node === undefined) {
    t.skip('no Node older than 22 on this machine to try them with');
    return;
  }
  const entries = [
    join(prefix, 'lib/node_modules/pocketshell/bin/pocketshell.js'),
    join(prefix, 'lib/node_modules/pocketshell-relay/bin/pocketshell-relay.js'),
    join(ROOT, 'packages/host-agent/bin/pocketshell.js'),
    join(ROOT, 'packages/relay/bin/pocketshell-relay.js'),
  ];
  const version = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim();
  for (const entry of entries) {
    const r: SpawnSyncReturns<string> = spawnSync(node, [entry, '--version'], { encoding: 'utf8' });
    assert.equal(r.status, 2, `${entry}: ${r.stderr}`);
    assert.equal(r.stdout, '');
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, `${entry}: one line, no stack trace: ${r.stderr}`);
    assert.match(lines[0]!, /^pocketshell(-relay)?: needs Node 22\.18 or newer, found /);
    assert.ok(lines[0]!.includes(version), 'names the Node it found');
    assert.match(lines[0]!, /install Node 24 LTS from https:\/\/nodejs\.org/);
  }
});

test('without its platform package the launcher says what is missing and how to fix it', async () => {
  await install();
  const lonely = join(work, 'lonely', 'pocketshell');
  cpSync(join(prefix, 'lib', 'node_modules', 'pocketshell'), lonely, { recursive: true });
  const r = run(['node', join(lonely, 'bin', 'pocketshell.js'), '--version']);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /the platform package @pocketshell\/linux-\w+-\w+ is missing/);
  assert.match(r.stderr, /npm install -g pocketshell/);
  assert.doesNotMatch(r.stderr, /at .*\.js:\d+/, 'no stack trace');
});

test('installed relay and daemon: pair a Node device, run a command, stop', async () => {
  await install();
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

test('pocketshell up from the installed package: the printed URL opens the app in Chromium, which pairs and runs a command', async () => {
  await install();
  const up = start(
    ['pocketshell', 'up', '--yes', '--listen', '127.0.0.1:0', '--data', join(work, 'up-relay')],
    {
      POCKETSHELL_HOME: join(work, 'up-state'),
    },
  );
  const phone = await launchPhone();
  try {
    const [url] = await waitForOutput(up, /http:\/\/127\.0\.0\.1:\d+\/#\/pair\/1\/\S+/, 30_000);
    await firstSession(phone.page, url, 'first-run-installed-up');
  } finally {
    await phone.close();
    await stop(up);
  }
});
