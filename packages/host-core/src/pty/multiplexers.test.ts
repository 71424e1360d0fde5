/**
 * Tests of tmux/screen discovery and attach: `screen -ls` parsing from a
 * fixture (screen is not installed here), a missing program meaning no
 * sessions, the login-shell choice, and a real tmux server on a private
 * socket whose session is discovered, attached in a PTY through the session
 * manager (one spawn for two opens), and driven.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { utf8 } from '@pocketshell/protocol';
import { alive, countingBackend, FrameRecorder, testShellEnv } from '../../testing/pty.ts';
import { nodePtyBackend } from './backend.ts';
import { loginShell } from './login-shell.ts';
import {
  attachCommand,
  execRunner,
  listScreenSessions,
  listTmuxSessions,
  parseScreenList,
} from './multiplexers.ts';
import { SessionManager } from './session-manager.ts';

const SCREEN_LS = `There are screens on:
\t48213.work\t(11/22/2026 02:00:01 AM)\t(Detached)
\t47100.pts-3.box\t(11/22/2026 01:10:00 AM)\t(Attached)
2 Sockets in /run/screen/S-me.
`;

function hasTmux(): boolean {
  try {
    execFileSync('tmux', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('multiplexers', () => {
  test('screen -ls output is parsed; a missing program has no sessions', async () => {
    assert.deepEqual(parseScreenList(SCREEN_LS), ['48213.work', '47100.pts-3.box']);
    assert.deepEqual(parseScreenList('No Sockets found in /run/screen/S-me.\n'), []);
    const run = execRunner({ PATH: '/nonexistent' });
    assert.deepEqual(await listScreenSessions(run), []);
    assert.deepEqual(await listTmuxSessions(run), []);
    assert.deepEqual(await listScreenSessions(async () => ({ code: 1, stdout: SCREEN_LS })), [
      '48213.work',
      '47100.pts-3.box',
    ]);
  });

  test('attach commands use exact names and never a shell', () => {
    assert.deepEqual(attachCommand('tmux', 'a b;c'), {
      file: 'tmux',
      args: ['attach-session', '-t', '=a b;c'],
    });
    assert.deepEqual(attachCommand('screen', '123.x'), { file: 'screen', args: ['-x', '123.x'] });
    assert.throws(() => attachCommand('tmux', 'bad\nname'), RangeError);
  });

  test('a session name that would read as an option is refused before anything runs (finding 12)', async () => {
    // `screen -x -X…` would take the name for options (screen has no `--` for -x's argument).
    for (const name of ['-X', '-Xquit', '--', '-t', ' lead', '']) {
      assert.throws(() => attachCommand('screen', name), RangeError, name);
      assert.throws(() => attachCommand('tmux', name), RangeError, name);
    }
    assert.deepEqual(attachCommand('screen', '48213.work'), { file: 'screen', args: ['-x', '48213.work'] });
    assert.deepEqual(attachCommand('tmux', 'työ 2'), {
      file: 'tmux',
      args: ['attach-session', '-t', '=työ 2'],
    });
    // Names like that are not listed either, and a terminal target naming one creates nothing.
    assert.deepEqual(parseScreenList('\t-Xquit\t(x)\t(Detached)\n\t12.ok\t(x)\t(Detached)\n'), ['12.ok']);
    const backend = countingBackend(nodePtyBackend());
    const manager = new SessionManager({ backend, run: async () => ({ code: null, stdout: '' }) });
    try {
      for (const target of ['screen:-Xquit', 'tmux:-t', 'screen:--'])
        assert.throws(
          () => manager.open(target),
          (e: Error & { code?: string }) => e.code === 'bad_message',
        );
      assert.equal(backend.spawns, 0);
    } finally {
      await manager.close();
    }
  });

  test('the login shell is $SHELL, else the passwd entry, else /bin/sh', () => {
    assert.deepEqual(loginShell({ SHELL: '/bin/sh' }), { file: '/bin/sh', args: ['-l'] });
    assert.equal(loginShell({ SHELL: 'relative/sh' }, () => '/bin/bash').file, '/bin/bash');
    assert.equal(loginShell({ SHELL: '/no/such/shell' }, () => '/no/such/either').file, '/bin/sh');
    assert.equal(
      loginShell({}, () => {
        throw new Error('no passwd entry');
      }).file,
      '/bin/sh',
    );
  });

  test('a real tmux session is discovered, attached in a PTY and driven', {
    skip: !hasTmux() && 'tmux is not installed',
  }, async () => {
    const shell = testShellEnv();
    const socket = `ps-test-${process.pid}-${Date.now()}`;
    const tmuxArgs = ['-L', socket, '-f', '/dev/null'];
    const env = { ...shell.env, TMUX: '' };
    const run = execRunner(env);
    const backend = countingBackend(nodePtyBackend());
    const manager = new SessionManager({ backend, env, passEnv: ['PS1'], run, multiplexers: { tmuxArgs } });
    try {
      execFileSync(
        'tmux',
        [...tmuxArgs, 'new-session', '-d', '-s', 'work', '-x', '80', '-y', '24', '/bin/sh'],
        { env },
      );
      assert.deepEqual((await manager.discover()).tmux, ['work']);
      const session = manager.open('tmux:work', { cols: 80, rows: 24 });
      assert.equal(session.kind, 'tmux');
      assert.equal(manager.open('tmux:work'), session);
      assert.equal(backend.spawns, 1);
      const rec = new FrameRecorder();
      const a = await session.attach({ send: rec.send });
      a.input(utf8('echo in-tmux-$((6*7))\r'));
      await rec.waitFor(/in-tmux-42/);
      await manager.close();
      assert.equal(alive(session.pid), false);
      // The tmux session itself outlives our client.
      assert.deepEqual(await listTmuxSessions(run, { tmuxArgs }), ['work']);
    } finally {
      await manager.close();
      try {
        execFileSync('tmux', [...tmuxArgs, 'kill-server'], { env, stdio: 'ignore' });
      } catch {
        // the server may already be gone
      }
      shell.cleanup();
    }
  });
});
