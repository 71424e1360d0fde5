/**
 * Writes the Homebrew formulas for a release: packaging/homebrew/*.rb with
 * the version and the sha256 of the npm tarballs that will be (or were)
 * published, so `brew install` fetches exactly those bytes. Usage:
 *   node scripts/package-homebrew.ts --main pocketshell-X.tgz --relay pocketshell-relay-X.tgz [--out DIR]
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const ROOT = resolve(import.meta.dirname, '..');

/** The formula `name` for `tarball` (an npm pack output named <name>-<version>.tgz). */
export function formula(name: 'pocketshell' | 'pocketshell-relay', tarball: string): string {
  const m = new RegExp(`^${name}-(\\d+\\.\\d+\\.\\d+(?:-[0-9A-Za-z.]+)?)\\.tgz$`).exec(basename(tarball));
  if (!m) throw new Error(`${tarball} is not a ${name} tarball`);
  const version = m[1]!;
  const sha = createHash('sha256').update(readFileSync(tarball)).digest('hex');
  return readFileSync(join(ROOT, 'packaging/homebrew', `${name}.rb`), 'utf8')
    .replace(/url "[^"]+"/, `url "https://registry.npmjs.org/${name}/-/${name}-${version}.tgz"`)
    .replace(/sha256 "[0-9a-f]{64}"/, `sha256 "${sha}"`);
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      main: { type: 'string' },
      relay: { type: 'string' },
      out: { type: 'string', default: join(ROOT, 'build', 'homebrew') },
    },
  });
  if (!values.main || !values.relay) throw new Error('usage: --main TGZ --relay TGZ [--out DIR]');
  mkdirSync(values.out, { recursive: true });
  writeFileSync(join(values.out, 'pocketshell.rb'), formula('pocketshell', values.main));
  writeFileSync(join(values.out, 'pocketshell-relay.rb'), formula('pocketshell-relay', values.relay));
  process.stdout.write(
    `${join(values.out, 'pocketshell.rb')}\n${join(values.out, 'pocketshell-relay.rb')}\n`,
  );
}
