/**
 * Tests of terminal attention detection on real PTYs (/bin/sh, and bash for
 * `read -p`): OSC 9 and OSC 777 notifications (also split across writes), a
 * BEL, OSC 133 C→D timing and exit code, the no-OSC-133 fallback (reported
 * unwatched, not while attached), a password prompt once, and a BEL flood
 * coalesced at the source. Plus the pure helpers (prompt lines, text
 * cleaning).
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { encodeData, utf8 } from '@pocketshell/protocol';
import { alive, countingBackend, FrameRecorder, TEST_SHELL, testShellEnv } from '../../testing/pty.ts';
import type { AttentionEvent } from './attention.ts';
import { cleanText, looksLikePrompt } from './attention-detector.ts';
import { nodePtyBackend } from './backend.ts';
import type { Session } from './session.ts';
import { SessionManager, type SessionManagerOptions } from './session-manager.ts';

let shellEnv: ReturnType<typeof testShellEnv>;
let manager: SessionManager;
let backend: ReturnType<typeof countingBackend>;
let events: AttentionEvent[];
let waiters: Array<() => void>;

function makeManager(opts: Partial<SessionManagerOptions> = {}): SessionManager {
  return new SessionManager({
    backend,
    env: shellEnv.env,
    passEnv: ['PS1'],
    shell: TEST_SHELL,
    run: async () => ({ code: null, stdout: '' }),
    onAttention: (e) => {
      events.push(e);
      for (const w of waiters.splice(0)) w();
    },
    tuning: { attention: { quietMs: 1500, promptQuietMs: 1000, coalesceMs: 5000 } },
    ...opts,
  });
}

/** Resolves with the first event (from `from` on) that `match` accepts; rejects after 20 s. */
function nextEvent(match: (e: AttentionEvent) => boolean, from = 0): Promise<AttentionEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no matching attention event; got ${JSON.stringify(events)}`)),
      20_000,
    );
    const check = () => {
      const hit = events.slice(from).find(match);
      if (hit) {
        clearTimeout(timer);
        resolve(hit);
      } else waiters.push(check);
    };
    check();
  });
}

/** Types `line` + Enter into `session` as the host (no device attached). */
function type(session: Session, line: string): void {
  session.writeInput(`${line}\r`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeEach(() => {
  shellEnv = testShellEnv();
  backend = countingBackend(nodePtyBackend());
  events = [];
  waiters = [];
  manager = makeManager();
});

afterEach(async () => {
  await manager.close();
  for (const pid of backend.pids) assert.equal(alive(pid), false, `process ${pid} left behind`);
  shellEnv.cleanup();
});

describe('terminal attention', () => {
  test('OSC 9 raises notify with its text; ConEmu progress (9;4) does not', async () => {
    const session = manager.create();
    session.rename('build box');
    type(session, "printf '\\033]9;4;1;50\\a'; printf '\\033]9;hello\\a'");
    const e = await nextEvent((x) => x.reason === 'notify');
    assert.equal(e.text, 'hello');
    assert.equal(e.session, session.id);
    assert.equal(e.watched, false);
    assert.equal(e.title, 'build box');
    assert.equal(events.filter((x) => x.reason === 'notify').length, 1);
  });

  test('OSC 777;notify gives title and body; control characters are removed', async () => {
    const session = manager.create();
    type(session, "printf '\\033]777;notify;Build;done \\001\\002ok; 3 warnings\\033\\\\'");
    const e = await nextEvent((x) => x.reason === 'notify');
    assert.equal(e.title, 'Build');
    assert.equal(e.text, 'done ok; 3 warnings');
  });

  test('an OSC split across two writes is one notification', async () => {
    const session = manager.create();
    type(session, "printf '\\033]9;hel'; sleep 0.5; printf 'lo world\\a'");
    const e = await nextEvent((x) => x.reason === 'notify');
    assert.equal(e.text, 'hello world');
  });

  test('a BEL raises bell, watched while a device is attached; the BEL ending an OSC does not', async () => {
    const session = manager.create();
    const rec = new FrameRecorder();
    const a = await session.attach({ send: rec.send });
    a.receive(encodeData(utf8("printf '\\033]0;t\\a\\033]9;x\\a'; printf '\\a'; echo rang\r")));
    await rec.waitFor(/rang\r\n/);
    const e = await nextEvent((x) => x.reason === 'bell');
    assert.equal(e.watched, true);
    await nextEvent((x) => x.reason === 'notify');
    assert.equal(events.filter((x) => x.reason === 'bell').length, 1);
  });

  test('OSC 133 C then D: finished with the duration and exit code', async () => {
    const session = manager.create();
    type(session, "printf '\\033]133;A\\a$ \\033]133;B\\a'");
    type(session, "printf 'long-job\\n\\033]133;C\\a'; sleep 2.2; printf '\\033]133;D;3\\a'");
    const e = await nextEvent((x) => x.reason === 'finished' && x.session === session.id);
    assert.ok(e.durationMs !== undefined && e.durationMs >= 2000, `duration ${e.durationMs}`);
    assert.equal(e.exitCode, 3);
  });

  test("bash with docs/host.md's OSC 133 one-liner: finished with the command, duration and exit code", async () => {
    await manager.close();
    manager = makeManager({ shell: { file: '/bin/bash', args: ['--norc', '--noprofile', '-i'] } });
    const session = manager.create();
    type(
      session,
      `PS0=$'\\e]133;C\\a'; PROMPT_COMMAND='printf "\\e]133;D;%s\\a" "$?"'"\${PROMPT_COMMAND:+;$PROMPT_COMMAND}"; PS1='\\[\\e]133;A\\a\\]'"$PS1"'\\[\\e]133;B\\a\\]'`,
    );
    // The marks are on once bash has drawn a prompt with them (OSC 133;A).
    const rec = new FrameRecorder();
    const a = await session.attach({ send: rec.send });
    await rec.waitFor(/\]133;A/);
    a.detach();
    // Durations are read times of the two marks: the C mark read a little late on a loaded
    // machine shortens it by that much, so the command sleeps 1.2 s for a bound of 1 s.
    type(session, 'sleep 1.2; (exit 7)');
    const e = await nextEvent((x) => x.reason === 'finished' && x.session === session.id);
    assert.equal(e.text, 'sleep 1.2; (exit 7)');
    assert.equal(e.exitCode, 7);
    assert.ok(e.durationMs !== undefined && e.durationMs >= 1000, `duration ${e.durationMs}`);
  });

  test('without OSC 133, a command typed while unattached finishes at quiet after its output', async () => {
    const session = manager.create();
    // Typed once the shell shows its prompt, as a person would: typed earlier, the shell's own
    // start-up output and the quiet after it could be taken for the command's (a loaded machine).
    const rec = new FrameRecorder();
    const a = await session.attach({ send: rec.send });
    await rec.waitFor(/PS\$ $/);
    a.detach();
    type(session, 'sleep 3; echo done');
    const e = await nextEvent((x) => x.reason === 'finished' && x.session === session.id);
    assert.ok(e.durationMs !== undefined && e.durationMs >= 3000, `duration ${e.durationMs}`);
    assert.equal(e.exitCode, undefined);
    assert.match(e.text, /sleep 3; echo done/);
    assert.equal(e.watched, false);
  });

  test('without OSC 133, nothing is reported for a command that finished while attached', async () => {
    await manager.close();
    manager = makeManager({ tuning: { attention: { quietMs: 300, promptQuietMs: 1000, coalesceMs: 5000 } } });
    const session = manager.create();
    const rec = new FrameRecorder();
    const a = await session.attach({ send: rec.send });
    a.receive(encodeData(utf8('sleep 1; echo first-done\r')));
    await rec.waitFor(/first-done\r\nPS\$ $/);
    // Detached at once, before its quiet period ran out: it finished while a device was there,
    // so it is dropped whenever the check runs. The next command is typed after that check
    // (a command's Enter is not a new command while one is still pending).
    a.detach();
    await sleep(2500);
    const from = events.length;
    type(session, 'sleep 1; echo second-done');
    const e = await nextEvent((x) => x.reason === 'finished' && x.session === session.id, from);
    assert.match(e.text, /second-done/);
    assert.deepEqual(
      events
        .filter((x) => x.reason === 'finished' && x.session === session.id)
        .map((x) => x.text.includes('second-done')),
      [true],
    );
  });

  test('a password prompt while unattached raises prompt once', async () => {
    const session = manager.create();
    type(session, 'bash --norc --noprofile -c "read -p \'Password: \' x; echo got-\\$x"');
    const e = await nextEvent((x) => x.reason === 'prompt');
    // The cursor's line: with the command typed ahead of the shell's own prompt it reads `PS$ Password:`.
    assert.match(e.text, /(^|\$ )Password:$/);
    assert.equal(e.watched, false);
    // Quiet well past another prompt period: still one.
    await sleep(2500);
    assert.equal(events.filter((x) => x.reason === 'prompt').length, 1);
    // Answered, the shell's own prompt (`PS$ `) is not one.
    type(session, 'secret');
    await sleep(2500);
    assert.equal(events.filter((x) => x.reason === 'prompt').length, 1);
  });

  test('a flood of BELs gives at most one event per window, not thousands', async () => {
    const session = manager.create();
    type(session, "yes \"$(printf '\\a')\" | head -n 50000; printf '\\033]9;flood-done\\a'");
    // Parsed in order: when the notification after the flood is heard, every BEL was seen.
    await nextEvent((x) => x.reason === 'notify');
    const bells = events.filter((x) => x.reason === 'bell');
    assert.ok(bells.length >= 1 && bells.length <= 2, `${bells.length} bell events`);
  });
});

describe('prompt lines and text', () => {
  test('questions are prompts; shell and REPL prompts are not', () => {
    for (const line of [
      'Password: ',
      '[sudo] password for ann: ',
      "Enter passphrase for key '/home/a/.ssh/id_ed25519': ",
      'Do you want to continue? [Y/n] ',
      'Are you sure you want to continue connecting (yes/no/[fingerprint])? ',
      'Overwrite file? ',
      'Proceed (y/n)? ',
      'Press Enter to continue',
    ])
      assert.equal(looksLikePrompt(line), true, line);
    for (const line of ['$ ', 'PS$ ', 'ann@box:~/src$ ', '>>> ', '> ', '% ', 'irb(main):001:0> ', '', 'x: '])
      assert.equal(looksLikePrompt(line), false, line);
  });

  test('cleanText removes control characters and lone surrogates and caps the length', () => {
    assert.equal(cleanText('a\x1b[31mb\x07\x9bc\td\ud800', 100), 'a[31mbc d');
    assert.equal(cleanText('x'.repeat(600), 500).length, 500);
    assert.equal(cleanText(`${'x'.repeat(499)}😀`, 500), 'x'.repeat(499));
  });
});
