/**
 * The Devices screen of a host (`#/host/<id>/devices`) in Debian's Chromium
 * against a real relay process and a real host, with a second device — a
 * Node device (`@pocketshell/client`) with a real terminal — paired beside
 * the phone. The phone holds `admin`: it lists both devices, changes the
 * other's grants (taking `shell` away asks first), and revokes it, whose
 * open terminal closes within 2 s of the tap. Without `admin` the screen
 * shows `grant_missing` and still offers "Unpair this device", which
 * unpairs the phone on both sides. Screenshots: devices-list (dark and
 * light), devices-host-screen, devices-grant-confirm, devices-revoke-confirm,
 * devices-grant-missing, devices-unpaired.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import type { Device, PairedHost } from '@pocketshell/client';
import type { DeviceId } from '@pocketshell/protocol';
import { loopbackDevice } from '../support/cli.ts';
import { assertFits, browserSkip, browserSuite, pairPhone, screenshot } from './harness.ts';

const skip = browserSkip();

/** Polls `check` every 50 ms until it holds or `ms` passed; returns whether it held. */
async function eventually(check: () => boolean, ms = 10_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return check();
}

describe('devices screen in Chromium', { skip, timeout: 240_000 }, () => {
  let laptop: Device;
  let laptopHost: PairedHost | undefined;
  let phoneId: DeviceId;
  const suite = browserSuite({
    beforeClose: async () => {
      await laptop?.close();
    },
  });

  const grantsOf = (id: string) => suite.host.host.trust.list().find((d) => d.id === id)?.grants ?? null;
  const row = (id: string) => suite.phone.page.locator(`[data-device="${id}"]`);
  const chip = (id: string, grant: string) => row(id).locator(`[data-grant="${grant}"]`);

  before(async () => {
    // The phone, with `admin`.
    phoneId = (await pairPhone(suite, { grants: ['shell', 'admin'] })).id as DeviceId;
    // A second device in Node, with `shell` only.
    laptop = loopbackDevice(suite.relay.wsUrl);
    await suite.host.host.agent.pair({
      webUrl: suite.relay.url,
      grants: ['shell'],
      onUrl: (url) => {
        void laptop.pair(url, { name: 'laptop' }).then((h) => (laptopHost = h));
      },
      confirm: async () => true,
    });
    assert.ok(await eventually(() => laptopHost !== undefined));
    assert.deepEqual(
      suite.host.host.trust
        .list()
        .map((d) => d.id)
        .sort(),
      [phoneId, laptop.id].sort(),
    );
  });

  test('lists the paired devices from the host screen: this device marked, grants, online', async () => {
    const { page } = suite.phone;
    await page.goto(`${suite.relay.url}/#/host/${suite.host.host.identity.id}`);
    // Sessions listed (the status line gives way to the list), then the Devices button below them.
    await page.locator('[data-testid="host-status"]').waitFor({ state: 'detached' });
    await screenshot(page, 'devices-host-screen');
    await assertFits(page);
    await page.locator('[data-testid="host-devices"]').tap();
    await page.locator('[data-testid="devices"]').waitFor();
    assert.match(page.url(), /#\/host\/h_[a-z2-7]+\/devices$/);
    assert.equal(await page.locator('[data-device]').count(), 2);

    const me = row(phoneId);
    assert.equal(await me.getAttribute('data-self'), 'true');
    assert.equal(await me.getAttribute('data-online'), 'true', 'the phone is connected: it is asking');
    assert.match((await me.textContent()) ?? '', /this device/);
    assert.match((await me.textContent()) ?? '', new RegExp(phoneId.slice(0, 10)));
    assert.equal(await me.locator('[data-testid="unpair-self"]').count(), 1);
    assert.equal(await me.locator('[data-action="revoke"]').count(), 0, 'no Revoke on itself');

    const other = row(laptop.id);
    assert.equal(await other.getAttribute('data-self'), null);
    assert.equal(await other.getAttribute('data-online'), 'false');
    assert.match((await other.textContent()) ?? '', /laptop/);
    assert.doesNotMatch((await other.textContent()) ?? '', /this device/);
    assert.equal(await chip(laptop.id, 'shell').getAttribute('aria-pressed'), 'true');
    assert.equal(await chip(laptop.id, 'admin').getAttribute('aria-pressed'), 'false');
    assert.equal(await chip(phoneId, 'admin').getAttribute('aria-pressed'), 'true');

    await screenshot(page, 'devices-list');
    await assertFits(page);
    await page.emulateMedia({ colorScheme: 'light' });
    await screenshot(page, 'devices-list-light');
    await assertFits(page);
    await page.emulateMedia({ colorScheme: 'dark' });
  });

  test('changes the other device’s grants; taking shell away asks first', async () => {
    const { page } = suite.phone;
    await chip(laptop.id, 'stats').tap();
    assert.ok(await eventually(() => grantsOf(laptop.id)?.includes('stats') === true), 'stats given');
    await page.locator(`[data-device="${laptop.id}"] [data-grant="stats"][aria-pressed="true"]`).waitFor();

    // Removing shell: a sheet first; Cancel changes nothing.
    await chip(laptop.id, 'shell').tap();
    const sheetEl = page.locator('[data-testid="grant-sheet"]');
    await sheetEl.waitFor();
    assert.match((await sheetEl.textContent()) ?? '', /Remove shell from laptop/);
    await page.locator('[data-testid="grant-cancel"]').tap();
    await sheetEl.waitFor({ state: 'detached' });
    assert.deepEqual([...(grantsOf(laptop.id) ?? [])].sort(), ['shell', 'stats']);

    await chip(laptop.id, 'shell').tap();
    await sheetEl.waitFor();
    await screenshot(page, 'devices-grant-confirm');
    await assertFits(page);
    await page.locator('[data-testid="grant-confirm"]').tap();
    assert.ok(await eventually(() => grantsOf(laptop.id)?.includes('shell') === false), 'shell taken away');
    assert.deepEqual(grantsOf(laptop.id), ['stats']);
    await page.locator(`[data-device="${laptop.id}"] [data-grant="shell"][aria-pressed="false"]`).waitFor();

    // Given back (no question for giving).
    await chip(laptop.id, 'shell').tap();
    assert.ok(await eventually(() => grantsOf(laptop.id)?.includes('shell') === true), 'shell given back');
    await page.locator(`[data-device="${laptop.id}"] [data-grant="shell"][aria-pressed="true"]`).waitFor();

    // Audited with who changed them.
    const audit = readFileSync(join(suite.host.home, '.pocketshell', 'audit.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { event: string; device?: string; grants?: string[]; by?: string });
    const changes = audit.filter((e) => e.event === 'grants.changed' && e.device === laptop.id);
    assert.deepEqual(
      changes.map((e) => [e.grants, e.by]),
      [
        [['shell', 'stats'], phoneId],
        [['stats'], phoneId],
        [['stats', 'shell'], phoneId],
      ],
    );
  });

  test('revokes the other device: its open terminal closes within 2 s of the tap', async () => {
    const { page } = suite.phone;
    assert.ok(laptopHost);
    const conn = await laptop.connect(laptopHost.id);
    const term = await conn.openTerminal('new', { cols: 80, rows: 24 });
    let closedAt = 0;
    void term.closed.then(() => (closedAt = Date.now()));
    // The listing shows it connected now.
    await page.reload();
    await page.locator(`[data-device="${laptop.id}"][data-online="true"]`).waitFor();

    await row(laptop.id).locator('[data-action="revoke"]').tap();
    const sheetEl = page.locator('[data-testid="revoke-sheet"]');
    await sheetEl.waitFor();
    assert.match((await sheetEl.textContent()) ?? '', /Revoke laptop\?/);
    assert.match((await sheetEl.textContent()) ?? '', new RegExp(laptop.id.slice(0, 10)));
    await screenshot(page, 'devices-revoke-confirm');
    await assertFits(page);
    assert.equal(closedAt, 0, 'still open before the confirmation');
    const tapped = Date.now();
    await page.locator('[data-testid="revoke-confirm"]').tap();
    const closed = await eventually(() => closedAt !== 0, 2_000 - (Date.now() - tapped));
    assert.ok(closed, 'the revoked device’s terminal closed within 2 s of the tap');
    assert.equal(grantsOf(laptop.id), null, 'the host no longer lists it');
    await row(laptop.id).waitFor({ state: 'detached' });
    assert.equal(await page.locator('[data-device]').count(), 1);
    await conn.close();
  });

  test('without admin: grant_missing is shown, and the device can still unpair itself', async () => {
    const { page } = suite.phone;
    // The computer takes admin away (the phone's connection is dropped, so it is checked anew).
    suite.host.host.agent.setGrants(phoneId, ['shell']);
    await page.reload();
    const denied = page.locator('[data-testid="devices-denied"]');
    await denied.waitFor();
    assert.equal(await denied.getAttribute('data-code'), 'grant_missing');
    assert.match((await denied.textContent()) ?? '', /may not manage devices/);
    assert.equal(await page.locator('[data-device]').count(), 0);
    await screenshot(page, 'devices-grant-missing');
    await assertFits(page);

    await page.locator('[data-testid="unpair-self"]').tap();
    const sheetEl = page.locator('[data-testid="unpair-sheet"]');
    await sheetEl.waitFor();
    await page.locator('[data-testid="unpair-confirm"]').tap();
    await page.waitForURL(/#\/hosts$/);
    assert.ok(await eventually(() => grantsOf(phoneId) === null), 'the host no longer lists the phone');
    const revocations = readFileSync(join(suite.host.home, '.pocketshell', 'audit.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { event: string; device?: string; by?: string })
      .filter((e) => e.event === 'revocation' && e.device === phoneId);
    assert.deepEqual(
      revocations.map((e) => e.by),
      [phoneId],
      'unpaired by its own devices.revoke',
    );
    await page.locator(`[data-host="${suite.host.host.identity.id}"]`).waitFor({ state: 'detached' });
    const hosts = await page.evaluate(async () => {
      const db = await new Promise<IDBDatabase>((r) => {
        const req = indexedDB.open('pocketshell', 1);
        req.onsuccess = () => r(req.result);
      });
      const list = await new Promise<{ id: string }[]>((r) => {
        const req = db.transaction('kv').objectStore('kv').get('hosts');
        req.onsuccess = () => r(req.result ?? []);
      });
      db.close();
      return list.map((h) => h.id);
    });
    assert.deepEqual(hosts, [], 'this browser forgot the host');
    await page.locator('.toast').waitFor({ state: 'detached' });
    await screenshot(page, 'devices-unpaired');
  });
});
