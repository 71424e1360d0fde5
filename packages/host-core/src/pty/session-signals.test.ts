/**
 * Ctrl-C works in sessions of a daemon started in the background. A
 * non-interactive shell starts background jobs with SIGINT and SIGQUIT
 * ignored (shown here first), and ignored signals survive exec. This test
 * starts the fixture daemon from `setsid sh -c '… &'` with stdin from
 * /dev/null, and checks, from /proc, that neither the daemon (Node resets
 * inherited dispositions at start-up) nor the PTY's shell and its `sleep`
 * (node-pty resets every disposition in the child and passes an empty mask)
 * ignore or block SIGINT, and that Ctrl-C ends `sleep 100` and the prompt
 * comes back.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const SIGINT_BIT = 1n << 1n; // signal 2
const SIGQUIT_BIT = 1n << 2n; // signal 3
const linux = process.platform === 'linux' && fs.existsSync('/proc/self/status');

function hasSetsid(): boolean {
  try {
    execFileSync('setsid', ['true'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const ignores = (mask: string, bit: bigint) => (BigInt(`0x${mask}`) & bit) !== 0n;
const shq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

describe('signals in sessions of a background daemon', {
  skip: !(linux && hasSetsid()) && 'needs Linux /proc and setsid',
}, () => {
  test('a background job of sh -c has SIGINT and SIGQUIT ignored (the premise)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ps-sig-'));
    try {
      const out = path.join(dir, 'status');
      const child = spawn(
        'setsid',
        [
          'sh',
          '-c',
          `grep SigIgn /proc/self/status > ${shq(out)}.tmp & wait; mv ${shq(out)}.tmp ${shq(out)}`,
        ],
        {
          stdio: ['ignore', 'ignore', 'inherit'],
        },
      );
      await once(child, 'exit');
      const mask = /SigIgn:\s*([0-9a-f]+)/.exec(fs.readFileSync(out, 'utf8'))![1]!;
      assert.ok(ignores(mask, SIGINT_BIT) && ignores(mask, SIGQUIT_BIT), `SigIgn ${mask}`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('Ctrl-C interrupts sleep 100 in a PTY of a daemon started with setsid sh -c "… &" </dev/null', async () => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as net.AddressInfo).port;
    const fixture = fileURLToPath(new URL('./fixtures/signal-daemon.ts', import.meta.url));
    const log = path.join(os.tmpdir(), `ps-sig-daemon-${process.pid}.log`);
    try {
      const script = `${shq(process.execPath)} ${shq(fixture)} ${port} > ${shq(log)} 2>&1 &`;
      const launcher = spawn('setsid', ['sh', '-c', script], { stdio: ['ignore', 'ignore', 'inherit'] });
      await once(launcher, 'exit');
      const [conn] = (await once(server, 'connection')) as [net.Socket];
      let text = '';
      conn.setEncoding('utf8');
      conn.on('data', (d: string) => (text += d));
      await once(conn, 'end');
      const report = JSON.parse(text) as {
        daemon: { ign: string; blk: string };
        shell: { ign: string; blk: string };
        sleep: { ign: string; blk: string } | null;
        promptBack?: boolean;
        sleepAlive?: boolean;
        error?: string;
      };
      assert.equal(
        report.error,
        undefined,
        `daemon failed: ${report.error}; log: ${fs.readFileSync(log, 'utf8')}`,
      );
      assert.equal(ignores(report.daemon.ign, SIGINT_BIT), false, `daemon SigIgn ${report.daemon.ign}`);
      // An interactive shell ignores SIGQUIT (and SIGTERM, SIGTSTP) itself and catches SIGINT;
      // what matters is that SIGINT is not ignored and that its command gets both back. (The
      // shell's own SigBlk is not checked: dash blocks every signal for a moment around fork.)
      assert.equal(ignores(report.shell.ign, SIGINT_BIT), false, `shell SigIgn ${report.shell.ign}`);
      assert.ok(report.sleep, 'the sleep process was seen');
      assert.equal(ignores(report.sleep.ign, SIGINT_BIT), false, `sleep SigIgn ${report.sleep.ign}`);
      assert.equal(ignores(report.sleep.ign, SIGQUIT_BIT), false, `sleep SigIgn ${report.sleep.ign}`);
      assert.equal(BigInt(`0x${report.sleep.blk}`), 0n, `sleep SigBlk ${report.sleep.blk}`);
      assert.equal(report.promptBack, true);
      assert.equal(report.sleepAlive, false);
    } finally {
      server.close();
      fs.rmSync(log, { force: true });
    }
  });
});
