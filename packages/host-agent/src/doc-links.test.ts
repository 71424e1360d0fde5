/**
 * Messages of the installed commands point at docs an installed user can
 * open — the docs on GitHub (`DOCS`) — never at a path in a source checkout
 * (`docs/relay.md`), which an installed package does not have.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DOCS } from './config.ts';

const SRC = fileURLToPath(new URL('.', import.meta.url));
const RELAY_CLI = fileURLToPath(new URL('../../relay/src/cli.ts', import.meta.url));

/** The code of a TypeScript file without its comments (line and block). */
function withoutComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.test.ts'))
    .map((e) => join(e.parentPath, e.name));
}

test('DOCS is the repository the packages name, on GitHub', () => {
  const build = readFileSync(
    fileURLToPath(new URL('../../../scripts/build-packages.ts', import.meta.url)),
    'utf8',
  );
  const repo = /url: 'git\+(https:\/\/github\.com\/[^']+)\.git'/.exec(build)?.[1];
  assert.ok(repo, 'scripts/build-packages.ts names the repository');
  assert.equal(DOCS, `${repo}/blob/main/docs`);
});

test('no message of pocketshell or pocketshell-relay names a repository path under docs/', () => {
  const offenders: string[] = [];
  for (const file of [...sources(SRC), RELAY_CLI]) {
    const code = withoutComments(readFileSync(file, 'utf8'));
    for (const line of code.split('\n')) {
      // `docs/` only as part of the GitHub URL (written out, or as ${DOCS}).
      const bare = line.replaceAll(DOCS, '').replaceAll(`\${DOCS}`, '');
      if (/\bdocs\//.test(bare)) offenders.push(`${file}: ${line.trim()}`);
    }
  }
  assert.deepEqual(offenders, []);
});
