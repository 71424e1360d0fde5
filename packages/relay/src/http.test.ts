/**
 * The HTTP surface of a real relay process: `/healthz`, `/metrics` in the
 * Prometheus text format, the web client's static files with a strict CSP
 * and framing headers, no path escapes, HSTS only with TLS, and the
 * challenge origin taken from `--public-url`, the Host header, or (behind
 * `--trust-proxy`) `X-Forwarded-Proto`.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateKeyPair, readServerMessage } from '@pocketshell/protocol';
import { WebSocket } from 'ws';
import { junkEnvelope } from '../testing/fixtures.ts';
import { pairClients, RawClient, type StartedRelay, startRelay } from '../testing/index.ts';

const env = () => junkEnvelope('offer', 16);

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A raw GET (fetch would normalize `..` away). */
function get(url: string, path: string, options: { method?: string; ca?: string } = {}): Promise<Reply> {
  const u = new URL(url);
  const request = u.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((res, rej) => {
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        path,
        method: options.method ?? 'GET',
        ...(options.ca ? { ca: options.ca } : {}),
      },
      (r) => {
        let body = '';
        r.setEncoding('utf8');
        r.on('data', (d: string) => {
          body += d;
        });
        r.on('end', () => res({ status: r.statusCode ?? 0, headers: r.headers, body }));
      },
    );
    req.on('error', rej);
    req.end();
  });
}

describe('http', () => {
  let dir: string;
  let relay: StartedRelay;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'relay-web-'));
    const web = join(dir, 'web');
    mkdirSync(join(web, 'assets'), { recursive: true });
    writeFileSync(
      join(web, 'index.html'),
      '<!doctype html><script type="module" src="/assets/app.js"></script>',
    );
    writeFileSync(join(web, 'assets', 'app.js'), 'console.log("pocketshell")');
    writeFileSync(join(dir, 'secret.txt'), 'outside the web root');
    // Symlinks out of the web root (a file and a folder) and one that stays inside it.
    symlinkSync(join(dir, 'secret.txt'), join(web, 'link-file.txt'));
    symlinkSync(dir, join(web, 'link-dir'));
    symlinkSync(join(web, 'assets', 'app.js'), join(web, 'inside.js'));
    relay = await startRelay({ args: ['--web-root', web] });
  });
  after(async () => {
    await relay.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the web client with a strict CSP and no framing', async () => {
    const index = await get(relay.url, '/');
    assert.equal(index.status, 200);
    assert.match(String(index.headers['content-type']), /^text\/html/);
    const csp = String(index.headers['content-security-policy']);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.doesNotMatch(csp, /script-src[^;]*unsafe/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.match(csp, /object-src 'none'/);
    // Frames: only blob: URLs the app made (the PDF preview), nothing from elsewhere.
    assert.match(csp, /frame-src blob:(;|$)/);
    assert.equal(index.headers['x-frame-options'], 'DENY');
    assert.equal(index.headers['x-content-type-options'], 'nosniff');
    assert.equal(index.headers['strict-transport-security'], undefined);
    const js = await get(relay.url, '/assets/app.js');
    assert.equal(js.status, 200);
    assert.match(String(js.headers['content-type']), /^text\/javascript/);
    assert.equal(js.body, 'console.log("pocketshell")');
  });

  it('refuses paths outside the web root, unknown paths and other methods', async () => {
    for (const path of [
      '/../secret.txt',
      '/%2e%2e/secret.txt',
      '/assets/../../secret.txt',
      '/%00',
      '/link-file.txt',
      '/link-dir/secret.txt',
      '/nope.js',
      '/assets',
    ]) {
      const r = await get(relay.url, path);
      assert.equal(r.status, 404, path);
      assert.doesNotMatch(r.body, /outside the web root/);
    }
    // A symlink that stays inside the root is served.
    assert.equal((await get(relay.url, '/inside.js')).body, 'console.log("pocketshell")');
    assert.equal((await get(relay.url, '/', { method: 'POST' })).status, 405);
    assert.equal((await get(relay.url, '/healthz', { method: 'DELETE' })).status, 405);
  });

  it('answers /healthz', async () => {
    const r = await get(relay.url, '/healthz');
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.body), { status: 'ok' });
    assert.equal(r.headers['x-frame-options'], 'DENY');
  });

  it('exposes connections, routed messages and refusals in /metrics', async () => {
    const { host, device } = await pairClients(relay.wsUrl);
    device.send({ t: 'send', to: host.id, env: env() });
    await host.next((m) => m.t === 'deliver');
    const stranger = await RawClient.connect(relay.wsUrl, { role: 'device', keyPair: generateKeyPair() });
    await stranger.request({ t: 'send', to: host.id!, env: env() });
    const r = await get(relay.url, '/metrics');
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    assert.match(r.body, /^# TYPE pocketshell_relay_connections gauge$/m);
    assert.match(r.body, /^pocketshell_relay_connections 3$/m);
    assert.match(r.body, /^pocketshell_relay_authenticated_connections\{role="device"\} 2$/m);
    assert.match(r.body, /^pocketshell_relay_messages_routed_total\{type="deliver"\} 1$/m);
    assert.match(r.body, /^pocketshell_relay_messages_routed_total\{type="pair.request"\} 1$/m);
    assert.match(r.body, /^pocketshell_relay_refusals_total\{code="not_paired"\} 1$/m);
    await Promise.all([host.close(), device.close(), stranger.close()]);
  });

  it('takes the challenge origin from the Host header; upgrades only /ws', async () => {
    const ws = new WebSocket(relay.wsUrl, { headers: { Host: 'relay.example:8443' } });
    const first = await new Promise<string>((res, rej) => {
      ws.once('message', (d) => res(d.toString()));
      ws.once('error', rej);
    });
    const m = readServerMessage(first);
    assert.equal(m.t === 'challenge' && m.relay, 'ws://relay.example:8443');
    ws.close();
    const other = new WebSocket(relay.wsUrl.replace('/ws', '/other'));
    await assert.rejects(
      new Promise((res, rej) => {
        other.once('open', res);
        other.once('error', rej);
      }),
      /404/,
    );
  });
});

describe('http behind a proxy and with TLS', () => {
  let dir: string;
  const relays: StartedRelay[] = [];
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'relay-tls-'));
  });
  after(async () => {
    await Promise.all(relays.map((r) => r.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  const challengeOrigin = async (wsUrl: string, headers: Record<string, string> = {}, ca?: string) => {
    const ws = new WebSocket(wsUrl, { headers, ...(ca ? { ca } : {}) });
    const first = await new Promise<string>((res, rej) => {
      ws.once('message', (d) => res(d.toString()));
      ws.once('error', rej);
    });
    ws.close();
    const m = readServerMessage(first);
    return m.t === 'challenge' ? m.relay : m.t;
  };

  it('uses --public-url for the origin, and X-Forwarded-Proto only with --trust-proxy', async () => {
    const pub = await startRelay({ args: ['--public-url', 'https://relay.example'] });
    relays.push(pub);
    assert.equal(await challengeOrigin(pub.wsUrl, { 'X-Forwarded-Proto': 'http' }), 'wss://relay.example');
    const untrusted = await startRelay();
    relays.push(untrusted);
    const host = new URL(untrusted.url).host;
    assert.equal(await challengeOrigin(untrusted.wsUrl, { 'X-Forwarded-Proto': 'https' }), `ws://${host}`);
    const proxied = await startRelay({ args: ['--trust-proxy'] });
    relays.push(proxied);
    const phost = new URL(proxied.url).host;
    assert.equal(await challengeOrigin(proxied.wsUrl, { 'X-Forwarded-Proto': 'https' }), `wss://${phost}`);
  });

  it('serves HTTPS with HSTS and authenticates over wss', async () => {
    const key = join(dir, 'key.pem');
    const cert = join(dir, 'cert.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        key,
        '-out',
        cert,
      ],
      { stdio: 'ignore' },
    );
    const ca = readFileSync(cert, 'utf8');
    const tls = await startRelay({ args: ['--tls-cert', cert, '--tls-key', key] });
    relays.push(tls);
    assert.match(tls.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const r = await get(tls.url, '/healthz', { ca });
    assert.equal(r.status, 200);
    assert.match(String(r.headers['strict-transport-security']), /max-age=\d+/);
    assert.equal(await challengeOrigin(tls.wsUrl, {}, ca), `wss://${new URL(tls.url).host}`);
    const c = await RawClient.connect(tls.wsUrl, { role: 'device', keyPair: generateKeyPair(), ca });
    assert.ok(c.id);
    await c.close();
  });
});

describe('http without a web client', () => {
  let dir: string;
  const relays: StartedRelay[] = [];
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'relay-noweb-'));
  });
  after(async () => {
    await Promise.all(relays.map((r) => r.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('says so on its start-up line and at /, then serves a client built after it started', async () => {
    // A source checkout's web package whose dist/ is not built yet.
    const source = join(dir, 'web');
    mkdirSync(join(source, 'src'), { recursive: true });
    writeFileSync(join(source, 'vite.config.ts'), 'export default {};\n');
    const dist = join(source, 'dist');
    const relay = await startRelay({ args: ['--web-root', dist] });
    relays.push(relay);
    const listening = JSON.parse(
      relay
        .logs()
        .split('\n')
        .find((l) => l.includes('"listening"'))!,
    ) as Record<string, unknown>;
    assert.equal(listening.web, 'missing');
    assert.match(String(listening.webFix), /npm run build:web/);

    const page = await get(relay.url, '/');
    assert.equal(page.status, 503);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    assert.match(page.body, /has no web app to serve/);
    assert.match(page.body, /<code>npm run build:web<\/code>/);
    assert.match(page.body, /does not need a restart/);
    assert.doesNotMatch(page.body, /<script/, 'the CSP allows no inline script');
    assert.ok(!page.body.includes(dir), 'the page does not show the server’s folders to the network');
    // An asset of a missing build is a plain 404, not the page.
    assert.equal((await get(relay.url, '/assets/app.js')).status, 404);

    mkdirSync(dist);
    writeFileSync(join(dist, 'index.html'), '<!doctype html><title>built later</title>');
    const built = await get(relay.url, '/');
    assert.equal(built.status, 200);
    assert.match(built.body, /built later/);
  });

  it('an installed relay without a client names the package to reinstall', async () => {
    const relay = await startRelay({ args: ['--web-root', join(dir, 'nowhere')] });
    relays.push(relay);
    const page = await get(relay.url, '/');
    assert.equal(page.status, 503);
    assert.match(page.body, /reinstall the package/);
    assert.match(page.body, /<code>--web-root DIR<\/code>/);
  });
});
