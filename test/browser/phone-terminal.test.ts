/**
 * The phone terminal beside Blink Shell and Termius, in Debian's Chromium
 * against a real relay process and a real host (real PTYs), on 127.0.0.1:
 * pairing from a link opened in a tab where the app is already loaded (the
 * SAS equal on both sides, the host's name shown, both sides pinned);
 * F1–F12 from the key bar's second page reaching the PTY as xterm's
 * sequences (checked with `od`); a URL in the output drawn as a link and
 * opened in a new tab only on a click; paste with the clipboard refused
 * offering a field whose text reaches the PTY; the terminal settings kept
 * across a reload; keys typed while the host restarts shown as waiting and
 * sent after; renaming and closing a session from the host screen.
 * Screenshots of each new screen land in .artifacts/screenshots/.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import {
  assertFits,
  browserSkip,
  browserSuite,
  screenshot,
  tapKey,
  terminalLines,
  typeInTerminal,
  waitForLine,
} from './harness.ts';

const skip = browserSkip();

/** Every control at least 44×44 CSS px, nothing wider than the phone. */
async function _fits(page: Page): Promise<void> {
  await assertFits(page);
}

type Hook = {
  pocketshellTerminal?: {
    session(): string;
    lines(): string[];
    detach(): void;
    reattach(): void;
    settings(): { fontSize: number; font: string; theme: string; fontFamily: string; background: string };
    cellOf(text: string): { x: number; y: number } | null;
  };
};

describe('phone terminal in Chromium', { skip, timeout: 240_000 }, () => {
  const suite = browserSuite({
    onFailure: async (t) => {
      const lines = await terminalLines(suite.phone.page).catch(() => []);
      t.diagnostic(
        `terminal:\n${lines
          .filter((l) => l.trim())
          .slice(-12)
          .join('\n')}`,
      );
    },
  });

  const audit = () =>
    readFileSync(join(suite.host.home, '.pocketshell', 'audit.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);

  const openTerminal = async () => {
    const { page } = suite.phone;
    await page.goto(`${suite.relay.url}/#/host/${suite.host.host.identity.id}`);
    await page.locator('[data-testid="new-session"]').tap();
    await page.locator('[data-testid="conn"][data-state="p2p"]').waitFor({ timeout: 45_000 });
  };

  test('a pairing link opened in a tab where the app is already loaded pairs: same SAS, host name shown, both pinned', async () => {
    const { page } = suite.phone;
    await page.goto(suite.relay.url);
    await page.locator('[data-testid="relay-state"][data-state="ready"]').waitFor({ state: 'attached' });
    let hostSas = '';
    let pageSas: string | null = null;
    let shownName: string | null = null;
    const pinned = await suite.host.host.agent.pair({
      webUrl: suite.relay.url,
      grants: ['shell'],
      deviceTimeoutMs: 20_000,
      onUrl: (url) => {
        // As a tapped link does in an open tab: only the fragment changes, the app stays loaded.
        void page.evaluate((u) => {
          location.href = u;
        }, url);
      },
      confirm: async (prompt) => {
        hostSas = prompt.sas;
        const sas = page.locator('[data-testid="sas"][data-digits]');
        await sas.waitFor();
        pageSas = await sas.getAttribute('data-digits');
        shownName = await page.locator('[data-testid="pair-host-name"]').textContent();
        await screenshot(page, 'p1-pairing-in-loaded-tab');
        await assertFits(page);
        return pageSas === prompt.sas;
      },
    });
    assert.match(hostSas, /^\d{6}$/);
    assert.equal(pageSas, hostSas, 'the page shows the SAS the host shows');
    assert.equal(shownName, suite.host.host.identity.name, 'the pairing screen names the host');
    assert.equal(suite.host.host.trust.status(pinned.id).status, 'paired');
    await page.locator(`[data-host="${suite.host.host.identity.id}"]`).waitFor();
    assert.equal(await page.locator('text=This pairing link is not valid').count(), 0);
  });

  test('F1, F5 and F12 from the key bar’s second page reach the PTY as xterm’s sequences', async () => {
    const { page } = suite.phone;
    await openTerminal();
    await typeInTerminal(page, 'od -An -c');
    await waitForLine(page, /od -An -c$/);
    await tapKey(page, 'fn');
    assert.equal(await page.locator('.keybar').getAttribute('data-page'), '2');
    await screenshot(page, 'p2-keybar-fkeys');
    await assertFits(page);
    await tapKey(page, 'f1');
    await tapKey(page, 'f5');
    await tapKey(page, 'f12');
    await page.keyboard.press('Enter');
    await tapKey(page, 'ctrl');
    await typeInTerminal(page, 'd', false);
    // od's line is wider than the phone's terminal: match the screen's text with the wraps joined.
    await page.waitForFunction(
      () =>
        /033\s+O\s+P\s+033\s+\[\s+1\s+5\s+~\s+033\s+\[\s+2\s+4\s+~\s+\\n/.test(
          ((globalThis as Hook).pocketshellTerminal?.lines() ?? []).join(''),
        ),
      undefined,
      { polling: 50, timeout: 20_000 },
    );
    await tapKey(page, 'fn');
    assert.equal(await page.locator('.keybar').getAttribute('data-page'), '1');
  });

  test('a URL in the output is drawn as a link and opens in a new tab, without an opener, on a click', async () => {
    const { page, context } = suite.phone;
    // Short enough for one line of a phone-wide terminal; the command line itself shows it split.
    const url = `${suite.relay.url}/l?t=1`;
    await typeInTerminal(page, `clear; echo "see $((40+2)) ${url.replace('/l?', '/""l?')}"`);
    await waitForLine(page, /^see 42 http/);
    const at = await page.evaluate((t) => (globalThis as Hook).pocketshellTerminal?.cellOf(t) ?? null, url);
    assert.ok(at, 'the URL is on the screen');
    // Hovering a link gives the screen xterm's pointer cursor and underlines the link.
    const pointer = page.locator('.xterm .xterm-cursor-pointer');
    assert.equal(await pointer.count(), 0);
    await page.mouse.move(at.x + 20, at.y);
    await pointer.waitFor();
    await screenshot(page, 'p3-link-hover');
    const opened = context.waitForEvent('page');
    await page.mouse.click(at.x + 20, at.y);
    const tab = await opened;
    await tab.waitForLoadState('domcontentloaded');
    assert.equal(tab.url(), url);
    assert.equal(await tab.evaluate(() => window.opener), null, 'noopener');
    await tab.close();
    assert.equal(suite.phone.context.pages().length, 1);
  });

  test('paste with the clipboard refused: the fallback field says so, and its text reaches the PTY', async () => {
    const { page, context } = suite.phone;
    await context.clearPermissions();
    await tapKey(page, 'paste');
    const sheetEl = page.locator('[data-testid="paste-sheet"]');
    await sheetEl.waitFor();
    assert.match((await sheetEl.textContent()) ?? '', /did not allow reading the clipboard/);
    await page.locator('[data-testid="paste-field"]').fill('echo pasted-$((5*5))');
    await screenshot(page, 'p4-paste-fallback');
    await assertFits(page);
    await page.locator('[data-testid="paste-send"]').tap();
    await sheetEl.waitFor({ state: 'detached' });
    await waitForLine(page, /echo pasted-\$\(\(5\*5\)\)$/);
    await page.locator('.xterm-helper-textarea').focus();
    await page.keyboard.press('Enter');
    await waitForLine(page, /^pasted-25$/);
  });

  test('terminal settings (size, font, theme) are kept on this device across a reload', async () => {
    const { page } = suite.phone;
    const before = await page.evaluate(() => (globalThis as Hook).pocketshellTerminal!.settings());
    await page.locator('[data-testid="term-settings"]').tap();
    await page.locator('[data-testid="settings-sheet"]').waitFor();
    await page.locator('[data-testid="setting-font"]').selectOption('courier');
    await page.locator('[data-testid="setting-theme"]').selectOption('solarized-light');
    await page.locator('[data-testid="settings-sheet"] [aria-label="Larger"]').tap();
    assert.equal(
      await page.locator('[data-testid="setting-size"]').textContent(),
      String(before.fontSize + 1),
    );
    await screenshot(page, 'p5-settings');
    await assertFits(page);
    await page.locator('[data-testid="settings-done"]').tap();
    await page.reload();
    await page.locator('[data-testid="conn"][data-state="p2p"]').waitFor({ timeout: 45_000 });
    await page.waitForFunction(
      () => (globalThis as Hook).pocketshellTerminal?.settings().theme === 'solarized-light',
    );
    const after = await page.evaluate(() => (globalThis as Hook).pocketshellTerminal!.settings());
    assert.equal(after.font, 'courier');
    assert.match(after.fontFamily, /Courier/);
    assert.equal(after.background, '#fdf6e3');
    assert.equal(after.fontSize, before.fontSize + 1);
    await typeInTerminal(page, 'echo themed-$((2*4))');
    await waitForLine(page, /^themed-8$/);
    await screenshot(page, 'p6-solarized-light');
  });

  test('keys typed while the channel is down are shown as waiting and sent, in order, on resume of the same session', async () => {
    const { page } = suite.phone;
    const session = await page.evaluate(() => (globalThis as Hook).pocketshellTerminal!.session());
    await page.evaluate(() => (globalThis as Hook).pocketshellTerminal!.detach());
    await page.locator('[data-testid="conn"][data-state="reconnecting"]').waitFor();
    await typeInTerminal(page, 'echo resumed-$((6*6))');
    const pending = page.locator('[data-testid="pending-input"]');
    await pending.waitFor();
    assert.match((await pending.textContent()) ?? '', /^22 B typed, sent when the connection is back$/);
    await page.evaluate(() => (globalThis as Hook).pocketshellTerminal!.reattach());
    await waitForLine(page, /^resumed-36$/);
    await pending.waitFor({ state: 'hidden' });
    assert.equal(await page.evaluate(() => (globalThis as Hook).pocketshellTerminal!.session()), session);
    assert.equal(await page.locator('.banner', { hasText: 'typed while disconnected' }).count(), 0);
  });

  test('keys typed while the host restarts are shown as waiting, then sent after it', async () => {
    const { page } = suite.phone;
    await suite.host.restart(async () => {
      await page.locator('[data-testid="conn"][data-state="offline"]').waitFor();
      await typeInTerminal(page, 'echo queued-$((8*8))');
      const pending = page.locator('[data-testid="pending-input"]');
      await pending.waitFor();
      assert.match((await pending.textContent()) ?? '', /^21 B typed, sent when the connection is back$/);
      await screenshot(page, 'p7-keys-waiting');
      await assertFits(page);
    });
    await page.locator('[data-testid="conn"][data-state="p2p"]').waitFor({ timeout: 45_000 });
    // The old session died with the host: what was typed for it waits for a tap.
    const banner = page.locator('.banner', { hasText: 'typed while disconnected' });
    await banner.waitFor();
    await screenshot(page, 'p8-keys-offer');
    await assertFits(page);
    await banner.locator('button', { hasText: 'Send' }).tap();
    await waitForLine(page, /^queued-64$/);
    await page.locator('[data-testid="pending-input"]').waitFor({ state: 'hidden' });
  });

  test('a flood the page cannot keep up with ends in screen sync: the last lines and the scrollback shown, not every byte', async () => {
    const { page } = suite.phone;
    await openTerminal();
    // `seq` writes ≈15 MB faster than the page parses: the page asks for the screen when it falls
    // behind (resize `pace: "screen"`), so the host sends it snapshots. The page's CPU is slowed
    // tenfold, so that it falls behind however loaded the machine running the host is.
    const cdp = await suite.phone.context.newCDPSession(page);
    await cdp.send('Emulation.setCPUThrottlingRate', { rate: 10 });
    const live = await page.evaluate(() => {
      const t = (
        globalThis as unknown as { pocketshellTerminal: { onOutput(l: (b: Uint8Array) => void): () => void } }
      ).pocketshellTerminal;
      const g = globalThis as unknown as { __floodBytes: number };
      g.__floodBytes = 0;
      t.onOutput((b) => {
        g.__floodBytes += b.length;
      });
      return true;
    });
    assert.ok(live);
    await typeInTerminal(
      page,
      "seq -f 'line %g of a flood, as a build log prints it' 1 300000; echo flood$((2+3))done",
    );
    await waitForLine(page, /^flood5done$/, 60_000);
    // Once the output is quiet, the last snapshot brings the scrollback: the flood's last lines.
    const lines = await waitForLine(page, /^line 299500 of a flood/, 10_000);
    const numbers = lines
      .map((l) => /^line (\d+) of a flood/.exec(l.trim())?.[1])
      .filter((n) => n !== undefined);
    assert.equal(numbers.at(-1), '300000', 'the last line of the flood is on the screen');
    // The final snapshot brings the scrollback: the flood's last lines, in order.
    assert.ok(
      numbers.includes('299500'),
      `scrollback: ${numbers.length} lines of the flood, from ${numbers[0]}`,
    );
    const streamed = await page.evaluate(
      () => (globalThis as unknown as { __floodBytes: number }).__floodBytes,
    );
    assert.ok(
      streamed < 8_000_000,
      `${streamed} of ≈15 MB came as live bytes: the rest was skipped for snapshots`,
    );
    await cdp.send('Emulation.setCPUThrottlingRate', { rate: 1 });
    await cdp.detach();
    await screenshot(page, 'p9-flood-screen-sync');
  });

  test('rename and close a session from the host screen (closing asks first)', async () => {
    const { page } = suite.phone;
    const session = await page.evaluate(() => (globalThis as Hook).pocketshellTerminal!.session());
    await page.goto(`${suite.relay.url}/#/host/${suite.host.host.identity.id}`);
    const row = page.locator('li', { has: page.locator(`[data-target="${session}"]`) });
    await row.waitFor();
    await row.locator('[data-action="rename"]').tap();
    await page.locator('[data-testid="rename-field"]').fill('  build box  ');
    await screenshot(page, 'p9-rename');
    await assertFits(page);
    await page.locator('[data-testid="rename-save"]').tap();
    await page.locator(`[data-target="${session}"]`, { hasText: 'build box' }).waitFor();
    assert.equal(suite.host.host.sessions.get(session)?.info().name, 'build box');
    assert.ok(
      audit().some((e) => e.event === 'session.renamed' && e.session === session && e.name === 'build box'),
    );
    await screenshot(page, 'p10-host-sessions');
    await assertFits(page);

    await row.locator('[data-action="close"]').tap();
    await page.locator('[data-testid="close-sheet"]').waitFor();
    await screenshot(page, 'p11-close-confirm');
    await assertFits(page);
    await page.locator('[data-testid="close-cancel"]').tap();
    assert.ok(suite.host.host.sessions.get(session), 'cancel keeps the session');
    await row.locator('[data-action="close"]').tap();
    await page.locator('[data-testid="close-confirm"]').tap();
    await page.locator(`[data-target="${session}"]`).waitFor({ state: 'detached' });
    assert.equal(suite.host.host.sessions.get(session), undefined);
  });
});
