/**
 * The relay's plain HTTP surface: `GET /healthz` (the store answers),
 * `GET /readyz` (the store and, in a fleet, Redis answer), `GET /metrics` (Prometheus
 * text) and the web client's static files when a built web root exists.
 * Every response carries the security headers: a strict Content Security
 * Policy (no inline or remote scripts, no framing), `X-Frame-Options: DENY`,
 * `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`, and
 * HSTS when the relay itself terminates TLS.
 */
import { readFile, realpath, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import type { Logger } from './log.ts';
import type { Metrics } from './metrics.ts';
import type { RelayStore } from './store.ts';
import { missingWebHint, webClientBuilt } from './web-root.ts';

/** Content types of the files a built web client holds. */
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.webmanifest': 'application/manifest+json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.wasm': 'application/wasm',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json',
};

/**
 * The Content Security Policy. Scripts only from this origin (no inline, no
 * eval); styles allow inline because xterm.js sets style elements for its
 * renderer; no plugins, no framing of the app, no form posts, no base-URI
 * changes. The app itself may frame only `blob:` URLs it made: the Files
 * screen's PDF preview (the browser's own viewer in an iframe).
 */
export function contentSecurityPolicy(wsOrigin?: string): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self'",
    'frame-src blob:',
    `connect-src 'self'${wsOrigin ? ` ${wsOrigin}` : ''}`,
    "worker-src 'self'",
    "manifest-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** What the HTTP handler needs. */
export interface HttpOptions {
  metrics: Metrics;
  store: RelayStore;
  log: Logger;
  webRoot: string | undefined;
  tls: boolean;
  /** The public WebSocket origin, when configured (added to `connect-src`). */
  wsOrigin?: string;
  /** `/readyz`: resolves when the store and (in a fleet) Redis answer; `/healthz` checks the store only. */
  ready?: () => Promise<void>;
}

/** Builds the request handler. */
export function createHttpHandler(options: HttpOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const csp = contentSecurityPolicy(options.wsOrigin);
  const headers = (res: ServerResponse) => {
    res.setHeader('Content-Security-Policy', csp);
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
    if (options.tls) res.setHeader('Strict-Transport-Security', 'max-age=63072000; includeSubDomains');
  };
  const send = (res: ServerResponse, status: number, type: string, body: string | Buffer, head: boolean) => {
    res.statusCode = status;
    res.setHeader('Content-Type', type);
    res.setHeader('Content-Length', Buffer.byteLength(body));
    res.end(head ? undefined : body);
  };

  return (req, res) => {
    headers(res);
    const head = req.method === 'HEAD';
    if (req.method !== 'GET' && !head) {
      res.setHeader('Allow', 'GET, HEAD');
      send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n', head);
      return;
    }
    const path = (req.url ?? '/').split('?')[0]!;
    if (path === '/healthz' || path === '/readyz') {
      const check =
        path === '/readyz' && options.ready !== undefined ? options.ready() : options.store.ping();
      check.then(
        () => send(res, 200, 'application/json', '{"status":"ok"}\n', head),
        (error: unknown) => {
          options.log.error('health check failed', { error: String((error as Error).message) });
          send(res, 503, 'application/json', '{"status":"unavailable"}\n', head);
        },
      );
      return;
    }
    if (path === '/metrics') {
      send(res, 200, 'text/plain; version=0.0.4; charset=utf-8', options.metrics.render(), head);
      return;
    }
    serveStatic(options.webRoot, path).then(
      (file) => {
        if (file === undefined) {
          // No client built (yet): a page that says so, where the app would have been.
          if (isPage(path) && (options.webRoot === undefined || !webClientBuilt(options.webRoot))) {
            res.setHeader('Cache-Control', 'no-store');
            send(res, 503, 'text/html; charset=utf-8', missingWebPage(options.webRoot), head);
            return;
          }
          send(res, 404, 'text/plain; charset=utf-8', 'not found\n', head);
          return;
        }
        res.setHeader(
          'Cache-Control',
          file.type.startsWith('text/html') ? 'no-cache' : 'public, max-age=3600',
        );
        send(res, 200, file.type, file.body, head);
      },
      (error: unknown) => {
        options.log.error('static file failed', { path, error: String((error as Error).message) });
        send(res, 500, 'text/plain; charset=utf-8', 'internal error\n', head);
      },
    );
  };
}

/** A path a browser navigates to (the app's page), not one of its assets. */
function isPage(path: string): boolean {
  return path === '/' || path === '/index.html';
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The page served at `/` while the relay has no web client: what is missing and the command that fixes it. */
export function missingWebPage(root: string | undefined): string {
  const fix = root
    ? missingWebHint(root)
    : 'start the relay with --web-root DIR pointing at a build of packages/web';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>PocketShell: web app not installed on this relay</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36em;margin:2em auto;padding:0 1em;color:#e6e6e6;background:#111}h1{font-size:1.4em;line-height:1.3}code{background:#222;padding:.1em .3em;border-radius:4px}</style>
</head><body>
<h1>PocketShell: the relay is running, but it has no web app to serve</h1>
<p>This relay has no built web client, so the phone app cannot load. (The relay's log names the folder it looks in.)</p>
<p>On the machine that runs the relay, ${escapeHtml(fix).replace(/(npm run build:web|--web-root DIR)/, '<code>$1</code>')}, then reload this page. The relay does not need a restart.</p>
</body></html>
`;
}

/**
 * Reads a file under `root` for a URL path, refusing anything that escapes
 * it: `..`, NUL, encodings of them, and symlinks that lead out of the root
 * (both ends are resolved with `realpath` at each request).
 */
async function serveStatic(
  root: string | undefined,
  urlPath: string,
): Promise<{ body: Buffer; type: string } | undefined> {
  if (root === undefined) return undefined;
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return undefined;
  }
  if (decoded.includes('\0') || !decoded.startsWith('/')) return undefined;
  const rel = normalize(decoded === '/' ? '/index.html' : decoded);
  if (rel.split(sep).includes('..')) return undefined;
  const full = join(root, rel);
  if (!full.startsWith(root.endsWith(sep) ? root : root + sep)) return undefined;
  let real: string;
  try {
    const realRoot = await realpath(root);
    real = await realpath(full);
    if (!real.startsWith(realRoot.endsWith(sep) ? realRoot : realRoot + sep)) return undefined;
    const s = await stat(real);
    if (!s.isFile()) return undefined;
  } catch {
    return undefined;
  }
  return { body: await readFile(real), type: TYPES[extname(full)] ?? 'application/octet-stream' };
}
