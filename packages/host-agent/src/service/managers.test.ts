/**
 * The systemd and launchd backends drive their service managers with the
 * right commands in the right order (this machine has neither a user
 * systemd nor launchd, so the runner records and answers like them), write
 * their unit and plist where the managers look, and read status back.
 * Backend selection honours POCKETSHELL_SERVICE and falls back to detached.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { statePaths } from '@pocketshell/host-core';
import type { Runner, RunResult, ServiceSpec } from './backend.ts';
import { LaunchdService } from './launchd.ts';
import { detectKind } from './manager.ts';
import { SystemdService } from './systemd.ts';

const dir = mkdtempSync(join(tmpdir(), 'pocketshell-managers-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const spec: ServiceSpec = {
  command: ['/usr/bin/node', '/opt/pocketshell/bin/pocketshell.js', 'daemon', 'run'],
  env: { POCKETSHELL_HOME: join(dir, 'state') },
  stateDir: join(dir, 'state'),
  home: dir,
  logFile: join(dir, 'state', 'daemon.log'),
  hardened: true,
};

function recorder(answer: (cmd: string, args: readonly string[]) => Partial<RunResult>) {
  const calls: string[] = [];
  const run: Runner = async (cmd, args) => {
    calls.push([cmd, ...args].join(' '));
    return { code: 0, stdout: '', stderr: '', ...answer(cmd, args) };
  };
  return { calls, run };
}

test('systemd: start writes the unit, reloads, enables --now, and offers lingering', async () => {
  let active = false;
  const { calls, run } = recorder((cmd, args) => {
    if (args.includes('enable')) active = true;
    if (args.includes('disable')) active = false;
    if (cmd === 'loginctl' && args[0] === 'show-user') return { stdout: 'no\n' };
    if (args.includes('show'))
      return {
        stdout: active
          ? 'ActiveState=active\nSubState=running\nMainPID=4242\nUnitFileState=enabled\nResult=success\n'
          : 'ActiveState=inactive\nSubState=dead\nMainPID=0\nUnitFileState=disabled\nResult=success\n',
      };
    return {};
  });
  const notes: string[] = [];
  const s = new SystemdService({ run, unitDir: join(dir, 'user'), user: 'ann', note: (l) => notes.push(l) });
  const started = await s.start(spec);
  assert.deepEqual(calls.slice(0, 4), [
    'systemctl --user daemon-reload',
    'systemctl --user enable --now pocketshell.service',
    'loginctl show-user ann --property=Linger --value',
    'systemctl --user show pocketshell.service --property=ActiveState,SubState,MainPID,UnitFileState,Result',
  ]);
  assert.match(
    readFileSync(join(dir, 'user', 'pocketshell.service'), 'utf8'),
    /^ExecStart="\/usr\/bin\/node"/m,
  );
  assert.deepEqual(readdirSync(join(dir, 'user')), ['pocketshell.service'], 'written through a rename');
  assert.deepEqual(started, {
    kind: 'systemd',
    running: true,
    pid: 4242,
    enabled: true,
    detail: 'systemd --user pocketshell.service: active (running), enabled',
  });
  assert.match(notes.join('\n'), /loginctl enable-linger ann/);
  calls.length = 0;
  const stopped = await s.stop();
  assert.equal(calls[0], 'systemctl --user disable --now pocketshell.service');
  assert.equal(stopped.running, false);
  assert.equal(stopped.enabled, false);
});

test('systemd: --linger turns lingering on; a failing systemctl is an error with its message', async () => {
  const { calls, run } = recorder((cmd, args) => {
    if (cmd === 'loginctl' && args[0] === 'show-user') return { stdout: 'no\n' };
    if (args.includes('enable')) return { code: 1, stderr: 'Failed to connect to bus' };
    return {};
  });
  const linger = new SystemdService({
    run,
    unitDir: join(dir, 'u2'),
    user: 'ann',
    note: () => {},
    linger: true,
  });
  await assert.rejects(linger.start(spec), { code: 'unavailable', message: /Failed to connect to bus/ });
  const ok = recorder((cmd, args) =>
    cmd === 'loginctl' && args[0] === 'show-user' ? { stdout: 'no\n' } : {},
  );
  await new SystemdService({
    run: ok.run,
    unitDir: join(dir, 'u3'),
    user: 'ann',
    note: () => {},
    linger: true,
  }).start(spec);
  assert.ok(ok.calls.includes('loginctl enable-linger ann'));
  assert.equal(calls.includes('loginctl enable-linger ann'), false);
});

test('launchd: bootstrap into the GUI domain, kickstart to restart, bootout to stop', async () => {
  let loaded = false;
  const { calls, run } = recorder((_cmd, args) => {
    if (args[0] === 'bootstrap') loaded = true;
    if (args[0] === 'bootout') {
      const was = loaded;
      loaded = false;
      return { code: was ? 0 : 3 };
    }
    if (args[0] === 'print')
      return loaded
        ? { stdout: '\tstate = running\n\tpid = 777\n' }
        : { code: 113, stderr: 'Could not find service' };
    return {};
  });
  const l = new LaunchdService({
    run,
    agentsDir: join(dir, 'LaunchAgents'),
    uid: 501,
    logFile: spec.logFile,
  });
  const started = await l.start(spec);
  assert.ok(existsSync(join(dir, 'LaunchAgents', 'dev.pocketshell.agent.plist')));
  assert.ok(
    calls.includes(`launchctl bootstrap gui/501 ${join(dir, 'LaunchAgents', 'dev.pocketshell.agent.plist')}`),
  );
  assert.deepEqual(started, {
    kind: 'launchd',
    running: true,
    pid: 777,
    enabled: true,
    detail: 'launchd dev.pocketshell.agent: running',
  });
  await l.restart(spec);
  assert.ok(calls.includes('launchctl kickstart -k gui/501/dev.pocketshell.agent'));
  assert.deepEqual(readdirSync(join(dir, 'LaunchAgents')), ['dev.pocketshell.agent.plist']);
  const stopped = await l.stop();
  assert.equal(stopped.running, false);
  assert.equal((await l.stop()).running, false, 'stop is idempotent');
});

test('backend choice: forced by POCKETSHELL_SERVICE, launchd on macOS, systemd when a user manager answers', async () => {
  const paths = statePaths({ root: join(dir, 's') });
  const none = recorder(() => ({ code: 1 }));
  const yes = recorder(() => ({ code: 0 }));
  const base = { paths, note: () => {} };
  assert.equal(await detectKind({ ...base, env: {}, platform: 'linux', run: none.run }), 'detached');
  assert.equal(await detectKind({ ...base, env: {}, platform: 'linux', run: yes.run }), 'systemd');
  assert.equal(yes.calls[0], 'systemctl --user show-environment');
  assert.equal(await detectKind({ ...base, env: {}, platform: 'darwin', run: none.run }), 'launchd');
  assert.equal(await detectKind({ ...base, env: {}, platform: 'freebsd', run: yes.run }), 'detached');
  assert.equal(
    await detectKind({ ...base, env: { POCKETSHELL_SERVICE: 'detached' }, platform: 'linux', run: yes.run }),
    'detached',
  );
  await assert.rejects(detectKind({ ...base, env: { POCKETSHELL_SERVICE: 'upstart' }, run: yes.run }), {
    code: 'config_invalid',
  });
});
