/**
 * The Node device's module graph: importing `@pocketshell/client` in a fresh
 * Node process loads the protocol and the WebRTC layer, but none of the
 * host's code — no PTY library (node-pty), no terminal emulator
 * (`@xterm/headless`), no keyring, nothing of `@pocketshell/host-core` — and
 * neither engine library (werift, node-datachannel): an engine loads on its
 * first peer (packages/host-core/src/host/engine-choice.test.ts).
 *
 * Every module the child resolves, by `import` or `require`, is recorded by
 * a `module.registerHooks` resolve hook installed before the import
 * (`resolvedOnImport` in `@pocketshell/webrtc/testing`).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fromPackage, resolvedOnImport } from '@pocketshell/webrtc/testing';

describe('client module graph', () => {
  it('importing @pocketshell/client loads no PTY, terminal emulator, keyring, host-core or engine library', () => {
    const urls = resolvedOnImport(import.meta.resolve('@pocketshell/client'));
    for (const name of ['node-pty', '@xterm/headless', '@napi-rs/keyring', 'werift', 'node-datachannel'])
      assert.deepEqual(fromPackage(urls, name), [], `${name} was loaded`);
    assert.deepEqual(
      urls.filter((u) => u.includes('/packages/host-core/')),
      [],
      'host-core was loaded',
    );
    // And the hook did see the graph: the client, the WebRTC layer and the protocol are there.
    assert.ok(urls.some((u) => u.endsWith('/packages/client/src/device.ts')));
    assert.ok(urls.some((u) => u.endsWith('/packages/webrtc/src/index.ts')));
    assert.ok(urls.some((u) => u.endsWith('/packages/protocol/src/index.ts')));
  });
});
