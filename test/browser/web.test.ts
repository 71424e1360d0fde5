/**
 * The web client in Debian's Chromium (playwright-core), phone-sized with
 * touch, against a real relay process serving the built client and a real
 * host with real PTYs, all on 127.0.0.1: pairing from the QR URL with the
 * SAS compared on both sides, the host online, a terminal that runs
 * `echo $((6*7))`, the key bar (sticky Ctrl interrupting `sleep`, Shift+Tab
 * and arrows reaching the PTY as the right bytes, checked with `od`),
 * reload resuming the same session and screen, a host restart shown as
 * offline and recovered without help, and the protocol vectors checked in
 * the browser. Screenshots of each screen land in .artifacts/screenshots/.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { build } from 'esbuild';
import { checkVectors, type Vectors } from '../vectors/build.ts';
import vectorsFile from '../vectors/protocol-v1.json' with { type: 'json' };
import {
  assertFits,
  browserSkip,
  browserSuite,
  PHONE,
  ROOT,
  screenshot,
  tapKey,
  terminalLines,
  typeInTerminal,
  waitForLine,
} from './harness.ts';

const skip = browserSkip();

describe('web client in Chromium', { skip, timeout: 180_000 }, () => {
  const suite = browserSuite();

  test('pair from the QR URL: SAS on the page equals the host’s; host online; echo $((6*7)) gives 42', async () => {
    const { page } = suite.phone;
    let hostSas = '';
    let pageSas: string | null = null;
    await suite.host.host.agent.pair({
      webUrl: suite.relay.url,
      grants: ['shell'],
      onUrl: (url) => {
        void page.goto(url);
      },
      confirm: async (prompt) => {
        hostSas = prompt.sas;
        const sas = page.locator('[data-testid="sas"][data-digits]');
        await sas.waitFor();
        pageSas = await sas.getAttribute('data-digits');
        await screenshot(page, '1-pairing');
        await assertFits(suite.phone.page);
        return pageSas === prompt.sas;
      },
    });
    assert.match(hostSas, /^\d{6}$/);
    assert.equal(pageSas, hostSas, 'the page shows the SAS the host shows');

    const row = page.locator(`[data-host="${suite.host.host.identity.id}"]`);
    await page.locator(`[data-host="${suite.host.host.identity.id}"][data-state="online"]`).waitFor();
    assert.match((await row.textContent()) ?? '', /online/);
    await screenshot(page, '2-hosts');
    await assertFits(suite.phone.page);

    await row.tap();
    await page.locator('[data-testid="new-session"]').tap();
    await page.locator('[data-testid="conn"][data-state="p2p"]').waitFor();
    await typeInTerminal(page, 'echo $((6*7))');
    const lines = await waitForLine(page, /^42$/);
    assert.ok(lines.some((l) => l.includes('echo $((6*7))')));
    await screenshot(page, '3-terminal');
    await assertFits(suite.phone.page);
  });

  test('key bar: sticky Ctrl then c interrupts sleep 100; Shift+Tab and arrows reach the PTY as escape sequences', async () => {
    const { page } = suite.phone;
    await typeInTerminal(page, 'sleep 100');
    await waitForLine(page, /sleep 100$/);
    await tapKey(page, 'ctrl');
    assert.equal(await page.locator('[data-key="ctrl"]').getAttribute('data-state'), 'once');
    await screenshot(page, '4-keybar-ctrl');
    await typeInTerminal(page, 'c', false);
    assert.equal(
      await page.locator('[data-key="ctrl"]').getAttribute('data-state'),
      'off',
      'one-shot Ctrl is used up',
    );
    await waitForLine(page, /\^C/);
    await typeInTerminal(page, 'echo after-$((1+1))');
    await waitForLine(page, /^after-2$/, 10_000);

    // od prints what the PTY delivered, byte by byte, on the host.
    await typeInTerminal(page, 'od -An -c');
    await waitForLine(page, /od -An -c$/);
    await tapKey(page, 'shift-tab');
    await tapKey(page, 'up');
    await tapKey(page, 'left');
    await page.keyboard.press('Enter');
    await tapKey(page, 'ctrl');
    await typeInTerminal(page, 'd', false);
    const lines = await waitForLine(page, /033\s+\[\s+Z\s+033\s+\[\s+A\s+033\s+\[\s+D\s+\\n/);
    assert.ok(lines.length > 0);
    // Locked Ctrl stays on across keys until tapped again.
    await tapKey(page, 'ctrl');
    await tapKey(page, 'ctrl');
    assert.equal(await page.locator('[data-key="ctrl"]').getAttribute('data-state'), 'locked');
    await tapKey(page, 'ctrl');
    assert.equal(await page.locator('[data-key="ctrl"]').getAttribute('data-state'), 'off');
  });

  test('reload: the same session comes back with the same screen', async () => {
    const { page } = suite.phone;
    await typeInTerminal(page, 'clear; echo marker-$((40+2))');
    await waitForLine(page, /^marker-42$/);
    const session = await page.evaluate(
      () =>
        (globalThis as { pocketshellTerminal?: { session(): string } }).pocketshellTerminal?.session() ?? '',
    );
    assert.match(session, /\S/);
    assert.notEqual(session, 'new');
    const visible = async () =>
      (await terminalLines(page))
        .map((l) => l.trimEnd())
        .filter((l) => l !== '')
        .slice(-3);
    const before = await visible();
    await page.reload();
    await page.locator('[data-testid="conn"][data-state="p2p"]').waitFor();
    await waitForLine(page, /^marker-42$/);
    const again = await page.evaluate(
      () =>
        (globalThis as { pocketshellTerminal?: { session(): string } }).pocketshellTerminal?.session() ?? '',
    );
    assert.equal(again, session, 'the same session');
    assert.deepEqual(await visible(), before, 'the same screen');
    await typeInTerminal(page, 'echo still-$((3*3))');
    await waitForLine(page, /^still-9$/);
  });

  test('host restart: the page shows the host offline, then reconnects by itself', async () => {
    const { page } = suite.phone;
    await suite.host.restart(async () => {
      await page.locator('[data-testid="conn"][data-state="offline"]').waitFor();
      await screenshot(page, '5-host-offline');
    });
    await page.locator('[data-testid="conn"][data-state="p2p"]').waitFor({ timeout: 45_000 });
    await typeInTerminal(page, 'echo back-$((2+3))');
    await waitForLine(page, /^back-5$/);
  });

  test('a smaller viewport (soft keyboard up) keeps the cursor line above the key bar', async () => {
    const { page } = suite.phone;
    const rows = async () => {
      await typeInTerminal(page, 'echo rows-$(tput lines)');
      const lines = await waitForLine(page, /^rows-\d+$/);
      return Number(
        lines
          .filter((l) => /^rows-\d+$/.test(l))
          .pop()!
          .slice(5),
      );
    };
    const tall = await rows();
    await typeInTerminal(page, 'clear');
    await page.setViewportSize({ width: PHONE.viewport.width, height: 520 });
    await page.waitForFunction((before) => {
      const t = (globalThis as { pocketshellTerminal?: { rows(): number } }).pocketshellTerminal;
      return (t?.rows() ?? before) < before;
    }, tall);
    await typeInTerminal(page, 'seq 1 80');
    await waitForLine(page, /^80$/);
    const short = await rows();
    assert.ok(short < tall, `rows shrank (${tall} → ${short})`);
    const geometry = await page.evaluate(() => {
      const cursor = document.querySelector('.xterm-helper-textarea')!.getBoundingClientRect();
      const bar = document.querySelector('.keybar')!.getBoundingClientRect();
      return { cursorBottom: cursor.bottom, barTop: bar.top, barBottom: bar.bottom, height: innerHeight };
    });
    assert.ok(geometry.cursorBottom <= geometry.barTop, JSON.stringify(geometry));
    assert.ok(geometry.barBottom <= geometry.height + 1, JSON.stringify(geometry));
    await screenshot(page, '6-keyboard-up');
    await page.setViewportSize(PHONE.viewport);
  });

  test('devices screen, light theme, installable shell, security headers, no CSP violations', async () => {
    const { page } = suite.phone;
    const res = await fetch(suite.relay.url);
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.doesNotMatch(csp, /script-src[^;]*unsafe-inline/);
    const manifest = await fetch(`${suite.relay.url}/manifest.webmanifest`);
    assert.equal(manifest.headers.get('content-type'), 'application/manifest+json');
    assert.equal(((await manifest.json()) as { display: string }).display, 'standalone');
    assert.equal(
      await page.evaluate(() => navigator.serviceWorker.ready.then((r) => r.active?.scriptURL ?? '')),
      `${suite.relay.url}/sw.js`,
    );
    const cdp = await suite.phone.context.newCDPSession(page);
    const { installabilityErrors } = (await cdp.send('Page.getInstallabilityErrors')) as {
      installabilityErrors: { errorId: string }[];
    };
    await cdp.detach();
    assert.deepEqual(
      installabilityErrors.map((e) => e.errorId),
      [],
      'Chromium finds the app installable',
    );
    await page.emulateMedia({ colorScheme: 'light' });
    await page.goto(`${suite.relay.url}/#/devices`);
    const fp = await page.locator('[data-testid="device-fingerprint"]').textContent();
    assert.match(fp ?? '', /^[A-Z2-7]{4}( [A-Z2-7]{1,4}){6}$/);
    const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    assert.equal(bg, 'rgb(246, 247, 249)', 'light theme');
    await screenshot(page, '7-devices-light');
    await assertFits(suite.phone.page);
    await page.goto(`${suite.relay.url}/#/hosts`);
    await page.locator(`[data-host="${suite.host.host.identity.id}"][data-state="online"]`).waitFor();
    await screenshot(page, '8-hosts-light');
    await page.emulateMedia({ colorScheme: 'dark' });
    assert.deepEqual(suite.cspViolations, []);
  });

  test('the protocol vectors check in the browser exactly as in Node', async () => {
    const vectors = vectorsFile as Vectors;
    const bundle = await build({
      entryPoints: [`${ROOT}/test/vectors/build.ts`],
      bundle: true,
      format: 'iife',
      globalName: 'pocketshellVectors',
      platform: 'browser',
      target: 'es2022',
      write: false,
      logLevel: 'silent',
    });
    const code = bundle.outputFiles[0]!.text;
    const changed = structuredClone(vectors);
    changed.sas[0]!.digits = changed.sas[0]!.digits === '000000' ? '000001' : '000000';
    // The bundle runs as a script in the page (as the app's own code does); its completion value is the result.
    const inPage = (v: Vectors) =>
      suite.phone.page.evaluate(`${code};pocketshellVectors.checkVectors(${JSON.stringify(v)})`) as Promise<
        string[]
      >;
    const inBrowser = { good: await inPage(vectors), bad: await inPage(changed) };
    assert.deepEqual(inBrowser.good, checkVectors(vectors));
    assert.deepEqual(inBrowser.good, []);
    assert.deepEqual(inBrowser.bad, checkVectors(changed));
    assert.ok(inBrowser.bad.length > 0);
  });
});
