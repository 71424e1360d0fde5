/**
 * Test support stays out of what is published: the package build bundles
 * each program with esbuild and fails when a bundle pulls in a `testing/` or
 * `bench/` folder, a test, `test-support` or `bench-scratch` source. The
 * relay's program bundles cleanly; its load benchmark, which imports
 * `@pocketshell/relay/testing`, is refused with the offending files named.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ROOT } from '../support/cli.ts';

const out = mkdtempSync(join(tmpdir(), 'bundle-guard-'));
after(() => rmSync(out, { recursive: true, force: true }));

/** Runs scripts/build-packages.ts's `bundle` in a child (test/ cannot import scripts/); its error message or `built`. */
function bundle(entry: string, file: string): string {
  const code = `import { bundle } from './scripts/build-packages.ts';
try { await bundle(${JSON.stringify(entry)}, ${JSON.stringify(join(out, file))}); console.log('built'); }
catch (error) { console.log(error.message); }`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

test('the relay program bundles; a bundle that pulls in test support fails the build', () => {
  assert.equal(bundle('packages/relay/bin/pocketshell-relay.js', 'relay.mjs'), 'built');
  assert.ok(existsSync(join(out, 'relay.mjs')));
  const refused = bundle('packages/relay/bench/relay-load.ts', 'bench.mjs');
  assert.match(refused, /^test support in the bundle of packages\/relay\/bench\/relay-load\.ts: /);
  assert.match(refused, /packages\/relay\/testing\/index\.ts/);
  assert.match(refused, /packages\/relay\/testing\/fixtures\.ts/);
});
