/**
 * Tests of private files on real temp folders: modes, atomic replacement,
 * and each refusal (symlink, other owner, group/other access to a secret,
 * corrupt JSON) with a message that names the file and the fix; plus the
 * state path resolution and the root guard.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { type HostError, isHostError } from '../errors.ts';
import { statePaths } from './paths.ts';
import {
  ensurePrivateDir,
  readJsonFile,
  readPrivateFile,
  removePrivateFile,
  writeJsonFile,
  writePrivateFile,
} from './private-files.ts';
import { checkNotRoot } from './root-check.ts';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ps-files-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const mode = (p: string) => fs.statSync(p).mode & 0o777;
const refused = (code: HostError['code'], re: RegExp) => (err: unknown) =>
  isHostError(err, code) && re.test(err.message);

describe('private files', () => {
  test('folders are 0700 and files 0600, replaced atomically without leftovers', () => {
    const root = path.join(dir, 'state', 'nested');
    ensurePrivateDir(root);
    assert.equal(mode(root), 0o700);
    const file = path.join(root, 'a.json');
    writePrivateFile(file, 'one');
    writePrivateFile(file, 'two');
    assert.equal(mode(file), 0o600);
    assert.equal(readPrivateFile(file)?.toString(), 'two');
    assert.deepEqual(fs.readdirSync(root), ['a.json']);
    removePrivateFile(file);
    removePrivateFile(file);
    assert.equal(readPrivateFile(file), null);
  });

  test('a file reached through a symlink is refused, for reading and for replacing', () => {
    const real = path.join(dir, 'real');
    fs.writeFileSync(real, '{}', { mode: 0o600 });
    const link = path.join(dir, 'link.json');
    fs.symlinkSync(real, link);
    assert.throws(() => readPrivateFile(link), refused('state_insecure', /symlink/));
    assert.throws(() => writePrivateFile(link, 'x'), refused('state_insecure', /symlink/));
    assert.equal(fs.readFileSync(real, 'utf8'), '{}');
    const linkDir = path.join(dir, 'linkdir');
    fs.symlinkSync(dir, linkDir);
    assert.throws(() => ensurePrivateDir(linkDir), refused('state_insecure', /symlink/));
  });

  test('a file owned by another user is refused', () => {
    const file = path.join(dir, 'f');
    fs.writeFileSync(file, 'x', { mode: 0o600 });
    const other = { uid: fs.statSync(file).uid + 1 };
    assert.throws(() => readPrivateFile(file, { owner: other }), refused('state_insecure', /owned by uid/));
  });

  test('a secret readable by group or others is refused and the message says how to fix it', () => {
    const file = path.join(dir, 'host-key.key');
    fs.writeFileSync(file, 'x');
    fs.chmodSync(file, 0o644);
    assert.throws(
      () => readPrivateFile(file, { secret: true }),
      (err: unknown) =>
        isHostError(err, 'state_insecure') &&
        err.path === file &&
        err.message.includes('mode 644') &&
        err.message.includes(`chmod 600 ${file}`),
    );
    assert.equal(readPrivateFile(file)?.toString(), 'x'); // a public file may be readable
    fs.chmodSync(file, 0o620);
    assert.throws(() => readPrivateFile(file), refused('state_insecure', /writable by group/));
    const open = path.join(dir, 'open');
    fs.mkdirSync(open, { mode: 0o755 });
    fs.chmodSync(open, 0o755);
    assert.throws(() => ensurePrivateDir(open), refused('state_insecure', /chmod 700/));
  });

  test('JSON files are schema-checked; a corrupt one is state_corrupt naming the file', () => {
    const file = path.join(dir, 'c.json');
    const parse = (v: unknown) => {
      if (typeof v !== 'object' || v === null || !('n' in v)) throw new Error('n missing');
      return v as { n: number };
    };
    assert.equal(readJsonFile(file, parse), null);
    writeJsonFile(file, { n: 1 });
    assert.deepEqual(readJsonFile(file, parse), { n: 1 });
    fs.writeFileSync(file, '{"n":');
    assert.throws(() => readJsonFile(file, parse), refused('state_corrupt', /c\.json: not valid JSON/));
    fs.writeFileSync(file, '{"m":1}');
    assert.throws(() => readJsonFile(file, parse), refused('state_corrupt', /c\.json: n missing/));
  });
});

describe('state paths', () => {
  test('explicit root, then POCKETSHELL_HOME, then ~/.pocketshell', () => {
    assert.equal(statePaths({ root: '/x/y', env: { POCKETSHELL_HOME: '/z' } }).root, '/x/y');
    assert.equal(statePaths({ env: { POCKETSHELL_HOME: '/z' } }).devices, '/z/devices.json');
    assert.equal(statePaths({ env: {}, home: '/home/u' }).audit, '/home/u/.pocketshell/audit.jsonl');
  });
});

describe('root guard', () => {
  test('refuses uid 0 unless allowed', () => {
    assert.throws(() => checkNotRoot({ uid: 0 }), refused('running_as_root', /--allow-root/));
    checkNotRoot({ uid: 0, allowRoot: true });
    checkNotRoot({ uid: 1000 });
  });
});
