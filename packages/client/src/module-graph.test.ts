/**
 * The Node device's module graph: importing `@pocketshell/client` in a fresh
 * Node process loads the protocol and the WebRTC layer, but none of the
 * host's code — no PTY library (node-pty), no terminal emulator
 * (`@xterm/headless`), no keyring, nothing of `@pocketshell/host-core` — and
 * neither engine library (werift, node-datachannel): an engine loads on its
 * first peer (packages/host-core/src/host/engine-choice.test.ts).
 *
 * Every module the child resolves, by `import` or `require`, is recorded by
 * a `module.registerHooks` resolve hook installed before the import.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';

/** The file URLs a fresh Node process resolves while importing `entry`. */
function resolvedOnImport(entry: string): string[] {
  const script = `
    import { registerHooks } from 'node:module';
    const seen = new Set();
    registerHooks({
      resolve(specifier, context, next) {
        const resolved = next(specifier, context);
        seen.add(resolved.url);
        return resolved;
      },
    });
    await import(${JSON.stringify(entry)});
    console.log(JSON.stringify([...seen]));
  `;
  return JSON.parse(
    execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }),
  ) as string[];
}

const fromPackage = (urls: string[], name: string) =>
  urls.filter((u) => u.includes(`/node_modules/${name}/`));

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
