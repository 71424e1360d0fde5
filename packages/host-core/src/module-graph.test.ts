/**
 * The host library's module graph: importing `@pocketshell/host-core` in a
 * fresh Node process loads neither the PTY library (node-pty), nor the
 * terminal emulator (`@xterm/headless` and its serialize addon), nor the
 * stats collector's `systeminformation`; they load with the first PTY
 * spawned, the first screen mirror made and the first stats sample (the
 * second case below checks that the hook does see them then).
 *
 * Every module the child resolves, by `import` or `require`, is recorded by
 * a resolve hook (`resolvedOnImport` in `@pocketshell/webrtc/testing`, as
 * packages/client/src/module-graph.test.ts uses for the Node device).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fromPackage, resolvedOnImport } from '@pocketshell/webrtc/testing';

const LAZY = ['node-pty', '@xterm/headless', '@xterm/addon-serialize', 'systeminformation'];

describe('host-core module graph', () => {
  it('importing @pocketshell/host-core loads no PTY library, no terminal emulator, no systeminformation', () => {
    const urls = resolvedOnImport(import.meta.resolve('@pocketshell/host-core'));
    for (const name of LAZY) assert.deepEqual(fromPackage(urls, name), [], `${name} was loaded`);
    // The hook did see the graph: the PTY sessions and the screen mirror's module are there.
    assert.ok(urls.some((u) => u.endsWith('/packages/host-core/src/pty/session.ts')));
    assert.ok(urls.some((u) => u.endsWith('/packages/host-core/src/pty/screen-mirror.ts')));
    assert.ok(urls.some((u) => u.endsWith('/packages/host-core/src/stats/collector.ts')));
  });

  it('they load on first use: a screen mirror, the PTY backend, the stats collector', () => {
    const urls = resolvedOnImport(
      import.meta.resolve('@pocketshell/host-core'),
      `new m.ScreenMirror({ cols: 80, rows: 24, scrollback: 10, snapshotMax: 4096 }).dispose();
       m.nodePtyBackend();
       m.loadSystemInformation();`,
    );
    for (const name of LAZY) assert.notDeepEqual(fromPackage(urls, name), [], `${name} was not loaded`);
  });
});
