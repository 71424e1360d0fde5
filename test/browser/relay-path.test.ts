/**
 * The web client over the relay path (issue 20; docs/protocol.md §10) in
 * Debian's Chromium: a real relay process serving the built client, a real
 * host with real PTYs. With the page's path setting on `relay`
 * (`localStorage['pocketshell.path']`), the terminal opens with no WebRTC
 * connection at all, the connection badge says it goes through the relay,
 * and typing and a long output work; the host records a relay-path
 * connection. Set back to `auto`, the page switches up to WebRTC by itself
 * and the terminal re-attaches the same session with its screen.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { browserSkip, browserSuite, screenshot, typeInTerminal, waitForLine } from './harness.ts';

const skip = browserSkip();

describe('web client over the relay path', { skip, timeout: 180_000 }, () => {
  const suite = browserSuite();

  test('set to the relay path, the terminal works and the badge says so', async () => {
    const { page } = suite.phone;
    await suite.host.host.agent.pair({
      webUrl: suite.relay.url,
      grants: ['shell'],
      onUrl: (url) => {
        void page.goto(url);
      },
      confirm: async () => {
        await page.locator('[data-testid="sas"][data-digits]').waitFor();
        return true;
      },
    });
    await page.evaluate(() => localStorage.setItem('pocketshell.path', 'relay'));
    const row = page.locator(`[data-host="${suite.host.host.identity.id}"][data-state="online"]`);
    await row.waitFor();
    await row.tap();
    await page.locator('[data-testid="new-session"]').tap();
    const badge = page.locator('[data-testid="conn"][data-state="relay"]');
    await badge.waitFor({ timeout: 45_000 });
    assert.match((await badge.textContent()) ?? '', /relay/i);
    await typeInTerminal(page, 'echo $((6*7))');
    await waitForLine(page, /^42$/);
    await typeInTerminal(page, 'seq 1 20000; echo seq-done-$((2*3))');
    await waitForLine(page, /^seq-done-6$/, 60_000);
    await screenshot(page, 'relay-path-terminal');
    const audit = readFileSync(join(suite.host.home, '.pocketshell', 'audit.jsonl'), 'utf8');
    assert.match(audit, /"path":"relay"/, 'the host saw a relay-path connection');
  });

  test('set back to auto, it switches up to WebRTC by itself and the terminal keeps its session and screen', async () => {
    const { page } = suite.phone;
    const url = page.url();
    await page.evaluate(() => localStorage.setItem('pocketshell.path', 'auto'));
    await page.locator('[data-testid="conn"][data-state="p2p"]').waitFor({ timeout: 90_000 });
    assert.equal(page.url(), url, 'the same session');
    await waitForLine(page, /^seq-done-6$/, 10_000);
    await typeInTerminal(page, 'echo up-$((5*5))');
    await waitForLine(page, /^up-25$/);
    await screenshot(page, 'relay-path-switched-up');
  });
});
