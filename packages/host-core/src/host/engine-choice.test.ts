/**
 * Tests of the engine choice: `POCKETSHELL_ENGINE` forces either engine, an
 * unknown name or an engine that cannot load is refused with a stable code,
 * and without the setting the platform default follows the native binary's
 * availability. Each engine's library loads only when that engine makes
 * its first peer: importing host-core and choosing an engine load neither
 * (a daemon idles without the one it does not run).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  NodeDataChannelEngine,
  nodeDataChannelAvailable,
  WebRtcError,
  WeriftEngine,
} from '@pocketshell/webrtc';
import { fromPackage, resolvedInSteps } from '@pocketshell/webrtc/testing';
import { defaultEngineName, engineFromEnv } from './open-host.ts';

const isEngineError = (e: unknown) => e instanceof WebRtcError && e.code === 'engine';

describe('engine choice', () => {
  it('forces either engine by name', () => {
    const w = engineFromEnv({ POCKETSHELL_ENGINE: 'werift', POCKETSHELL_ICE_ADDRESS: '127.0.0.1' });
    assert.ok(w instanceof WeriftEngine);
    assert.equal(w.name, 'werift');
    const n = engineFromEnv({ POCKETSHELL_ENGINE: 'node-datachannel' }, () => true);
    assert.ok(n instanceof NodeDataChannelEngine);
    assert.equal(n.name, 'node-datachannel');
  });

  it('defaults to node-datachannel where it loads, werift elsewhere', () => {
    assert.equal(
      defaultEngineName(() => true),
      'node-datachannel',
    );
    assert.equal(
      defaultEngineName(() => false),
      'werift',
    );
    assert.equal(engineFromEnv({}, () => false).name, 'werift');
    assert.equal(engineFromEnv({}, () => true).name, 'node-datachannel');
    // This machine has the prebuilt binary (linux-x64-gnu).
    assert.equal(nodeDataChannelAvailable(), true);
    assert.equal(engineFromEnv({}).name, 'node-datachannel');
  });

  it('refuses an unknown name and an engine that cannot load', () => {
    assert.throws(() => engineFromEnv({ POCKETSHELL_ENGINE: 'libwebrtc' }), isEngineError);
    assert.throws(
      () => engineFromEnv({ POCKETSHELL_ENGINE: 'node-datachannel' }, () => false),
      isEngineError,
    );
  });

  it('loads neither engine library on import or choice; werift on its first peer only', () => {
    const urls = resolvedInSteps(new URL('../index.ts', import.meta.url).href, {
      chosen: `const engine = m.engineFromEnv({ POCKETSHELL_ENGINE: 'werift', POCKETSHELL_ICE_ADDRESS: '127.0.0.1' });`,
      peer: `const peer = await engine.createPeer({ iceServers: [], role: 'offerer' });
        await peer.close();`,
    });
    const loaded = (step: keyof typeof urls) => ({
      werift: fromPackage(urls[step], 'werift').length > 0,
      ndc: fromPackage(urls[step], 'node-datachannel').length > 0,
    });
    const out = { imported: loaded('imported'), chosen: loaded('chosen'), peer: loaded('peer') };
    assert.deepEqual(out, {
      imported: { werift: false, ndc: false },
      chosen: { werift: false, ndc: false },
      peer: { werift: true, ndc: false },
    });
  });
});
