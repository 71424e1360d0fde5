/**
 * The host's agent sandbox: none when turned off or when no bwrap is on the
 * PATH (with the sentence that says why, for `agent.info`), probed only on
 * first use; with bwrap, a session's argv wrapped with its roots writable,
 * the agent's own folder made and bound, its login file allowed back, the
 * state folder denied and the run folder bound for the permission socket.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { agentRunDir, agentSandbox } from './agent-sandbox.ts';
import { detectSandbox } from './sandbox.ts';

const dir = mkdtempSync(join(tmpdir(), 'pocketshell-agent-sandbox-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('none when off or when bwrap is missing, saying why; the run folder is never the state folder', () => {
  const off = agentSandbox({ env: { PATH: process.env.PATH }, stateDir: dir, runDir: dir, off: true });
  assert.equal(off.kind, 'none');
  assert.match(off.reason ?? '', /^No sandbox: the sandbox is turned off/);
  const missing = agentSandbox({ env: { PATH: join(dir, 'empty') }, stateDir: dir, runDir: dir });
  assert.equal(missing.kind, 'none');
  assert.match(missing.reason ?? '', /bubblewrap/);
  assert.throws(() => missing.wrap?.(['/bin/true'], { kind: 'claude', cwd: dir, roots: [dir], home: dir }));
  assert.equal(agentRunDir({ XDG_RUNTIME_DIR: '/run/user/7' }, '/home/a'), '/run/user/7/pocketshell-agents');
  assert.equal(agentRunDir({}, '/home/a'), '/home/a/.cache/pocketshell/agents');
});

test('with bwrap: roots and the agent’s own folder writable, its login allowed back, the state folder hidden', (t) => {
  if (detectSandbox().kind !== 'bwrap') return t.skip('bubblewrap does not run here');
  const home = join(dir, 'home');
  const work = join(home, 'work');
  const state = join(home, '.pocketshell');
  const run = join(home, '.cache', 'pocketshell', 'agents');
  for (const d of [work, state, run]) mkdirSync(d, { recursive: true });
  const sb = agentSandbox({ env: { PATH: process.env.PATH }, stateDir: state, runDir: run });
  assert.equal(sb.kind, 'bwrap');
  assert.equal(sb.reason, undefined);
  const argv = sb.wrap!(['/usr/bin/claude', '-p'], { kind: 'claude', cwd: work, roots: [work], home });
  assert.match(argv[0]!, /bwrap$/);
  assert.deepEqual(argv.slice(-3), ['--', '/usr/bin/claude', '-p']);
  const joined = argv.join(' ');
  assert.ok(joined.includes(`--bind ${work} ${work}`));
  assert.ok(joined.includes(`--bind-try ${join(home, '.claude')} ${join(home, '.claude')}`));
  assert.ok(joined.includes(`--bind-try ${run} ${run}`));
  assert.ok(joined.includes(`--tmpfs ${state}`), 'the state folder is hidden');
  assert.ok(!joined.includes('--unshare-net'), 'the agent keeps the network');
  assert.equal(joined.includes('.credentials.json'), false, 'its login is not masked');
  assert.ok(existsSync(join(home, '.claude')), 'its folder made to be bound');
  assert.equal(argv[argv.indexOf('--chdir') + 1], work);
});

test('the network stays on by default (the agent talks to its API) and is cut when config says off', (t) => {
  if (detectSandbox().kind !== 'bwrap') return t.skip('bubblewrap does not run here');
  const home = join(dir, 'net-home');
  mkdirSync(join(home, 'work'), { recursive: true });
  const argv = (network?: 'on' | 'off') =>
    agentSandbox({
      env: { PATH: process.env.PATH },
      stateDir: join(home, 's'),
      runDir: join(home, 'r'),
      ...(network ? { network } : {}),
    }).wrap?.(['/bin/true'], { kind: 'codex', cwd: join(home, 'work'), roots: [join(home, 'work')], home }) ??
    [];
  assert.equal(argv().includes('--unshare-net'), false);
  assert.equal(argv('on').includes('--unshare-net'), false);
  assert.equal(argv('off').includes('--unshare-net'), true);
});
