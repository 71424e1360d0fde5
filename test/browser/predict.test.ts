/**
 * Predictive echo in Chromium against a real relay and a real host whose
 * shell sits behind a slow link: test/support/slow-shell.py forwards the
 * shell's output, every echo included, 150 ms late, so each key's echo
 * really arrives over the real data channel that much after the key. With
 * the setting on `auto` (the default), the page must draw typed keys before
 * their echo arrives (the page records when each predicted glyph appeared
 * and when each output frame arrived), and keys typed into `read -s` (echo
 * off) — shown, since the host had vouched for the keys before them — must
 * be taken away again with the real screen left exact.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  browserSkip,
  browserSuite,
  pairPage,
  ROOT,
  screenshot,
  terminalLines,
  typeInTerminal,
  waitForLine,
} from './harness.ts';

const skip = browserSkip();

type Predicted = {
  cells: { row: number; col: number; ch: string }[];
  srtt: number | undefined;
  displaying: boolean;
  stats: { pending: number; confirmed: number; killed: number; epoch: number };
};
type Hook = {
  pocketshellTerminal?: {
    onOutput(listener: (bytes: Uint8Array) => void): () => void;
    predicted(): Predicted;
  };
};
type Rec = { t: number; kind: 'shown' | 'output'; text: string };
type Recorder = { predictLog?: Rec[] };

describe('predictive echo in Chromium on a slow shell', { skip, timeout: 240_000 }, () => {
  const suite = browserSuite({
    host: { shell: join(ROOT, 'test', 'support', 'slow-shell.py') },
    onFailure: async (t) => {
      const lines = await terminalLines(suite.phone.page).catch(() => []);
      t.diagnostic(`terminal:\n${lines.filter((l) => l.trim()).join('\n')}`);
    },
  });

  const predicted = () =>
    suite.phone.page.evaluate(() => (globalThis as Hook).pocketshellTerminal!.predicted());

  test('keys are drawn before their echo arrives, and keys typed with echo off are taken away', async () => {
    const { page } = suite.phone;
    await page.goto(suite.relay.url);
    await page.locator('[data-testid="relay-state"][data-state="ready"]').waitFor({ state: 'attached' });
    await pairPage(page, suite.host, suite.relay.url);
    await page.goto(`${suite.relay.url}/#/host/${suite.host.host.identity.id}`);
    await page.locator('[data-testid="new-session"]').tap();
    await page.locator('[data-testid="conn"][data-state="p2p"]').waitFor({ timeout: 45_000 });
    await waitForLine(page, /ps1> $/);

    // The page's record: when a predicted glyph appeared, when output arrived (and what it held).
    await page.evaluate(() => {
      const log: Rec[] = [];
      (globalThis as Recorder).predictLog = log;
      const dec = new TextDecoder();
      (globalThis as Hook).pocketshellTerminal!.onOutput((bytes) =>
        log.push({ t: performance.now(), kind: 'output', text: dec.decode(bytes) }),
      );
      new MutationObserver((records) => {
        for (const r of records)
          for (const n of Array.from(r.addedNodes))
            if (n instanceof HTMLElement && n.classList.contains('predicted'))
              log.push({ t: performance.now(), kind: 'shown', text: n.textContent ?? '' });
      }).observe(document.querySelector('[data-testid="terminal"]')!, { childList: true, subtree: true });
    });

    // ---- typing: shown ahead of the echo
    await typeInTerminal(page, 'echo wxyz', false);
    await waitForLine(page, /ps1> echo wxyz$/);
    await page.waitForFunction(
      () => (globalThis as Hook).pocketshellTerminal!.predicted().stats.pending === 0,
    );
    const state = await predicted();
    assert.ok(state.srtt !== undefined && state.srtt >= 140, `SRTT ${state.srtt} ms on a 150 ms shell`);
    assert.equal(state.displaying, true, 'auto displays on a slow link');
    const log = await page.evaluate(() => (globalThis as Recorder).predictLog!);
    const ahead: string[] = [];
    for (const ch of 'wxyz') {
      const shown = log.find((r) => r.kind === 'shown' && r.text === ch);
      const echoed = log.find((r) => r.kind === 'output' && r.text.includes(ch));
      assert.ok(echoed, `the echo of ${ch} arrived`);
      if (shown && shown.t < echoed.t) ahead.push(`${ch} ${Math.round(echoed.t - shown.t)} ms`);
    }
    // The first key after the prompt waits for the host (a new epoch); the ones after it are drawn at once.
    assert.equal(ahead.length, 4, `drawn before the echo: ${ahead.join(', ')}`);
    assert.deepEqual((await predicted()).cells, [], 'nothing left over the screen once echoed');
    await page.keyboard.press('Enter');
    await waitForLine(page, /^wxyz$/);

    // ---- a password prompt: keys typed with echo off are shown, then taken away
    // (READY spelt so that the command line itself does not hold it.)
    const mark = await page.evaluate(() => (globalThis as Recorder).predictLog!.length);
    await typeInTerminal(page, 'sleep 1;echo RE""ADY;read -s x;echo "got $x"');
    // The Enter's own echo first (a key typed before it would be predicted on the command line's row).
    await page.waitForFunction(
      (from) =>
        (globalThis as Recorder)
          .predictLog!.slice(from)
          .some((r) => r.kind === 'output' && r.text.includes('\n')),
      mark,
    );
    await page.keyboard.type('ab', { delay: 60 }); // echoed: the line discipline still echoes during `sleep`
    await waitForLine(page, /READY$/);
    const typedAt = await page.evaluate(() => (globalThis as Recorder).predictLog!.length);
    await page.keyboard.type('cdef', { delay: 30 });
    // Shown: the page's own record of the predicted cells it drew (polling for them can miss them
    // on a loaded machine: they live one prediction timeout, and a frame can come later than that).
    await page.waitForFunction(
      (from) =>
        (globalThis as Recorder)
          .predictLog!.slice(from)
          .some((r) => r.kind === 'shown' && 'cdef'.includes(r.text)),
      typedAt,
    );
    await screenshot(page, 'predict-echo-off-shown');
    await page.waitForFunction(() => {
      const p = (globalThis as Hook).pocketshellTerminal!.predicted();
      return p.stats.pending === 0 && p.stats.killed > 0;
    });
    await screenshot(page, 'predict-echo-off-repaired');
    const shownNow = await page.evaluate(() =>
      Array.from(document.querySelectorAll('.predict-layer .predicted')).map((e) => e.textContent),
    );
    assert.deepEqual(shownNow, [], 'no predicted cell left on the page');
    const lines = await terminalLines(page);
    assert.ok(
      !lines.some((l) => /cdef|cde|def/.test(l)),
      `the keys typed with echo off never show:\n${lines.join('\n')}`,
    );
    const shownSecret = (await page.evaluate(() => (globalThis as Recorder).predictLog!))
      .filter((r) => r.kind === 'shown')
      .map((r) => r.text)
      .join('');
    assert.match(
      shownSecret,
      /c/,
      'the keys typed with echo off were predicted (and shown) before being repaired',
    );
    await page.keyboard.press('Enter');
    await waitForLine(page, /^got abcdef$/);
  });
});
