/**
 * The engine conformance suite's Chromium far end: Debian's Chromium (driven
 * by playwright-core, headless, loopback only) offers with its own
 * RTCPeerConnection, as the phone's browser does, and each engine answers,
 * as the host does. Checks: the connection opens, messages go both ways,
 * the engine reports Chromium's real DTLS certificate, the binding above the
 * engine holds for the signed fingerprint and drops a tampered one. The page
 * and its script are served from 127.0.0.1 (no inline script). Skipped when
 * Chromium is not installed.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sdpFingerprint } from '@pocketshell/protocol';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { lieAboutFingerprint } from '../testing/engine-conformance.ts';
import {
  CHROMIUM,
  CHROMIUM_TEST_ARGS,
  loopbackEngine,
  loopbackPeerOptions,
  messages,
  nextChannel,
  once,
} from '../testing/testing.ts';
import { bindRemoteCertificate } from './dtls-binding.ts';
import type { Peer, WebRtcEngine } from './engine.ts';
import { WebRtcError } from './errors.ts';
import { NodeDataChannelEngine } from './node-datachannel-engine.ts';

const FIXTURES = new URL('../testing/fixtures/', import.meta.url);

const engines: WebRtcEngine[] = [loopbackEngine(), new NodeDataChannelEngine({ bindAddress: '127.0.0.1' })];

describe('engine interop with Chromium as the far end', { skip: !existsSync(CHROMIUM) }, () => {
  let server: Server;
  let context: BrowserContext;
  let page: Page;
  let profile: string;

  before(async () => {
    server = createServer((req, res) => {
      const name = req.url === '/chromium-peer.js' ? 'chromium-peer.js' : 'chromium-peer.html';
      res.setHeader('content-type', name.endsWith('.js') ? 'text/javascript' : 'text/html');
      res.end(readFileSync(new URL(name, FIXTURES)));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    profile = mkdtempSync(join(tmpdir(), 'pocketshell-interop-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [...CHROMIUM_TEST_ARGS],
    });
    page = context.pages()[0] ?? (await context.newPage());
    await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
  });

  after(async () => {
    await context?.close();
    await new Promise((resolve) => server?.close(resolve));
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  /** Chromium offers; `engine` answers (given `offer` after `tamper`). */
  async function answerChromium(engine: WebRtcEngine, tamper = (sdp: string) => sdp) {
    const offer = await page.evaluate(() =>
      (globalThis as unknown as { peer: { offer(): Promise<string> } }).peer.offer(),
    );
    const peer: Peer = await engine.createPeer(loopbackPeerOptions('answerer'));
    const signed = tamper(offer);
    const verified = bindRemoteCertificate(peer, sdpFingerprint(signed));
    verified.catch(() => {});
    const channel = nextChannel(peer, 'control');
    await peer.setRemoteDescription(signed);
    const answer = await peer.setLocalDescription(await peer.createAnswer());
    await page.evaluate(
      (sdp) => (globalThis as unknown as { peer: { answer(s: string): Promise<void> } }).peer.answer(sdp),
      answer,
    );
    return { offer, peer, verified, channel };
  }

  it("a fresh werift engine's first connection with Chromium completes (werift the DTLS client)", async () => {
    // Nothing loaded or generated before: werift's DTLS client used to wait 100 ms before its
    // ClientHello, and its server to drop records that came before its own ICE said connected.
    const { peer, verified, channel } = await answerChromium(loopbackEngine());
    try {
      await verified;
      const theirs = await channel;
      if (theirs.readyState !== 'open') await once(theirs, 'open');
      const got = messages(theirs, 1);
      await page.evaluate(() =>
        (globalThis as unknown as { peer: { send(t: string): void } }).peer.send('first'),
      );
      assert.deepEqual(await got, ['first']);
    } finally {
      await peer.close();
      await page.evaluate(() => (globalThis as unknown as { peer: { close(): void } }).peer.close());
    }
  });

  for (const engine of engines) {
    it(`${engine.name} answers Chromium: opens, carries both ways, binds Chromium's certificate`, async () => {
      const { offer, peer, verified, channel } = await answerChromium(engine);
      try {
        await verified;
        assert.equal(peer.remoteCertificateFingerprint(), sdpFingerprint(offer));
        const theirs = await channel;
        await once(theirs, 'open');
        const got = messages(theirs, 2);
        await page.evaluate(() =>
          (globalThis as unknown as { peer: { send(t: string): void } }).peer.send('from chromium'),
        );
        assert.deepEqual(await got, ['from chromium', new Uint8Array([1, 2, 3, 255])]);
        theirs.send('from the host');
        theirs.send(new Uint8Array(16 * 1024).fill(7));
        const received = await page.waitForFunction(() => {
          const got = (globalThis as unknown as { peer: { received(): unknown[] } }).peer.received();
          return got.length >= 2 ? got : null;
        });
        const [text, bytes] = (await received.jsonValue()) as [string, number[]];
        assert.equal(text, 'from the host');
        assert.equal(bytes.length, 16 * 1024);
      } finally {
        await peer.close();
        await page.evaluate(() => (globalThis as unknown as { peer: { close(): void } }).peer.close());
      }
    });

    it(`${engine.name} drops Chromium when the signed fingerprint is not its certificate`, async () => {
      const { offer, peer, verified } = await answerChromium(engine, lieAboutFingerprint);
      try {
        await assert.rejects(
          verified,
          (e: unknown) => e instanceof WebRtcError && e.code === 'fingerprint_mismatch',
        );
        assert.equal(peer.connectionState, 'closed');
        const presented = peer.remoteCertificateFingerprint();
        // Either engine may refuse before reading the certificate; when it read one, it is Chromium's real one.
        if (presented !== null) assert.equal(presented, sdpFingerprint(offer));
      } finally {
        await peer.close();
        await page.evaluate(() => (globalThis as unknown as { peer: { close(): void } }).peer.close());
      }
    });
  }
});
