/**
 * Predictive echo in `pocketshell connect`, in a real PTY (node-pty) against
 * a real relay process and a real host whose shell sits behind a slow link
 * (test/support/slow-shell.py: the shell's output, every echo included,
 * 150 ms late). What the CLI writes to its PTY is fed to a terminal emulator
 * here (`@xterm/headless`), so the test sees the screen a person would: a
 * typed key drawn underlined in its cell before the host's echo replaces it
 * with the plain glyph; keys typed into `read -s` (echo off) drawn, then
 * taken away — the screen ending exactly as the host left it, no
 * underlined cell anywhere.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { OpenedHost } from '@pocketshell/host-core';
import { type StartedRelay, startRelay } from '@pocketshell/relay/testing';
import xtermHeadless from '@xterm/headless';
import { type IPty, spawn as ptySpawn } from 'node-pty';
import { openLoopbackHost, POCKETSHELL, pocketshell, ROOT, until } from '../support/cli.ts';

const { Terminal } = xtermHeadless;

let relay: StartedRelay;
let home: string;
let host: OpenedHost;
let env: Record<string, string>;

before(async () => {
  relay = await startRelay();
  home = mkdtempSync(join(tmpdir(), 'pocketshell-predict-'));
  host = await openLoopbackHost(relay.wsUrl, home, {
    env: {
      ...(process.env as Record<string, string>),
      POCKETSHELL_KEYSTORE: 'file',
      SHELL: join(ROOT, 'test', 'support', 'slow-shell.py'),
      HOME: home,
    },
  });
  host.agent.start();
  env = {
    POCKETSHELL_HOME: join(home, 'device'),
    POCKETSHELL_KEYSTORE: 'file',
    POCKETSHELL_ICE_ADDRESS: '127.0.0.1',
    POCKETSHELL_ALLOW_ROOT: '1',
    HOME: home,
  };
  let paired: Promise<unknown> = Promise.resolve();
  await host.agent.pair({
    webUrl: relay.url,
    grants: ['shell'],
    deviceTimeoutMs: 20_000,
    onUrl: (url) => {
      paired = pocketshell(['device', 'pair', url], env);
    },
    confirm: async () => true,
  });
  await paired;
});

after(async () => {
  await host?.close();
  await relay?.stop();
  rmSync(home, { recursive: true, force: true });
});

test('connect draws keys before their echo and takes away keys typed with echo off', {
  timeout: 120_000,
}, async () => {
  const cols = 80;
  const rows = 24;
  const screen = new Terminal({ cols, rows, allowProposedApi: true });
  const pty: IPty = ptySpawn(
    process.execPath,
    [POCKETSHELL, 'connect', host.identity.id, '--predict', 'auto'],
    {
      cols,
      rows,
      env: { ...(process.env as Record<string, string>), ...env },
    },
  );
  const exited = new Promise<number>((r) => pty.onExit(({ exitCode }) => r(exitCode)));
  /** Each cell's history: when it was first seen underlined with a glyph, and plain with it. */
  const seen = new Map<string, { underlined?: number; plain?: number }>();
  const scan = () => {
    const b = screen.buffer.active;
    const now = performance.now();
    for (let y = 0; y < rows; y++) {
      const line = b.getLine(b.baseY + y);
      for (let x = 0; x < cols; x++) {
        const cell = line?.getCell(x);
        const ch = cell?.getChars();
        if (!ch || ch === ' ') continue;
        const key = `${b.baseY + y}:${x}:${ch}`;
        const s = seen.get(key) ?? {};
        if (cell!.isUnderline()) s.underlined ??= now;
        else s.plain ??= now;
        seen.set(key, s);
      }
    }
  };
  pty.onData((d) => screen.write(d, scan));
  const text = () => {
    const b = screen.buffer.active;
    const out: string[] = [];
    for (let i = 0; i < b.length; i++) out.push(b.getLine(i)?.translateToString(true) ?? '');
    return out;
  };
  const underlinedCells = () => {
    const b = screen.buffer.active;
    const out: string[] = [];
    for (let y = 0; y < rows; y++)
      for (let x = 0; x < cols; x++) {
        const cell = b.getLine(b.baseY + y)?.getCell(x);
        if (cell?.isUnderline()) out.push(`${y}:${x}:${cell.getChars()}`);
      }
    return out;
  };
  const waitLine = (re: RegExp) =>
    until(() => text().some((l) => re.test(l)), 30_000, 20).catch((e) => {
      throw new Error(`no line ${re}; screen:\n${text().join('\n')}`, { cause: e });
    });
  try {
    await waitLine(/^ps1> $/);
    const promptRow = screen.buffer.active.baseY + screen.buffer.active.cursorY;
    const promptCol = screen.buffer.active.cursorX;
    const typeAhead = async () => {
      seen.clear();
      for (const ch of 'echo wxyz') {
        pty.write(ch);
        await new Promise((r) => setTimeout(r, 40));
      }
      await waitLine(/echo wxyz$/);
      await new Promise((r) => setTimeout(r, 300));
      const ahead: string[] = [];
      for (const [i, ch] of [...'wxyz'].entries()) {
        const s = seen.get(`${promptRow}:${promptCol + 5 + i}:${ch}`);
        assert.ok(s?.plain !== undefined, `the echo of ${ch} arrived`);
        if (s.underlined !== undefined && s.underlined < s.plain) ahead.push(ch);
      }
      return ahead;
    };
    let ahead = await typeAhead();
    if (ahead.length !== 4) {
      // An echo later than the prediction timeout (max(250 ms, 2·SRTT + 100 ms)) kills its
      // epoch by design, and a loaded CI machine can stall that long once: erase the line
      // (Ctrl-U) and type it again, once.
      pty.write('\x15');
      await waitLine(/^ps1> $/);
      ahead = await typeAhead();
    }
    assert.deepEqual(ahead, [...'wxyz'], 'each key drawn underlined before its echo');
    assert.deepEqual(underlinedCells(), [], 'nothing underlined left once echoed');
    pty.write('\r');
    await waitLine(/^wxyz$/);

    pty.write('sleep 1;echo RE""ADY;read -s x;echo "got $x"\r');
    await new Promise((r) => setTimeout(r, 400));
    pty.write('a');
    await new Promise((r) => setTimeout(r, 60));
    pty.write('b');
    await waitLine(/READY$/);
    for (const ch of 'cdef') {
      pty.write(ch);
      await new Promise((r) => setTimeout(r, 30));
    }
    await until(() => underlinedCells().length > 0, 5_000, 5).catch((e) => {
      throw new Error(`keys typed with echo off were never drawn; screen:\n${text().join('\n')}`, {
        cause: e,
      });
    });
    await until(() => underlinedCells().length === 0, 5_000, 20);
    const lines = text();
    const ready = lines.indexOf('abREADY');
    assert.ok(ready >= 0, lines.join('\n'));
    assert.deepEqual(
      lines.slice(ready + 1).filter((l) => l.trim()),
      [],
      'the keys typed with echo off are gone',
    );
    pty.write('\r');
    await waitLine(/^got abcdef$/);
    assert.deepEqual(underlinedCells(), []);
  } finally {
    pty.write('\x1d');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
    pty.kill();
    screen.dispose();
  }
});
