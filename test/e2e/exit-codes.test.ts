/**
 * The exit-code table in docs/host.md, checked against the real command: the
 * table is read from the document, and for every code in it a real case
 * (a relay process, real state files, a real root check) must exit with it.
 * A code added to the table without a case here, or a case whose exit
 * changed, fails.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type StartedRelay, startRelay } from '@pocketshell/relay/testing';
import { POCKETSHELL, pocketshell, ROOT } from '../support/cli.ts';

let base: string;
let homes = 0;
const relays: StartedRelay[] = [];

before(() => {
  base = mkdtempSync(join(tmpdir(), 'pocketshell-exit-codes-'));
});

after(async () => {
  for (const r of relays) await r.stop();
  rmSync(base, { recursive: true, force: true });
});

function freshEnv(): Record<string, string> {
  const home = join(base, `h${++homes}`);
  mkdirSync(home);
  return {
    POCKETSHELL_HOME: join(home, 'state'),
    POCKETSHELL_KEYSTORE: 'file',
    POCKETSHELL_ALLOW_ROOT: '1',
    POCKETSHELL_SERVICE: 'detached',
    HOME: home,
  };
}

/** The codes of the "Exit codes" table in docs/host.md. */
function documentedCodes(): number[] {
  const doc = readFileSync(join(ROOT, 'docs/host.md'), 'utf8');
  const at = doc.indexOf('\n### Exit codes\n');
  assert.ok(at >= 0, 'docs/host.md has an "Exit codes" section');
  const section = doc.slice(at + 1).split(/\n#/)[0]!;
  return [...section.matchAll(/^\| *(\d+) *\|/gm)].map((m) => Number(m[1]));
}

/** Runs `pocketshell args` as uid 0 without --allow-root (in a user namespace when not root already). */
function asRoot(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stderr: string }> {
  const { POCKETSHELL_ALLOW_ROOT: _, ...rest } = env;
  const argv = [process.execPath, POCKETSHELL, ...args];
  const [cmd, ...cmdArgs] =
    process.getuid?.() === 0 ? argv : ['unshare', '--user', '--map-root-user', ...argv];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd!, cmdArgs, { env: { ...process.env, POCKETSHELL_ALLOW_ROOT: '', ...rest } });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stderr }));
  });
}

/** A case per documented code: what it runs and a line of what it must say. */
const CASES: Record<number, () => Promise<{ code: number | null; said: string; expect: RegExp }>> = {
  0: async () => {
    const r = await pocketshell(['--version'], freshEnv());
    return { code: r.code, said: r.stdout, expect: /^\d+\.\d+\.\d+/ };
  },
  1: async () => {
    // An error nothing maps: the relay's data folder cannot be made.
    const r = await pocketshell(['up', '--data', '/dev/null/relay'], freshEnv());
    return { code: r.code, said: r.stderr, expect: /ENOTDIR/ };
  },
  2: async () => {
    const r = await pocketshell(['pari'], freshEnv());
    return { code: r.code, said: r.stderr, expect: /Did you mean pair\?/ };
  },
  3: async () => {
    const r = await pocketshell(['sessions'], freshEnv());
    return {
      code: r.code,
      said: r.stderr,
      expect: /the daemon is not running \(pocketshell daemon run\) \[not_running\]/,
    };
  },
  4: async () => {
    // A relay with closed registration refuses a host that has no enrollment token.
    const closed = await startRelay({ args: ['--registration', 'token'] });
    relays.push(closed);
    const r = await pocketshell(['pair', '--yes', '--relay', closed.url], freshEnv());
    return {
      code: r.code,
      said: r.stderr,
      expect: /refused this host: registration_closed \[registration_closed\]/,
    };
  },
  5: async () => {
    const env = freshEnv();
    mkdirSync(env.POCKETSHELL_HOME!, { mode: 0o700 });
    writeFileSync(join(env.POCKETSHELL_HOME!, 'devices.json'), '{"v":1,', { mode: 0o600 });
    const r = await pocketshell(['devices', 'list'], env);
    return { code: r.code, said: r.stderr, expect: /devices\.json: not valid JSON.*\[state_corrupt\]/ };
  },
  6: async () => {
    const r = await asRoot(['daemon', 'run', '--relay', 'http://127.0.0.1:1'], freshEnv());
    return { code: r.code, said: r.stderr, expect: /Refusing to run as root.*\[running_as_root\]/ };
  },
  7: async () => {
    // A relay whose pairing codes live one second: nobody redeems it in time.
    const dir = mkdtempSync(join(base, 'relay-'));
    writeFileSync(join(dir, 'relay.json'), JSON.stringify({ limits: { claimTtlSeconds: 1 } }));
    const short = await startRelay({ args: ['--config', join(dir, 'relay.json')] });
    relays.push(short);
    const r = await pocketshell(['pair', '--yes', '--relay', short.url], freshEnv());
    return {
      code: r.code,
      said: r.stderr,
      expect: /no device redeemed the pairing code in time \[timeout\]/,
    };
  },
  8: async () => {
    const r = await pocketshell(['devices', 'revoke', 'd_nope'], freshEnv());
    return { code: r.code, said: r.stderr, expect: /^pocketshell: no paired device d_nope \[not_found\]$/m };
  },
};

test('every code in the exit-code table of docs/host.md is what a real case exits with', async () => {
  const codes = documentedCodes();
  assert.deepEqual(codes, [0, 1, 2, 3, 4, 5, 6, 7, 8], 'the table lists the codes 0–8');
  for (const code of codes) {
    const run = CASES[code];
    assert.ok(run, `no case for documented exit code ${code}`);
    const r = await run();
    assert.equal(r.code, code, `exit ${code}: got ${r.code}; said ${r.said}`);
    assert.match(r.said, r.expect, `exit ${code}`);
  }
});
