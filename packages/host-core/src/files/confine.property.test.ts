/**
 * Property tests of the `files` confinement (issue 15's acceptance), on real
 * files and real links in a temporary folder, 10 000 generated cases in all:
 *
 * - traversal paths (`..`, `.`, `//`, NUL, absolute, long, unicode, random
 *   text) over every entry operation and FileRoot's own doors (4 500 runs);
 * - generated link layouts (links inside, outside, onto the deny list,
 *   chains, loops, broken, onto the root) under every operation (4 500 runs);
 * - a child process swapping a folder, a file and a parent folder between
 *   the real thing and a link to the outside, by `rename`, as fast as it
 *   can while the operations run (1 000 runs, 1–4 operations each).
 *
 * After every run, nothing outside the root and nothing on the deny list
 * was read or written: each watched object (the folder beside the root
 * holding sentinel files, the root's parent, the denied files and
 * folders) has the same inode, mode, link count, size, mtime, ctime — and
 * atime: the sentinels' access times are set equal to their modification
 * times, so on this `relatime` mount a single read of a sentinel or
 * listing of a sentinel folder moves its atime. The walk of the results
 * checks that no sentinel content or name ever came back, and no
 * operation fails with anything but a coded, expected refusal.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ProtocolError } from '@pocketshell/protocol';
import fc from 'fast-check';
import { type FilesFixture, filesFixture } from '../../testing/files.ts';
import type { OpsMethod } from './ops.ts';

const OUT_MARK = 'OUTSIDE-SENTINEL';
const DENY_MARK = 'DENIED-SENTINEL';
const OUT_ONLY = 'outside-only.txt';
const DENY_ONLY = 'denied-only-name';
const PAST = new Date('2020-01-01T00:00:00Z');
/** Codes an operation may refuse with; anything else (`internal`, an uncoded throw) fails the property. */
const EXPECTED = new Set([
  'bad_message',
  'path_denied',
  'not_found',
  'wrong_type',
  'exists',
  'not_permitted',
  'limit_reached',
]);

/** The folders and files no operation may ever touch. */
function makeSentinels(f: FilesFixture): string[] {
  const o = f.outside;
  fs.mkdirSync(path.join(o, 'dir', 'q'), { recursive: true });
  fs.mkdirSync(path.join(o, 'dir', 'sub'), { recursive: true });
  fs.writeFileSync(path.join(o, 'sentinel.txt'), `${OUT_MARK} top`);
  fs.writeFileSync(path.join(o, 'dir', 'inner.txt'), `${OUT_MARK} inner`);
  fs.writeFileSync(path.join(o, 'dir', OUT_ONLY), `${OUT_MARK} only`);
  fs.writeFileSync(path.join(o, 'dir', 'q', 'file'), `${OUT_MARK} q`);
  const h = f.home;
  fs.mkdirSync(path.join(h, '.ssh'));
  fs.writeFileSync(path.join(h, '.ssh', 'id_ed25519'), `${DENY_MARK} ssh`);
  fs.writeFileSync(path.join(h, '.ssh', DENY_ONLY), `${DENY_MARK} only`);
  fs.mkdirSync(path.join(h, '.aws'));
  fs.writeFileSync(path.join(h, '.aws', 'credentials'), `${DENY_MARK} aws`);
  fs.mkdirSync(path.join(h, '.docker'));
  fs.writeFileSync(path.join(h, '.docker', 'config.json'), `${DENY_MARK} docker`);
  fs.mkdirSync(path.join(f.state, 'secret-dir'));
  fs.writeFileSync(path.join(f.state, 'secret-dir', 'secret'), `${DENY_MARK} state`);
  const watched = [
    path.join(o, 'sentinel.txt'),
    path.join(o, 'dir', 'inner.txt'),
    path.join(o, 'dir', OUT_ONLY),
    path.join(o, 'dir', 'q', 'file'),
    path.join(o, 'dir', 'q'),
    path.join(o, 'dir', 'sub'),
    path.join(o, 'dir'),
    o,
    path.join(h, '.ssh', 'id_ed25519'),
    path.join(h, '.ssh', DENY_ONLY),
    path.join(h, '.ssh'),
    path.join(h, '.aws', 'credentials'),
    path.join(h, '.aws'),
    path.join(h, '.docker', 'config.json'),
    path.join(f.state, 'secret-dir', 'secret'),
    path.join(f.state, 'secret-dir'),
  ];
  return [...watched, f.base];
}

/** Sets each watched object's atime and mtime to the same past time (children first): a read moves the atime. */
function rewind(watched: readonly string[]): void {
  for (const p of watched) fs.utimesSync(p, PAST, PAST);
}

type Stamps = Map<string, string>;
function stamps(paths: readonly string[]): Stamps {
  const m: Stamps = new Map();
  for (const p of paths) {
    const s = fs.lstatSync(p, { bigint: true });
    m.set(
      p,
      `ino=${s.ino} mode=${s.mode} nlink=${s.nlink} size=${s.size} m=${s.mtimeNs} c=${s.ctimeNs} a=${s.atimeNs}`,
    );
  }
  return m;
}

/** Everything under `dir` (names, link texts, file contents), read once at the end. */
function contents(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = path.join(d, e.name);
      const r = `${rel}/${e.name}`;
      if (e.isSymbolicLink()) out.push(`${r} -> ${fs.readlinkSync(p)}`);
      else if (e.isDirectory()) {
        out.push(`${r}/`);
        walk(p, r);
      } else out.push(`${r} = ${fs.readFileSync(p, 'utf8')}`);
    }
  };
  walk(dir, '');
  return out;
}

/** Empties the root but for the denied sentinels (and `.docker/config.json`). */
function resetHome(f: FilesFixture): void {
  for (const e of fs.readdirSync(f.home)) {
    if (e === '.ssh' || e === '.aws') continue;
    if (e === '.docker') {
      for (const d of fs.readdirSync(path.join(f.home, e)))
        if (d !== 'config.json') fs.rmSync(path.join(f.home, e, d), { recursive: true, force: true });
      continue;
    }
    fs.rmSync(path.join(f.home, e), { recursive: true, force: true });
  }
}

/** Files inside the root (not the denied ones) that hold a sentinel's bytes, and sentinel-only names. */
function leaksInside(f: FilesFixture): string[] {
  const bad: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (p === path.join(f.home, '.ssh') || p === path.join(f.home, '.aws')) continue;
      if (p === path.join(f.home, '.docker', 'config.json')) continue;
      if (e.name === OUT_ONLY || e.name === DENY_ONLY) bad.push(p);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) {
        const text = fs.readFileSync(p, 'utf8');
        if (text.includes(OUT_MARK) || text.includes(DENY_MARK)) bad.push(p);
      }
    }
  };
  walk(f.home);
  return bad;
}

/** One operation with its (unparsed) params. */
type Op =
  | { kind: 'read'; path: string }
  | { kind: 'raw'; door: 'openFile' | 'dir' | 'parentOf'; path: string }
  | { kind: 'call'; method: OpsMethod; params: Record<string, unknown> };

/** What an answer may never hold: a sentinel's name or bytes. */
function checkAnswer(value: unknown): void {
  const text = JSON.stringify(value) ?? '';
  assert.ok(
    !text.includes(OUT_ONLY) && !text.includes(DENY_ONLY),
    `a sentinel name came back: ${text.slice(0, 300)}`,
  );
  assert.ok(
    !text.includes(OUT_MARK) && !text.includes(DENY_MARK),
    `sentinel bytes came back: ${text.slice(0, 300)}`,
  );
}

/** Runs one operation; a refusal must be coded and expected. */
async function run(f: FilesFixture, op: Op): Promise<void> {
  try {
    if (op.kind === 'call') {
      checkAnswer(await f.call(op.method, op.params));
    } else if (op.kind === 'read' || op.door === 'openFile') {
      const opened = await f.root.openFile(op.path);
      try {
        assert.ok(opened.real === f.root.root || opened.real.startsWith(`${f.root.root}/`), opened.real);
        assert.ok(!f.root.isDenied(opened.real), opened.real);
        const buf = Buffer.alloc(256);
        const { bytesRead } = await opened.handle.read(buf, 0, 256, 0);
        checkAnswer(buf.subarray(0, bytesRead).toString('utf8'));
      } finally {
        await opened.handle.close();
      }
    } else if (op.door === 'dir') {
      const dir = await f.root.dir(op.path);
      try {
        assert.ok(dir.real === f.root.root || dir.real.startsWith(`${f.root.root}/`), dir.real);
        checkAnswer(fs.readdirSync(dir.path()));
      } finally {
        await dir.close();
      }
    } else {
      const { dir, name } = await f.root.parentOf(op.path);
      try {
        assert.ok(!f.root.isDenied(path.join(dir.real, name)));
        checkAnswer(fs.readdirSync(dir.path()));
      } finally {
        await dir.close();
      }
    }
  } catch (error) {
    if (error instanceof assert.AssertionError) throw error;
    assert.ok(error instanceof ProtocolError, `an uncoded error: ${String(error)}`);
    assert.ok(EXPECTED.has(error.code), `${error.code}: ${error.message} (${JSON.stringify(op)})`);
  }
}

/** An operation over generated paths. */
function opArb(pathArb: fc.Arbitrary<string>, nameArb: fc.Arbitrary<string>): fc.Arbitrary<Op> {
  const p = pathArb;
  const call = (method: OpsMethod, params: fc.Arbitrary<Record<string, unknown>>) =>
    params.map((x): Op => ({ kind: 'call', method, params: x }));
  return fc.oneof(
    p.map((x): Op => ({ kind: 'read', path: x })),
    fc
      .record({ door: fc.constantFrom('openFile', 'dir', 'parentOf' as const), path: p })
      .map((x): Op => ({ kind: 'raw', ...x })),
    call(
      'files.list',
      fc.record({ path: p, hidden: fc.boolean(), sort: fc.constantFrom('name', 'size', 'mtime') }),
    ),
    call('files.stat', fc.record({ path: p })),
    call('files.mkdir', fc.record({ path: p, parents: fc.boolean() })),
    call('files.rename', fc.record({ path: p, name: nameArb })),
    call('files.move', fc.record({ from: p, to: p, overwrite: fc.boolean() })),
    call('files.copy', fc.record({ from: p, to: p, overwrite: fc.boolean() })),
    call('files.delete', fc.record({ path: p, permanent: fc.boolean() })),
    call(
      'files.search',
      fc.record({ path: p, query: fc.constantFrom('', 'i', 'q', 'txt', 'id', 'only'), hidden: fc.boolean() }),
    ),
  );
}

describe('files confinement, property tests (10 000 runs in all)', () => {
  let f: FilesFixture;
  let watched: string[];
  let initial: Stamps;
  let outsideInitially: string[];
  before(async () => {
    // On a memory file system when there is one (the audit log's fsyncs are most of a run's time on a disk).
    const shm = fs.existsSync('/dev/shm') && fs.statSync('/dev/shm').isDirectory() ? '/dev/shm' : undefined;
    f = await filesFixture({
      ...(shm ? { tmp: shm } : {}),
      limits: {
        tree: { entries: 200, depth: 16 },
        search: { visits: 500, ms: 10_000, depth: 8 },
        dirEntries: 1000,
      },
    });
    watched = makeSentinels(f);
    outsideInitially = contents(f.outside);
    rewind(watched.slice(0, -1));
    initial = stamps(watched);
  });
  after(async () => {
    // Once, at the end: every sentinel's bytes and the outside's entries as made.
    assert.deepEqual(contents(f.outside), outsideInitially);
    await f.close();
  });

  /**
   * The inside layout's folders (inode, mtime): an operation that changed
   * anything in them — made, removed or renamed an entry — moves one, and
   * only then is the layout built again (building it every run is most of
   * the run time).
   */
  let built: string | undefined;
  const dirStamp = () =>
    ['', 'a', 'a/b', 'é', '.docker']
      .map((d) => {
        try {
          const s = fs.lstatSync(path.join(f.home, d), { bigint: true });
          return `${s.ino}:${s.mtimeNs}:${s.ctimeNs}`;
        } catch {
          return '-';
        }
      })
      .join(' ');
  const unchanged = () => built !== undefined && dirStamp() === built;

  const untouched = () => {
    const now = stamps(watched);
    for (const [p, s] of initial) assert.equal(now.get(p), s, `touched: ${p}`);
  };

  /** A fixed layout for the traversal paths: folders, files, links in and out. */
  const traversalLayout = () => {
    const h = f.home;
    fs.mkdirSync(path.join(h, 'a', 'b'), { recursive: true });
    fs.writeFileSync(path.join(h, 'a', 'f.txt'), 'inside a');
    fs.writeFileSync(path.join(h, 'top.txt'), 'inside top');
    fs.mkdirSync(path.join(h, 'é'));
    fs.symlinkSync(f.outside, path.join(h, 'out'));
    fs.symlinkSync('../outside/dir', path.join(h, 'a', 'rel-out'));
    fs.symlinkSync('.ssh', path.join(h, 'to-ssh'));
    fs.symlinkSync(f.state, path.join(h, 'to-state'));
    fs.symlinkSync('a', path.join(h, 'to-a'));
  };

  it('traversal paths over every operation and door: 4 500 runs', async () => {
    built = undefined;
    const component = fc.oneof(
      {
        weight: 6,
        arbitrary: fc.constantFrom(
          '..',
          '.',
          '',
          'a',
          'b',
          'f.txt',
          'top.txt',
          'é',
          'out',
          'rel-out',
          'to-ssh',
          'to-state',
          'to-a',
          '.ssh',
          'id_ed25519',
          '.aws',
          '.docker',
          'config.json',
          'outside',
          'dir',
          'inner.txt',
          'x',
          '...',
          '%2e%2e',
          '..\\..',
          ' ',
          'home',
          'state',
          'secret-dir',
        ),
      },
      {
        weight: 1,
        arbitrary: fc.constantFrom(
          '\0',
          'a\0b',
          'x'.repeat(256),
          'é'.repeat(128),
          'é'.repeat(127),
          '\u202e',
          '\ud800',
          '😀',
        ),
      },
      { weight: 1, arbitrary: fc.string({ maxLength: 6, unit: 'binary' }) },
    );
    const pathArb = fc.oneof(
      {
        weight: 8,
        arbitrary: fc
          .tuple(
            fc.constantFrom(
              '',
              '/',
              '//',
              './',
              '../',
              '/..',
              f.outside,
              f.base,
              f.home,
              '/etc',
              '/proc/self/root',
              '/proc/self/cwd',
            ),
            fc.array(component, { maxLength: 6 }),
            fc.constantFrom('/', '//', '/./'),
            fc.constantFrom('', '/', '/.', '/..'),
          )
          .map(
            ([head, parts, sep, tail]) =>
              `${head}${head.endsWith('/') || head === '' ? '' : '/'}${parts.join(sep)}${tail}`,
          ),
      },
      { weight: 1, arbitrary: fc.string({ maxLength: 40, unit: 'binary' }) },
      {
        weight: 1,
        arbitrary: fc.constantFrom('a/'.repeat(2100), `${'../'.repeat(20)}etc/passwd`, '/'.repeat(5000)),
      },
    );
    const nameArb = fc.oneof(component, fc.constantFrom('new', '.ssh', 'authorized_keys'));
    await fc.assert(
      fc.asyncProperty(fc.array(opArb(pathArb, nameArb), { minLength: 1, maxLength: 2 }), async (ops) => {
        if (!unchanged()) {
          resetHome(f);
          traversalLayout();
          built = dirStamp();
        }
        for (const op of ops) await run(f, op);
        untouched();
      }),
      { numRuns: 4500 },
    );
    assert.deepEqual(leaksInside(f), []);
  });

  it('generated link layouts (inside, outside, denied, chains, loops, broken) under every operation: 4 500 runs', async () => {
    built = undefined;
    const places = ['', 'a', 'a/b'] as const;
    const linkNames = ['l1', 'l2', 'l3', 'l4', 'l5', 'l6'] as const;
    const targets = [
      'a',
      'a/f.txt',
      '../a',
      '../../a/f.txt',
      'top.txt',
      '.',
      '..',
      '../..',
      'l1',
      'l2',
      '../l3',
      'l4/x',
      'nope',
      '.ssh',
      '.ssh/id_ed25519',
      '../.aws',
      '.docker/config.json',
      '../outside',
      '../../outside/dir',
      '../../../outside/sentinel.txt',
      `@${'outside'}`,
      '@outside/dir/q',
      '@outside/sentinel.txt',
      '@state',
      '@home',
      '@home/.ssh',
      '@base',
      '/',
      '/etc',
    ] as const;
    const layoutArb = fc.array(
      fc.record({
        at: fc.constantFrom(...places),
        name: fc.constantFrom(...linkNames),
        target: fc.constantFrom(...targets),
      }),
      { maxLength: 6 },
    );
    const pathArb = fc
      .array(
        fc.constantFrom(
          'a',
          'b',
          'f.txt',
          'top.txt',
          ...linkNames,
          'x',
          'q',
          'dir',
          'sentinel.txt',
          '.ssh',
          'id_ed25519',
          '.docker',
          'config.json',
          'inner.txt',
        ),
        {
          maxLength: 4,
        },
      )
      .map((parts) => parts.join('/'));
    const nameArb = fc.constantFrom('x', 'y', 'l1', 'f.txt', '.ssh', '.aws', 'a');
    const abs = (t: string) =>
      t.startsWith('@')
        ? path.join(
            { outside: f.outside, state: f.state, home: f.home, base: f.base }[
              t.slice(1).split('/')[0] as 'outside'
            ],
            ...t.slice(1).split('/').slice(1),
          )
        : t;
    await fc.assert(
      fc.asyncProperty(
        layoutArb,
        fc.array(opArb(pathArb, nameArb), { minLength: 1, maxLength: 4 }),
        async (layout, ops) => {
          const h = f.home;
          if (unchanged()) {
            // Only the links change between layouts.
            for (const at of places)
              for (const n of linkNames) fs.rmSync(path.join(h, at, n), { force: true });
          } else {
            resetHome(f);
            fs.mkdirSync(path.join(h, 'a', 'b'), { recursive: true });
            fs.writeFileSync(path.join(h, 'a', 'f.txt'), 'inside a');
            fs.writeFileSync(path.join(h, 'top.txt'), 'inside top');
          }
          for (const l of layout) {
            try {
              fs.symlinkSync(abs(l.target), path.join(h, l.at, l.name));
            } catch {
              // the name is taken in this layout: one link per name and place
            }
          }
          built = dirStamp();
          for (const op of ops) await run(f, op);
          untouched();
        },
      ),
      { numRuns: 4500 },
    );
    assert.deepEqual(leaksInside(f), []);
  });

  it('links swapped between check and use by a concurrent process: 1 000 runs', async () => {
    const swapper = startSwapper(f.home);
    let flips = 0;
    try {
      const layout = () => {
        const h = f.home;
        // `swap` ↔ a link to outside/dir (same names inside), `swapf` ↔ a link to outside/sentinel.txt,
        // `p` (a parent on the way to p/q/file) ↔ a link to outside/dir.
        fs.mkdirSync(path.join(h, 'swap', 'q'), { recursive: true });
        fs.mkdirSync(path.join(h, 'swap', 'sub'));
        fs.writeFileSync(path.join(h, 'swap', 'inner.txt'), 'inside inner');
        fs.writeFileSync(path.join(h, 'swap', 'q', 'file'), 'inside q');
        fs.symlinkSync(path.join(f.outside, 'dir'), path.join(h, '.hold-link'));
        fs.writeFileSync(path.join(h, 'swapf'), 'inside swapf');
        fs.symlinkSync(path.join(f.outside, 'sentinel.txt'), path.join(h, '.hold-flink'));
        fs.mkdirSync(path.join(h, 'p', 'q'), { recursive: true });
        fs.writeFileSync(path.join(h, 'p', 'q', 'file'), 'inside p');
        fs.symlinkSync(path.join(f.outside, 'dir'), path.join(h, '.hold-plink'));
      };
      const pathArb = fc.constantFrom(
        'swap',
        'swap/inner.txt',
        'swap/x',
        'swap/q',
        'swap/q/file',
        'swap/sub',
        'swap/new',
        'swapf',
        'p',
        'p/q',
        'p/q/file',
        'p/q/new',
        'copy',
        'moved',
      );
      const nameArb = fc.constantFrom('renamed', 'inner.txt', 'q');
      await fc.assert(
        fc.asyncProperty(fc.array(opArb(pathArb, nameArb), { minLength: 1, maxLength: 4 }), async (ops) => {
          await swapper.pause();
          resetHome(f);
          layout();
          await swapper.resume();
          for (const op of ops) await run(f, op);
          await swapper.pause();
          untouched();
        }),
        { numRuns: 1000 },
      );
    } finally {
      flips = await swapper.stop();
    }
    assert.ok(flips > 1000, `${flips} flips`);
    assert.deepEqual(leaksInside(f), []);
  });
});

/** The swapping child: `R` resumes, `P` pauses (after a whole step), `F` asks the flips done; one line answers each. */
const SWAPPER = `
const fs = require('node:fs');
const home = process.argv[1];
const pairs = [['swap', '.hold-dir', '.hold-link'], ['swapf', '.hold-file', '.hold-flink'], ['p', '.hold-pdir', '.hold-plink']]
  .map(([n, r, l]) => ({ n: home + '/' + n, r: home + '/' + r, l: home + '/' + l, linked: false }));
let running = false, flips = 0;
function step() {
  for (const x of pairs) {
    try {
      if (!x.linked) { fs.renameSync(x.n, x.r); fs.renameSync(x.l, x.n); }
      else { fs.renameSync(x.n, x.l); fs.renameSync(x.r, x.n); }
      flips++;
    } catch {}
    x.linked = !x.linked;
  }
}
function loop() { if (!running) return; for (let i = 0; i < 16; i++) step(); setTimeout(loop, 0); }
process.stdin.on('data', (d) => {
  for (const c of d.toString()) {
    if (c === 'R') { for (const x of pairs) x.linked = false; running = true; process.stdout.write('r\\n'); setImmediate(loop); }
    else if (c === 'P') { running = false; process.stdout.write('p\\n'); }
    else if (c === 'F') process.stdout.write(flips + '\\n');
  }
});
`;

function startSwapper(home: string) {
  const child = spawn(process.execPath, ['-e', SWAPPER, home], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const replies: ((line: string) => void)[] = [];
  let buf = '';
  child.stdout.on('data', (d: Buffer) => {
    buf += d.toString();
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      replies.shift()?.(line);
    }
  });
  const ask = (cmd: string) =>
    new Promise<string>((resolve) => {
      replies.push(resolve);
      child.stdin.write(cmd);
    });
  return {
    pause: () => ask('P'),
    resume: () => ask('R'),
    /** Pauses, answers the flips done, ends the child. */
    async stop(): Promise<number> {
      await ask('P');
      const flips = Number(await ask('F'));
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
      return flips;
    },
  };
}
