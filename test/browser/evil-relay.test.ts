/**
 * A malicious relay against the web client in Chromium (issue 12): the
 * `EvilRelay` man-in-the-middle owns the wire of a real relay process that
 * serves the built client, in front of a real in-process host. The phone
 * pairs through it while the relay swaps keys, forges the host's acceptance
 * or drops it. For each: the six digits on the page and in the host's
 * prompt (they differ when keys were swapped), nothing pinned on either
 * side, nothing spawned on the host, the refusal audited with a stable
 * code, and the page saying why (`data-code` on the status). Screenshots
 * land in .artifacts/screenshots/evil-*.png.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import type { PairingPrompt } from '@pocketshell/host-core';
import { b64u, fromB64u, generateKeyPair, makePairAccept, makePairRequest } from '@pocketshell/protocol';
import type { StartedRelay } from '@pocketshell/relay/testing';
import { EvilRelay, forgedEnvelope } from '../support/evil-relay.ts';
import {
  assertFits,
  browserSkip,
  buildWeb,
  cutOff,
  launchPhone,
  type Phone,
  screenshot,
  TestHost,
  typeInTerminal,
  waitForLine,
} from './harness.ts';

const skip = browserSkip();

describe('a malicious relay against the web client in Chromium', { skip, timeout: 180_000 }, () => {
  let evil: EvilRelay;
  let host: TestHost;
  let phone: Phone;
  let webRoot: string;
  const pageLog: string[] = [];

  before(async () => {
    // Its own build folder: the other browser test files rebuild packages/web/dist in parallel.
    webRoot = mkdtempSync(join(tmpdir(), 'pocketshell-evil-web-'));
    await buildWeb(webRoot);
    evil = await EvilRelay.start({ args: ['--web-root', webRoot] });
    // The host dials the proxy: the relay it knows is the malicious one.
    host = await TestHost.start({ ...evil.relay, url: evil.url, wsUrl: evil.wsUrl } as StartedRelay);
    await host.host.agent.relay.waitReady();
  });

  beforeEach(async () => {
    evil.script = () => undefined;
    host.host.agent.flushRefusals();
    // A fresh profile: a new device key for each attack.
    phone = await launchPhone();
    phone.page.on('console', (m) => {
      if (m.type() === 'warning' || m.type() === 'error') pageLog.push(`${m.type()}: ${m.text()}`);
    });
  });

  afterEach(async (t) => {
    if ((t as { passed?: boolean }).passed === false && pageLog.length)
      t.diagnostic(`page log:\n${pageLog.join('\n')}`);
    pageLog.length = 0;
    await phone.close();
  });

  after(async () => {
    await host?.close();
    await evil?.stop();
    if (webRoot) rmSync(webRoot, { recursive: true, force: true });
  });

  function audit(): { event: string; code?: string; what?: string; device?: string }[] {
    return readFileSync(join(host.home, '.pocketshell', 'audit.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { event: string; code?: string; what?: string; device?: string });
  }

  function assertNothingPinnedOrSpawned(): void {
    assert.deepEqual(host.host.trust.list(), [], 'nothing pinned on the host (devices.json)');
    assert.deepEqual(host.host.agent.connections(), [], 'no WebRTC peer');
    assert.deepEqual(host.host.sessions.list(), [], 'no session, so no PTY child');
  }

  /** The page's pairing status once it shows a refusal: its code and its words. */
  async function refusalShown(): Promise<{ code: string | null; text: string }> {
    const status = phone.page.locator('[data-testid="pair-status"][data-code]');
    await status.waitFor();
    return { code: await status.getAttribute('data-code'), text: (await status.innerText()).trim() };
  }

  /** Hosts the page pinned (its IndexedDB `hosts` record). */
  function pinnedOnPage(): Promise<number> {
    return phone.page.evaluate(
      () =>
        new Promise<number>((resolve, reject) => {
          const open = indexedDB.open('pocketshell');
          open.onerror = () => reject(open.error);
          open.onsuccess = () => {
            const db = open.result;
            const store = db.objectStoreNames[0];
            if (store === undefined) return resolve(0);
            const get = db.transaction(store).objectStore(store).get('hosts');
            get.onsuccess = () => {
              db.close();
              resolve(((get.result as unknown[] | undefined) ?? []).length);
            };
            get.onerror = () => reject(get.error);
          };
        }),
    );
  }

  test('key swap: the page and the host show different digits; the person declines; the page says the codes did not match', async () => {
    const { page } = phone;
    const attacker = await evil.identity('device');
    let phoneId = '';
    evil.script = (f, dir, tap) => {
      if (dir !== 'up' || f.t !== 'pair.redeem' || tap.role !== 'device') return undefined;
      phoneId = tap.id!;
      // The phone's redeem never reaches the host: the relay redeems the claim with its own key.
      const link = {
        webUrl: evil.url,
        claim: fromB64u(f.claim as string),
        hostPub: fromB64u(evil.tap(f.host as string)!.pub!),
      };
      attacker.client.send({
        t: 'pair.redeem',
        rid: 'swap',
        ...makePairRequest({
          link,
          device: attacker.keyPair,
          name: 'Chrome on Android',
          now: Math.floor(Date.now() / 1000),
        }),
      });
      tap.toClient({ t: 'ok', rid: f.rid as string });
      return 'drop';
    };
    void attacker.client
      .next((m) => m.t === 'pair.rejected', 60_000)
      .then((m) => {
        evil.tap(phoneId)?.toClient(m as never);
      })
      .catch(() => {}); // nothing came: the assertions below say what is missing
    let prompt: PairingPrompt | undefined;
    let pageSas: string | null = null;
    await assert.rejects(
      host.host.agent.pair({
        webUrl: evil.url,
        onUrl: (url) => {
          void page.goto(url);
        },
        confirm: async (p) => {
          prompt = p;
          const sas = page.locator('[data-testid="sas"][data-digits]');
          await sas.waitFor();
          pageSas = await sas.getAttribute('data-digits');
          await screenshot(page, 'evil-1-swap-digits');
          // The person compares the two screens, as the prompt asks.
          return pageSas === p.sas;
        },
      }),
      { code: 'unauthorized' },
    );
    assert.match(pageSas ?? '', /^\d{6}$/);
    assert.notEqual(pageSas, prompt!.sas, 'the SAS differs on the two screens');
    const shown = await refusalShown();
    await screenshot(page, 'evil-1-swap-declined');
    assert.equal(shown.code, 'unauthorized');
    assert.match(shown.text, /declined/i);
    assert.match(shown.text, /code.*(differ|match)/i, 'the page says what a different code means');
    assert.match(shown.text, /nothing (was )?paired/i);
    await assertFits(page);
    assert.equal(await pinnedOnPage(), 0, 'nothing pinned on the phone');
    assertNothingPinnedOrSpawned();
    assert.ok(
      audit().some(
        (e) => e.event === 'refusal' && e.code === 'unauthorized' && e.device === prompt!.deviceId,
      ),
      'the declined pairing is audited',
    );
  });

  test('forged acceptance: the relay answers with its own host key; the page refuses and says the answer is not from the computer in the QR code', async () => {
    const { page } = phone;
    const attackerHost = generateKeyPair();
    evil.script = (f, dir, tap) => {
      if (dir !== 'down' || f.t !== 'pair.accepted') return undefined;
      return [
        {
          t: 'pair.accepted',
          from: f.from,
          pub: b64u(attackerHost.publicKey),
          env: makePairAccept({
            host: attackerHost,
            devicePub: fromB64u(tap.pub!),
            claim: fromB64u(evil.claims.at(-1)!),
            hostName: host.host.identity.name,
            grants: ['shell', 'admin'],
            now: Math.floor(Date.now() / 1000),
          }),
        },
      ];
    };
    let prompt: PairingPrompt | undefined;
    let pageSas: string | null = null;
    await assert.rejects(
      host.host.agent.pair({
        webUrl: evil.url,
        deviceTimeoutMs: 3000,
        onUrl: (url) => {
          void page.goto(url);
        },
        confirm: async (p) => {
          prompt = p;
          const sas = page.locator('[data-testid="sas"][data-digits]');
          await sas.waitFor();
          pageSas = await sas.getAttribute('data-digits');
          return pageSas === p.sas;
        },
      }),
      { code: 'timeout' },
    );
    assert.equal(pageSas, prompt!.sas, 'no key was swapped: the digits matched');
    const shown = await refusalShown();
    await screenshot(page, 'evil-2-forged-acceptance');
    assert.equal(shown.code, 'bad_key');
    assert.match(shown.text, /not (come )?from the computer/i);
    assert.match(shown.text, /nothing (was )?paired/i);
    assert.equal(await pinnedOnPage(), 0, 'nothing pinned on the phone');
    assertNothingPinnedOrSpawned();
    assert.ok(
      audit().some(
        (e) =>
          e.event === 'refusal' &&
          e.code === 'timeout' &&
          e.what === 'pair.confirm' &&
          e.device === prompt!.deviceId,
      ),
      'the pairing the phone never completed is audited',
    );
  });

  test('forged acceptance with garbage: the page refuses (decrypt_failed) and says why', async () => {
    const { page } = phone;
    evil.script = (f, dir) =>
      dir === 'down' && f.t === 'pair.accepted' ? [{ ...f, env: forgedEnvelope('pair.accept') }] : undefined;
    await assert.rejects(
      host.host.agent.pair({
        webUrl: evil.url,
        deviceTimeoutMs: 3000,
        onUrl: (url) => {
          void page.goto(url);
        },
        confirm: async (p) => {
          const sas = page.locator('[data-testid="sas"][data-digits]');
          await sas.waitFor();
          return (await sas.getAttribute('data-digits')) === p.sas;
        },
      }),
      { code: 'timeout' },
    );
    const shown = await refusalShown();
    await screenshot(page, 'evil-3-garbage-acceptance');
    assert.equal(shown.code, 'decrypt_failed');
    assert.match(shown.text, /not (come )?from the computer/i);
    assert.equal(await pinnedOnPage(), 0);
    assertNothingPinnedOrSpawned();
  });

  test('dropped acceptance: the host gives up and revokes; the page says the computer stopped waiting', async () => {
    const { page } = phone;
    evil.script = (f, dir) => (dir === 'down' && f.t === 'pair.accepted' ? 'drop' : undefined);
    let prompt: PairingPrompt | undefined;
    await assert.rejects(
      host.host.agent.pair({
        webUrl: evil.url,
        deviceTimeoutMs: 2000,
        onUrl: (url) => {
          void page.goto(url);
        },
        confirm: async (p) => {
          prompt = p;
          const sas = page.locator('[data-testid="sas"][data-digits]');
          await sas.waitFor();
          return (await sas.getAttribute('data-digits')) === p.sas;
        },
      }),
      { code: 'timeout' },
    );
    const shown = await refusalShown();
    await screenshot(page, 'evil-4-dropped-acceptance');
    assert.equal(shown.code, 'revoked');
    assert.match(shown.text, /nothing (was )?paired/i);
    assert.equal(await pinnedOnPage(), 0);
    assertNothingPinnedOrSpawned();
    assert.ok(
      audit().some(
        (e) =>
          e.event === 'refusal' &&
          e.code === 'timeout' &&
          e.what === 'pair.confirm' &&
          e.device === prompt!.deviceId,
      ),
    );
  });
  test('after pairing: the relay drops the host’s answers, replays the offers and forges hangups — no session, replays audited, the terminal says why; honest again, it connects, and a reordered connection works', async () => {
    const { page } = phone;
    await host.host.agent.pair({
      webUrl: evil.url,
      grants: ['shell'],
      onUrl: (url) => {
        void page.goto(url);
      },
      confirm: async (p) => {
        const sas = page.locator('[data-testid="sas"][data-digits]');
        await sas.waitFor();
        return (await sas.getAttribute('data-digits')) === p.sas;
      },
    });
    const [paired] = host.host.trust.list();
    assert.ok(paired, 'paired honestly first');
    const row = page.locator(`[data-host="${host.host.identity.id}"][data-state="online"]`);
    await row.waitFor();

    let replayed = 0;
    evil.script = (f, dir, tap) => {
      const kind = (f.env as { kind?: string } | undefined)?.kind;
      if (dir === 'down' && (kind === 'answer' || kind === 'link.accept')) {
        // Dropped (the WebRTC answer, and the relay path's accept the page falls back to),
        // and a forged hangup (nobody's key opens it) sent in its place.
        return [{ t: 'deliver', from: f.from as string, env: forgedEnvelope('hangup') }];
      }
      if (dir === 'up' && f.t === 'send' && kind === 'offer') {
        // Each offer reaches the host twice: the second is a replay.
        setTimeout(() => {
          replayed++;
          tap.toRelay(f);
        }, 200);
      }
      return undefined;
    };
    await row.tap();
    await page.locator('[data-testid="new-session"]').tap();
    const banner = page.locator('[data-testid="term-banner"][data-code]');
    // WebRTC first (10 s), then the relay path (15 s): both answers dropped.
    await banner.waitFor({ timeout: 60_000 });
    const text = (await banner.innerText()).trim();
    await screenshot(page, 'evil-5-connection-refused');
    assert.match(text, /cannot connect/i);
    assert.match(text, /timeout/i, 'the page says what went wrong');
    assert.match(text, /network or relay/i);
    assert.ok(replayed >= 1);
    assert.deepEqual(host.host.sessions.list(), [], 'no session spawned');
    assert.ok(
      audit().some((e) => e.event === 'refusal' && e.code === 'replay' && e.device === paired.id),
      'the replayed offer is refused and audited',
    );
    assert.deepEqual(await cutOff(page), []);

    // The relay turns honest: the page's own retries connect, and the terminal works.
    evil.script = () => undefined;
    await page.locator('[data-testid="conn"][data-state="p2p"]').waitFor({ timeout: 60_000 });
    assert.equal(await page.locator('[data-testid="term-banner"]').isHidden(), true, 'the banner goes');
    assert.equal(host.host.sessions.list().length, 1, 'one session, once connected');

    // Reorder: after a reload, the page's offer and the host's answer are held back while the
    // candidates sent after them go ahead, and a forged answer comes first. The connection works.
    let held = 0;
    evil.script = (f, dir, tap) => {
      const kind = (f.env as { kind?: string } | undefined)?.kind;
      if (kind !== 'offer' && kind !== 'answer') return undefined;
      held++;
      setTimeout(() => (dir === 'up' ? tap.toRelay(f) : tap.toClient(f)), 700);
      return kind === 'answer' ? [{ ...f, env: forgedEnvelope('answer') }] : 'drop';
    };
    await page.reload();
    await page.locator('[data-testid="conn"][data-state="p2p"]').waitFor({ timeout: 60_000 });
    await typeInTerminal(page, 'echo reordered-$((6*7))');
    await waitForLine(page, /^reordered-42$/);
    assert.ok(held >= 2, 'the offer and the answer were held back');
    assert.equal(host.host.sessions.list().length, 1, 'the same one session');
    await screenshot(page, 'evil-6-reordered-works');
    await host.host.agent.revoke(paired.id);
    for (const s of host.host.sessions.list()) await host.host.sessions.get(s.id)?.close();
  });
});
