/**
 * The web client's build in a source checkout, on a copy of packages/web
 * (under .artifacts/, so Vite and the workspace packages resolve from the
 * repository's node_modules): built when missing, not again while fresh,
 * again once a source is newer; a broken source fails with Vite's message
 * and leaves the previous build served; the build lock is released.
 */
import assert from 'node:assert/strict';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { buildWebClient, ensureWebClient, webClientBuilt, webClientStale, webSourceOf } from './web-root.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
let dir: string;
let source: string;
let dist: string;

before(() => {
  mkdirSync(join(ROOT, '.artifacts'), { recursive: true });
  // A checkout's shape: packages/web copied, what its tsconfig reaches (the base config, packages/protocol) linked.
  dir = join(ROOT, '.artifacts', `web-root-test-${process.pid}`);
  source = join(dir, 'packages', 'web');
  mkdirSync(join(dir, 'packages'), { recursive: true });
  symlinkSync(join(ROOT, 'tsconfig.base.json'), join(dir, 'tsconfig.base.json'));
  symlinkSync(join(ROOT, 'packages', 'protocol'), join(dir, 'packages', 'protocol'));
  dist = join(source, 'dist');
  cpSync(join(ROOT, 'packages', 'web'), source, {
    recursive: true,
    filter: (src) => !src.includes(`${join('packages', 'web', 'dist')}`) && !src.includes('node_modules'),
  });
});

after(() => rmSync(dir, { recursive: true, force: true }));

test('builds when missing, not while fresh, again when a source is newer; a broken source fails loudly and keeps the old build', async () => {
  assert.equal(webSourceOf(dist), source);
  assert.equal(webClientBuilt(dist), false);
  assert.equal(webClientStale(dist), true);
  assert.equal(await ensureWebClient(dist), true);
  assert.equal(webClientBuilt(dist), true);
  assert.equal(existsSync(`${dist}.lock`), false, 'the build lock is released');
  assert.equal(await ensureWebClient(dist), false, 'fresh: not built again');

  // A source newer than the build makes it stale.
  const main = join(source, 'src', 'main.ts');
  const later = statSync(join(dist, 'index.html')).mtimeMs / 1000 + 10;
  utimesSync(main, later, later);
  assert.equal(webClientStale(dist), true);

  // A broken source: Vite's error, and the build served before stays whole.
  const index = readFileSync(join(dist, 'index.html'), 'utf8');
  writeFileSync(main, `${readFileSync(main, 'utf8')}\nconst = ;\n`);
  await assert.rejects(buildWebClient(dist), (error: Error) => {
    assert.match(error.message, /^building the web client failed: /);
    assert.match(error.message, /main\.ts/);
    assert.doesNotMatch(error.message, /Stack backtrace/);
    return true;
  });
  assert.equal(readFileSync(join(dist, 'index.html'), 'utf8'), index);
  assert.equal(existsSync(`${dist}.lock`), false, 'the build lock is released after a failure too');
});

test('a folder that is not a source checkout’s build output cannot be built', async () => {
  const elsewhere = join(dir, 'src', 'elsewhere', 'dist');
  assert.equal(webSourceOf(elsewhere), undefined);
  assert.equal(webClientStale(elsewhere), false);
  await assert.rejects(buildWebClient(elsewhere), /is not the build folder of a source checkout/);
});
