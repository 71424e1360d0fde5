/**
 * The Files screen's helpers, in Node: the `cd` command of "Open a
 * terminal here" run by a real `/bin/sh` in folders whose names hold
 * quotes, spaces, `$`, backticks and semicolons (it lands there and runs
 * nothing else), and refused for a name with a newline; breadcrumbs and
 * paths; which bytes count as text (a UTF-8 character cut by the end of a
 * range does not make a file binary); preview kinds; the transfer line;
 * and the highlighter: its tokens always join back to the input (any
 * text, any language) and it colours keywords, strings and comments.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  absolutePath,
  baseName,
  cdCommand,
  crumbs,
  joinPath,
  looksLikeText,
  parentPath,
  previewKind,
  RateMeter,
  transferLine,
} from '../../packages/web/src/files-format.ts';
import { highlight, languageOf } from '../../packages/web/src/highlight.ts';

test('cd command: a real shell lands in folders with awkward names and runs nothing else', () => {
  const base = realpathSync(mkdtempSync(join(tmpdir(), 'pocketshell-cd-')));
  try {
    const names = [
      "it's here",
      'two  spaces',
      '$HOME and `id`',
      "a'; touch pwned; '",
      '-n',
      'ünïcødé ✓',
      "'''",
      '\\back\\slash',
    ];
    for (const name of names) {
      const dir = join(base, name);
      mkdirSync(dir);
      const command = cdCommand(dir);
      assert.ok(command, name);
      const out = execFileSync('/bin/sh', ['-c', `${command} && pwd`], { cwd: base, encoding: 'utf8' });
      assert.equal(out, `${dir}\n`, name);
    }
    assert.throws(() => execFileSync('test', ['-e', join(base, 'pwned')]), 'nothing ran');
    assert.equal(cdCommand(join(base, 'line\nbreak')), undefined);
    assert.equal(cdCommand('/tmp/a\u0007b'), undefined);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test('paths and breadcrumbs', () => {
  assert.equal(joinPath('', 'a'), 'a');
  assert.equal(joinPath('a/b', 'c'), 'a/b/c');
  assert.equal(parentPath('a/b/c'), 'a/b');
  assert.equal(parentPath('a'), '');
  assert.equal(baseName('a/b/c.txt'), 'c.txt');
  assert.deepEqual(crumbs('', 'home'), [['home', '']]);
  assert.deepEqual(crumbs('a/b', 'home'), [
    ['home', ''],
    ['a', 'a'],
    ['b', 'a/b'],
  ]);
  assert.equal(absolutePath('/home/me', ''), '/home/me');
  assert.equal(absolutePath('/home/me', 'src/x'), '/home/me/src/x');
  assert.equal(absolutePath('/', 'etc'), '/etc');
});

test('text or binary', () => {
  const enc = new TextEncoder();
  assert.equal(looksLikeText(enc.encode('plain ascii\n')), true);
  const euro = enc.encode('price: 5 €');
  // The range ends inside the euro sign's three bytes.
  assert.equal(looksLikeText(euro.subarray(0, euro.length - 1)), true);
  assert.equal(looksLikeText(euro.subarray(0, euro.length - 2)), true);
  assert.equal(looksLikeText(Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0)), false);
  assert.equal(looksLikeText(Uint8Array.of(0x41, 0xff, 0xfe, 0x41)), false);
  assert.equal(looksLikeText(new Uint8Array(0)), true);
  assert.equal(previewKind('a.PNG'), 'image');
  assert.equal(previewKind('paper.pdf'), 'pdf');
  assert.equal(previewKind('x.tar'), 'other');
  assert.equal(previewKind('Makefile'), 'text');
});

test('transfer line and rate', () => {
  const meter = new RateMeter(3000);
  meter.add(0, 0);
  assert.equal(meter.add(2 * 1024 * 1024, 1000), 2 * 1024 * 1024);
  assert.equal(
    transferLine(4 * 1024 * 1024, 12 * 1024 * 1024, 2 * 1024 * 1024),
    '4.0 MiB of 12 MiB · 2.0 MiB/s · 4 s left',
  );
  assert.equal(transferLine(12, 12, 5), '12 B of 12 B');
  assert.equal(transferLine(1, 12, 0), '1 B of 12 B');
});

test('highlighter: tokens join back to the input, for any text and language', () => {
  const names = [
    'a.ts',
    'a.py',
    'a.sh',
    'a.yaml',
    'a.json',
    'a.css',
    'a.html',
    'a.md',
    'a.sql',
    'a.txt',
    'Makefile',
  ];
  fc.assert(
    fc.property(fc.constantFrom(...names), fc.string({ unit: 'binary', maxLength: 300 }), (name, text) => {
      const tokens = highlight(text, name);
      assert.equal(tokens.map(([, s]) => s).join(''), text);
      for (const [, s] of tokens) assert.notEqual(s, '');
    }),
    { numRuns: 3000 },
  );
});

test('highlighter: keywords, strings, comments', () => {
  const classes = (text: string, name: string) =>
    highlight(text, name)
      .filter(([c]) => c !== '')
      .map(([c, s]) => `${c}:${s}`);
  assert.deepEqual(classes('const x = "a"; // hi', 'x.ts'), ['kw:const', 'str:"a"', 'com:// hi']);
  assert.deepEqual(classes('def f():\n  return 1 # one', 'x.py'), [
    'kw:def',
    'kw:return',
    'num:1',
    'com:# one',
  ]);
  assert.deepEqual(classes('{"k": true, "n": 2}', 'x.json'), ['key:"k"', 'kw:true', 'key:"n"', 'num:2']);
  assert.deepEqual(classes('echo "$HOME" # c', 'x.sh'), ['kw:echo', 'str:"$HOME"', 'com:# c']);
  assert.deepEqual(classes('SELECT a FROM t', 'q.sql'), ['kw:SELECT', 'kw:FROM']);
  assert.deepEqual(highlight('just words', 'notes.txt'), [['', 'just words']]);
  assert.equal(languageOf('a.tsx'), 'code');
  assert.equal(languageOf('a.txt'), undefined);
});

test('highlighter: comments and strings span lines until they end (or the text does)', () => {
  const tokens = highlight('a /* one\ntwo */ b /* open\nto the end', 'x.c');
  assert.deepEqual(
    tokens.filter(([c]) => c === 'com').map(([, s]) => s),
    ['/* one\ntwo */', '/* open\nto the end'],
  );
  const py = highlight('x = """doc\nstring"""\nif x: pass', 'x.py');
  assert.ok(py.some(([c, s]) => c === 'str' && s === '"""doc\nstring"""'));
  assert.ok(py.some(([c, s]) => c === 'kw' && s === 'pass'));
});
