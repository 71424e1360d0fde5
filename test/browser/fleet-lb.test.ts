/**
 * The web client behind a load balancer, in Debian's Chromium: it talks to
 * the origin it was loaded from, so a phone fails over between relay nodes
 * only through the balancer. Two relay nodes (PostgreSQL and Redis,
 * test/support/fleet.ts) serve the built client behind a private HAProxy
 * (test/support/haproxy.ts); the page is loaded from the balancer's URL,
 * pairs with a real host that also dials the balancer, and opens a
 * terminal. Node 0, where both landed, is killed with SIGKILL: the terminal
 * keeps answering (peer to peer), HAProxy marks the node down, the page and
 * the host reconnect through the same URL to node 1, and a reload (a new
 * signaling exchange, through node 1) resumes the session.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import type { StartedRelay } from '@pocketshell/relay/testing';
import { until } from '../support/cli.ts';
import { held, type StartedFleet, startFleet } from '../support/fleet.ts';
import { type StartedHaproxy, startHaproxy } from '../support/haproxy.ts';
import {
  browserSkip,
  buildWeb,
  launchPhone,
  type Phone,
  TestHost,
  typeInTerminal,
  WEB_DIST,
  waitForLine,
} from './harness.ts';

const skip = browserSkip();

describe('web client behind HAProxy: its relay node dies', { skip, timeout: 180_000 }, () => {
  let fleet: StartedFleet;
  let lb: StartedHaproxy;
  let host: TestHost;
  let phone: Phone;
  const pageLog: string[] = [];

  before(async () => {
    await buildWeb();
    fleet = await startFleet(2, { args: ['--trust-proxy', '--web-root', WEB_DIST] });
    lb = await startHaproxy(
      fleet.nodes.map((n, i) => {
        const u = new URL(n.url);
        return { name: `n${i}`, host: u.hostname, port: Number(u.port) };
      }),
      { balance: 'first' },
    );
    // the host dials the balancer too (TestHost reads only the relay's ws URL)
    host = await TestHost.start({ wsUrl: lb.wsUrl, url: lb.url } as StartedRelay);
    phone = await launchPhone();
    phone.page.on('console', (m) => {
      if (m.type() === 'warning' || m.type() === 'error') pageLog.push(`${m.type()}: ${m.text()}`);
    });
  });

  afterEach((t) => {
    if ((t as { passed?: boolean }).passed === false && pageLog.length)
      t.diagnostic(`page log:\n${pageLog.join('\n')}`);
  });

  after(async () => {
    await phone?.close();
    await host?.close();
    await lb?.stop();
    await fleet?.stop();
  });

  test('the terminal stays up; the page reconnects through the same URL to node 1 and resumes after a reload', async () => {
    const { page } = phone;
    const [a, b] = fleet.nodes as [StartedRelay, StartedRelay];
    await host.host.agent.pair({
      webUrl: lb.url,
      grants: ['shell'],
      onUrl: (url) => {
        assert.ok(url.startsWith(lb.url), 'the page is loaded from the balancer');
        void page.goto(url);
      },
      confirm: async () => true,
    });
    const row = page.locator(`[data-host="${host.host.identity.id}"][data-state="online"]`);
    await row.waitFor();
    assert.deepEqual(await held(a.url), { host: 1, device: 1 }, 'both landed on node 0');
    await row.tap();
    await page.locator('[data-testid="new-session"]').tap();
    await page.locator('[data-testid="conn"][data-state="p2p"]').waitFor();
    await typeInTerminal(page, 'echo before-$((20+1))');
    await waitForLine(page, /^before-21$/);

    await a.kill('SIGKILL');
    await typeInTerminal(page, 'echo during-$((20+2))');
    await waitForLine(page, /^during-22$/);
    await until(async () => (await lb.serverState()).get('n0') === 'DOWN', 20_000);
    await until(async () => {
      const h = await held(b.url);
      return h.host === 1 && h.device === 1;
    }, 30_000);

    // a reload opens a new peer connection: its signaling runs through node 1
    await page.reload();
    await page.locator('[data-testid="conn"][data-state="p2p"]').waitFor();
    await typeInTerminal(page, 'echo after-$((20+3))');
    await waitForLine(page, /^after-23$/);
  });
});
