/**
 * `pocketshell cp` end to end (issue 15) on loopback: a real relay process,
 * a real `pocketshell daemon run` host, and the real CLI paired with it as
 * a device (`pocketshell device pair`), each copy a `pocketshell cp`
 * process over the `files` channel:
 * - a file and a folder (nested, hidden, empty file, empty folder) both
 *   ways, bytes equal, nothing partial left behind;
 * - a download killed halfway (SIGKILL) goes on from its
 *   `.pocketshell-part` when run again, and ends with the right bytes;
 * - Ctrl-C (SIGINT) during an upload cancels it cleanly (exit 1,
 *   `[cancelled]`, nothing under the final name, the host keeps the
 *   partial), and the same command run again completes it;
 * - a folder cut short either way (a killed download, Ctrl-C on an
 *   upload) goes on in its `.pocketshell-part` folder, keeping the files
 *   already complete (same inode), and is renamed into place at the end;
 * - refusals with their codes and exit codes: an existing destination
 *   without `--force` (`exists`, 1; `--force` then overwrites), a path on
 *   the host's deny list either way (`path_denied`, 4, audited on the
 *   host), a folder without `-r` (`wrong_type`), no such file
 *   (`not_found`, 8), two local paths (usage, 2), a device without
 *   `files:read` or `files:write` (`grant_missing`, 4);
 * - a device root set with `pocketshell devices root`: `host:` is that
 *   folder (copied whole with -r), `host:~/…` is refused when the home is
 *   outside it.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, test } from 'node:test';
import { type StartedRelay, startRelay } from '@pocketshell/relay/testing';
import { daemonLogTail, POCKETSHELL, pocketshell, startReadyDaemon, until } from '../support/cli.ts';

let relay: StartedRelay;
let daemon: ChildProcess;
let base: string;
let hostHome: string;
let here: string;
let hostEnv: Record<string, string>;
let devEnv: Record<string, string>;
/** The paired host's id, as `cp` takes it (`<id>:path`). */
let H: string;

const common = {
  POCKETSHELL_KEYSTORE: 'file',
  POCKETSHELL_ICE_ADDRESS: '127.0.0.1',
  POCKETSHELL_ALLOW_ROOT: '1',
  SHELL: '/bin/sh',
};

before(async () => {
  base = mkdtempSync(join(tmpdir(), 'pocketshell-cp-'));
  hostHome = join(base, 'host-home');
  here = join(base, 'here');
  mkdirSync(hostHome);
  mkdirSync(here);
  hostEnv = { ...common, HOME: hostHome, POCKETSHELL_HOME: join(base, 'state-host') };
  devEnv = { ...common, HOME: here, POCKETSHELL_HOME: join(base, 'state-device') };
  relay = await startRelay();
  daemon = await startReadyDaemon(hostEnv, relay.url);
  const pair = spawn(process.execPath, [POCKETSHELL, 'pair', '--yes', '--grants', 'files:read,files:write'], {
    env: { ...process.env, ...hostEnv },
  });
  let out = '';
  pair.stdout!.on('data', (d: Buffer) => (out += d));
  pair.stderr!.on('data', (d: Buffer) => (out += d));
  const exited = new Promise((r) => pair.once('exit', r));
  await until(() => /http:\/\/\S+#\/pair\/1\/\S+/.test(out), 30_000, 50);
  const url = /http:\/\/\S+#\/pair\/1\/\S+/.exec(out)![0];
  const paired = await pocketshell(['device', 'pair', url, '--name', 'laptop'], devEnv);
  assert.equal(paired.code, 0, paired.stderr);
  await exited;
  const hosts = JSON.parse((await pocketshell(['device', 'hosts', '--json'], devEnv)).stdout) as {
    id: string;
  }[];
  assert.equal(hosts.length, 1);
  H = hosts[0]!.id;
});

after(async () => {
  if (daemon && daemon.exitCode === null && daemon.signalCode === null) {
    const gone = new Promise((r) => daemon.once('exit', r));
    daemon.kill('SIGTERM');
    await gone;
  }
  await relay?.stop();
  rmSync(base, { recursive: true, force: true });
});

const cp = (args: string[], timeoutMs = 120_000) => pocketshell(['cp', ...args], devEnv, timeoutMs);

const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

/** Every file and folder under `dir` with its content's hash (folders: `dir`). */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) {
        out[relative(dir, p)] = 'dir';
        walk(p);
      } else out[relative(dir, p)] = sha(p);
    }
  };
  walk(dir);
  return out;
}

/** Starts `pocketshell cp args…` and leaves it running. */
function startCp(args: string[]) {
  const child = spawn(process.execPath, [POCKETSHELL, 'cp', ...args], {
    env: { ...process.env, ...devEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, exited, stderr: () => stderr };
}

const size = (path: string) => statSync(path, { throwIfNoEntry: false })?.size ?? 0;

test('a file both ways: the bytes arrive equal, at the root and from ~', async () => {
  writeFileSync(join(hostHome, 'notes.bin'), randomBytes(3 * 1024 * 1024 + 17));
  const down = await cp([`${H}:notes.bin`, join(here, 'notes.bin')]);
  assert.equal(down.code, 0, down.stderr);
  assert.equal(sha(join(here, 'notes.bin')), sha(join(hostHome, 'notes.bin')));
  assert.equal(existsSync(join(here, 'notes.bin.pocketshell-part')), false);
  assert.equal(down.stderr, '', 'quiet when stderr is not a terminal');

  // Into a folder: the name is kept; `~/` starts from the host user's home (here the root).
  const up = await cp([join(here, 'notes.bin'), `${H}:~/`]);
  assert.equal(up.code, 1, 'notes.bin is already there');
  assert.match(up.stderr, /\[exists\]/);
  mkdirSync(join(hostHome, 'inbox'));
  const up2 = await cp([join(here, 'notes.bin'), `${H}:~/inbox`]);
  assert.equal(up2.code, 0, up2.stderr);
  assert.equal(sha(join(hostHome, 'inbox', 'notes.bin')), sha(join(here, 'notes.bin')));
  assert.deepEqual(readdirSync(join(hostHome, 'inbox')), ['notes.bin'], 'no temporary file left on the host');
});

test('a folder both ways with -r: nested, hidden, empty files and folders, bytes equal', async () => {
  const src = join(here, 'project');
  mkdirSync(join(src, 'src', 'deep', 'deeper'), { recursive: true });
  mkdirSync(join(src, 'empty-dir'));
  writeFileSync(join(src, 'README.md'), '# project\n');
  writeFileSync(join(src, '.hidden'), 'secretless but hidden\n');
  writeFileSync(join(src, 'empty'), '');
  writeFileSync(join(src, 'src', 'main.bin'), randomBytes(700_000));
  writeFileSync(join(src, 'src', 'deep', 'deeper', 'leaf.txt'), 'leaf\n');

  const noR = await cp([src, `${H}:`]);
  assert.equal(noR.code, 1);
  assert.match(noR.stderr, /-r.*\[wrong_type\]/);

  const up = await cp(['-r', src, `${H}:`]);
  assert.equal(up.code, 0, up.stderr);
  assert.deepEqual(tree(join(hostHome, 'project')), tree(src));
  assert.equal(existsSync(join(hostHome, 'project.pocketshell-part')), false);

  const back = join(here, 'project-back');
  const down = await cp(['-r', `${H}:project`, back]);
  assert.equal(down.code, 0, down.stderr);
  assert.deepEqual(tree(back), tree(src));
  assert.equal(existsSync(`${back}.pocketshell-part`), false);

  // Again: the folder exists now on both sides, and is not copied into without --force.
  const againDown = await cp(['-r', `${H}:project`, here]);
  assert.equal(againDown.code, 1);
  assert.match(againDown.stderr, /project exists: pass --force.*\[exists\]/);
  const againUp = await cp(['-r', src, `${H}:`]);
  assert.equal(againUp.code, 1);
  assert.match(againUp.stderr, /\[exists\]/);
  writeFileSync(join(src, 'README.md'), '# project, changed\n');
  const forced = await cp(['-r', '--force', src, `${H}:`]);
  assert.equal(forced.code, 0, forced.stderr);
  assert.deepEqual(tree(join(hostHome, 'project')), tree(src));
});

test('refusals: overwrite without --force, the deny list both ways, no such file, two local paths', async () => {
  const mine = join(here, 'keep.txt');
  writeFileSync(mine, 'mine\n');
  writeFileSync(join(hostHome, 'keep.txt'), 'theirs\n');
  const refused = await cp([`${H}:keep.txt`, mine]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /exists: pass --force.*\[exists\]/);
  assert.equal(readFileSync(mine, 'utf8'), 'mine\n', 'the local file is untouched');
  const upRefused = await cp([mine, `${H}:keep.txt`]);
  assert.equal(upRefused.code, 1);
  assert.match(upRefused.stderr, /\[exists\]/);
  assert.equal(readFileSync(join(hostHome, 'keep.txt'), 'utf8'), 'theirs\n');
  const forced = await cp(['--force', `${H}:keep.txt`, mine]);
  assert.equal(forced.code, 0, forced.stderr);
  assert.equal(readFileSync(mine, 'utf8'), 'theirs\n');

  mkdirSync(join(hostHome, '.ssh'), { mode: 0o700 });
  writeFileSync(join(hostHome, '.ssh', 'id_ed25519'), 'PRIVATE KEY\n', { mode: 0o600 });
  const denied = await cp([`${H}:.ssh/id_ed25519`, join(here, 'stolen')]);
  assert.equal(denied.code, 4, denied.stderr);
  assert.match(denied.stderr, /\[path_denied\]/);
  assert.doesNotMatch(denied.stderr, /PRIVATE KEY/);
  assert.equal(existsSync(join(here, 'stolen')), false);
  assert.equal(existsSync(join(here, 'stolen.pocketshell-part')), false);
  const deniedUp = await cp(['--force', mine, `${H}:.ssh/authorized_keys`]);
  assert.equal(deniedUp.code, 4, deniedUp.stderr);
  assert.match(deniedUp.stderr, /\[path_denied\]/);
  assert.deepEqual(readdirSync(join(hostHome, '.ssh')), ['id_ed25519'], 'nothing written on the deny list');
  const audit = readFileSync(join(hostEnv.POCKETSHELL_HOME!, 'audit.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { event?: string; code?: string });
  assert.ok(
    audit.some((e) => e.code === 'path_denied'),
    'the host audits the refusal',
  );

  const missing = await cp([`${H}:no/such/file`, join(here, 'x')]);
  assert.equal(missing.code, 8, missing.stderr);
  assert.match(missing.stderr, /\[not_found\]/);
  const twoLocal = await cp([mine, join(here, 'y')]);
  assert.equal(twoLocal.code, 2, twoLocal.stderr);
  const noHost = await cp([mine, 'nosuchhost:x']);
  assert.equal(noHost.code, 8, noHost.stderr);
});

test('a download killed halfway goes on from its .pocketshell-part', async () => {
  const big = join(hostHome, 'big.bin');
  writeFileSync(big, randomBytes(64 * 1024 * 1024));
  const dest = join(here, 'big.bin');
  const part = `${dest}.pocketshell-part`;
  const first = startCp([`${H}:big.bin`, dest]);
  await until(() => size(part) >= 4 * 1024 * 1024 || first.child.exitCode !== null, 60_000, 5);
  first.child.kill('SIGKILL');
  await first.exited;
  const kept = size(part);
  assert.ok(kept > 0 && kept < 64 * 1024 * 1024, `the partial file holds part of it (${kept} bytes)`);
  assert.equal(existsSync(dest), false, 'nothing under the final name');

  const second = await cp([`${H}:big.bin`, dest]);
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stderr, /resuming .*big\.bin at/);
  assert.equal(sha(dest), sha(big));
  assert.equal(existsSync(part), false);
});

test('clients killed mid-transfer, both ways and again and again: the daemon stays up and serves the next copy', async () => {
  // A peer that vanishes can close its channel under the host's transfer
  // pump before the close event runs; that send must not end the daemon.
  const src = join(here, 'churn.bin');
  writeFileSync(src, randomBytes(32 * 1024 * 1024));
  writeFileSync(join(hostHome, 'churn-down.bin'), randomBytes(32 * 1024 * 1024));
  const uploaded = () =>
    readdirSync(hostHome)
      .filter((n) => n.startsWith('.churn.bin.') && n.endsWith('.part'))
      .map((n) => size(join(hostHome, n)))
      .reduce((a, b) => a + b, 0);
  const part = join(here, 'churn-down.bin.pocketshell-part');
  const why = () => `daemon log:\n${daemonLogTail(hostEnv)}`;
  try {
    for (let round = 0; round < 3; round++) {
      const up = startCp([src, `${H}:churn.bin`]);
      const start = uploaded();
      await until(() => uploaded() >= start + 1024 * 1024 || up.child.exitCode !== null, 60_000, 2);
      up.child.kill('SIGKILL');
      await up.exited;
      const down = startCp([`${H}:churn-down.bin`, join(here, 'churn-down.bin')]);
      const had = size(part);
      await until(() => size(part) >= had + 1024 * 1024 || down.child.exitCode !== null, 60_000, 2);
      down.child.kill('SIGKILL');
      await down.exited;
    }
  } catch (error) {
    assert.fail(
      `${(error as Error).message}; the daemon ${daemon.exitCode === null ? 'runs' : `exited ${daemon.exitCode}`}; ${why()}`,
    );
  }
  assert.equal(daemon.exitCode, null, `the daemon is still running; ${why()}`);
  const small = join(here, 'after-churn.txt');
  writeFileSync(small, 'still here\n');
  const after = await cp([small, `${H}:after-churn.txt`]);
  assert.equal(after.code, 0, `${after.stderr}; ${why()}`);
  assert.equal(readFileSync(join(hostHome, 'after-churn.txt'), 'utf8'), 'still here\n');
  // The partial files the killed copies left (each kept for a resume) go, so later tests start clean.
  for (const n of readdirSync(hostHome)) if (n.startsWith('.churn.bin.')) rmSync(join(hostHome, n));
  rmSync(part, { force: true });
});

test('Ctrl-C cancels an upload cleanly, and the same command finishes it', async () => {
  const src = join(here, 'upload.bin');
  writeFileSync(src, randomBytes(64 * 1024 * 1024));
  const first = startCp([src, `${H}:upload.bin`]);
  const partial = () =>
    readdirSync(hostHome)
      .filter((n) => n.startsWith('.upload.bin.') && n.endsWith('.part'))
      .map((n) => size(join(hostHome, n)))
      .reduce((a, b) => a + b, 0);
  await until(() => partial() >= 4 * 1024 * 1024 || first.child.exitCode !== null, 60_000, 5);
  first.child.kill('SIGINT');
  const code = await first.exited;
  assert.equal(code, 1, first.stderr());
  assert.match(first.stderr(), /cancelled.*run the same command again to resume.*\[cancelled\]/);
  assert.equal(existsSync(join(hostHome, 'upload.bin')), false, 'nothing under the final name');
  assert.match(first.stderr(), /the host keeps the partial upload/);
  const kept = partial();
  assert.ok(kept > 0 && kept < 64 * 1024 * 1024, `the host kept the partial for a resume (${kept} bytes)`);

  const second = await cp([src, `${H}:upload.bin`]);
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stderr, /resuming .*upload\.bin at .* \(the host kept the rest\)/);
  assert.equal(sha(join(hostHome, 'upload.bin')), sha(src));
  assert.deepEqual(
    readdirSync(hostHome).filter((n) => n.endsWith('.part')),
    [],
    'no temporary file left on the host',
  );
});

test('a folder download killed halfway goes on in its .pocketshell-part folder, keeping the files already complete', async () => {
  const src = join(hostHome, 'photos');
  mkdirSync(join(src, 'later'), { recursive: true });
  for (const name of ['a.raw', 'b.raw', 'later/c.raw'])
    writeFileSync(join(src, name), randomBytes(24 * 1024 * 1024));
  const dest = join(here, 'photos');
  const part = `${dest}.pocketshell-part`;
  const first = startCp(['-r', `${H}:photos`, dest]);
  // Listed folders first: later/c.raw comes before a.raw; kill once it is complete and a.raw has begun.
  await until(
    () => size(join(part, 'a.raw.pocketshell-part')) > 0 || first.child.exitCode !== null,
    60_000,
    5,
  );
  first.child.kill('SIGKILL');
  await first.exited;
  assert.equal(existsSync(dest), false, 'nothing under the final name');
  assert.equal(
    sha(join(part, 'later', 'c.raw')),
    sha(join(src, 'later', 'c.raw')),
    'the first file is complete',
  );
  const before = statSync(join(part, 'later', 'c.raw')).ino;

  const second = await cp(['-r', `${H}:photos`, dest]);
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stderr, /resuming the folder/);
  assert.deepEqual(tree(dest), tree(src));
  assert.equal(existsSync(part), false);
  assert.equal(
    statSync(join(dest, 'later', 'c.raw')).ino,
    before,
    'the complete file was kept, not fetched again',
  );
});

test('Ctrl-C during a folder upload: the host keeps its .pocketshell-part folder, and the same command finishes it', async () => {
  const src = join(here, 'album');
  mkdirSync(join(src, 'later'), { recursive: true });
  for (const name of ['a.raw', 'b.raw', 'later/c.raw'])
    writeFileSync(join(src, name), randomBytes(24 * 1024 * 1024));
  const part = join(hostHome, 'album.pocketshell-part');
  const first = startCp(['-r', src, `${H}:album`]);
  // Sent in name order: a.raw, b.raw, later/c.raw; stop once a.raw is in place and b.raw has begun.
  const begun = () => readdirSync(part).some((n) => n.startsWith('.b.raw.') && size(join(part, n)) > 0);
  await until(() => (existsSync(part) && begun()) || first.child.exitCode !== null, 60_000, 5);
  first.child.kill('SIGINT');
  assert.equal(await first.exited, 1, first.stderr());
  assert.match(
    first.stderr(),
    /cancelled; the host keeps the partial folder album\.pocketshell-part: run the same command again to resume \[cancelled\]/,
  );
  assert.equal(existsSync(join(hostHome, 'album')), false, 'nothing under the final name');
  assert.equal(sha(join(part, 'a.raw')), sha(join(src, 'a.raw')), 'the first file is complete on the host');
  const before = statSync(join(part, 'a.raw')).ino;

  const second = await cp(['-r', src, `${H}:album`]);
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stderr, /resuming the folder album/);
  assert.deepEqual(tree(join(hostHome, 'album')), tree(src));
  assert.equal(existsSync(part), false);
  assert.equal(
    statSync(join(hostHome, 'album', 'a.raw')).ino,
    before,
    'the complete file was kept, not sent again',
  );
});

test('grants: without files:read nothing is copied, without files:write nothing is uploaded (exit 4)', async () => {
  const pairAs = async (grants: string, name: string) => {
    const env = { ...devEnv, POCKETSHELL_HOME: join(base, `state-${name}`) };
    const pair = spawn(process.execPath, [POCKETSHELL, 'pair', '--yes', '--grants', grants], {
      env: { ...process.env, ...hostEnv },
    });
    let out = '';
    pair.stdout!.on('data', (d: Buffer) => (out += d));
    const exited = new Promise((r) => pair.once('exit', r));
    await until(() => /http:\/\/\S+#\/pair\/1\/\S+/.test(out), 30_000, 50);
    const paired = await pocketshell(
      ['device', 'pair', /http:\/\/\S+#\/pair\/1\/\S+/.exec(out)![0], '--name', name],
      env,
    );
    assert.equal(paired.code, 0, paired.stderr);
    await exited;
    return env;
  };
  writeFileSync(join(hostHome, 'shared.txt'), 'shared\n');
  const shellOnly = await pairAs('shell', 'shell-only');
  const noFiles = await pocketshell(['cp', `${H}:shared.txt`, join(here, 'shared.txt')], shellOnly);
  assert.equal(noFiles.code, 4, noFiles.stderr);
  assert.match(noFiles.stderr, /needs the files:read grant.*\[grant_missing\]/);
  assert.equal(existsSync(join(here, 'shared.txt')), false);

  const readOnly = await pairAs('files:read', 'read-only');
  const down = await pocketshell(['cp', `${H}:shared.txt`, join(here, 'shared.txt')], readOnly);
  assert.equal(down.code, 0, down.stderr);
  assert.equal(readFileSync(join(here, 'shared.txt'), 'utf8'), 'shared\n');
  const up = await pocketshell(['cp', join(here, 'shared.txt'), `${H}:shared-copy.txt`], readOnly);
  assert.equal(up.code, 4, up.stderr);
  assert.match(up.stderr, /files:write grant.*\[grant_missing\]/);
  assert.equal(existsSync(join(hostHome, 'shared-copy.txt')), false);
});

test('a device root set on the host: host: is that folder, ~ is outside it (path_denied)', async () => {
  const list = JSON.parse((await pocketshell(['devices', 'list', '--json'], hostEnv)).stdout) as {
    devices: { id: string; name: string }[];
  };
  const me = list.devices.find((d) => d.name === 'laptop')!;
  const shared = join(hostHome, 'shared-root');
  mkdirSync(join(shared, 'docs'), { recursive: true });
  writeFileSync(join(shared, 'docs', 'report.txt'), 'in the root\n');
  const set = await pocketshell(['devices', 'root', me.id, shared], hostEnv);
  assert.equal(set.code, 0, set.stderr);
  try {
    const got = await cp([`${H}:docs/report.txt`, join(here, 'report.txt')]);
    assert.equal(got.code, 0, got.stderr);
    assert.equal(readFileSync(join(here, 'report.txt'), 'utf8'), 'in the root\n');
    const listing = await cp(['-r', `${H}:`, join(here, 'whole-root')]);
    assert.equal(listing.code, 0, listing.stderr);
    assert.deepEqual(tree(join(here, 'whole-root')), tree(shared));
    const home = await cp([`${H}:~/notes.bin`, join(here, 'from-home')]);
    assert.equal(home.code, 4, home.stderr);
    assert.match(home.stderr, /home is outside this device’s root.*\[path_denied\]/);
  } finally {
    const reset = await pocketshell(['devices', 'root', me.id, '--reset'], hostEnv);
    assert.equal(reset.code, 0, reset.stderr);
  }
});
