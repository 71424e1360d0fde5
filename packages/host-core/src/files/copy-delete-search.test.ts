/**
 * `files.copy`, `files.delete` (trash and permanent) and `files.search`
 * served directly, on real files and real links in a temporary folder:
 * what each does, its bounds (`limit_reached` leaves nothing, `truncated`),
 * the freedesktop.org trash layout, and that links are never followed.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { ProtocolError } from '@pocketshell/protocol';
import { type FilesFixture, filesFixture } from '../../testing/files.ts';
import { FileRoot } from './confine.ts';
import { DEFAULT_OPS_LIMITS } from './ops.ts';
import { encodeTrashPath, moveToTrash, trashName } from './trash.ts';

const code = (c: string) => (e: unknown) => e instanceof ProtocolError && e.code === c;

async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string, rel: string) => {
    for (const e of (await fs.readdir(d, { withFileTypes: true })).sort((a, b) =>
      a.name < b.name ? -1 : 1,
    )) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isSymbolicLink()) out.push(`${r} -> ${await fs.readlink(path.join(d, e.name))}`);
      else if (e.isDirectory()) {
        out.push(`${r}/`);
        await walk(path.join(d, e.name), r);
      } else out.push(`${r} = ${await fs.readFile(path.join(d, e.name), 'utf8')}`);
    }
  };
  await walk(dir, '');
  return out;
}

describe('files.copy', () => {
  let f: FilesFixture;
  before(async () => {
    f = await filesFixture({ limits: { ...DEFAULT_OPS_LIMITS, tree: { entries: 6, depth: 8 } } });
  });
  after(() => f.close());
  afterEach(async () => {
    for (const d of [f.home, f.outside])
      for (const e of await fs.readdir(d)) await fs.rm(path.join(d, e), { recursive: true, force: true });
  });

  it('copies a file, a link as a link, a folder recursively; never onto a taken name unless asked', async () => {
    await fs.mkdir(path.join(f.home, 'src', 'sub'), { recursive: true });
    await fs.writeFile(path.join(f.home, 'src', 'a'), 'A');
    await fs.writeFile(path.join(f.home, 'src', 'sub', 'b'), 'BB');
    await fs.symlink(path.join(f.outside, 'secret'), path.join(f.home, 'src', 'out'));
    await fs.writeFile(path.join(f.outside, 'secret'), 'S');
    await fs.chmod(path.join(f.home, 'src', 'a'), 0o640);
    assert.deepEqual(await f.call('files.copy', { from: 'src/a', to: 'a2' }), {
      path: 'a2',
      entries: 1,
      bytes: 1,
    });
    assert.equal((await fs.stat(path.join(f.home, 'a2'))).mode & 0o777, 0o640);
    const r = await f.call('files.copy', { from: 'src', to: 'dst' });
    assert.deepEqual(r, { path: 'dst', entries: 5, bytes: 3 });
    assert.deepEqual(await tree(path.join(f.home, 'dst')), [
      'a = A',
      `out -> ${path.join(f.outside, 'secret')}`,
      'sub/',
      'sub/b = BB',
    ]);
    await assert.rejects(f.call('files.copy', { from: 'src/sub/b', to: 'a2' }), code('exists'));
    assert.equal(await fs.readFile(path.join(f.home, 'a2'), 'utf8'), 'A');
    await f.call('files.copy', { from: 'src/sub/b', to: 'a2', overwrite: true });
    assert.equal(await fs.readFile(path.join(f.home, 'a2'), 'utf8'), 'BB');
    await assert.rejects(f.call('files.copy', { from: 'src', to: 'dst' }), code('exists'));
    await assert.rejects(f.call('files.copy', { from: 'src', to: 'src/sub/again' }), code('bad_message'));
    // No temporary copy is left behind, and the outside is as it was.
    assert.deepEqual(
      (await fs.readdir(f.home)).filter((n) => n.includes('pocketshell')),
      [],
    );
    assert.deepEqual(await fs.readdir(f.outside), ['secret']);
    // Audited with the hash of what was written when it was one file (a folder: its counts).
    const c = (await f.audited())
      .filter((e) => e.event === 'files.copy')
      .map((e) => [e.path, e.to, e.bytes, e.sha256]);
    const sha = (s: string) => createHash('sha256').update(s).digest('hex');
    assert.deepEqual(c, [
      ['src/a', 'a2', 1, sha('A')],
      ['src', 'dst', 3, undefined],
      ['src/sub/b', 'a2', 2, sha('BB')],
    ]);
  });

  it('past the entry bound: limit_reached, and nothing appears', async () => {
    await fs.mkdir(path.join(f.home, 'big'));
    for (let i = 0; i < 8; i++) await fs.writeFile(path.join(f.home, 'big', `f${i}`), `${i}`);
    await assert.rejects(f.call('files.copy', { from: 'big', to: 'big2' }), code('limit_reached'));
    assert.deepEqual(await fs.readdir(f.home), ['big']);
  });

  it('refuses the deny list, a folder holding it, a link out as the target folder, the root', async () => {
    await fs.mkdir(path.join(f.home, '.ssh'));
    await fs.writeFile(path.join(f.home, '.ssh', 'id'), 'k');
    await fs.mkdir(path.join(f.home, '.config', 'gcloud'), { recursive: true });
    await fs.writeFile(path.join(f.home, 'plain'), 'p');
    await fs.symlink(f.outside, path.join(f.home, 'out'));
    await assert.rejects(f.call('files.copy', { from: '.ssh', to: 'ssh' }), code('path_denied'));
    await assert.rejects(f.call('files.copy', { from: '.ssh/id', to: 'id' }), code('path_denied'));
    await assert.rejects(f.call('files.copy', { from: '.config', to: 'config' }), code('path_denied'));
    await assert.rejects(f.call('files.copy', { from: 'plain', to: '.ssh/plain' }), code('path_denied'));
    await assert.rejects(f.call('files.copy', { from: 'plain', to: 'out/plain' }), code('path_denied'));
    await assert.rejects(f.call('files.copy', { from: '', to: 'everything' }), code('path_denied'));
    assert.deepEqual(await fs.readdir(f.outside), []);
    assert.deepEqual((await fs.readdir(f.home)).sort(), ['.config', '.ssh', 'out', 'plain']);
  });
});

describe('files.delete', () => {
  let f: FilesFixture;
  before(async () => {
    f = await filesFixture();
  });
  after(() => f.close());
  afterEach(async () => {
    for (const d of [f.home, f.outside])
      for (const e of await fs.readdir(d)) await fs.rm(path.join(d, e), { recursive: true, force: true });
  });
  const trash = () => path.join(f.home, '.local', 'share', 'Trash');

  it('moves to the trash in the freedesktop.org layout, with unique names', async () => {
    await fs.mkdir(path.join(f.home, 'd', 'sub'), { recursive: true });
    await fs.writeFile(path.join(f.home, 'd', 'sub', 'x'), 'X');
    await fs.writeFile(path.join(f.home, 'd', 'n m%'), '1');
    const before = Date.now();
    assert.deepEqual(await f.call('files.delete', { path: 'd/n m%' }), { trashed: true });
    await fs.writeFile(path.join(f.home, 'd', 'n m%'), '2');
    await f.call('files.delete', { path: 'd/n m%' });
    await f.call('files.delete', { path: 'd/sub' });
    assert.deepEqual(await fs.readdir(path.join(f.home, 'd')), []);
    assert.deepEqual((await fs.readdir(path.join(trash(), 'files'))).sort(), ['n m%', 'n m%.2', 'sub']);
    assert.equal(await fs.readFile(path.join(trash(), 'files', 'n m%.2'), 'utf8'), '2');
    assert.equal(await fs.readFile(path.join(trash(), 'files', 'sub', 'x'), 'utf8'), 'X');
    const info = await fs.readFile(path.join(trash(), 'info', 'n m%.2.trashinfo'), 'utf8');
    const m = /^\[Trash Info\]\nPath=(.*)\nDeletionDate=(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\n$/.exec(info);
    assert.ok(m, info);
    assert.equal(m[1], `${encodeTrashPath(f.home)}/d/n%20m%25`);
    assert.equal(decodeURIComponent(m[1] ?? ''), path.join(f.home, 'd', 'n m%'));
    const when = new Date(m[2] ?? '').getTime(); // local time, as written
    assert.ok(when >= Math.floor(before / 1000) * 1000 && when <= Date.now(), m[2]);
    assert.deepEqual((await fs.readdir(path.join(trash(), 'info'))).sort(), [
      'n m%.2.trashinfo',
      'n m%.trashinfo',
      'sub.trashinfo',
    ]);
    const d = (await f.audited()).filter((e) => e.event === 'files.delete').map((e) => [e.path, e.trashed]);
    assert.deepEqual(d, [
      ['d/n m%', 'n m%'],
      ['d/n m%', 'n m%.2'],
      ['d/sub', 'sub'],
    ]);
  });

  it('permanent: removes a tree, links removed and never followed', async () => {
    await fs.writeFile(path.join(f.outside, 'keep'), 'K');
    await fs.mkdir(path.join(f.outside, 'dir'));
    await fs.mkdir(path.join(f.home, 't', 'a', 'b'), { recursive: true });
    await fs.writeFile(path.join(f.home, 't', 'a', 'b', 'f'), 'F');
    await fs.symlink(path.join(f.outside, 'keep'), path.join(f.home, 't', 'a', 'lf'));
    await fs.symlink(path.join(f.outside, 'dir'), path.join(f.home, 't', 'ld'));
    assert.deepEqual(await f.call('files.delete', { path: 't', permanent: true }), { trashed: false });
    assert.deepEqual(await fs.readdir(f.home), []);
    assert.deepEqual((await fs.readdir(f.outside)).sort(), ['dir', 'keep']);
    assert.equal(await fs.readFile(path.join(f.outside, 'keep'), 'utf8'), 'K');
    // A link to a folder out of the root is deleted as a link.
    await fs.symlink(path.join(f.outside, 'dir'), path.join(f.home, 'l'));
    await f.call('files.delete', { path: 'l', permanent: true });
    assert.ok((await fs.stat(path.join(f.outside, 'dir'))).isDirectory());
    const d = (await f.audited()).filter((e) => e.event === 'files.delete' && e.permanent === true);
    assert.deepEqual(
      d.map((e) => [e.path, e.entries]),
      [
        ['t', 6],
        ['l', 1],
      ],
    );
  });

  it('refuses the root, the deny list and a folder holding it; a trash reached through a link in the root', async () => {
    await fs.mkdir(path.join(f.home, '.gnupg'));
    await fs.mkdir(path.join(f.home, '.local', 'share', 'keyrings'), { recursive: true });
    await fs.writeFile(path.join(f.home, 'victim'), 'v');
    for (const permanent of [false, true]) {
      await assert.rejects(f.call('files.delete', { path: '', permanent }), code('path_denied'));
      await assert.rejects(f.call('files.delete', { path: '/', permanent }), code('path_denied'));
      await assert.rejects(f.call('files.delete', { path: '.gnupg', permanent }), code('path_denied'));
      await assert.rejects(f.call('files.delete', { path: '.local', permanent }), code('path_denied'));
    }
    // The trash replaced by a link to the outside: the file stays where it is.
    await fs.rm(path.join(f.home, '.local', 'share', 'Trash'), { recursive: true, force: true });
    await fs.symlink(f.outside, path.join(f.home, '.local', 'share', 'Trash'));
    await assert.rejects(f.call('files.delete', { path: 'victim' }), code('not_permitted'));
    assert.equal(await fs.readFile(path.join(f.home, 'victim'), 'utf8'), 'v');
    assert.deepEqual(await fs.readdir(f.outside), []);
    await fs.rm(path.join(f.home, '.local', 'share', 'Trash'));
    await fs.symlink(path.join(f.home, '.gnupg'), path.join(f.home, '.local', 'share', 'Trash'));
    await assert.rejects(f.call('files.delete', { path: 'victim' }));
    assert.deepEqual(await fs.readdir(path.join(f.home, '.gnupg')), []);
  });

  it('a trash reached by a link outside the root that leads through a link inside it is refused', async () => {
    // The host user's link `base/tlink` points into the root, at a link a device made there to the outside.
    const projects = path.join(f.home, 'projects');
    await fs.mkdir(projects);
    await fs.symlink(f.outside, path.join(projects, 'evil'));
    await fs.symlink(path.join(projects, 'evil'), path.join(f.base, 'tlink'));
    await fs.writeFile(path.join(projects, 'victim'), 'v');
    try {
      const root = await FileRoot.open({
        root: projects,
        home: f.home,
        trash: path.join(f.base, 'tlink', 'Trash'),
      });
      const dir = await root.dir('');
      try {
        await assert.rejects(moveToTrash(root, dir, 'victim', false), code('not_permitted'));
      } finally {
        await dir.close();
      }
      assert.deepEqual(await fs.readdir(f.outside), []);
      assert.equal(await fs.readFile(path.join(projects, 'victim'), 'utf8'), 'v');
      // Through a link outside the root to a real folder, the trash works.
      await fs.mkdir(path.join(f.base, 'real-data'));
      await fs.rm(path.join(f.base, 'tlink'));
      await fs.symlink(path.join(f.base, 'real-data'), path.join(f.base, 'tlink'));
      const again = await FileRoot.open({
        root: projects,
        home: f.home,
        trash: path.join(f.base, 'tlink', 'Trash'),
      });
      const d2 = await again.dir('');
      try {
        assert.equal(await moveToTrash(again, d2, 'victim', false), 'victim');
      } finally {
        await d2.close();
      }
      assert.equal(
        await fs.readFile(path.join(f.base, 'real-data', 'Trash', 'files', 'victim'), 'utf8'),
        'v',
      );
    } finally {
      await fs.rm(path.join(f.base, 'tlink'), { force: true });
      await fs.rm(path.join(f.base, 'real-data'), { recursive: true, force: true });
    }
  });

  it('trash names stay within 255 bytes with their .trashinfo', () => {
    const long = 'é'.repeat(127);
    for (const n of [1, 2, 1000]) {
      const name = trashName(long, n);
      assert.ok(Buffer.byteLength(`${name}.trashinfo`) <= 255, name);
      assert.ok(name.startsWith('éé'));
    }
    assert.equal(trashName('a', 1), 'a');
    assert.equal(trashName('a', 3), 'a.3');
  });
});

describe('files.search', () => {
  let f: FilesFixture;
  before(async () => {
    f = await filesFixture({
      limits: { ...DEFAULT_OPS_LIMITS, search: { visits: 1000, ms: 60_000, depth: 8 } },
    });
    const h = f.home;
    await fs.mkdir(path.join(h, 'Projects', 'Report-old'), { recursive: true });
    await fs.writeFile(path.join(h, 'Projects', 'report.txt'), '');
    await fs.writeFile(path.join(h, 'Projects', 'Report-old', 'REPORT.md'), '');
    await fs.mkdir(path.join(h, '.cache'));
    await fs.writeFile(path.join(h, '.cache', 'report.bin'), '');
    await fs.writeFile(path.join(h, '.report'), '');
    await fs.mkdir(path.join(h, '.ssh'));
    await fs.writeFile(path.join(h, '.ssh', 'report'), '');
    await fs.mkdir(path.join(f.outside, 'report-outside'));
    await fs.symlink(f.outside, path.join(h, 'out'));
    await fs.symlink('Projects', path.join(h, 'loop'));
  });
  after(() => f.close());

  it('finds names case-insensitively, never following links, skipping hidden unless asked and denied folders', async () => {
    const r = await f.call('files.search', { path: '', query: 'rePort' });
    assert.deepEqual(r.matches.map((m) => m.path).sort(), [
      'Projects/Report-old',
      'Projects/Report-old/REPORT.md',
      'Projects/report.txt',
    ]);
    assert.equal(r.truncated, false);
    const all = await f.call('files.search', { path: '/', query: 'report', hidden: true });
    assert.deepEqual(all.matches.map((m) => m.path).sort(), [
      '.cache/report.bin',
      '.report',
      'Projects/Report-old',
      'Projects/Report-old/REPORT.md',
      'Projects/report.txt',
    ]);
    const links = await f.call('files.search', { path: '', query: 'o' });
    const out = links.matches.find((m) => m.path === 'out');
    assert.equal(out?.link, 'outside');
    assert.ok(!links.matches.some((m) => m.path.startsWith('out/') || m.path.startsWith('loop/')));
    await assert.rejects(f.call('files.search', { path: 'out', query: 'r' }), code('path_denied'));
    await assert.rejects(f.call('files.search', { path: '.ssh', query: 'r' }), code('path_denied'));
  });

  it('stops at the bounds: matches asked, entries visited', async () => {
    const one = await f.call('files.search', { path: '', query: 'report', limit: 1 });
    assert.equal(one.matches.length, 1);
    assert.equal(one.truncated, true);
    for (let i = 0; i < 1100; i++) await fs.writeFile(path.join(f.home, `zz${i}`), '');
    const many = await f.call('files.search', { path: '', query: 'nomatch' });
    assert.equal(many.truncated, true);
    assert.deepEqual(many.matches, []);
  });

  it('stops at the time bound', async () => {
    // A bound already past: the walk stops at its first entry.
    const g = await filesFixture({
      limits: { ...DEFAULT_OPS_LIMITS, search: { visits: 1000, ms: -1, depth: 8 } },
    });
    try {
      await fs.writeFile(path.join(g.home, 'match'), '');
      assert.deepEqual(await g.call('files.search', { path: '', query: 'match' }), {
        matches: [],
        truncated: true,
      });
    } finally {
      await g.close();
    }
  });
});
