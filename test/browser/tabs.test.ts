/**
 * Tabs of one browser past the host's per-device peer cap (4), in Chromium
 * against a real host and relay: the fifth tab's connection takes the place
 * of the oldest (`hangup replaced`, audited); that tab's terminal waits in
 * `elsewhere` ("Open in another tab · Use here") and does not dial again on
 * its own, so the tabs do not take turns; a tap takes the connection back
 * (and the then-oldest tab is the one that waits).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { browserSkip, browserSuite, pairPage, screenshot } from './harness.ts';

const skip = browserSkip();

describe('tabs past the per-device peer cap', { skip, timeout: 240_000 }, () => {
  const suite = browserSuite();

  const replacedInAudit = () =>
    readFileSync(join(suite.host.home, '.pocketshell', 'audit.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { event?: string })
      .filter((e) => e.event === 'connection.replaced').length;

  const state = (page: Page) => page.locator('[data-testid="conn"]').getAttribute('data-state');

  test('the fifth tab takes the oldest tab’s place; that one waits, and a tap takes it back', async () => {
    const { page, context } = suite.phone;
    await page.goto(suite.relay.url);
    await page.locator('[data-testid="relay-state"][data-state="ready"]').waitFor({ state: 'attached' });
    await pairPage(page, suite.host, suite.relay.url);
    const hostId = suite.host.host.identity.id;

    const open = async (p: Page) => {
      await p.goto(`${suite.relay.url}/#/t/${hostId}/new`);
      await p.locator('[data-testid="conn"][data-state="p2p"]').waitFor({ timeout: 45_000 });
    };
    const tabs: Page[] = [page];
    await open(page);
    for (let i = 1; i < 5; i++) {
      const p = await context.newPage();
      tabs.push(p);
      await open(p);
    }
    const first = tabs[0]!;
    await first.locator('[data-testid="conn"][data-state="elsewhere"]').waitFor({ timeout: 20_000 });
    assert.match((await first.locator('[data-testid="conn"]').textContent()) ?? '', /another tab/);
    assert.equal(await first.locator('[data-testid="conn"]').getAttribute('role'), 'button');
    await screenshot(first, 'tabs-elsewhere');

    // No taking turns: a while later the first tab still waits and the four others are live.
    await new Promise((r) => setTimeout(r, 4000));
    assert.deepEqual(await Promise.all(tabs.map(state)), ['elsewhere', 'p2p', 'p2p', 'p2p', 'p2p']);
    assert.equal(replacedInAudit(), 1, 'one connection replaced, audited');

    // A tap takes it back; the tab whose connection is now the oldest (the second) waits instead.
    await first.locator('[data-testid="conn"]').tap();
    await first.locator('[data-testid="conn"][data-state="p2p"]').waitFor({ timeout: 20_000 });
    await tabs[1]!.locator('[data-testid="conn"][data-state="elsewhere"]').waitFor({ timeout: 20_000 });
    await new Promise((r) => setTimeout(r, 3000));
    assert.deepEqual(await Promise.all(tabs.map(state)), ['p2p', 'elsewhere', 'p2p', 'p2p', 'p2p']);
    assert.equal(replacedInAudit(), 2);
    for (const p of tabs.slice(1)) await p.close();
  });
});
