/**
 * The README's start command (`npm start`, i.e. `pocketshell up`) from this
 * checkout: it prints a pairing URL within seconds, says under it that a
 * loopback URL needs `--lan` for a phone and which features need HTTPS, and
 * a Node device pairs with it and runs a command on this machine.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { relayWsUrl } from '@pocketshell/protocol';
import { loopbackDevice, ROOT, waitForOutput, waitForText } from '../support/cli.ts';

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    // npm → sh → node: signal the whole process group.
    process.kill(-child.pid!, 'SIGTERM');
    setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {}
    }, 10_000).unref();
  });
}

test('npm start prints a pairing URL within seconds, and a device pairs and runs a command', async () => {
  const home = mkdtempSync(join(tmpdir(), 'pocketshell-start-'));
  const child = spawn(
    'npm',
    ['start', '--', '--yes', '--listen', '127.0.0.1:0', '--data', join(home, 'relay')],
    {
      cwd: ROOT,
      detached: true,
      env: {
        ...process.env,
        POCKETSHELL_HOME: join(home, 'state'),
        POCKETSHELL_KEYSTORE: 'file',
        POCKETSHELL_ICE_ADDRESS: '127.0.0.1',
        POCKETSHELL_ALLOW_ROOT: '1',
        HOME: home,
        SHELL: '/bin/sh',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  try {
    const t0 = Date.now();
    // The URL, and under it: a loopback URL is no use to a phone, and what needs HTTPS.
    const [printed, url] = await waitForOutput(
      child,
      /(http:\/\/127\.0\.0\.1:\d+\/#\/pair\/1\/\S+)[\s\S]*?#behind-a-reverse-proxy\)/,
      60_000,
    );
    const seconds = (Date.now() - t0) / 1000;
    assert.ok(seconds < 60, `took ${seconds} s`);
    assert.match(
      printed!,
      /This URL works only in a browser on this machine \(127\.0\.0\.1\)\. For a phone on the same network, run: npm start -- --lan\n/,
    );
    assert.match(printed!, /installing the app, push alerts and clipboard paste need HTTPS/);
    assert.match(
      printed!,
      /https:\/\/github\.com\/pocketshell\/pocketshell\/blob\/main\/docs\/relay\.md#behind-a-reverse-proxy/,
    );
    const d = loopbackDevice(relayWsUrl(new URL(url!).origin));
    try {
      const paired = d.pair(url!, { name: 'readme test' });
      const [, sas] = await waitForOutput(child, /code: (\d{3} \d{3})/);
      const host = await paired;
      assert.match(sas!, /^\d{3} \d{3}$/);
      const conn = await d.connect(host.id);
      const term = await conn.openTerminal('new', { cols: 80, rows: 24 });
      term.write('echo readme-$((40+2))\n');
      await waitForText(term, /readme-42/);
    } finally {
      await d.close();
    }
  } finally {
    await stop(child);
    rmSync(home, { recursive: true, force: true });
  }
});
