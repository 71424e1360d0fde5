/**
 * The `Relay` class embedded in-process (as `npm start` and other packages
 * may use it): the injected clock decides the auth window, `close()` is
 * idempotent and leaves nothing running, and a relay that cannot listen
 * says so with `listen_failed`.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateKeyPair } from '@pocketshell/protocol';
import { RawClient } from '../testing/index.ts';
import { loadConfig } from './config.ts';
import { Logger } from './log.ts';
import { Relay } from './relay.ts';
import { SqliteStore } from './sqlite-store.ts';

describe('Relay in-process', () => {
  let dir: string;
  const lines: string[] = [];
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'relay-inproc-'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const make = (now: () => number, port = 0) => {
    const config = loadConfig({
      argv: ['--listen', `127.0.0.1:${port}`, '--data', dir],
      env: {},
      readFile: () => undefined,
      homedir: dir,
    });
    const store = new SqliteStore(join(dir, `relay-${Math.random()}.sqlite`));
    return new Relay(config, {
      store,
      log: new Logger({ level: 'debug', write: (l) => lines.push(l) }),
      now,
    });
  };

  it('judges the auth ts window by the injected clock', async () => {
    const skew = 3600 * 1000;
    const relay = make(() => Date.now() + skew);
    const { url } = await relay.listen();
    const wsUrl = `${url.replace('http', 'ws')}/ws`;
    // our real clock is an hour behind the relay's: refused
    await assert.rejects(RawClient.connect(wsUrl, { role: 'device', keyPair: generateKeyPair() }), {
      code: 'unauthorized',
    });
    // signing with the relay's time works
    const c = await RawClient.connect(wsUrl, {
      role: 'device',
      keyPair: generateKeyPair(),
      ts: Math.floor((Date.now() + skew) / 1000),
    });
    const ready = c.id;
    assert.ok(ready);
    const closed = c.closed;
    await relay.close();
    await relay.close();
    assert.equal((await closed).code, 1001);
    assert.equal(relay.connectionCount, 0);
    assert.ok(lines.some((l) => l.includes('"msg":"auth refused"')));
  });

  it('fails with listen_failed on a taken port', async () => {
    const a = make(Date.now);
    const { port } = await a.listen();
    const b = make(Date.now, port);
    await assert.rejects(b.listen(), { code: 'listen_failed' });
    await b.close();
    await a.close();
  });
});
