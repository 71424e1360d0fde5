/**
 * The web client's module graph, read from its sources with TypeScript's
 * own import scanner (type-only imports count: a screen that needs a type
 * from `main.ts` is still a cycle through the entry): no cycle among the
 * modules of packages/web/src, and the debug hook (`debug.ts`) imported by
 * the entry only and the only module naming the page global the browser
 * tests read, so nothing else depends on it.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import ts from 'typescript';

const SRC = resolve(import.meta.dirname, '../../packages/web/src');

/** Every `.ts` module below `dir` (tests excluded), as absolute paths. */
function modules(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.test.ts'))
    .map((e) => join(e.parentPath, e.name));
}

/** Module → the modules of the same tree it imports (relative specifiers only). */
function importGraph(dir: string): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of modules(dir)) {
    const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    graph.set(
      file,
      info.importedFiles
        .map((f) => f.fileName)
        .filter((s) => s.startsWith('.') && s.endsWith('.ts'))
        .map((s) => resolve(dirname(file), s)),
    );
  }
  return graph;
}

/** The first cycle found (as a path that ends where it starts), or null. */
function findCycle(graph: Map<string, string[]>): string[] | null {
  const done = new Set<string>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const visit = (node: string): string[] | null => {
    if (onStack.has(node)) return [...stack.slice(stack.indexOf(node)), node];
    if (done.has(node)) return null;
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    stack.pop();
    onStack.delete(node);
    done.add(node);
    return null;
  };
  for (const node of graph.keys()) {
    const cycle = visit(node);
    if (cycle) return cycle;
  }
  return null;
}

test('the scanner sees a cycle when there is one (type-only imports included)', () => {
  const a = '/x/a.ts';
  const b = '/x/views/b.ts';
  assert.deepEqual(
    findCycle(
      new Map([
        [a, [b]],
        [b, [a]],
      ]),
    ),
    [a, b, a],
  );
  const scanned = ts.preProcessFile("import type { App } from '../main.ts';\n", true, true).importedFiles;
  assert.deepEqual(
    scanned.map((f) => f.fileName),
    ['../main.ts'],
  );
});

test('the web client has no import cycle', () => {
  const graph = importGraph(SRC);
  assert.ok(graph.size > 10, 'the sources were found');
  const cycle = findCycle(graph);
  assert.equal(cycle?.map((f) => relative(SRC, f)).join(' → ') ?? null, null);
});

test('the debug hook is imported by the entry only', () => {
  const graph = importGraph(SRC);
  const debug = join(SRC, 'debug.ts');
  assert.ok(graph.has(debug), 'src/debug.ts exists');
  const importers = [...graph]
    .filter(([, deps]) => deps.includes(debug))
    .map(([file]) => relative(SRC, file));
  assert.deepEqual(importers, ['main.ts']);
});

test('only the debug hook touches the page global the tests read', () => {
  const naming = modules(SRC)
    .filter((file) => readFileSync(file, 'utf8').includes('pocketshellTerminal'))
    .map((file) => relative(SRC, file));
  assert.deepEqual(naming, ['debug.ts']);
});
