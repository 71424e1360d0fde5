/**
 * The project's own runtime: npm scripts run on the Node 24 that the
 * project brings from the registry (the `node` dev dependency), whatever
 * Node the machine has; products support Node ≥ 22.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

test('npm scripts run on the pinned Node 24 from node_modules/.bin', () => {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    devDependencies: Record<string, string>;
    engines: { node: string };
  };
  assert.match(pkg.devDependencies.node ?? '', /^24\./);
  assert.equal(pkg.engines.node, '>=22');
  if (process.env.npm_lifecycle_event) {
    assert.equal(
      process.versions.node,
      pkg.devDependencies.node,
      'this test runs under npm on the pinned Node',
    );
    assert.match(process.execPath, /node_modules\/(node\/bin|\.bin)\/node$/);
  } else {
    assert.ok(Number(process.versions.node.split('.')[0]) >= 22);
  }
});
