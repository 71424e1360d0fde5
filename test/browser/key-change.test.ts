/**
 * A key change on the phone, in Debian's Chromium against a real relay
 * process and two real hosts on the same machine — so the same host name,
 * two keys. Pairing with the second is a key change: the pairing screen
 * warns with the old and the new fingerprint, and the phone does not
 * complete (no `pair.confirm`, so the host pins nothing) until the person
 * taps "Pair with new key"; "Cancel" leaves nothing pinned on either side.
 * Once accepted, the hosts list and the devices screen mark the old host
 * "old key". Screenshots: key-change-warning, key-change-cancelled,
 * key-change-hosts, key-change-devices.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fingerprint } from '@pocketshell/protocol';
import { assertFits, browserSkip, browserSuite, cutOff, screenshot, type TestHost } from './harness.ts';

const skip = browserSkip();

describe('key change in Chromium', { skip, timeout: 180_000 }, () => {
  // Two hosts on the same machine: the same name, two keys.
  const suite = browserSuite({ extraHosts: 1 });
  const hostA = () => suite.host;
  const hostB = () => suite.extraHosts[0]!;

  /** Starts a pairing of `host` that the person accepts on the computer once the phone shows `ready`. */
  function pairing(host: TestHost, ready: string) {
    const { page } = suite.phone;
    return host.host.agent.pair({
      webUrl: suite.relay.url,
      grants: ['shell'],
      onUrl: (url) => void page.goto(url),
      confirm: async (prompt) => {
        await page.locator(ready).waitFor();
        return (await page.locator('[data-testid="sas"]').getAttribute('data-digits')) === prompt.sas;
      },
      deviceTimeoutMs: 60_000,
    });
  }

  test('the first host pairs without a warning', async () => {
    assert.equal(hostA().host.identity.name, hostB().host.identity.name, 'both hosts carry the same name');
    await pairing(hostA(), '[data-testid="sas"][data-digits]');
    await suite.phone.page.locator(`[data-host="${hostA().host.identity.id}"]`).waitFor();
    assert.equal(await suite.phone.page.locator('[data-replaced]').count(), 0);
  });

  test('same name, new key: warned with both fingerprints; Cancel pins nothing anywhere', async () => {
    const { page } = suite.phone;
    const run = pairing(hostB(), '[data-testid="key-changed"]:not([hidden])');
    run.catch(() => {});
    const warning = page.locator('[data-testid="key-changed"]');
    await warning.waitFor();
    assert.equal(
      await page.locator('[data-testid="key-old"]').textContent(),
      fingerprint(hostA().host.identity.publicKey),
    );
    assert.equal(
      await page.locator('[data-testid="key-new"]').textContent(),
      fingerprint(hostB().host.identity.publicKey),
    );
    await page.getByText('Confirm the key change above to finish pairing').waitFor();
    // The computer accepted; the phone has not completed: nothing is pinned on the host yet.
    assert.deepEqual(hostB().host.trust.list(), []);
    await screenshot(page, 'key-change-warning');
    await assertFits(page);
    await page.locator('[data-testid="key-cancel"]').tap();
    await assert.rejects(run, (e: { code?: string }) => e.code === 'revoked');
    await page.getByText('the change was not confirmed').waitFor();
    await screenshot(page, 'key-change-cancelled');
    assert.deepEqual(hostB().host.trust.list(), []);
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
    assert.deepEqual(hosts, [hostA().host.identity.id], 'the phone pinned nothing new');
  });

  test('same name, new key: "Pair with new key" completes, and the old host is marked', async () => {
    const { page } = suite.phone;
    const run = pairing(hostB(), '[data-testid="key-changed"]:not([hidden])');
    run.catch(() => {});
    await page.getByText('Confirm the key change above to finish pairing').waitFor();
    assert.deepEqual(hostB().host.trust.list(), []);
    await page.locator('[data-testid="key-accept"]').tap();
    const pinned = await run;
    assert.equal(hostB().host.trust.list().length, 1);
    assert.equal(pinned.id, hostB().host.trust.list()[0]!.id);
    const oldRow = page.locator(`[data-host="${hostA().host.identity.id}"]`);
    const newRow = page.locator(`[data-host="${hostB().host.identity.id}"]`);
    await newRow.waitFor();
    assert.equal(await oldRow.getAttribute('data-replaced'), 'true');
    assert.match((await oldRow.textContent()) ?? '', /old key/);
    assert.equal(await newRow.getAttribute('data-replaced'), null);
    assert.doesNotMatch((await newRow.textContent()) ?? '', /old key/);
    await page.locator('[data-state="online"]').first().waitFor();
    await page.locator('.toast').waitFor({ state: 'detached' });
    await screenshot(page, 'key-change-hosts');
    assert.deepEqual(await cutOff(page), []);

    // The devices screen (Unpair) marks it too.
    await page.goto(`${suite.relay.url}/#/devices`);
    const marked = page.locator('[data-replaced="true"]');
    await marked.waitFor();
    assert.equal(await marked.count(), 1);
    assert.match((await marked.textContent()) ?? '', /old key/);
    await screenshot(page, 'key-change-devices');
    assert.deepEqual(await cutOff(page), []);
  });
});
