/**
 * The `files` entry operations served directly (fileOps with a real audit
 * log), on real files and real links in a temporary folder: list, stat,
 * mkdir, rename, move — what each answers, what it refuses, what it
 * audits. Copy, delete and search are in their own test files.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { ProtocolError } from '@pocketshell/protocol';
import { type FilesFixture, filesFixture, TEST_DEVICE } from '../../testing/files.ts';
import { DEFAULT_OPS_LIMITS } from './ops.ts';

const code = (c: string) => (e: unknown) => e instanceof ProtocolError && e.code === c;

describe('files.list and files.stat', () => {
  let f: FilesFixture;
  before(async () => {
    f = await filesFixture();
    const h = f.home;
    await fs.mkdir(path.join(h, 'b-dir'));
    await fs.mkdir(path.join(h, 'A-dir'));
    await fs.writeFile(path.join(h, 'file10.txt'), 'x'.repeat(10));
    await fs.writeFile(path.join(h, 'file9.txt'), 'x'.repeat(300));
    await fs.writeFile(path.join(h, 'file1.txt'), 'x');
    await fs.writeFile(path.join(h, '.hidden'), 'h');
    await fs.mkdir(path.join(h, '.ssh'));
    await fs.writeFile(path.join(h, '.ssh', 'id_ed25519'), 'secret');
    await fs.writeFile(path.join(f.outside, 'sentinel'), 'out');
    await fs.symlink('file1.txt', path.join(h, 'l-file'));
    await fs.symlink('b-dir', path.join(h, 'l-dir'));
    await fs.symlink('nowhere', path.join(h, 'l-broken'));
    await fs.symlink(path.join(f.outside, 'sentinel'), path.join(h, 'l-out'));
    await fs.symlink('.ssh/id_ed25519', path.join(h, 'l-denied'));
    await fs.symlink(f.state, path.join(h, 'l-state'));
    await fs.symlink('l-loop', path.join(h, 'l-loop'));
    await fs.utimes(path.join(h, 'file10.txt'), 1000, 1000);
    await fs.utimes(path.join(h, 'file9.txt'), 3000, 3000);
    await fs.utimes(path.join(h, 'file1.txt'), 2000, 2000);
  });
  after(() => f.close());

  it('lists folders first, then by name (numeric), hidden entries only when asked', async () => {
    const r = await f.call('files.list', { path: '' });
    assert.deepEqual(
      r.entries.map((e) => e.name),
      [
        'A-dir',
        'b-dir',
        'file1.txt',
        'file9.txt',
        'file10.txt',
        'l-broken',
        'l-denied',
        'l-dir',
        'l-file',
        'l-loop',
        'l-out',
        'l-state',
      ],
    );
    assert.equal(r.total, 12);
    assert.equal(r.next, null);
    assert.equal(r.truncated, false);
    const all = await f.call('files.list', { path: '/', hidden: true });
    assert.equal(all.total, 14);
    assert.deepEqual(
      all.entries.slice(0, 3).map((e) => e.name),
      ['.ssh', 'A-dir', 'b-dir'],
    );
    const ssh = all.entries.find((e) => e.name === '.ssh');
    assert.equal(ssh?.denied, true);
    assert.equal(ssh?.type, 'dir');
  });

  it('sorts by size and by mtime, descending keeps folders first', async () => {
    const bySize = await f.call('files.list', { path: '', sort: 'size', desc: true });
    const files = bySize.entries.filter((e) => e.type === 'file').map((e) => e.name);
    assert.deepEqual(files, ['file9.txt', 'file10.txt', 'file1.txt']);
    assert.equal(bySize.entries[0]?.type, 'dir');
    const byTime = await f.call('files.list', { path: '', sort: 'mtime' });
    assert.deepEqual(
      byTime.entries.filter((e) => e.type === 'file').map((e) => e.name),
      ['file10.txt', 'file1.txt', 'file9.txt'],
    );
    const f9 = byTime.entries.find((e) => e.name === 'file9.txt');
    assert.equal(f9?.mtime, 3_000_000);
    assert.equal(f9?.size, 300);
  });

  it('pages with a cursor', async () => {
    const seen: string[] = [];
    let cursor: number | null = 0;
    let pages = 0;
    while (cursor !== null) {
      const r: { entries: { name: string }[]; next: number | null } = await f.call('files.list', {
        path: '',
        cursor,
        limit: 5,
      });
      seen.push(...r.entries.map((e) => e.name));
      cursor = r.next;
      pages++;
    }
    assert.equal(pages, 3);
    assert.equal(seen.length, 12);
    assert.equal(new Set(seen).size, 12);
  });

  it('describes links without following them: file, dir, broken, outside (out of the root, denied, a loop)', async () => {
    const r = await f.call('files.list', { path: '' });
    const link = Object.fromEntries(r.entries.filter((e) => e.type === 'link').map((e) => [e.name, e.link]));
    assert.deepEqual(link, {
      'l-file': 'file',
      'l-dir': 'dir',
      'l-broken': 'broken',
      'l-out': 'outside',
      'l-denied': 'outside',
      'l-state': 'outside',
      'l-loop': 'broken',
    });
    const st = await f.call('files.stat', { path: 'l-out' });
    assert.equal(st.type, 'link');
    assert.equal(st.link, 'outside');
    assert.equal(st.size, path.join(f.outside, 'sentinel').length);
  });

  it('stat: the root, a file, a denied entry shown as denied, anything under it refused', async () => {
    const r = await f.call('files.stat', { path: '' });
    assert.equal(r.type, 'dir');
    assert.equal(r.name, '');
    const file = await f.call('files.stat', { path: '/file9.txt' });
    assert.deepEqual(
      { ...file, mode: 0 },
      { name: 'file9.txt', type: 'file', size: 300, mtime: 3_000_000, mode: 0, path: 'file9.txt' },
    );
    assert.equal((await f.call('files.stat', { path: '.ssh' })).denied, true);
    await assert.rejects(f.call('files.stat', { path: '.ssh/id_ed25519' }), code('path_denied'));
    await assert.rejects(f.call('files.stat', { path: 'nope' }), code('not_found'));
  });

  it('refuses to list a denied folder, a link out of the root, a file, or `..`', async () => {
    await assert.rejects(f.call('files.list', { path: '.ssh' }), code('path_denied'));
    await assert.rejects(f.call('files.list', { path: 'l-state' }), code('path_denied'));
    await assert.rejects(f.call('files.list', { path: 'file1.txt' }), code('wrong_type'));
    await assert.rejects(f.call('files.list', { path: '../outside' }), code('bad_message'));
    // A link to a folder inside the root is followed.
    assert.equal((await f.call('files.list', { path: 'l-dir' })).total, 0);
  });
});

describe('files.list bounds', () => {
  it('reads at most the bound of entries: truncated, sorted by what was read', async () => {
    const f = await filesFixture({ limits: { ...DEFAULT_OPS_LIMITS, dirEntries: 10 } });
    try {
      for (let i = 0; i < 25; i++) await fs.writeFile(path.join(f.home, `f${i}`), '');
      const r = await f.call('files.list', { path: '', limit: 100 });
      assert.equal(r.truncated, true);
      assert.equal(r.total, 10);
      assert.equal(r.entries.length, 10);
      const names = r.entries.map((e) => e.name);
      assert.deepEqual(
        [...names].sort((a, b) => a.localeCompare(b, 'en', { numeric: true })),
        names,
      );
    } finally {
      await f.close();
    }
  });
});

describe('files.mkdir, files.rename, files.move', () => {
  let f: FilesFixture;
  before(async () => {
    f = await filesFixture();
  });
  after(() => f.close());
  afterEach(async () => {
    for (const e of await fs.readdir(f.home))
      await fs.rm(path.join(f.home, e), { recursive: true, force: true });
  });

  it('mkdir makes a folder (exists when taken); with parents, every missing one; audited', async () => {
    assert.deepEqual(await f.call('files.mkdir', { path: 'a' }), { path: 'a' });
    assert.ok((await fs.stat(path.join(f.home, 'a'))).isDirectory());
    await assert.rejects(f.call('files.mkdir', { path: 'a' }), code('exists'));
    await assert.rejects(f.call('files.mkdir', { path: 'x/y' }), code('not_found'));
    await f.call('files.mkdir', { path: 'a/b/c', parents: true });
    await f.call('files.mkdir', { path: 'a/b/c', parents: true });
    assert.ok((await fs.stat(path.join(f.home, 'a', 'b', 'c'))).isDirectory());
    await fs.writeFile(path.join(f.home, 'file'), '');
    await assert.rejects(f.call('files.mkdir', { path: 'file/sub', parents: true }), code('wrong_type'));
    await assert.rejects(f.call('files.mkdir', { path: '.ssh' }), code('path_denied'));
    await assert.rejects(f.call('files.mkdir', { path: '.gnupg/x', parents: true }), code('path_denied'));
    await fs.symlink(f.outside, path.join(f.home, 'out'));
    await assert.rejects(f.call('files.mkdir', { path: 'out/x', parents: true }), code('path_denied'));
    assert.deepEqual(await fs.readdir(f.outside), []);
    const made = (await f.audited()).filter((e) => e.event === 'files.mkdir');
    assert.deepEqual(
      made.map((e) => [e.device, e.path]),
      [
        [TEST_DEVICE, 'a'],
        [TEST_DEVICE, 'a/b/c'],
      ],
    );
  });

  it('rename within the folder; a taken name is `exists`; a deny-listed name is refused', async () => {
    await fs.mkdir(path.join(f.home, 'd'));
    await fs.writeFile(path.join(f.home, 'd', 'one'), '1');
    await fs.writeFile(path.join(f.home, 'd', 'two'), '2');
    await fs.mkdir(path.join(f.home, 'd', 'sub'));
    assert.deepEqual(await f.call('files.rename', { path: 'd/one', name: 'uno' }), { path: 'd/uno' });
    assert.equal(await fs.readFile(path.join(f.home, 'd', 'uno'), 'utf8'), '1');
    await assert.rejects(f.call('files.rename', { path: 'd/uno', name: 'two' }), code('exists'));
    await assert.rejects(f.call('files.rename', { path: 'd/sub', name: 'two' }), code('exists'));
    assert.equal(await fs.readFile(path.join(f.home, 'd', 'two'), 'utf8'), '2');
    assert.equal(await fs.readFile(path.join(f.home, 'd', 'uno'), 'utf8'), '1');
    await f.call('files.rename', { path: 'd/sub', name: 'folder' });
    assert.ok((await fs.stat(path.join(f.home, 'd', 'folder'))).isDirectory());
    await assert.rejects(f.call('files.rename', { path: 'd', name: '.ssh' }), code('path_denied'));
    await assert.rejects(f.call('files.rename', { path: 'd/two', name: '../x' }), code('bad_message'));
    await assert.rejects(f.call('files.rename', { path: '', name: 'x' }), code('path_denied'));
    const r = (await f.audited()).filter((e) => e.event === 'files.rename').map((e) => [e.path, e.to]);
    assert.deepEqual(r, [
      ['d/one', 'd/uno'],
      ['d/sub', 'd/folder'],
    ]);
  });

  it('move: never replaces unless asked; a folder into itself is refused; a folder holding a denied path stays', async () => {
    await fs.mkdir(path.join(f.home, 'src', 'inner'), { recursive: true });
    await fs.writeFile(path.join(f.home, 'src', 'f'), 'F');
    await fs.writeFile(path.join(f.home, 'taken'), 'T');
    await fs.mkdir(path.join(f.home, 'dst'));
    await f.call('files.move', { from: 'src/f', to: 'dst/f' });
    assert.equal(await fs.readFile(path.join(f.home, 'dst', 'f'), 'utf8'), 'F');
    await assert.rejects(fs.stat(path.join(f.home, 'src', 'f')));
    await assert.rejects(f.call('files.move', { from: 'dst/f', to: 'taken' }), code('exists'));
    assert.equal(await fs.readFile(path.join(f.home, 'taken'), 'utf8'), 'T');
    assert.equal(await fs.readFile(path.join(f.home, 'dst', 'f'), 'utf8'), 'F');
    await f.call('files.move', { from: 'dst/f', to: 'taken', overwrite: true });
    assert.equal(await fs.readFile(path.join(f.home, 'taken'), 'utf8'), 'F');
    // Folders: onto a taken name refused, even an empty folder; into itself refused.
    await fs.mkdir(path.join(f.home, 'empty'));
    await assert.rejects(f.call('files.move', { from: 'src', to: 'empty' }), code('exists'));
    await assert.rejects(f.call('files.move', { from: 'src', to: 'src/inner/src' }), code('bad_message'));
    await f.call('files.move', { from: 'src', to: 'dst/moved' });
    assert.ok((await fs.stat(path.join(f.home, 'dst', 'moved', 'inner'))).isDirectory());
    // A link moves as a link, its target untouched.
    await fs.symlink(f.outside, path.join(f.home, 'l'));
    await f.call('files.move', { from: 'l', to: 'dst/l' });
    assert.equal(await fs.readlink(path.join(f.home, 'dst', 'l')), f.outside);
    // Holding a denied path: refused whole; the deny list itself and the outside refused.
    await fs.mkdir(path.join(f.home, '.docker'));
    await fs.writeFile(path.join(f.home, '.docker', 'config.json'), '{}');
    await fs.writeFile(path.join(f.home, '.docker', 'daemon.json'), '{}');
    await assert.rejects(f.call('files.move', { from: '.docker', to: 'docker' }), code('path_denied'));
    await assert.rejects(
      f.call('files.move', { from: '.docker/config.json', to: 'c.json' }),
      code('path_denied'),
    );
    await f.call('files.move', { from: '.docker/daemon.json', to: 'd.json' });
    assert.equal(await fs.readFile(path.join(f.home, '.docker', 'config.json'), 'utf8'), '{}');
    await assert.rejects(f.call('files.move', { from: 'taken', to: '.ssh' }), code('path_denied'));
    await assert.rejects(f.call('files.move', { from: 'taken', to: 'dst/l/x' }), code('path_denied'));
    assert.deepEqual(await fs.readdir(f.outside), []);
    const moves = (await f.audited()).filter((e) => e.event === 'files.move').map((e) => [e.path, e.to]);
    assert.deepEqual(moves, [
      ['src/f', 'dst/f'],
      ['dst/f', 'taken'],
      ['src', 'dst/moved'],
      ['l', 'dst/l'],
      ['.docker/daemon.json', 'd.json'],
    ]);
  });
});
