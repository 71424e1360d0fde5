/**
 * Agent sessions from the phone (docs/web.md "Agents") in Debian's Chromium
 * (phone emulation, 412×915) against a real relay process and a real host
 * serving the `agent` channel with its agent manager and the stand-in
 * `claude` (test/support/agents/bin/claude: stream-json over stdio, the
 * permission prompt tool through the real `pocketshell
 * agent-permission-mcp`) as a real child process; the phone holds `shell`
 * and `agent` at the `ask` tier with one workspace folder.
 *
 * The host screen links to Agents; the Agents screen shows the tier, the
 * sandbox (bubblewrap where it works here) and the form; a second host
 * without a sandbox says "No sandbox on this host: the agent runs with your
 * user's full rights" and why, and its chat carries a *no sandbox* badge. A Claude session started from the
 * form streams its text while the turn still runs; a write in `ask` shows
 * as an approval with the exact path and the diff, nothing is written
 * until Approve, then the file is on the host's disk and the card says who
 * approved; a denial with a reason leaves the file absent and the agent is
 * told the reason; a command's approval shows the command in monospace;
 * a token the agent prints across two chunks arrives redacted; Interrupt
 * ends the running turn before its next step.
 * The sessions list shows the session, a reload of the chat shows each
 * event once, Stop ends it, and the past session is resumed from the list
 * at the same tier. When the host hangs up, the chat says it is
 * reconnecting, resumes from its last event and shows each once. The
 * "needs approval" alert the host raises arrives as a
 * banner that opens that session's chat; the same alert pushed to the
 * service worker, tapped, opens it too. Without the `agent` grant the host
 * screen has no Agents and the screen says why. No CSP violation, nothing wider than
 * the phone, every control at least 44 px.
 *
 * Screenshots (.artifacts/screenshots/agent-*.png): the Agents screen, the
 * chat with its approval (dark and light), the chat after the answers
 * (dark and light), a tool call unfolded, the deny sheet, the sessions list
 * with the past session.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { type AlertPushBody, type DeviceId, fromB64u, sealJson } from '@pocketshell/protocol';
import type { Page } from 'playwright-core';
import { assertFits, browserSkip, browserSuite, pairPhone, screenshot, TestHost } from './harness.ts';

const skip = browserSkip();

describe('agent sessions in Chromium', { skip, timeout: 300_000 }, () => {
  let phoneId: DeviceId;
  let phonePub: Uint8Array;
  let work: string;
  let hostId: string;
  /** The chat route of the session the tests share. */
  let chatUrl: string;
  let sessionId: string;
  const suite = browserSuite({
    host: { agents: true, alerts: true },
    onFailure: async (t) => {
      const text = await suite.phone.page
        .locator('body')
        .innerText()
        .catch(() => '?');
      t.diagnostic(`screen: ${text.slice(0, 1200)}`);
      await screenshot(
        suite.phone.page,
        `agent-failed-${t.name.slice(0, 24).replace(/[^a-z0-9]+/gi, '-')}`,
      ).catch(() => {});
    },
    // A test that failed mid-approval leaves an agent waiting for an answer, which the host's
    // close only ends after its grace period (earlier runtime slices hung there): deny it first.
    beforeClose: () => {
      const agents = suite.host?.host.agents;
      for (const s of agents?.sessions(phoneId) ?? []) {
        if (s.pending === 0 || !agents) continue;
        const asked = new Map<string, string>();
        agents.watch(
          phoneId,
          s.id,
          0,
          (e) => e.type === 'approval' && asked.set(e.id, e.state),
          () => {},
        )();
        for (const [id, state] of asked)
          if (state === 'pending') agents.answer(phoneId, s.id, id, 'deny', 'test over');
      }
    },
  });

  before(async () => {
    hostId = suite.host.host.identity.id;
    work = join(suite.host.home, 'work');
    mkdirSync(work);
    await suite.phone.context.grantPermissions(['notifications'], { origin: suite.relay.url });
    await pairPhone(suite, {
      grants: ['shell', 'agent'],
      beforeOnline: (pinned) => {
        phoneId = pinned.id as DeviceId;
        phonePub = fromB64u(pinned.pub);
        suite.host.host.trust.setAgentPolicy(phoneId, { tier: 'ask', roots: [work] });
      },
    });
  });

  /** Screenshots in both themes (the page back in dark after). */
  const bothThemes = async (page: Page, name: string) => {
    await screenshot(page, name);
    await assertFits(page);
    await page.emulateMedia({ colorScheme: 'light' });
    await screenshot(page, `${name}-light`);
    await assertFits(page);
    await page.emulateMedia({ colorScheme: 'dark' });
  };

  const approval = (page: Page, state: string) =>
    page.locator(`[data-testid="approval"][data-state="${state}"]`);

  test('the host screen links to Agents: the tier, the sandbox said plainly, the form', async () => {
    const { page } = suite.phone;
    await page.goto(`${suite.relay.url}/#/host/${hostId}`);
    await page.locator('[data-testid="host-agents"]').tap();
    await page.waitForURL((u) => u.hash === `#/host/${hostId}/agents`);
    await page.locator('[data-testid="agent-tier"][data-tier="ask"]').first().waitFor();
    const sandbox = page.locator('[data-testid="agents-sandbox"]');
    const kind = await sandbox.getAttribute('data-sandbox');
    if (kind === 'none')
      assert.match(
        await sandbox.innerText(),
        /No sandbox on this host: the agent runs with your user’s full rights\.\s+\S/,
      );
    else assert.match(await sandbox.innerText(), /bubblewrap/);
    // The folder offered is the device's one root; Claude is there (the stand-in on the host's PATH).
    assert.deepEqual(await page.locator('[data-testid="agent-folder"] option').allTextContents(), [
      work,
      'Another folder…',
    ]);
    assert.equal(await page.locator('[data-testid="agent-kind-claude"]').isDisabled(), false);
    assert.equal(
      await page.locator('[data-testid="agent-kind-claude"]').getAttribute('aria-pressed'),
      'true',
    );
    // Codex: disabled with the reason exactly when this host has none.
    const codexOff = await page.locator('[data-testid="agent-kind-codex"]').isDisabled();
    assert.equal(await page.locator('[data-testid="agent-kind-reason"]').isVisible(), codexOff);
    if (codexOff)
      assert.match(
        (await page.locator('[data-testid="agent-kind-reason"]').textContent()) ?? '',
        /Codex is not available on this host/,
      );
    // A tier above the device's is not offered.
    assert.deepEqual(
      await page
        .locator('[data-testid="agent-tier-select"] option')
        .evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value)),
      ['read-only', 'ask'],
    );
    // A typed folder outside the roots is refused in words before anything is sent.
    await page.locator('[data-testid="agent-folder"]').selectOption('');
    await page.locator('[data-testid="agent-folder-typed"]').fill(`${work}/../..`);
    await page.locator('[data-testid="agent-prompt"]').fill('say nothing');
    await page.locator('[data-testid="agent-start"]').tap();
    assert.match(
      (await page.locator('[data-testid="agent-form-problem"]').textContent()) ?? '',
      /Not inside a workspace folder/,
    );
    assert.equal(suite.host.host.agents?.sessions(phoneId).length, 0, 'nothing started');
    await page.locator('[data-testid="agent-folder"]').selectOption(work);
    await page.locator('[data-testid="agent-prompt"]').fill('');
    await page.locator('main.content').evaluate((m) => {
      m.scrollTop = 0;
    });
    await screenshot(page, 'agent-agents-screen');
    await assertFits(page);
  });

  test('a Claude session streams its text; a write waits for Approve, shown with its exact path and diff', async () => {
    const { page } = suite.phone;
    const file = join(work, 'from-phone.ts');
    const long = `first words ${'streamed while the turn runs '.repeat(4)}`.trim();
    await page
      .locator('[data-testid="agent-prompt"]')
      .fill(
        [`say ${long}`, 'sleep 2500', 'say second words', `write ${file} export const answer = 42;`].join(
          '\n',
        ),
      );
    await page.locator('[data-testid="agent-start"]').tap();
    await page.waitForURL((u) => /^#\/a\/h_[a-z2-7]+\/ag_[A-Za-z0-9]+$/.test(u.hash));
    chatUrl = page.url();
    sessionId = decodeURIComponent(chatUrl.split('/').at(-1) ?? '');
    // The first message shows while the turn still runs (the second not yet said).
    const first = page.locator('[data-testid="msg-agent"]').first();
    await page.waitForFunction(() =>
      /^first words/.test(document.querySelector('[data-testid="msg-agent"] .msg-text')?.textContent ?? ''),
    );
    assert.equal(await page.locator('[data-testid="agent-state"]').getAttribute('data-state'), 'working');
    assert.equal(await page.locator('[data-testid="msg-agent"]', { hasText: 'second words' }).count(), 0);
    assert.equal(await page.locator('[data-testid="agent-result"]').count(), 0);
    await page.locator('[data-testid="msg-agent"]', { hasText: 'second words' }).waitFor();
    assert.equal((await first.locator('.msg-text').textContent())?.trim(), long);
    // The prompt is the first thing in the log, with this device's name.
    assert.match(
      (await page.locator('[data-testid="msg-user"]').first().textContent()) ?? '',
      /^say first words/,
    );
    // The write: an approval with the exact path and the new content as a diff; nothing written yet.
    const pending = approval(page, 'pending');
    await pending.waitFor();
    assert.equal(await pending.getAttribute('data-action'), 'write');
    assert.equal(await pending.locator('[data-testid="approval-path"]').textContent(), file);
    assert.match(
      (await pending.locator('[data-testid="diff"]').textContent()) ?? '',
      /export const answer = 42;/,
    );
    // Coloured: `export` and `const` are keywords of a .ts file, on an added line.
    assert.deepEqual(await pending.locator('.dl-add .hl-kw').allTextContents(), ['export', 'const']);
    await page.locator('[data-testid="agent-state"][data-state="waiting"]').waitFor();
    assert.equal(await page.locator('[data-testid="agent-tier"]').getAttribute('data-tier'), 'ask');
    // The header's "no sandbox" badge exactly when the session runs without one.
    const sandboxed = suite.host.host.agents?.sessions(phoneId).find((s) => s.id === sessionId)?.sandbox;
    assert.equal(await page.locator('[data-testid="agent-no-sandbox"]').isVisible(), sandboxed === 'none');
    assert.equal(existsSync(file), false, 'nothing written before the answer');
    await page.waitForTimeout(300);
    assert.equal(existsSync(file), false, 'still nothing while the phone has not answered');
    await bothThemes(page, 'agent-chat-approval');
    await pending.locator('[data-testid="approve"]').tap();
    const done = page.locator('[data-testid="approval"][data-state="approved"]');
    await done.waitFor();
    assert.match(
      (await done.locator('[data-testid="approval-outcome"]').textContent()) ?? '',
      /^Approved by \S/,
    );
    await page.locator('[data-testid="agent-result"]').waitFor();
    assert.equal(readFileSync(file, 'utf8'), 'export const answer = 42;');
    await page.locator('[data-testid="agent-state"][data-state="idle"]').waitFor();
    // The Write tool call, folded; a tap unfolds its input.
    const tool = page.locator('[data-testid="tool"]', { hasText: 'Write' }).first();
    assert.equal(await tool.getAttribute('data-state'), 'done');
    assert.equal(await tool.locator('.tool-input').isVisible(), false);
    await tool.locator('summary').tap();
    assert.match((await tool.locator('.tool-input').textContent()) ?? '', /"file_path": ".*from-phone\.ts"/);
  });

  test('deny with a reason: the file stays absent and the agent is told', async () => {
    const { page } = suite.phone;
    const denied = join(work, 'denied.txt');
    await page.locator('[data-testid="agent-input"]').fill(`write ${denied} nope`);
    await page.locator('[data-testid="agent-send"]').tap();
    const pending = approval(page, 'pending');
    await pending.waitFor();
    assert.equal(await pending.locator('[data-testid="approval-path"]').textContent(), denied);
    await pending.locator('[data-testid="deny"]').tap();
    await page.locator('[data-testid="deny-reason"]').fill('not that file');
    await screenshot(page, 'agent-deny-sheet');
    await page.locator('[data-testid="deny-go"]').tap();
    const answered = page.locator('[data-testid="approval"][data-state="denied"]');
    await answered.waitFor();
    assert.match(
      (await answered.locator('[data-testid="approval-outcome"]').textContent()) ?? '',
      /^Denied by \S/,
    );
    // What the agent was told, as the host worded it, with the reason typed here.
    assert.match(
      (await answered.locator('[data-testid="approval-told"]').textContent()) ?? '',
      /not that file/,
    );
    await page.locator('[data-testid="agent-result"]').nth(1).waitFor();
    assert.equal(existsSync(denied), false);
    const tool = page.locator('[data-testid="tool"][data-state="denied"]');
    await tool.locator('summary').tap();
    assert.match((await tool.locator('[data-testid="tool-output"]').textContent()) ?? '', /not that file/);
    await screenshot(page, 'agent-tool-unfolded');
  });

  test('a command’s approval shows the command in monospace; approved, it runs', async () => {
    const { page } = suite.phone;
    const ran = join(work, 'ran.txt');
    const command = `echo agent-ran > ${ran}`;
    await page.locator('[data-testid="agent-input"]').fill(`run ${command}`);
    await page.locator('[data-testid="agent-send"]').tap();
    const pending = approval(page, 'pending');
    await pending.waitFor();
    assert.equal(await pending.getAttribute('data-action'), 'command');
    const cmd = pending.locator('[data-testid="approval-command"]');
    assert.equal(await cmd.textContent(), command);
    assert.match(await cmd.evaluate((el) => getComputedStyle(el).fontFamily), /mono/i);
    assert.equal(existsSync(ran), false);
    await pending.locator('[data-testid="approve"]').tap();
    await page.locator('[data-testid="agent-result"]').nth(2).waitFor();
    assert.equal(readFileSync(ran, 'utf8'), 'agent-ran\n');
    await bothThemes(page, 'agent-chat');
  });

  test('a reload shows each event once; the sessions list has the session; Stop ends it', async () => {
    const { page } = suite.phone;
    const count = async () => ({
      user: await page.locator('[data-testid="msg-user"]').count(),
      agent: await page.locator('[data-testid="msg-agent"]').count(),
      approvals: await page.locator('[data-testid="approval"]').count(),
      results: await page.locator('[data-testid="agent-result"]').count(),
    });
    const before = await count();
    assert.deepEqual(before, { user: 3, agent: 2, approvals: 3, results: 3 });
    await page.reload();
    await page.locator('[data-testid="agent-result"]').nth(2).waitFor();
    await page.waitForTimeout(300);
    assert.deepEqual(await count(), before);
    // The Agents screen lists it, idle, with its title.
    await page.goto(`${suite.relay.url}/#/host/${hostId}/agents`);
    const row = page.locator(`[data-testid="agent-sessions"] [data-session="${sessionId}"]`);
    await row.waitFor();
    assert.equal(await row.getAttribute('data-state'), 'idle');
    assert.match((await row.textContent()) ?? '', /say first words/);
    await row.tap();
    await page.waitForURL((u) => u.hash.endsWith(`/${sessionId}`));
    await page.locator('[data-testid="agent-stop"]').tap();
    await page.locator('[data-testid="stop-go"]').tap();
    await page.locator('[data-testid="agent-state"][data-state="ended"]').waitFor();
    assert.equal(await page.locator('[data-testid="agent-input"]').isVisible(), false);
    await page.locator('[data-testid="agent-resume"]').waitFor();
  });

  test('the past session is listed and resumed at the same tier', async () => {
    const { page } = suite.phone;
    const native = suite.host.host.agents?.sessions(phoneId).find((s) => s.id === sessionId)?.native;
    assert.ok(native, 'the session has its agent id');
    await page.goto(`${suite.relay.url}/#/host/${hostId}/agents`);
    const past = page.locator(`[data-testid="agent-history"] [data-native="${native}"]`);
    await past.waitFor();
    assert.match((await past.textContent()) ?? '', /say first words/);
    assert.match((await past.textContent()) ?? '', new RegExp(work.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    await past.scrollIntoViewIfNeeded();
    await screenshot(page, 'agent-sessions');
    await assertFits(page);
    await past.tap();
    await page.locator('[data-testid="resume-prompt"]').fill('say resumed here');
    await page.locator('[data-testid="resume-go"]').tap();
    await page.waitForURL((u) => /\/ag_[A-Za-z0-9]+$/.test(u.hash) && !u.hash.endsWith(sessionId));
    await page.locator('[data-testid="msg-agent"]', { hasText: 'resumed here' }).waitFor();
    assert.equal(await page.locator('[data-testid="agent-tier"]').getAttribute('data-tier'), 'ask');
    const resumed = suite.host.host.agents
      ?.sessions(phoneId)
      .find((s) => s.id === decodeURIComponent(page.url().split('/').at(-1) ?? ''));
    assert.equal(resumed?.native, native, 'the same agent session');
    await page.locator('[data-testid="agent-stop"]').tap();
    await page.locator('[data-testid="stop-go"]').tap();
    await page.locator('[data-testid="agent-state"][data-state="ended"]').waitFor();
  });

  test('a secret the agent prints, split across two chunks, reaches the page redacted', async () => {
    const { page } = suite.phone;
    // The stand-in's `secret`: a GitHub-style token (ghp_ and 36 characters) cut across two deltas.
    const token = `ghp_${'A1b2C3d4E5f6G7h8I9j0'.repeat(2).slice(0, 36)}`;
    await page.goto(`${suite.relay.url}/#/host/${hostId}/agents`);
    await page.locator('[data-testid="agent-prompt"]').fill('secret');
    await page.locator('[data-testid="agent-start"]').tap();
    const message = page.locator('[data-testid="msg-agent"]', { hasText: 'here it is' });
    await message.waitFor();
    await page.locator('[data-testid="agent-result"]').waitFor();
    const text = (await message.textContent()) ?? '';
    assert.match(text, /^here it is: \[REDACTED:[a-z_]+\] done$/);
    const html = await page.content();
    assert.equal(html.includes(token), false, 'the token is nowhere on the page');
    assert.equal(html.includes(token.slice(10)), false, 'nor its second half');
    await page.locator('[data-testid="agent-stop"]').tap();
    await page.locator('[data-testid="stop-go"]').tap();
    await page.locator('[data-testid="agent-state"][data-state="ended"]').waitFor();
  });

  test('Interrupt stops the running turn: what the agent had not done yet never happens', async () => {
    const { page } = suite.phone;
    const file = join(work, 'never.txt');
    await page.goto(`${suite.relay.url}/#/host/${hostId}/agents`);
    await page
      .locator('[data-testid="agent-prompt"]')
      .fill(
        ['say going to sleep for a while before writing', 'sleep 8000', `write ${file} never`].join('\n'),
      );
    await page.locator('[data-testid="agent-start"]').tap();
    // (The secret filter may hold a message's last word back until the agent's next step.)
    await page.locator('[data-testid="msg-agent"]', { hasText: 'going to sleep' }).waitFor();
    const interrupt = page.locator('[data-testid="agent-interrupt"]');
    // Still in the sleep: working, nothing asked yet.
    assert.equal(await page.locator('[data-testid="agent-state"]').getAttribute('data-state'), 'working');
    assert.equal(await interrupt.isEnabled(), true);
    await interrupt.tap();
    const result = page.locator('[data-testid="agent-result"]');
    await result.waitFor();
    assert.match((await result.textContent()) ?? '', /^Turn failed/);
    await page.locator('[data-testid="agent-state"][data-state="idle"]').waitFor();
    assert.equal(await interrupt.isDisabled(), true, 'nothing to interrupt when idle');
    assert.equal(await page.locator('[data-testid="approval"]').count(), 0);
    assert.equal(existsSync(file), false);
    await page.locator('[data-testid="agent-stop"]').tap();
    await page.locator('[data-testid="stop-go"]').tap();
    await page.locator('[data-testid="agent-state"][data-state="ended"]').waitFor();
  });

  test('a dropped connection: the chat reconnects and resumes from the last event, each shown once', async () => {
    const { page } = suite.phone;
    await page.goto(`${suite.relay.url}/#/host/${hostId}/agents`);
    await page
      .locator('[data-testid="agent-prompt"]')
      .fill(['say before the drop and a few more words', 'sleep 6000', 'say after the drop'].join('\n'));
    await page.locator('[data-testid="agent-start"]').tap();
    await page.waitForURL((u) => /\/ag_[A-Za-z0-9]+$/.test(u.hash));
    const session = decodeURIComponent(new URL(page.url()).hash.split('/').at(-1) ?? '');
    // (The secret filter may hold a message's last word back until the agent's next step.)
    await page.locator('[data-testid="msg-agent"]', { hasText: 'before the drop' }).waitFor();
    // The host takes `shell` away: it hangs up every connection of the phone (the session lives on).
    const connected = suite.host.host.agent.connections().filter((c) => c.device === phoneId).length;
    assert.ok(connected > 0);
    assert.equal(
      await page.locator('[data-testid="msg-agent"]', { hasText: 'after the drop' }).count(),
      0,
      'the drop comes mid-turn',
    );
    suite.host.host.agent.setGrants(phoneId, ['agent']);
    await page.locator('[data-testid="agent-conn"]:not([hidden])').waitFor();
    await page.locator('[data-testid="msg-agent"]', { hasText: 'after the drop' }).waitFor();
    await page.locator('[data-testid="agent-conn"]').waitFor({ state: 'hidden' });
    assert.equal(await page.locator('[data-testid="msg-agent"]', { hasText: 'before the drop' }).count(), 1);
    assert.equal(await page.locator('[data-testid="msg-user"]').count(), 1);
    await page.locator('[data-testid="agent-result"]').waitFor();
    assert.equal(await page.locator('[data-testid="agent-result"]').count(), 1);
    // Every event of the session shown once: the host's last number is the page's last.
    const hostSeq = () => suite.host.host.agents?.sessions(phoneId).find((s) => s.id === session)?.seq ?? -1;
    const pageSeq = () =>
      page.locator('[data-testid="agent-chat"]').evaluate((el) => Number((el as HTMLElement).dataset.seq));
    const deadline = Date.now() + 10_000;
    while ((await pageSeq()) !== hostSeq() && Date.now() < deadline) await page.waitForTimeout(50);
    assert.equal(await pageSeq(), hostSeq(), 'the page has the host’s last event');
    suite.host.host.agent.setGrants(phoneId, ['shell', 'agent']);
    await page.locator('[data-testid="agent-stop"]').tap();
    await page.locator('[data-testid="stop-go"]').tap();
    await page.locator('[data-testid="agent-state"][data-state="ended"]').waitFor();
  });

  test('the “needs approval” alert opens that session’s chat, in-app and from a push', async () => {
    const { page } = suite.phone;
    const file = join(work, 'alerted.txt');
    await page.goto(`${suite.relay.url}/#/host/${hostId}/agents`);
    await page.locator('[data-testid="agent-prompt"]').fill(`sleep 1500\nwrite ${file} alerted`);
    await page.locator('[data-testid="agent-start"]').tap();
    await page.waitForURL((u) => /\/ag_[A-Za-z0-9]+$/.test(u.hash));
    const route = new URL(page.url()).hash;
    const session = decodeURIComponent(route.split('/').at(-1) ?? '');
    // Away from the chat before the agent asks: the host's alert comes as a banner.
    await page.goto(`${suite.relay.url}/#/hosts`);
    const banner = page.locator('[data-testid="alert-toast"]', { hasText: 'needs approval' });
    await banner.waitFor();
    await banner.click();
    await page.waitForURL((u) => u.hash === route);
    await approval(page, 'pending').waitFor();
    assert.equal(
      await approval(page, 'pending').locator('[data-testid="approval-path"]').textContent(),
      file,
    );

    // The same alert as a Web Push, tapped: the worker sends the page to the chat.
    await page.goto(`${suite.relay.url}/#/hosts`);
    await page.evaluate(() => navigator.serviceWorker.ready.then(() => undefined));
    const worker =
      suite.phone.context.serviceWorkers()[0] ?? (await suite.phone.context.waitForEvent('serviceworker'));
    const body: AlertPushBody = {
      id: `alert_${Math.random().toString(36).slice(2, 10)}`,
      at: Date.now(),
      kind: 'agent',
      state: 'notice',
      severity: 'warning',
      title: 'Claude needs approval',
      body: `write ${file}`,
      open: 'agent',
      session,
    };
    const env = sealJson({
      kind: 'alert',
      body,
      senderId: hostId as never,
      senderSecret: suite.host.host.identity.secretKey,
      recipientId: phoneId,
      recipientPublic: phonePub,
    });
    const url = await worker.evaluate(
      async ({ data, tag }) => {
        const scope = self as unknown as {
          registration: ServiceWorkerRegistration;
          dispatchEvent(e: Event): boolean;
          PushEvent: new (t: string, i: { data: string }) => Event;
          NotificationEvent: new (t: string, i: { notification: Notification }) => Event;
        };
        const run = async (event: Event) => {
          let pending: Promise<unknown> = Promise.resolve();
          // A synthetic event's own waitUntil throws; this one hands back the handler's promise.
          Object.defineProperty(event, 'waitUntil', { value: (p: Promise<unknown>) => (pending = p) });
          scope.dispatchEvent(event);
          await pending;
        };
        await run(new scope.PushEvent('push', { data }));
        const [notification] = await scope.registration.getNotifications({ tag });
        if (!notification) throw new Error('no notification shown');
        const shown = String((notification.data as { url?: unknown }).url);
        await run(new scope.NotificationEvent('notificationclick', { notification }));
        return shown;
      },
      { data: JSON.stringify({ from: hostId, env }), tag: body.id },
    );
    assert.equal(url, `${suite.relay.url}/${route}`);
    await page.waitForURL((u) => u.hash === route);
    await approval(page, 'pending').waitFor();
    await approval(page, 'pending').locator('[data-testid="approve"]').tap();
    await page.locator('[data-testid="agent-result"]').waitFor();
    assert.equal(readFileSync(file, 'utf8'), 'alerted');
    await page.locator('[data-testid="agent-stop"]').tap();
    await page.locator('[data-testid="stop-go"]').tap();
    await page.locator('[data-testid="agent-state"][data-state="ended"]').waitFor();
    assert.deepEqual(suite.cspViolations, []);
  });

  test('without the agent grant the host screen offers no Agents, and the screen says why', async () => {
    const { page } = suite.phone;
    suite.host.host.agent.setGrants(phoneId, ['shell']);
    await page.goto(`${suite.relay.url}/#/host/${hostId}`);
    // The grants as the host says them on the next connection (host.info): the link goes.
    await page.locator('[data-testid="host-agents"]').waitFor({ state: 'hidden' });
    await page.goto(`${suite.relay.url}/#/host/${hostId}/agents`);
    await page.locator('[data-testid="agents-unsupported"]').waitFor();
    suite.host.host.agent.setGrants(phoneId, ['shell', 'agent']);
    await page.goto(`${suite.relay.url}/#/host/${hostId}`);
    await page.locator('[data-testid="host-agents"]').waitFor();
    assert.deepEqual(suite.cspViolations, []);
  });

  test('a host without a sandbox says so plainly, on the Agents screen and in the chat', async () => {
    const { page } = suite.phone;
    const bare = await TestHost.start(suite.relay, { agents: true, noSandbox: true });
    try {
      // Another name than the first host's (the same name under another key is a key change).
      const identityFile = join(bare.stateDir, 'identity.json');
      const identity = JSON.parse(readFileSync(identityFile, 'utf8')) as { name: string };
      writeFileSync(identityFile, JSON.stringify({ ...identity, name: 'bare-host' }));
      await bare.restart();
      assert.equal(bare.host.identity.name, 'bare-host');
      const bareWork = join(bare.home, 'work');
      mkdirSync(bareWork);
      const pinned = await bare.host.agent.pair({
        webUrl: suite.relay.url,
        grants: ['agent'],
        onUrl: (url) => void page.goto(url),
        confirm: async (prompt) => {
          const sas = page.locator('[data-testid="sas"][data-digits]');
          await sas.waitFor();
          return (await sas.getAttribute('data-digits')) === prompt.sas;
        },
      });
      bare.host.trust.setAgentPolicy(pinned.id, { tier: 'read-only', roots: [bareWork] });
      const bareId = bare.host.identity.id;
      await page.locator(`[data-host="${bareId}"][data-state="online"]`).waitFor();
      await page.goto(`${suite.relay.url}/#/host/${bareId}/agents`);
      const card = page.locator('[data-testid="agents-sandbox"][data-sandbox="none"]');
      await card.waitFor();
      assert.match(
        await card.innerText(),
        /^No sandbox on this host: the agent runs with your user’s full rights\.\s+\S/,
      );
      assert.equal(await page.locator('[data-testid="agent-tier"]').getAttribute('data-tier'), 'read-only');
      assert.deepEqual(
        await page
          .locator('[data-testid="agent-tier-select"] option')
          .evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value)),
        ['read-only'],
      );
      await screenshot(page, 'agent-no-sandbox');
      await assertFits(page);
      await page.locator('[data-testid="agent-prompt"]').fill('say hello without a sandbox around me');
      await page.locator('[data-testid="agent-start"]').tap();
      await page.locator('[data-testid="agent-no-sandbox"]').waitFor();
      assert.equal(await page.locator('[data-testid="agent-tier"]').getAttribute('data-tier'), 'read-only');
      await page.locator('[data-testid="agent-result"]').waitFor();
      await page.locator('[data-testid="agent-stop"]').tap();
      await page.locator('[data-testid="stop-go"]').tap();
      await page.locator('[data-testid="agent-state"][data-state="ended"]').waitFor();
    } finally {
      await bare.close();
    }
  });
});
