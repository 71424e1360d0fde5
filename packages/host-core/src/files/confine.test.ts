/**
 * FileRoot's confinement, with real files and real links in a temporary
 * folder: a deny path that is a link — or becomes one after the root was
 * opened — is denied under its own name as well as its target's; a denied
 * path under a linked folder that did not exist yet is denied by its real
 * path; `..` and non-names never reach the file system.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ProtocolError } from '@pocketshell/protocol';
import { type FilesFixture, filesFixture } from '../../testing/files.ts';
import { FileRoot } from './confine.ts';

const denied = (e: unknown) => e instanceof ProtocolError && e.code === 'path_denied';
const bad = (e: unknown) => e instanceof ProtocolError && e.code === 'bad_message';

describe('FileRoot confinement', () => {
  let f: FilesFixture;
  before(async () => {
    f = await filesFixture();
  });
  after(() => f.close());

  it('a deny path made a link after the root was opened is denied under its own name', async () => {
    // `.ssh` does not exist when the root opens; then it appears as a link to `keys`.
    const root = await FileRoot.open({ root: f.home, home: f.home });
    await fs.mkdir(path.join(f.home, 'keys'));
    await fs.writeFile(path.join(f.home, 'keys', 'id_ed25519'), 'secret');
    await fs.symlink('keys', path.join(f.home, '.ssh'));
    try {
      await assert.rejects(root.openFile('.ssh/id_ed25519'), denied);
      await assert.rejects(root.dir('.ssh'), denied);
      await assert.rejects(root.parentOf('.ssh/id_ed25519'), denied);
      await assert.rejects(root.parentOf('.ssh'), denied);
    } finally {
      await fs.rm(path.join(f.home, '.ssh'));
      await fs.rm(path.join(f.home, 'keys'), { recursive: true });
    }
  });

  it('a deny path that is a link is denied under both names', async () => {
    await fs.mkdir(path.join(f.home, 'dot', 'aws'), { recursive: true });
    await fs.writeFile(path.join(f.home, 'dot', 'aws', 'credentials'), 'secret');
    await fs.symlink('dot/aws', path.join(f.home, '.aws'));
    try {
      const root = await FileRoot.open({ root: f.home, home: f.home });
      await assert.rejects(root.openFile('.aws/credentials'), denied);
      await assert.rejects(root.openFile('dot/aws/credentials'), denied);
      assert.ok(root.holdsDenied(path.join(f.home, 'dot')));
    } finally {
      await fs.rm(path.join(f.home, '.aws'));
      await fs.rm(path.join(f.home, 'dot'), { recursive: true });
    }
  });

  it('a denied file under a linked folder that appears later is denied by its real path', async () => {
    // `.config` links to `dotfiles/config`; `gh/hosts.yml` is made only after the root opened.
    await fs.mkdir(path.join(f.home, 'dotfiles', 'config'), { recursive: true });
    await fs.symlink('dotfiles/config', path.join(f.home, '.config'));
    try {
      const root = await FileRoot.open({ root: f.home, home: f.home });
      await fs.mkdir(path.join(f.home, 'dotfiles', 'config', 'gh'));
      await fs.writeFile(path.join(f.home, 'dotfiles', 'config', 'gh', 'hosts.yml'), 'oauth');
      await assert.rejects(root.openFile('dotfiles/config/gh/hosts.yml'), denied);
      await assert.rejects(root.openFile('.config/gh/hosts.yml'), denied);
    } finally {
      await fs.rm(path.join(f.home, '.config'));
      await fs.rm(path.join(f.home, 'dotfiles'), { recursive: true });
    }
  });

  it('paths and names are checked again: `..`, NUL and non-names never reach the file system', async () => {
    await assert.rejects(async () => f.root.join('../outside'), bad);
    await assert.rejects(f.root.openFile('a/../../outside/x'), bad);
    await assert.rejects(f.root.dir('..'), bad);
    await assert.rejects(f.root.parentOf('x\0y'), bad);
    const dir = await f.root.dir('');
    try {
      for (const name of ['..', '.', '', 'a/b', 'a\0'])
        assert.throws(() => dir.path(name), bad, JSON.stringify(name));
      assert.equal(dir.path('ok'), `${dir.path()}/ok`);
    } finally {
      await dir.close();
    }
  });

  it('the trash defaults under the home given', async () => {
    assert.equal(f.root.trash, path.join(f.home, '.local', 'share', 'Trash'));
  });
});
