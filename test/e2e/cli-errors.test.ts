/**
 * The CLI's errors as a new user meets them, each with its exact message and
 * exit code: a mistyped --relay, an unreachable relay (progress, then the
 * reason, and nothing saved), a daemon that cannot reach its relay (its
 * status and logs say why), `pair --relay` beside a daemon on another relay,
 * not-found lookups, what `daemon stop` stopped, a taken port for `up`,
 * timestamped daemon logs, and suggestions for mistyped commands and flags.
 * Real processes throughout: a relay, `daemon run`, the detached service,
 * `up`.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type StartedRelay, startRelay } from '@pocketshell/relay/testing';
import { POCKETSHELL, pocketshell, startReadyDaemon, until, waitForOutput } from '../support/cli.ts';

let relay: StartedRelay;
let base: string;
let homes = 0;
const children: ChildProcess[] = [];

before(async () => {
  relay = await startRelay();
  base = mkdtempSync(join(tmpdir(), 'pocketshell-cli-errors-'));
});

after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await relay.stop();
  rmSync(base, { recursive: true, force: true });
});

/** A fresh state folder (and HOME) for one test; the detached service backend. */
function freshEnv(): Record<string, string> {
  const home = join(base, `h${++homes}`);
  mkdirSync(home);
  return {
    POCKETSHELL_HOME: join(home, 'state'),
    POCKETSHELL_KEYSTORE: 'file',
    POCKETSHELL_ICE_ADDRESS: '127.0.0.1',
    POCKETSHELL_ALLOW_ROOT: '1',
    POCKETSHELL_SERVICE: 'detached',
    HOME: home,
    SHELL: '/bin/bash',
  };
}

function start(args: string[], env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, [POCKETSHELL, ...args], {
    env: { ...process.env, ...env },
    stdio: 'pipe',
  });
  children.push(child);
  return child;
}

const exited = (c: ChildProcess) =>
  c.exitCode !== null || c.signalCode !== null
    ? Promise.resolve()
    : new Promise<void>((r) => c.once('exit', () => r()));

const BAD_RELAY =
  'pocketshell: --relay "notaurl" is not a relay URL; give its address, e.g. --relay https://relay.example or --relay http://127.0.0.1:8080 [config_invalid]\n';

test('--relay notaurl: pair, daemon run and daemon start name the flag and exit 2', async () => {
  const env = freshEnv();
  for (const args of [
    ['pair', '--relay', 'notaurl'],
    ['daemon', 'run', '--relay', 'notaurl'],
    ['daemon', 'start', '--relay', 'notaurl'],
  ]) {
    const r = await pocketshell(args, env);
    assert.equal(r.code, 2, args.join(' '));
    assert.equal(r.stderr, BAD_RELAY, args.join(' '));
  }
  assert.equal(existsSync(join(env.POCKETSHELL_HOME!, 'config.json')), false);
});

test('pair --relay to a closed port: progress while it tries, then the reason, exit 3, config.json untouched', async () => {
  const env = freshEnv();
  // A config.json from an earlier, working pairing: a failed pair must leave it byte for byte.
  mkdirSync(env.POCKETSHELL_HOME!, { mode: 0o700 });
  const config = join(env.POCKETSHELL_HOME!, 'config.json');
  const before = `{\n  "relay": "${relay.wsUrl}",\n  "web": "${relay.url}"\n}\n`;
  writeFileSync(config, before, { mode: 0o600 });
  const pair = start(['pair', '--yes', '--relay', 'http://127.0.0.1:1'], env);
  let stderr = '';
  pair.stderr!.on('data', (d: Buffer) => (stderr += d));
  const code = new Promise<number | null>((r) => pair.once('exit', (c) => r(c)));
  // The first attempt's failure is shown while the command still waits (it has not exited).
  await waitForOutput(pair, /attempt 1, connection refused; retrying\n/);
  assert.equal(pair.exitCode, null, 'progress came only with the exit');
  assert.equal(await code, 3);
  const lines = stderr.trimEnd().split('\n');
  assert.equal(lines[0], 'connecting to the relay at ws://127.0.0.1:1/ws …');
  assert.equal(
    lines[1],
    'connecting to the relay at ws://127.0.0.1:1/ws: attempt 1, connection refused; retrying',
  );
  assert.match(
    lines.at(-1)!,
    /^pocketshell: cannot reach the relay at ws:\/\/127\.0\.0\.1:1\/ws: connection refused \(\d+ attempts in 10 s\)\. Check the URL and that the relay runs \(pocketshell doctor\)\. \[unavailable\]$/,
  );
  assert.equal(readFileSync(config, 'utf8'), before);
});

test('daemon run on an unreachable relay: status, daemon status and the log name the relay and why; nothing saved; pair through it says so', async () => {
  const env = freshEnv();
  const daemon = start(['daemon', 'run', '--relay', 'http://127.0.0.1:1'], env);
  let log = '';
  daemon.stderr!.on('data', (d: Buffer) => (log += d));
  await until(async () => {
    const r = await pocketshell(['status', '--json'], env);
    return r.code === 0 && JSON.parse(r.stdout).daemon.relay?.reason === 'connection refused';
  });
  const status = await pocketshell(['status'], env);
  assert.match(
    status.stdout,
    /^relay: {5}ws:\/\/127\.0\.0\.1:1\/ws — (backoff|connecting): cannot connect \(connection refused; \d+ attempts?\), retrying; see pocketshell daemon logs$/m,
  );
  const dstatus = await pocketshell(['daemon', 'status'], env);
  assert.match(
    dstatus.stdout,
    /^relay: {5}ws:\/\/127\.0\.0\.1:1\/ws — (backoff|connecting): cannot connect \(connection refused; \d+ attempts?\), retrying; see pocketshell daemon logs$/m,
  );
  assert.match(
    log,
    /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z relay ws:\/\/127\.0\.0\.1:1\/ws: attempt 1 failed: connection refused; retrying$/m,
  );
  assert.equal(existsSync(join(env.POCKETSHELL_HOME!, 'config.json')), false, 'the bad relay was saved');

  const pair = await pocketshell(['pair', '--yes'], env);
  assert.equal(pair.code, 3);
  assert.match(
    pair.stderr,
    new RegExp(
      `^pocketshell: the pocketshell daemon \\(pid ${daemon.pid}\\) cannot reach its relay ws://127\\.0\\.0\\.1:1/ws: connection refused \\(\\d+ attempts so far\\), and pairing needs it\\. See pocketshell daemon logs; to use another relay: pocketshell daemon stop, then pocketshell pair --relay URL \\[unavailable\\]\\n$`,
    ),
  );

  const stop = await pocketshell(['daemon', 'stop'], env);
  assert.equal(stop.code, 0, stop.stderr);
  assert.equal(
    stop.stdout,
    `Stopped \`pocketshell daemon run\` (pid ${daemon.pid}), started by hand.\npocketshell daemon: not running — detached process, no service manager\n`,
  );
  await exited(daemon);
});

test('a daemon on one relay: pair --relay OTHER refuses and says how to switch (exit 2), a second daemon or up is refused naming it (exit 3); not-found lookups exit 8', async () => {
  const env = freshEnv();
  const daemon = await startReadyDaemon(env, relay.url);
  children.push(daemon);
  // The relay answered, so daemon run saved it.
  await until(() => existsSync(join(env.POCKETSHELL_HOME!, 'config.json')));
  assert.equal(
    JSON.parse(readFileSync(join(env.POCKETSHELL_HOME!, 'config.json'), 'utf8')).relay,
    relay.wsUrl,
  );
  const r = await pocketshell(['pair', '--yes', '--relay', 'http://127.0.0.1:1'], env);
  assert.equal(r.code, 2);
  assert.equal(
    r.stderr,
    `pocketshell: the pocketshell daemon (pid ${daemon.pid}) is running with the relay ${relay.wsUrl}, and pairing goes through it: --relay ws://127.0.0.1:1/ws would not be used. Pair on its relay (run without --relay), or switch: pocketshell daemon stop, then pocketshell pair --relay http://127.0.0.1:1 [config_invalid]\n`,
  );
  // A second agent on the same state folder is refused before it starts anything, naming the first.
  const already = `pocketshell: pocketshell daemon run (pid ${daemon.pid}) already runs on ${env.POCKETSHELL_HOME} with the relay ${relay.wsUrl}; stop it first: pocketshell daemon stop [already_running]\n`;
  const second = await pocketshell(['daemon', 'run'], env);
  assert.equal(second.code, 3);
  assert.equal(second.stderr, already);
  const up = await pocketshell(['up', '--listen', '127.0.0.1:0', '--data', join(env.HOME!, 'relay')], env);
  assert.equal(up.code, 3);
  assert.equal(up.stderr, already);
  const revoke = await pocketshell(['devices', 'revoke', 'd_nope'], env);
  assert.equal(revoke.code, 8);
  assert.equal(revoke.stderr, 'pocketshell: no paired device d_nope [not_found]\n');
  daemon.kill('SIGTERM');
  await exited(daemon);
  const offline = await pocketshell(['devices', 'revoke', 'd_nope'], env);
  assert.equal(offline.code, 8);
  assert.equal(offline.stderr, 'pocketshell: no paired device d_nope [not_found]\n');
  const connect = await pocketshell(['connect', 'nosuchhost'], env);
  assert.equal(connect.code, 8);
  assert.equal(
    connect.stderr,
    'pocketshell: no paired host nosuchhost; see them with pocketshell device hosts, or pair with pocketshell device pair <url> [not_found]\n',
  );
});

test('daemon stop says what it stopped: the service, an up, or nothing; the service log has timestamps', async () => {
  const env = freshEnv();
  const started = await pocketshell(['daemon', 'start', '--relay', relay.url], env);
  assert.equal(started.code, 0, started.stderr);
  const pid = Number(/\(pid (\d+)\)/.exec(started.stdout)![1]);
  await until(async () => {
    const s = await pocketshell(['status', '--json'], env);
    return s.code === 0 && JSON.parse(s.stdout).daemon.relay?.state === 'ready';
  });
  const logs = await pocketshell(['daemon', 'logs'], env);
  assert.equal(logs.code, 0, logs.stderr);
  const lines = logs.stdout.trimEnd().split('\n');
  assert.ok(lines.length >= 2, logs.stdout);
  for (const line of lines) assert.match(line, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \S/, line);
  assert.match(logs.stdout, new RegExp(`Z relay ${relay.wsUrl}: ready$`, 'm'));
  const stop = await pocketshell(['daemon', 'stop'], env);
  assert.equal(stop.code, 0, stop.stderr);
  assert.equal(
    stop.stdout,
    `Stopped the service (detached, pid ${pid}).\npocketshell daemon: not running — detached process, no service manager\n`,
  );
  const again = await pocketshell(['daemon', 'stop'], env);
  assert.equal(
    again.stdout,
    'Nothing to stop: no pocketshell daemon was running.\npocketshell daemon: not running — detached process, no service manager\n',
  );

  const up = start(['up', '--yes', '--listen', '127.0.0.1:0', '--data', join(env.HOME!, 'relay')], env);
  await waitForOutput(up, /#\/pair\/1\//);
  const stopUp = await pocketshell(['daemon', 'stop'], env);
  assert.equal(stopUp.code, 0, stopUp.stderr);
  assert.equal(
    stopUp.stdout,
    `Stopped \`pocketshell up\` (pid ${up.pid}), started by hand.\npocketshell daemon: not running — detached process, no service manager\n`,
  );
  await exited(up);
});

test('up on a port in use: says so and how to pick another (exit 3)', async () => {
  const env = freshEnv();
  const taken = createServer();
  await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
  const port = (taken.address() as { port: number }).port;
  try {
    const r = await pocketshell(
      ['up', '--yes', '--listen', `127.0.0.1:${port}`, '--data', join(env.HOME!, 'relay')],
      env,
    );
    assert.equal(r.code, 3);
    assert.equal(
      r.stderr,
      `pocketshell: port ${port} on 127.0.0.1 is in use (another pocketshell up or relay?); pick another port with --listen 127.0.0.1:PORT, e.g. --listen 127.0.0.1:${port + 1} [port_in_use]\n`,
    );
  } finally {
    taken.close();
  }
});

test('doctor reports a corrupt devices.json and a corrupt config.json', async () => {
  const env = freshEnv();
  mkdirSync(env.POCKETSHELL_HOME!, { mode: 0o700 });
  writeFileSync(join(env.POCKETSHELL_HOME!, 'devices.json'), '{"v":1,"devices":[{"id":', { mode: 0o600 });
  writeFileSync(join(env.POCKETSHELL_HOME!, 'config.json'), '{"relay":"notaurl"}', { mode: 0o600 });
  const r = await pocketshell(['doctor'], env, 60_000);
  assert.equal(r.code, 3, r.stderr);
  const root = env.POCKETSHELL_HOME!;
  assert.ok(
    r.stdout.includes(
      `[FAIL] files       ${root}/config.json: relay: bad format; ${root}/devices.json: not valid JSON; move it away to start afresh\n`,
    ),
    r.stdout,
  );
});

test('unknown commands and flags suggest the nearest one and exit 2', async () => {
  const env = freshEnv();
  const cases: [string[], string][] = [
    [['pari'], "error: unknown command 'pari'\n(Did you mean pair?)\n"],
    [['daemon', 'strat'], "error: unknown command 'strat'\n(Did you mean start?)\n"],
    [['pair', '--rely', 'x'], "error: unknown option '--rely'\n(Did you mean --relay?)\n"],
    [['devices', 'list', '--jsn'], "error: unknown option '--jsn'\n(Did you mean --json?)\n"],
  ];
  for (const [args, message] of cases) {
    const r = await pocketshell(args, env);
    assert.equal(r.code, 2, args.join(' '));
    assert.equal(r.stderr, message, args.join(' '));
  }
});
