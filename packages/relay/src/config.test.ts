/**
 * Configuration precedence and validation: defaults, config file,
 * environment, command line; loopback-only open registration by default;
 * every bad value refused with `config_invalid` naming the setting.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from './config.ts';
import { DEFAULT_LIMITS } from './limits.ts';

const files = (map: Record<string, string>) => (path: string) => map[path];

describe('loadConfig', () => {
  it('has safe defaults: loopback, XDG data dir, open registration on loopback only', () => {
    const c = loadConfig({ argv: [], env: {}, readFile: files({}), homedir: '/home/u' });
    assert.equal(c.host, '127.0.0.1');
    assert.equal(c.port, 8080);
    assert.equal(c.dataDir, '/home/u/.local/share/pocketshell-relay');
    assert.equal(c.registration, 'open');
    assert.deepEqual(c.database, { kind: 'sqlite' });
    assert.deepEqual(c.limits, DEFAULT_LIMITS);
    const pub = loadConfig({
      argv: ['--listen', '0.0.0.0:443'],
      env: { XDG_DATA_HOME: '/x' },
      readFile: files({}),
      homedir: '/h',
    });
    assert.equal(pub.registration, 'token');
    assert.equal(pub.dataDir, '/x/pocketshell-relay');
    const v6 = loadConfig({ argv: ['--listen', '[::1]:0'], env: {}, readFile: files({}), homedir: '/h' });
    assert.equal(v6.host, '::1');
    assert.equal(v6.registration, 'open');
  });

  it('layers file < env < argv', () => {
    const file = JSON.stringify({
      listen: '127.0.0.1:1',
      publicUrl: 'https://file.example',
      turnUrl: ['turn:a.example:3478'],
      turnSecret: 'file-secret-0123456789',
      trustProxy: true,
      limits: { maxConnectionsPerIdentity: 3, rates: { send: { identity: { burst: 9 } } } },
    });
    const c = loadConfig({
      argv: ['--listen', '127.0.0.1:3'],
      env: {
        POCKETSHELL_RELAY_CONFIG: '/etc/relay.json',
        POCKETSHELL_RELAY_LISTEN: '127.0.0.1:2',
        POCKETSHELL_RELAY_TURN_URL: 'turn:b.example:3478, stun:b.example',
      },
      readFile: files({ '/etc/relay.json': file }),
      homedir: '/h',
    });
    assert.equal(c.port, 3);
    assert.equal(c.publicUrl, 'https://file.example');
    assert.deepEqual(c.turnUrls, ['turn:b.example:3478', 'stun:b.example']);
    assert.equal(c.turnSecret, 'file-secret-0123456789');
    assert.equal(c.trustProxy, true);
    assert.equal(c.limits.maxConnectionsPerIdentity, 3);
    assert.deepEqual(c.limits.rates.send.identity, {
      burst: 9,
      perSecond: DEFAULT_LIMITS.rates.send.identity.perSecond,
    });
  });

  it('reads the default config file from XDG_CONFIG_HOME', () => {
    const c = loadConfig({
      argv: [],
      env: { XDG_CONFIG_HOME: '/cfg' },
      readFile: files({ '/cfg/pocketshell-relay/relay.json': '{"registration":"token"}' }),
      homedir: '/h',
    });
    assert.equal(c.registration, 'token');
  });

  it('refuses bad values with config_invalid', () => {
    const bad: [string[], Record<string, string>, Record<string, string>][] = [
      [['--listen', 'nope'], {}, {}],
      [['--listen', '127.0.0.1:70000'], {}, {}],
      [['--registration', 'maybe'], {}, {}],
      [['--public-url', 'ftp://x'], {}, {}],
      [['--turn-url', 'http://x'], {}, {}],
      [['--turn-secret', 'short'], {}, {}],
      [['--turn-ttl', '7200'], {}, {}],
      [['--tls-cert', '/c'], {}, {}],
      [['--log-level', 'loud'], {}, {}],
      [['--bogus'], {}, {}],
      [['--config', '/missing.json'], {}, {}],
      [['--config', '/c.json'], {}, { '/c.json': '{"nope":1}' }],
      [['--config', '/c.json'], {}, { '/c.json': '{"limits":{"rates":{"send":{"ip":{"burst":0}}}}}' }],
      [['--config', '/c.json'], {}, { '/c.json': '{"limits":{"unknown":1}}' }],
      [['--config', '/c.json'], {}, { '/c.json': 'not json' }],
      [['--database', 'mysql://u@h/db'], {}, {}],
      [['--database', '/var/lib/relay.sqlite'], {}, {}],
      [['--database', 'postgres://u@h/d b'], {}, {}],
      [['--database', 'postgres://u@h/db', '--database-pool', '0'], {}, {}],
      [['--database', 'postgres://u@h/db', '--database-pool', '101'], {}, {}],
      [['--database-pool', '5'], {}, {}],
      [['--database-password-file', '/pw'], {}, { '/pw': 'x' }],
      [['--database', 'postgres://u@h/db', '--database-password-file', '/missing'], {}, {}],
      [['--database', 'postgres://u@h/db', '--database-password-file', '/pw'], {}, { '/pw': '\n' }],
      [['--database', 'postgres://u:p@h/db', '--database-password-file', '/pw'], {}, { '/pw': 'x' }],
    ];
    for (const [argv, env, map] of bad) {
      assert.throws(
        () => loadConfig({ argv, env, readFile: files(map), homedir: '/h' }),
        { code: 'config_invalid' },
        argv.join(' '),
      );
    }
  });

  it('fleet: --redis, --node-id and --redis-ttl checked; the URL never echoed', () => {
    const load = (argv: string[], env: Record<string, string> = {}) =>
      loadConfig({ argv, env, readFile: files({}), homedir: '/h' });
    const single = load([]);
    assert.equal(single.redis, undefined);
    assert.match(single.nodeId, /^[A-Za-z0-9_-]{1,64}$/);
    const c = load(['--node-id', 'eu-1', '--redis-ttl', '9'], {
      POCKETSHELL_RELAY_REDIS: 'redis://relay:s3cret@10.0.0.5:6379/2',
    });
    assert.equal(c.redis, 'redis://relay:s3cret@10.0.0.5:6379/2');
    assert.equal(c.nodeId, 'eu-1');
    assert.equal(c.redisTtlSeconds, 9);
    assert.throws(
      () => load(['--redis', 'http://user:s3cret@h:1']),
      (e: Error & { code?: string }) => e.code === 'config_invalid' && !e.message.includes('s3cret'),
    );
    assert.throws(() => load(['--node-id', 'no spaces']), /node-id/);
    assert.throws(() => load(['--redis-ttl', '1']), /redis-ttl/);
  });

  it('chooses PostgreSQL with a postgres:// URL from argv, env or file, and never repeats it in an error', () => {
    const pg = loadConfig({
      argv: ['--database', 'postgresql://relay@db.example:5433/relay', '--database-pool', '4'],
      env: {},
      readFile: files({}),
      homedir: '/h',
    });
    assert.deepEqual(pg.database, {
      kind: 'postgres',
      url: 'postgresql://relay@db.example:5433/relay',
      password: undefined,
      poolSize: 4,
    });
    const fromEnv = loadConfig({
      argv: [],
      env: {
        POCKETSHELL_RELAY_DATABASE: 'postgres://relay@/relay?host=/run/postgresql',
        POCKETSHELL_RELAY_DATABASE_PASSWORD_FILE: '/run/credentials/pw',
      },
      readFile: files({ '/run/credentials/pw': 's3cret pass\n' }),
      homedir: '/h',
    });
    assert.deepEqual(fromEnv.database, {
      kind: 'postgres',
      url: 'postgres://relay@/relay?host=/run/postgresql',
      password: 's3cret pass',
      poolSize: 10,
    });
    const fromFile = loadConfig({
      argv: ['--config', '/c.json'],
      env: {},
      readFile: files({ '/c.json': '{"database":"postgres://relay@db/relay","databasePool":"3"}' }),
      homedir: '/h',
    });
    assert.equal(fromFile.database.kind, 'postgres');
    assert.throws(
      () =>
        loadConfig({
          argv: ['--database', 'mysql://u:hunter2@h/db'],
          env: {},
          readFile: files({}),
          homedir: '/h',
        }),
      (e: Error & { code?: string }) => e.code === 'config_invalid' && !e.message.includes('hunter2'),
    );
  });
});
