/**
 * Finding 1 of the 2026-12 red-team pass (docs/security.md): a session's
 * environment is built like a login's, not inherited from the daemon. A
 * real PTY child runs `env`; the daemon's secrets and `POCKETSHELL_*`
 * variables are absent (even when `passEnv` names them), a login's
 * variables and the ones `passEnv` allows are present. Also `sessionEnv`
 * itself: defaults filled in, prefixes, malformed `passEnv` entries ignored.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { encodeData, utf8 } from '@pocketshell/protocol';
import { alive, countingBackend, FrameRecorder, TEST_SHELL, testShellEnv } from '../../testing/pty.ts';
import { nodePtyBackend } from './backend.ts';
import { DEFAULT_SESSION_PATH, sessionEnv } from './login-shell.ts';
import { SessionManager } from './session-manager.ts';

const SECRET = 'SENTINEL-env-5d1e0b-do-not-pass';

let shellEnv: ReturnType<typeof testShellEnv>;
let backend: ReturnType<typeof countingBackend>;
let manager: SessionManager | undefined;

beforeEach(() => {
  shellEnv = testShellEnv();
  backend = countingBackend(nodePtyBackend());
});
afterEach(async () => {
  await manager?.close();
  for (const pid of backend.pids) assert.equal(alive(pid), false, `process ${pid} left behind`);
  shellEnv.cleanup();
});

describe('session environment', () => {
  test('a PTY child gets a login environment: no daemon secret, no POCKETSHELL_*', async () => {
    manager = new SessionManager({
      backend,
      env: {
        ...shellEnv.env,
        AWS_SECRET_ACCESS_KEY: SECRET,
        SECRET_TOKEN: SECRET,
        POCKETSHELL_X: SECRET,
        POCKETSHELL_TURN_SECRET: SECRET,
        EDITOR: 'vi-allowed',
        LC_TIME: 'C.UTF-8',
        TZ: 'UTC',
      },
      // The user allows EDITOR; naming a POCKETSHELL_ variable does not pass it.
      passEnv: ['PS1', 'EDITOR', 'POCKETSHELL_X', 'POCKETSHELL_*'],
      shell: TEST_SHELL,
      run: async () => ({ code: null, stdout: '' }),
    });
    const session = manager.create({ cols: 200, rows: 50 });
    const rec = new FrameRecorder();
    const a = await session.attach({ send: rec.send });
    await rec.waitFor(/PS\$ /);
    a.receive(encodeData(utf8('env; echo end$((6*7))\r')));
    await rec.waitFor(/end42/);
    const out = rec.text();
    assert.equal(out.includes(SECRET), false, 'a daemon secret reached the shell');
    assert.doesNotMatch(out, /AWS_SECRET_ACCESS_KEY|SECRET_TOKEN|POCKETSHELL_/);
    for (const line of [
      'EDITOR=vi-allowed',
      `HOME=${shellEnv.home}`,
      'SHELL=/bin/sh',
      'LANG=C.UTF-8',
      'LC_TIME=C.UTF-8',
      'TZ=UTC',
      'TERM=xterm-256color',
      'COLORTERM=truecolor',
    ])
      assert.ok(out.includes(line), `missing ${line}`);
    assert.match(out, /\bPATH=/);
    assert.match(out, /\bUSER=\S+/);
    assert.match(out, /\bLOGNAME=\S+/);
  });

  test('sessionEnv: a login’s variables, allowed names and prefixes, defaults filled in', () => {
    const env = sessionEnv(
      { FOO_A: '1', FOO_B: '2', BAR: '3', GITHUB_TOKEN: 'x', POCKETSHELL_HOME: '/p', LC_ALL: 'C' },
      ['FOO_*', 'bad name', 'BAR;rm', 'pocketshell_home'],
      () => ({ username: 'alice', homedir: '/home/alice' }),
    );
    assert.deepEqual(env, {
      FOO_A: '1',
      FOO_B: '2',
      LC_ALL: 'C',
      USER: 'alice',
      LOGNAME: 'alice',
      HOME: '/home/alice',
      PATH: DEFAULT_SESSION_PATH,
      TERM: 'xterm-256color',
      COLORTERM: 'truecolor',
    });
  });
});
