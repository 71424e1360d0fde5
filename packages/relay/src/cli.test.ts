/**
 * The `pocketshell-relay` command at its edge: exit codes for help, bad
 * usage and bad configuration, a database it cannot reach (exit 1, no
 * password shown), and a graceful stop on SIGTERM (exit 0, `stopped` logged).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startRelay } from '../testing/index.ts';

const BIN = new URL('../bin/pocketshell-relay.js', import.meta.url).pathname;

function cli(args: string[], home: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((res, rej) => {
    const p = spawn(process.execPath, [BIN, ...args], {
      env: {
        PATH: process.env.PATH ?? '',
        HOME: home,
        XDG_CONFIG_HOME: join(home, 'c'),
        XDG_DATA_HOME: join(home, 'd'),
      },
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    p.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    p.once('error', rej);
    p.once('exit', (code) => res({ code, stdout, stderr }));
  });
}

describe('pocketshell-relay command', () => {
  let home: string;
  before(() => {
    home = mkdtempSync(join(tmpdir(), 'relay-cli-'));
  });
  after(() => {
    rmSync(home, { recursive: true, force: true });
  });

  it('prints usage with --help', async () => {
    const r = await cli(['--help'], home);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /usage:/);
  });

  it('exits 2 on bad usage or configuration, with a JSON error line', async () => {
    for (const args of [
      ['frobnicate'],
      ['--listen', 'nowhere'],
      ['token'],
      ['token', 'revoke'],
      ['--nope'],
    ]) {
      const r = await cli(args, home);
      assert.equal(r.code, 2, args.join(' '));
      const first = JSON.parse(r.stderr.split('\n')[0]!) as { level: string; code: string };
      assert.equal(first.level, 'error');
      assert.equal(first.code, 'config_invalid');
    }
  });

  it('exits 1 when it cannot listen', async () => {
    const relay = await startRelay();
    try {
      const port = new URL(relay.url).port;
      const r = await cli(['--listen', `127.0.0.1:${port}`, '--data', join(home, 'other')], home);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /listen_failed/);
    } finally {
      await relay.stop();
    }
  });

  it('exits 1 with store_failed when its PostgreSQL database cannot be reached, never printing the password', async () => {
    const password = 'pw-7d1e0c9b';
    const r = await cli(
      ['--database', `postgres://relay:${password}@127.0.0.1:1/relay`, '--data', join(home, 'pg')],
      home,
    );
    assert.equal(r.code, 1);
    const first = JSON.parse(r.stderr.split('\n')[0]!) as { code: string; msg: string };
    assert.equal(first.code, 'store_failed');
    assert.match(first.msg, /postgres:\/\/relay@127\.0\.0\.1:1\/relay/);
    assert.ok(!`${r.stdout}${r.stderr}`.includes(password));
  });

  it('exits 1 with redis_failed when its Redis cannot be reached, never printing the password', async () => {
    const password = 'rpw-41f2a9';
    const r = await cli(
      ['--redis', `redis://relay:${password}@127.0.0.1:1`, '--data', join(home, 'redis')],
      home,
    );
    assert.equal(r.code, 1);
    const first = JSON.parse(r.stderr.split('\n')[0]!) as { code: string };
    assert.equal(first.code, 'redis_failed');
    assert.ok(!`${r.stdout}${r.stderr}`.includes(password));
  });

  it('stops gracefully on SIGTERM', async () => {
    const relay = await startRelay();
    try {
      assert.match(relay.logs(), /"msg":"listening".*"store":"sqlite"/);
      await relay.kill('SIGTERM');
      assert.match(relay.logs(), /"msg":"stopping","signal":"SIGTERM"/);
      assert.match(relay.logs(), /"msg":"stopped"/);
    } finally {
      await relay.stop();
    }
  });
});
