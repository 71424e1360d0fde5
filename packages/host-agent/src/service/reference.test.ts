/**
 * The checked-in reference service files in packaging/ are exactly what the
 * generators make (so the .deb's user unit and the documented plist never
 * drift from what `daemon start` writes), and the reference unit with its
 * `%h` specifiers passes `systemd-analyze verify --user`.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { REFERENCE_FILES, referenceUnit } from './reference.ts';

const ROOT = new URL('../../../../', import.meta.url);

test('packaging/ holds the generated reference files (regenerate: node packages/host-agent/src/service/reference.ts --write)', () => {
  for (const [path, make] of Object.entries(REFERENCE_FILES))
    assert.equal(readFileSync(new URL(path, ROOT), 'utf8'), make(), path);
});

test('the reference unit verifies', {
  skip: spawnSync('systemd-analyze', ['--version']).status !== 0 && 'no systemd-analyze',
}, () => {
  const dir = mkdtempSync(join(tmpdir(), 'pocketshell-ref-'));
  try {
    const unit = join(dir, 'pocketshell.service');
    writeFileSync(unit, referenceUnit().replace('"/usr/bin/pocketshell"', `"${process.execPath}"`));
    const r = spawnSync('systemd-analyze', ['verify', '--user', '--man=no', unit], {
      env: { ...process.env, XDG_RUNTIME_DIR: dir },
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(
      r.stderr.split('\n').filter((l) => l.includes(unit) || /Unknown|ignoring|Failed/.test(l)),
      [],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
