/**
 * Live monitoring in Debian's Chromium (phone emulation, 412 px) against a
 * real relay process and a real host serving the `stats` channel with its
 * real collector: the hosts list's card for the host updates live (its
 * snapshot time and sparkline move), and its watch exists on the host only
 * while the list is shown and the page visible; the Monitor screen, opened
 * from the card and linked from the host screen, draws live uPlot charts
 * (total and per core) and says "No history yet" for a range on a host
 * without a history store; the process list sorts by pid both ways and by
 * CPU; a real `sleep` is killed after a confirmation that names it (and a
 * cancelled confirmation kills nothing), and the process is gone
 * (`kill(pid, 0)` throws ESRCH). Without `admin` the host answers
 * `grant_missing` and the screen says so, the process lives on; without
 * `stats` the hosts list shows no card and the Monitor says why.
 * Screenshots: monitor-hosts-card (dark and light), monitor-live (dark and
 * light), monitor-per-core, monitor-no-history, monitor-processes,
 * monitor-kill-confirm, monitor-grant-missing, monitor-no-stats.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { getPriority } from 'node:os';
import { before, describe, test } from 'node:test';
import { HistoryStore } from '@pocketshell/host-core';
import type { DeviceId } from '@pocketshell/protocol';
import type { Page } from 'playwright-core';
import { assertFits, browserSkip, browserSuite, pairPhone, screenshot } from './harness.ts';

const skip = browserSkip();

/** Whether a process with this pid exists (ESRCH: it does not). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}

/** A real `sleep` started by the test (its own child, so Node reaps it when it dies). */
function startSleep(): { child: ChildProcess; pid: number; exited: Promise<NodeJS.Signals | null> } {
  const child = spawn('sleep', ['987654'], { stdio: 'ignore' });
  assert.ok(child.pid, 'sleep started');
  const exited = once(child, 'exit').then(([, signal]) => signal as NodeJS.Signals | null);
  return { child, pid: child.pid, exited };
}

/** Polls `check` every 50 ms until it holds or `ms` passed; returns whether it held. */
async function eventually(check: () => boolean, ms = 10_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return check();
}

/** Reads an attribute of every element matching `selector`, in order. */
function attrs(page: Page, selector: string, name: string): Promise<string[]> {
  return page
    .locator(selector)
    .evaluateAll((els, n) => els.map((e) => e.getAttribute(n as string) ?? ''), name);
}

describe('live monitoring in Chromium', { skip, timeout: 240_000 }, () => {
  let phoneId: DeviceId;
  const sleeps: ChildProcess[] = [];
  const suite = browserSuite({
    beforeClose: () => {
      for (const c of sleeps) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    },
  });

  before(async () => {
    phoneId = (await pairPhone(suite, { grants: ['shell', 'stats', 'admin'] })).id as DeviceId;
  });

  const card = () =>
    suite.phone.page.locator(`[data-testid="host-card"][data-stats-host="${suite.host.host.identity.id}"]`);

  test('the hosts list shows a live card: its snapshot and sparklines move', async () => {
    const { page } = suite.phone;
    await page.goto(`${suite.relay.url}/#/hosts`);
    await card().and(page.locator(':not([hidden])')).waitFor();
    const firstAt = Number(await card().getAttribute('data-at'));
    assert.ok(firstAt > 0);
    assert.match((await card().locator('[data-metric="cpu"]').textContent()) ?? '', /CPU\s*[\d.]+%/);
    assert.match((await card().locator('[data-metric="mem"]').textContent()) ?? '', /Mem\s*[\d.]+%/);
    assert.match(
      (await card().locator('[data-metric="net"]').textContent()) ?? '',
      /Net\/s\s*↓[\d.]+[BKMGTP] ↑[\d.]+[BKMGTP]/,
    );
    const firstLine = await card().locator('[data-metric="cpu"] .spark-line').getAttribute('points');
    // Two later updates of the watch (every 2 s): a newer snapshot, a longer line.
    await page.waitForFunction(
      ([sel, at]) => {
        const el = document.querySelector(sel as string) as HTMLElement | null;
        return el !== null && Number(el.dataset.at) > (at as number) && Number(el.dataset.points) >= 3;
      },
      [`[data-testid="host-card"][data-stats-host="${suite.host.host.identity.id}"]`, firstAt] as const,
      { timeout: 20_000 },
    );
    const laterLine = await card().locator('[data-metric="cpu"] .spark-line').getAttribute('points');
    assert.notEqual(laterLine, firstLine, 'the sparkline was redrawn with new points');
    assert.ok((laterLine ?? '').split(' ').length >= 3);
    await screenshot(page, 'monitor-hosts-card');
    await assertFits(page);
    await page.emulateMedia({ colorScheme: 'light' });
    await screenshot(page, 'monitor-hosts-card-light');
    await assertFits(page);
    await page.emulateMedia({ colorScheme: 'dark' });
  });

  test('the card’s watch runs only while the list is shown and the page visible', async () => {
    const { page } = suite.phone;
    const watching = () => suite.host.host.stats.collector.watching;
    await card().and(page.locator(':not([hidden])')).waitFor();
    assert.ok(await eventually(() => watching() === 1), 'one watch while the list is shown');
    await page.locator('a.tab[href="#/devices"]').tap();
    assert.ok(await eventually(() => watching() === 0), 'none once the list is gone');
    await page.locator('a.tab[href="#/hosts"]').tap();
    assert.ok(await eventually(() => watching() === 1), 'again when it is back');
    // The page hidden (as when the phone locks or another app comes up): the
    // page's own visibilitychange path, with document.visibilityState set as the browser would.
    const setVisibility = (state: 'hidden' | 'visible') =>
      page.evaluate((s) => {
        Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => s });
        document.dispatchEvent(new Event('visibilitychange'));
      }, state);
    await setVisibility('hidden');
    assert.ok(await eventually(() => watching() === 0), 'none while the page is hidden');
    await setVisibility('visible');
    assert.ok(await eventually(() => watching() === 1), 'again when it is visible');
    const at = Number(await card().getAttribute('data-at'));
    await page.waitForFunction(
      ([sel, before]) =>
        Number((document.querySelector(sel as string) as HTMLElement).dataset.at) > (before as number),
      [`[data-testid="host-card"][data-stats-host="${suite.host.host.identity.id}"]`, at] as const,
    );
  });

  test('the Monitor screen draws live charts, total and per core', async () => {
    const { page } = suite.phone;
    await card().tap();
    await page.waitForURL(/#\/host\/h_[a-z2-7]+\/monitor$/);
    const cpu = page.locator('[data-testid="chart-cpu"]');
    await page.waitForFunction(
      () =>
        Number((document.querySelector('[data-testid="chart-cpu"]') as HTMLElement | null)?.dataset.points) >=
        3,
      undefined,
      { timeout: 20_000 },
    );
    for (const chart of ['chart-cpu', 'chart-mem', 'chart-net', 'chart-load'])
      assert.equal(await page.locator(`[data-testid="${chart}"] canvas`).count(), 1, `${chart} is drawn`);
    assert.match((await page.locator('[data-testid="now-cpu"]').textContent()) ?? '', /^[\d.]+%$/);
    assert.ok((await page.locator('[data-testid="cores"] [data-core]').count()) >= 1);
    assert.ok(await page.locator('[data-testid="disks"] table').isVisible());
    assert.ok(await page.locator('[data-testid="interfaces"] table').isVisible());
    assert.equal(await page.locator('[data-testid="monitor-status"]').isVisible(), false, 'live: no status');
    // The canvas follows the data: another second, another point.
    const points = Number(await cpu.getAttribute('data-points'));
    await page.waitForFunction(
      (n) => Number((document.querySelector('[data-testid="chart-cpu"]') as HTMLElement).dataset.points) > n,
      points,
    );
    await screenshot(page, 'monitor-live');
    await assertFits(page);

    // Per core: one line per core (no legend), the total again when toggled off.
    assert.match((await cpu.locator('.u-legend').textContent()) ?? '', /CPU/);
    await page.locator('[data-testid="per-core"]').tap();
    assert.equal(await page.locator('[data-testid="per-core"]').getAttribute('aria-pressed'), 'true');
    await cpu.locator('.u-legend').waitFor({ state: 'detached' });
    await screenshot(page, 'monitor-per-core');
    await page.locator('[data-testid="per-core"]').tap();
    await cpu.locator('.u-legend').waitFor();

    await page.emulateMedia({ colorScheme: 'light' });
    const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    assert.equal(bg, 'rgb(246, 247, 249)', 'light theme');
    await screenshot(page, 'monitor-live-light');
    await assertFits(page);
    await page.emulateMedia({ colorScheme: 'dark' });

    // The host screen links to it too.
    await page.goto(`${suite.relay.url}/#/host/${suite.host.host.identity.id}`);
    assert.equal(
      await page.locator('[data-testid="host-monitor"]').getAttribute('href'),
      `#/host/${suite.host.host.identity.id}/monitor`,
    );
  });

  test('a history range on a host without a history store says "No history yet"; Live again resumes', async () => {
    const { page } = suite.phone;
    await page.goto(`${suite.relay.url}/#/host/${suite.host.host.identity.id}/monitor`);
    await page.locator('[data-testid="chart-cpu"] canvas').waitFor();
    await page.locator('[data-range="24h"]').tap();
    assert.equal(await page.locator('[data-range="24h"]').getAttribute('aria-pressed'), 'true');
    const note = page.locator('[data-testid="history-note"][data-state="empty"]');
    await note.waitFor();
    assert.match((await note.textContent()) ?? '', /No history yet/);
    assert.equal(await page.locator('[data-testid="per-core"]').isDisabled(), true);
    await screenshot(page, 'monitor-no-history');
    await assertFits(page);
    await page.locator('[data-range="live"]').tap();
    await note.waitFor({ state: 'hidden' });
    await page.waitForFunction(
      () => Number((document.querySelector('[data-testid="chart-cpu"]') as HTMLElement).dataset.points) >= 2,
    );
  });

  test('sorts the processes by pid both ways and by CPU', async () => {
    const { page } = suite.phone;
    await page.goto(`${suite.relay.url}/#/host/${suite.host.host.identity.id}/monitor`);
    await page.locator('[data-testid="processes"] [data-pid]').first().waitFor();
    // The list is redrawn every second: each check reads one drawing at once.
    const pids = () =>
      attrs(page, '[data-testid="processes"] [data-pid]', 'data-pid').then((a) => a.map(Number));
    const cpus = () =>
      attrs(page, '[data-testid="processes"] [data-pid]', 'data-cpu').then((a) => a.map(Number));
    const sortedBy = (xs: number[], dir: 1 | -1) =>
      xs.every((x, i) => i === 0 || dir * (x - (xs[i - 1] as number)) >= 0);

    const byCpu = await cpus();
    assert.ok(byCpu.length >= 2, 'several processes listed');
    assert.ok(sortedBy(byCpu, -1), `by CPU, highest first: ${byCpu}`);
    await page.locator('[data-sort="pid"]').tap();
    assert.equal(await page.locator('[data-sort="pid"]').getAttribute('data-dir'), 'asc');
    const up = await pids();
    assert.ok(sortedBy(up, 1), `by pid, ascending: ${up}`);
    await page.locator('[data-sort="pid"]').tap();
    assert.equal(await page.locator('[data-sort="pid"]').getAttribute('data-dir'), 'desc');
    const down = await pids();
    assert.ok(sortedBy(down, -1), `by pid, descending: ${down}`);
    assert.ok(down.length >= 2 && (down[0] as number) > (down[down.length - 1] as number));
    await screenshot(page, 'monitor-processes');
    await assertFits(page);
  });

  test('kills a real sleep after a confirmation naming it; a cancelled one kills nothing; renices it first', async () => {
    const { page } = suite.phone;
    const sleep = startSleep();
    sleeps.push(sleep.child);
    await page.goto(`${suite.relay.url}/#/host/${suite.host.host.identity.id}/monitor`);
    await page.locator('[data-testid="process-filter"]').fill(String(sleep.pid));
    const row = page.locator(`[data-testid="processes"] [data-pid="${sleep.pid}"]`);
    await row.waitFor({ timeout: 20_000 });
    assert.equal(await row.getAttribute('data-name'), 'sleep');
    assert.equal(await page.locator('[data-testid="processes"] [data-pid]').count(), 1, 'filtered to it');

    // Cancelled at the confirmation: nothing sent.
    await row.locator('button').tap();
    await page.locator('[data-testid="process-sheet"]').waitFor();
    await page.locator('[data-testid="signal-KILL"]').tap();
    const confirm = page.locator('[data-testid="signal-sheet"]');
    await confirm.waitFor();
    await page.locator('[data-testid="signal-cancel"]').tap();
    await confirm.waitFor({ state: 'detached' });
    assert.ok(alive(sleep.pid), 'still running after Cancel');

    // Priority: the chosen nice value is what the process runs at.
    await row.locator('button').tap();
    await page.locator('[data-testid="process-renice"]').tap();
    await page.locator('[data-testid="renice-sheet"]').waitFor();
    await screenshot(page, 'monitor-renice');
    await page.locator('[data-testid="renice-10"]').tap();
    await page.locator('.toast', { hasText: `now runs at nice 10` }).waitFor();
    assert.equal(getPriority(sleep.pid), 10);

    await row.locator('button').tap();
    await page.locator('[data-testid="process-sheet"]').waitFor();
    await page.locator('[data-testid="signal-KILL"]').tap();
    await confirm.waitFor();
    const text = (await confirm.textContent()) ?? '';
    assert.match(text, /Send KILL to sleep\?/);
    assert.match(text, new RegExp(`pid ${sleep.pid}`));
    await screenshot(page, 'monitor-kill-confirm');
    await assertFits(page);
    assert.ok(alive(sleep.pid), 'still running before the confirmation');
    await page.locator('[data-testid="signal-confirm"]').tap();
    assert.equal(await sleep.exited, 'SIGKILL');
    assert.equal(alive(sleep.pid), false, 'kill(pid, 0) throws ESRCH: the process is gone');
    await page.locator('.toast', { hasText: `Sent KILL to sleep (pid ${sleep.pid})` }).waitFor();
    await row.waitFor({ state: 'detached', timeout: 20_000 });
  });

  test('without admin: grant_missing is shown and the process lives on', async () => {
    const { page } = suite.phone;
    const sleep = startSleep();
    sleeps.push(sleep.child);
    // The computer takes admin away (the phone's connection is dropped, so it is checked anew).
    suite.host.host.agent.setGrants(phoneId, ['shell', 'stats']);
    await page.goto(`${suite.relay.url}/#/host/${suite.host.host.identity.id}/monitor`);
    await page.reload();
    await page.locator('[data-testid="process-filter"]').fill(String(sleep.pid));
    const row = page.locator(`[data-testid="processes"] [data-pid="${sleep.pid}"]`);
    await row.waitFor({ timeout: 20_000 });
    await row.locator('button').tap();
    await page.locator('[data-testid="signal-TERM"]').tap();
    await page.locator('[data-testid="signal-confirm"]').tap();
    const denied = page.locator('[data-testid="process-denied"]');
    await denied.waitFor();
    assert.equal(await denied.getAttribute('data-code'), 'grant_missing');
    assert.match((await denied.textContent()) ?? '', /does not hold the admin grant/);
    await screenshot(page, 'monitor-grant-missing');
    await assertFits(page);
    assert.ok(alive(sleep.pid), 'not signalled');
    sleep.child.kill('SIGKILL');
    await sleep.exited;
  });

  test('24 h of history from a seeded store: the chart draws a day of minutes, then Live again', async () => {
    const { page } = suite.phone;
    // A day of one sample a minute, written into the host's state folder, then the host reopened keeping history.
    const now = Date.now();
    const seed = new HistoryStore(suite.host.stateDir);
    let minutes = 0;
    for (let t = now - 24 * 3600_000; t < now - 120_000; t += 60_000) {
      const v = 40 + 30 * Math.sin(t / 3_600_000);
      seed.record(t, { cpu: v, mem: 55, swap: 3, load1: v / 50, 'net.rx': 1e5, 'net.tx': 5e4 });
      minutes++;
    }
    seed.close();
    suite.host.keepHistory = true;
    await suite.host.restart();
    await page.goto(`${suite.relay.url}/#/host/${suite.host.host.identity.id}/monitor`);
    await page.locator('[data-testid="chart-cpu"] canvas').waitFor();
    await page.locator('[data-range="24h"]').tap();
    // The day arrives (about 1440 points a series) and the "No history yet" note stays hidden.
    await page.waitForFunction(
      (least) =>
        Number((document.querySelector('[data-testid="chart-cpu"]') as HTMLElement).dataset.points) >= least,
      minutes - 5,
    );
    assert.equal(await page.locator('[data-testid="history-note"][data-state="empty"]').count(), 0);
    await screenshot(page, 'monitor-history-24h');
    await assertFits(page);
    await page.locator('[data-range="live"]').tap();
    await page.waitForFunction(
      () =>
        Number((document.querySelector('[data-testid="chart-cpu"]') as HTMLElement).dataset.points) < 1000,
    );
  });

  test('without stats: no card on the hosts list, and the Monitor says why', async () => {
    const { page } = suite.phone;
    suite.host.host.agent.setGrants(phoneId, ['shell']);
    await page.goto(`${suite.relay.url}/#/hosts`);
    await page.locator(`[data-host="${suite.host.host.identity.id}"][data-state="online"]`).waitFor();
    // The phone learns its new grants from host.info on its next connection: the card goes away.
    await card().waitFor({ state: 'detached', timeout: 20_000 });
    assert.equal(await card().count(), 0);
    await page.goto(`${suite.relay.url}/#/host/${suite.host.host.identity.id}/monitor`);
    const denied = page.locator('[data-testid="stats-denied"]');
    await denied.waitFor();
    assert.equal(await denied.getAttribute('data-code'), 'grant_missing');
    assert.match((await denied.textContent()) ?? '', /does not hold the stats grant/);
    await screenshot(page, 'monitor-no-stats');
    await assertFits(page);
  });

  test('no screen of this file broke the Content Security Policy (uPlot styles through the CSSOM only)', () => {
    assert.deepEqual(suite.cspViolations, []);
  });
});
