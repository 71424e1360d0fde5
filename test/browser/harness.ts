/**
 * What the browser tests and the browser benchmark share: building the web
 * client (`vite build` into packages/web/dist, once, under a lock), a real relay process serving
 * it, a real in-process host (real PTYs, werift bound to 127.0.0.1), and
 * Debian's Chromium driven by playwright-core with a phone-sized, touch
 * emulation and a fresh profile. Everything listens on 127.0.0.1 only.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, afterEach, before, type SuiteContext, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { isLoopbackIPv4, type OpenedHost, openHost, statePaths, WeriftEngine } from '@pocketshell/host-core';
import { ensureWebClient } from '@pocketshell/relay';
import { type StartedRelay, startRelay } from '@pocketshell/relay/testing';
import { CHROMIUM, CHROMIUM_TEST_ARGS } from '@pocketshell/webrtc/testing';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { POCKETSHELL } from '../support/cli.ts';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const WEB_DIR = join(ROOT, 'packages', 'web');
export const WEB_DIST = join(WEB_DIR, 'dist');
export const SCREENSHOTS = join(ROOT, '.artifacts', 'screenshots');
/** The stand-in `claude` and `codex` (test/support/agents/README.md), first on an agent host's PATH. */
export const AGENT_STAND_INS = join(ROOT, 'test', 'support', 'agents', 'bin');
export { CHROMIUM };

/** The browser suites' `skip`: without Chromium they are skipped, except under CI, which must run them. */
export function browserSkip(): string | false {
  return !browserAvailable() && !process.env.CI ? `no Chromium at ${CHROMIUM}` : false;
}

/** Whether this machine can run the browser tests (CI must). */
export function browserAvailable(): boolean {
  return existsSync(CHROMIUM);
}

/**
 * Builds packages/web into packages/web/dist when missing or older than its
 * sources, under the build lock (test files run side by side must not swap
 * builds under a relay that serves them); or, with `outDir`, a fresh build
 * into a test file's own folder.
 */
export async function buildWeb(outDir?: string): Promise<void> {
  if (outDir === undefined) {
    await ensureWebClient(WEB_DIST);
    return;
  }
  const vite = join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js');
  await promisify(execFile)(
    process.execPath,
    [vite, 'build', '--logLevel', 'error', '--outDir', outDir, '--emptyOutDir'],
    { cwd: WEB_DIR, maxBuffer: 16 * 1024 * 1024 },
  );
}

/** A relay process serving the built client (`args`: more of its flags, e.g. `--no-push`). */
export function startWebRelay(args: readonly string[] = []): Promise<StartedRelay> {
  return startRelay({ args: ['--web-root', WEB_DIST, ...args] });
}

/** What `TestHost.start` may set before the first `open`. */
export interface TestHostOptions {
  filesRoot?: string;
  alerts?: boolean;
  shell?: string;
  agents?: boolean;
  noSandbox?: boolean;
}

/** An in-process host on its own state folder; `restart` closes it and opens the same identity again. */
export class TestHost {
  readonly home: string;
  readonly relay: StartedRelay;
  host!: OpenedHost;
  /** Open the host with its monitoring history (`stats.db` in its state folder); takes effect at the next `open`. */
  keepHistory = false;
  /** The `files` channel's root (and the home its deny list is under); default the process's home. Takes effect at the next `open`. */
  filesRoot: string | undefined;
  /** Run an alert center (the `alerts` channel); off: the host answers as an agent without alerts. Takes effect at the next `open`. */
  alerts = false;
  /** The sessions' shell (default /bin/bash). Takes effect at the next `open`. */
  shell = '/bin/bash';
  /** Serve the `agent` channel with the stand-in agents first on PATH. Takes effect at the next `open`. */
  agents = false;
  /** With `agents`: run them without a sandbox even where bubblewrap works. Takes effect at the next `open`. */
  noSandbox = false;

  private constructor(relay: StartedRelay) {
    this.relay = relay;
    this.home = mkdtempSync(join(tmpdir(), 'pocketshell-browser-host-'));
  }

  static async start(relay: StartedRelay, options: TestHostOptions = {}): Promise<TestHost> {
    const t = new TestHost(relay);
    t.agents = options.agents ?? false;
    t.noSandbox = options.noSandbox ?? false;
    if (options.shell !== undefined) t.shell = options.shell;
    t.filesRoot = options.filesRoot;
    t.alerts = options.alerts ?? false;
    await t.open();
    return t;
  }

  async open(): Promise<void> {
    this.host = await openHost({
      paths: statePaths({ root: join(this.home, '.pocketshell') }),
      relayUrl: this.relay.wsUrl,
      env: {
        ...process.env,
        POCKETSHELL_KEYSTORE: 'file',
        SHELL: this.shell,
        HOME: this.home,
        PS1: 'ps1> ',
        // A predictable prompt: no user rc files.
        BASH_ENV: '',
        ENV: '',
        ...(this.agents ? { PATH: `${AGENT_STAND_INS}:${process.env.PATH ?? '/usr/bin:/bin'}` } : {}),
      },
      // Sessions get a login's environment; the prompt variables are passed on purpose.
      passEnv: ['PS1', 'BASH_ENV', 'ENV'],
      engine: new WeriftEngine({ bindAddress: '127.0.0.1' }),
      localAddressFilter: isLoopbackIPv4,
      iceServers: [],
      minBackoffMs: 50,
      maxBackoffMs: 500,
      keepHistory: this.keepHistory,
      ...(this.filesRoot !== undefined ? { files: { root: this.filesRoot, home: this.filesRoot } } : {}),
      ...(this.alerts ? { alerts: {} } : {}),
      ...(this.agents
        ? {
            agents: {
              mcpCommand: [process.execPath, POCKETSHELL, 'agent-permission-mcp'],
              ...(this.noSandbox ? { sandbox: false as const } : {}),
            },
          }
        : {}),
    });
    this.host.agent.start();
  }

  /** The host's state folder. */
  get stateDir(): string {
    return join(this.home, '.pocketshell');
  }

  async restart(beforeOpen?: () => Promise<void>): Promise<void> {
    await this.host.close();
    await beforeOpen?.();
    await this.open();
  }

  async close(): Promise<void> {
    await this.host?.close();
    rmSync(this.home, { recursive: true, force: true });
  }
}

/** A phone: 412×915 CSS px (a 6.3-inch Android phone), touch, device scale 2. */
export const PHONE = {
  viewport: { width: 412, height: 915 },
  deviceScaleFactor: 2,
  isMobile: true,
  hasTouch: true,
  userAgent:
    'Mozilla/5.0 (Linux; Android 15; Pixel 9) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Mobile Safari/537.36',
} as const;

export interface Phone {
  context: BrowserContext;
  page: Page;
  close(): Promise<void>;
}

/** What a phone may be launched with. */
export interface PhoneOptions {
  colorScheme?: 'dark' | 'light';
}

/** Chromium with a fresh profile and phone emulation. */
export async function launchPhone(options: PhoneOptions = {}): Promise<Phone> {
  const profile = mkdtempSync(join(tmpdir(), 'pocketshell-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_TEST_ARGS],
    ...PHONE,
    colorScheme: options.colorScheme ?? 'dark',
    reducedMotion: 'reduce',
  });
  context.setDefaultTimeout(30_000);
  const page = context.pages()[0] ?? (await context.newPage());
  // POCKETSHELL_TEST_DEBUG=1: the page's console on stderr (why a connection stalled, etc.).
  if (process.env.POCKETSHELL_TEST_DEBUG)
    page.on('console', (m) => process.stderr.write(`[page ${m.type()}] ${m.text()}\n`));
  let closed = false;
  return {
    context,
    page,
    async close() {
      if (closed) return;
      closed = true;
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** What differs between the browser suites that `browserSuite` sets up. */
export interface BrowserSuiteOptions {
  /** More flags of the relay (`startWebRelay`), e.g. `--no-push`. */
  relayArgs?: readonly string[];
  /** The host's options; a function is called in `before` (for what the suite's own earlier `before` made). */
  host?: TestHostOptions | (() => TestHostOptions);
  /** How many more hosts, with the default options, to start on the same relay after the first. */
  extraHosts?: number;
  /** The phone's options (`launchPhone`). */
  phone?: PhoneOptions;
  /** Runs first in `after`, before the phone, the hosts and the relay close: what the suite started beside them. */
  beforeClose?: () => Promise<void> | void;
  /** What more to say when a test failed, after the page's log. */
  onFailure?: (t: TestContext | SuiteContext) => Promise<void> | void;
}

/** A browser suite's relay, hosts and phone: filled by its `before`, closed by its `after`. */
export interface BrowserSuite {
  relay: StartedRelay;
  host: TestHost;
  /** The `extraHosts`, in the order they started. */
  readonly extraHosts: TestHost[];
  phone: Phone;
  /** The page's warnings, errors and uncaught exceptions, said when a test fails. */
  readonly pageLog: string[];
  /** The page's console messages about the Content Security Policy. */
  readonly cspViolations: string[];
}

/**
 * The set-up every browser suite shares, as hooks of the calling `describe`:
 * `before` builds the web client and starts a relay serving it, a host (and
 * `extraHosts`) on it and a phone whose page log it keeps; `afterEach` says
 * that log when a test failed; `after` closes the phone, the hosts and the
 * relay, in that order, whatever of them started. Hooks run in the order
 * they are registered: a suite's own `before` after this call runs after the
 * common part (pairing, say), its own `after` after everything closed.
 */
export function browserSuite(options: BrowserSuiteOptions = {}): BrowserSuite {
  const suite = { extraHosts: [], pageLog: [], cspViolations: [] } as unknown as BrowserSuite;
  before(async () => {
    await buildWeb();
    suite.relay = await startWebRelay(options.relayArgs);
    suite.host = await TestHost.start(
      suite.relay,
      typeof options.host === 'function' ? options.host() : options.host,
    );
    for (let i = 0; i < (options.extraHosts ?? 0); i++)
      suite.extraHosts.push(await TestHost.start(suite.relay));
    suite.phone = await launchPhone(options.phone);
    suite.phone.page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) suite.cspViolations.push(m.text());
      if (m.type() === 'warning' || m.type() === 'error') suite.pageLog.push(`${m.type()}: ${m.text()}`);
    });
    suite.phone.page.on('pageerror', (e) => suite.pageLog.push(`pageerror: ${e.message}`));
  });
  afterEach(async (t) => {
    if ((t as { passed?: boolean }).passed !== false) return;
    if (suite.pageLog.length) t.diagnostic(`page log:\n${suite.pageLog.join('\n')}`);
    await options.onFailure?.(t);
  });
  after(async () => {
    await options.beforeClose?.();
    await suite.phone?.close();
    await suite.host?.close();
    for (const host of suite.extraHosts) await host.close();
    await suite.relay?.stop();
  });
  return suite;
}

/** The grants a pairing asks the host for (the host's own default when left out). */
type Grants = Parameters<OpenedHost['agent']['pair']>[0]['grants'];
/** What the host pinned when a pairing went through. */
export type PinnedPhone = Awaited<ReturnType<OpenedHost['agent']['pair']>>;

/** The host's `confirm` for a pairing on `page`: whether the six digits the page shows are the host's. */
function sameDigits(page: Page): (prompt: { sas: string }) => Promise<boolean> {
  return async (prompt) => {
    const sas = page.locator('[data-testid="sas"][data-digits]');
    await sas.waitFor();
    return (await sas.getAttribute('data-digits')) === prompt.sas;
  };
}

/**
 * Pairs the page (already on the web client, relay ready) with `host`: the
 * host's pairing link opened in the page as a tapped link does (only the
 * fragment changes), the six digits the page shows compared with the
 * host's, then waits until the page has pinned the host — a navigation
 * before that could cut its write short.
 */
export async function pairPage(
  page: Page,
  host: TestHost,
  webUrl: string,
  grants: Grants = ['shell'],
): Promise<void> {
  await host.host.agent.pair({
    webUrl,
    grants,
    deviceTimeoutMs: 20_000,
    onUrl: (url) => {
      void page.evaluate((u) => {
        location.href = u;
      }, url);
    },
    confirm: sameDigits(page),
  });
  await page.locator(`[data-host="${host.host.identity.id}"]`).waitFor({ timeout: 30_000 });
}

/** What `pairPhone` may be told. */
export interface PairPhoneOptions {
  /** The grants asked for (the host's default when left out). */
  grants?: Grants;
  /** Runs once the host pinned the phone, before the wait for it online (a policy to set, say). */
  beforeOnline?: (pinned: PinnedPhone) => Promise<void> | void;
}

/**
 * Pairs a suite's phone with its host from scratch, as its `before` does:
 * the page loads the host's pairing link (a fresh load, wherever it was),
 * the six digits it shows are compared with the host's, and once paired
 * (and `beforeOnline` ran) waits until the page shows the host online.
 * Returns what the host pinned.
 */
export async function pairPhone(suite: BrowserSuite, options: PairPhoneOptions = {}): Promise<PinnedPhone> {
  const { page } = suite.phone;
  const pinned = await suite.host.host.agent.pair({
    webUrl: suite.relay.url,
    ...(options.grants !== undefined ? { grants: options.grants } : {}),
    onUrl: (url) => void page.goto(url),
    confirm: sameDigits(page),
  });
  await options.beforeOnline?.(pinned);
  await page.locator(`[data-host="${suite.host.host.identity.id}"][data-state="online"]`).waitFor();
  return pinned;
}

/** Saves a screenshot under .artifacts/screenshots/. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  // Let the terminal paint what it has parsed.
  await page.evaluate(
    () => new Promise<void>((r) => requestAnimationFrame(() => requestAnimationFrame(() => r()))),
  );
  await page.screenshot({ path });
  return path;
}

/** The terminal's buffer as lines (from the page's debug hook). */
export function terminalLines(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const t = (globalThis as { pocketshellTerminal?: { lines(): string[] } }).pocketshellTerminal;
    return t ? t.lines() : [];
  });
}

/** Waits until a terminal line matches `pattern`; returns all lines. */
export async function waitForLine(page: Page, pattern: RegExp, timeoutMs = 20_000): Promise<string[]> {
  await page.waitForFunction(
    ([source, flags]) => {
      const t = (globalThis as { pocketshellTerminal?: { lines(): string[] } }).pocketshellTerminal;
      const re = new RegExp(source as string, flags as string);
      return t?.lines().some((l) => re.test(l)) ?? false;
    },
    [pattern.source, pattern.flags],
    { timeout: timeoutMs, polling: 50 },
  );
  return terminalLines(page);
}

/** Types into the terminal through its own input (xterm's textarea), as the soft keyboard does. */
export async function typeInTerminal(page: Page, text: string, enter = true): Promise<void> {
  await page.locator('.xterm-helper-textarea').focus();
  await page.keyboard.type(text);
  if (enter) await page.keyboard.press('Enter');
}

/** Taps a key of the key bar. */
export async function tapKey(page: Page, key: string): Promise<void> {
  await page.locator(`.keybar [data-key="${key}"]`).tap();
}

/**
 * A person's first minute on the phone: opens a pairing URL, waits for the
 * six digits or the hosts list (the host side accepts with `--yes`, so the
 * pairing may be over before the digits are seen), opens the host once it is
 * online, starts a new terminal and runs `echo $((6*7))`. Screenshots are
 * saved as `<shots>-pairing`, `<shots>-hosts`, `<shots>-terminal`.
 */
export async function firstSession(page: Page, url: string, shots: string): Promise<void> {
  // The page's warnings and errors, to say why a step stalled.
  const log: string[] = [];
  const onConsole = (m: { type(): string; text(): string }) => {
    if (m.type() === 'warning' || m.type() === 'error') log.push(`${m.type()}: ${m.text()}`);
  };
  page.on('console', onConsole);
  let step = 'open the pairing URL';
  try {
    await page.goto(url);
    // The host accepts by itself (`--yes`): the six digits may be on screen
    // only for a moment before the hosts list replaces them.
    step = 'show the six digits';
    await page.locator('[data-testid="sas"][data-digits]').or(page.locator('[data-host]')).first().waitFor();
    await screenshot(page, `${shots}-pairing`);
    step = 'show the host online';
    const row = page.locator('[data-host][data-state="online"]').first();
    await row.waitFor();
    await screenshot(page, `${shots}-hosts`);
    await row.tap();
    step = 'connect a new terminal peer to peer';
    await page.locator('[data-testid="new-session"]').tap();
    await page.locator('[data-testid="conn"][data-state="p2p"]').waitFor();
    step = 'run echo $((6*7))';
    await typeInTerminal(page, 'echo $((6*7))');
    await waitForLine(page, /^42$/);
    await screenshot(page, `${shots}-terminal`);
  } catch (error) {
    await screenshot(page, `${shots}-failed`).catch(() => {});
    throw new Error(
      `the phone could not ${step}: ${(error as Error).message.split('\n')[0]}; page said:\n${log.join('\n') || '(nothing)'}\nscreen: ${(
        await page
          .locator('body')
          .innerText()
          .catch(() => '?')
      ).slice(0, 500)}`,
      { cause: error },
    );
  } finally {
    page.off('console', onConsole);
  }
}

/** Every visible control at least 44×44 CSS px, and nothing wider than the phone. */
export async function assertFits(page: Page): Promise<void> {
  assert.deepEqual(await smallTargets(page), []);
  assert.deepEqual(await cutOff(page), []);
}

/** Sizes of every visible control that is smaller than 44×44 CSS px. */
export function smallTargets(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const bad: string[] = [];
    for (const el of Array.from(document.querySelectorAll<HTMLElement>('button, a[href], .key'))) {
      const r = el.getBoundingClientRect();
      if (r.width === 0 || r.height === 0) continue;
      if (r.width < 44 || r.height < 44)
        bad.push(`${el.textContent?.trim()} ${Math.round(r.width)}×${Math.round(r.height)}`);
    }
    return bad;
  });
}

/** Elements that stick out of the phone's width (the page must not scroll sideways). */
export function cutOff(page: Page): Promise<string[]> {
  return page.evaluate((width) => {
    const bad: string[] = [];
    if (document.documentElement.scrollWidth > width)
      bad.push(`page ${document.documentElement.scrollWidth}px wide`);
    const els = document.querySelectorAll<HTMLElement>(
      'button, a, h1, h2, .sas, .fingerprint, .row, .conn, .sheet, textarea, select, input',
    );
    for (const el of Array.from(els)) {
      const r = el.getBoundingClientRect();
      if (r.width === 0) continue;
      if (r.left < -1 || r.right > width + 1) bad.push(el.className || el.tagName);
    }
    return bad;
  }, PHONE.viewport.width);
}
