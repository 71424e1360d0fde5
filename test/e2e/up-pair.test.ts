/**
 * `pocketshell pair` beside a running `pocketshell up` on the same state
 * folder: `pair` goes through `up`'s local API, so one agent waits for two
 * pairings at once (up's own code and pair's). The device's request must
 * reach the pairing whose code it redeemed — before the fix up's loop took
 * it, failed with `bad_signature` and audited a refusal of a good device.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Device } from '@pocketshell/client';
import { loopbackDevice, POCKETSHELL, pocketshell, waitForOutput } from '../support/cli.ts';

let home: string;
let env: Record<string, string>;
let up: ChildProcess;
let upOut = '';
let webUrl: string;
let device: Device | undefined;

before(async () => {
  home = mkdtempSync(join(tmpdir(), 'pocketshell-up-pair-'));
  env = {
    POCKETSHELL_HOME: join(home, 'state'),
    POCKETSHELL_KEYSTORE: 'file',
    POCKETSHELL_ICE_ADDRESS: '127.0.0.1',
    POCKETSHELL_ALLOW_ROOT: '1',
    HOME: home,
    SHELL: '/bin/bash',
  };
  up = spawn(
    process.execPath,
    [POCKETSHELL, 'up', '--yes', '--listen', '127.0.0.1:0', '--data', join(home, 'relay')],
    { env: { ...process.env, ...env }, stdio: 'pipe' },
  );
  up.stdout!.on('data', (d: Buffer) => (upOut += d));
  up.stderr!.on('data', (d: Buffer) => (upOut += d));
  webUrl = (await waitForOutput(up, /PocketShell relay on (http:\/\/127\.0\.0\.1:\d+) /))[1]!;
  await waitForOutput(up, /#\/pair\/1\//);
});

after(async () => {
  await device?.close();
  up.kill('SIGTERM');
  await new Promise((r) => up.once('exit', r));
  rmSync(home, { recursive: true, force: true });
});

test('pair beside up: the device pairs through up, and up neither fails nor refuses it', async () => {
  const pair = spawn(process.execPath, [POCKETSHELL, 'pair', '--yes'], {
    env: { ...process.env, ...env },
    stdio: 'pipe',
  });
  const exited = new Promise<number | null>((r) => pair.once('exit', r));
  const url = (await waitForOutput(pair, /http:\/\/\S+#\/pair\/1\/\S+/))[0];
  device = loopbackDevice(`${webUrl.replace('http', 'ws')}/ws`);
  await device.pair(url, { name: 'beside up' });
  await waitForOutput(pair, /Paired "beside up"/);
  assert.equal(await exited, 0);
  const audit = readFileSync(join(env.POCKETSHELL_HOME!, 'audit.jsonl'), 'utf8');
  assert.doesNotMatch(audit, /"refusal"/, 'a good device was refused');
  assert.match(audit, /"event":"pairing".*"name":"beside up"/);
  assert.doesNotMatch(upOut, /Pairing failed/);
  const list = await pocketshell(['devices', 'list', '--json'], env);
  assert.equal(JSON.parse(list.stdout).devices.length, 1);
});
