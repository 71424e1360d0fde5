/**
 * Where the relay's web client lives, whether it is built, and building it
 * in a source checkout. The default web root is `<relay>/../web/dist`: the
 * monorepo's `packages/web/dist`, or `<package>/web/dist` inside the npm
 * packages (the bundle sits at `dist/lib/*.mjs`). The relay serves whatever
 * is there at each request, so a client built after the relay started is
 * served at once; while there is none, `/` answers with a page that says
 * what is missing and the one command that fixes it (`http.ts`).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/** The web root the relay serves when none is configured (it may not be built yet). */
export function bundledWebRoot(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'web', 'dist');
}

/** Whether a web root holds a built client. */
export function webClientBuilt(root: string): boolean {
  return existsSync(join(root, 'index.html'));
}

/**
 * The web client's source folder when `root` is the build output of a
 * source checkout (`packages/web/dist` beside `packages/web/vite.config.ts`),
 * else undefined (an installed package, or a root of the operator's own).
 */
export function webSourceOf(root: string): string | undefined {
  const dir = dirname(root);
  return existsSync(join(dir, 'vite.config.ts')) && existsSync(join(dir, 'src')) ? dir : undefined;
}

/** The command that builds the web client of a source checkout, as a person types it at its root. */
export const BUILD_WEB_COMMAND = 'npm run build:web';

/** What to tell an operator whose relay has no web client at `root`. */
export function missingWebHint(root: string): string {
  return webSourceOf(root)
    ? `build it: ${BUILD_WEB_COMMAND} (at the root of the source checkout)`
    : 'reinstall the package (it carries the web client) or pass --web-root DIR with a build of packages/web';
}

/** The newest modification time under `path` (files only), in ms. */
function newest(path: string): number {
  let s: ReturnType<typeof statSync>;
  try {
    s = statSync(path);
  } catch {
    return 0;
  }
  if (!s.isDirectory()) return s.mtimeMs;
  let max = 0;
  for (const name of readdirSync(path)) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    max = Math.max(max, newest(join(path, name)));
  }
  return max;
}

/**
 * Whether the source checkout's client at `root` must be (re)built: missing,
 * or older than its sources — the web package's own files and the protocol
 * package it bundles.
 */
export function webClientStale(root: string): boolean {
  const source = webSourceOf(root);
  if (!source) return false;
  if (!webClientBuilt(root)) return true;
  const built = statSync(join(root, 'index.html')).mtimeMs;
  const inputs = [
    source,
    join(dirname(source), 'protocol', 'src'),
    join(dirname(source), 'protocol', 'package.json'),
  ];
  return inputs.some((p) => newest(p) > built);
}

/**
 * Builds the source checkout's web client into `root` with Vite, on the
 * Node that runs this process. The build goes to a sibling folder that
 * replaces `root` in one rename, so a relay serving `root` meanwhile never
 * sees half a build. Throws with Vite's message when the build fails.
 */
export async function buildWebClient(root: string): Promise<void> {
  if (!webSourceOf(root)) throw new Error(`${root} is not the build folder of a source checkout`);
  await withBuildLock(root, () => build(root));
}

async function build(root: string): Promise<void> {
  const source = webSourceOf(root);
  if (!source) throw new Error(`${root} is not the build folder of a source checkout`);
  const req = createRequire(join(source, 'package.json'));
  let vite: string;
  try {
    const pkg = req.resolve('vite/package.json');
    vite = join(dirname(pkg), 'bin', 'vite.js');
  } catch {
    throw new Error('vite is not installed: run npm ci at the root of the source checkout');
  }
  const out = `${root}.build-${process.pid}`;
  const old = `${root}.old-${process.pid}`;
  rmSync(out, { recursive: true, force: true });
  try {
    await promisify(execFile)(
      process.execPath,
      [vite, 'build', '--logLevel', 'error', '--outDir', out, '--emptyOutDir'],
      { cwd: source, maxBuffer: 16 * 1024 * 1024 },
    );
  } catch (error) {
    rmSync(out, { recursive: true, force: true });
    const e = error as { stderr?: string; message: string };
    // Vite's own words, without the native stack it appends.
    const said = (e.stderr || e.message).split(/\n\s*Stack backtrace:/)[0]!.trim();
    throw new Error(`building the web client failed: ${said}`);
  }
  if (existsSync(root)) renameSync(root, old);
  renameSync(out, root);
  rmSync(old, { recursive: true, force: true });
}

/** A lock older than this was left by a build that died; it is taken over. */
const STALE_LOCK_MS = 120_000;

/**
 * Runs `fn` holding `<root>.lock` (a folder: `mkdir` is atomic), so that
 * processes building the same client one after another — `npm start` beside
 * the browser tests, two test files — never swap builds under each other.
 */
async function withBuildLock<T>(root: string, fn: () => Promise<T>): Promise<T> {
  const lock = `${root}.lock`;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      try {
        if (Date.now() - statSync(lock).mtimeMs > STALE_LOCK_MS)
          rmSync(lock, { recursive: true, force: true });
      } catch {}
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/**
 * Builds the source checkout's client at `root` when it is missing or
 * stale (checked again once the build lock is held: another process may
 * just have built it), telling `onBuild` why just before; says whether it
 * built.
 */
export async function ensureWebClient(
  root: string,
  onBuild?: (reason: 'missing' | 'stale') => void,
): Promise<boolean> {
  if (!webClientStale(root)) return false;
  return withBuildLock(root, async () => {
    if (!webClientStale(root)) return false;
    onBuild?.(webClientBuilt(root) ? 'stale' : 'missing');
    await build(root);
    return true;
  });
}
