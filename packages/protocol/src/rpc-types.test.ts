/**
 * Type-level tests of the typed RPC (issue 13): with the control method
 * map, a call with wrong params, a wrong result shape, an unknown method,
 * or a handler returning the wrong shape does not compile. `tsc -b` (part
 * of `npm test`) checks every `@ts-expect-error` below is still an error;
 * the runtime test only makes sure the file is loaded and the calls that
 * do compile are well-formed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CONTROL_METHODS, type ControlMethods } from './control-methods.ts';
import { FILES_METHODS, type FilesMethods } from './files.ts';
import { type Handlers, method, RpcClient } from './rpc.ts';
import { integer, object, optional } from './schema.ts';

test('the control map types calls and handlers (checked by tsc)', async () => {
  const sent: string[] = [];
  const client = new RpcClient(CONTROL_METHODS, (text) => sent.push(text));
  const calls: Promise<unknown>[] = [];
  const call = <T>(p: Promise<T>) => {
    calls.push(p.catch(() => {}));
    return p;
  };

  // Well-typed: params checked, results typed.
  const typed = async () => {
    const info = await call(client.call('host.info'));
    const name: string = info.name;
    const list = await call(client.call('sessions.list'));
    const firstId: string | undefined = list.sessions[0]?.id;
    const renamed = await call(client.call('sessions.rename', { id: 'x', name: 'y' }));
    const r: { revoked: boolean } = await call(
      client.call('devices.revoke', { device: 'd_x' as `d_${string}` }),
    );
    return [name, firstId, renamed, r];
  };
  void typed;

  // @ts-expect-error — wrong params: sessions.close takes {id: string}.
  call(client.call('sessions.close', { id: 42 }));
  // @ts-expect-error — missing params.
  call(client.call('sessions.rename'));
  // @ts-expect-error — a grant that does not exist.
  call(client.call('devices.grants', { device: 'd_x' as `d_${string}`, grants: ['root'] }));
  // @ts-expect-error — an unknown method.
  call(client.call('sessions.destroy'));
  const wrongResult = async () => {
    // @ts-expect-error — a wrong result shape: host.info has no `sessions`.
    const r: { sessions: unknown[] } = await client.call('host.info');
    return r;
  };
  void wrongResult;

  const handlers: Partial<Handlers<ControlMethods, undefined>> = {
    // @ts-expect-error — a handler returning the wrong shape.
    'sessions.close': ({ id }) => ({ closed: id.length }),
    // A handler's params are typed by the map.
    'sessions.rename': ({ id, name }) => ({ id, name }),
  };
  assert.equal(typeof handlers['sessions.rename'], 'function');

  // At run time the ill-typed calls still go out as requests (the host refuses them),
  // except the unknown method, which the client refuses itself.
  assert.deepEqual(
    sent.map((t) => JSON.parse(t).method),
    ['sessions.close', 'sessions.rename', 'devices.grants'],
  );
  await assert.rejects(client.call('sessions.destroy' as 'host.info'), /no method sessions.destroy/);
  client.close();
  await Promise.all(calls);
});

test('params with defaults may be left out by callers, and handlers get them filled in (checked by tsc)', async () => {
  const sent: string[] = [];
  const client = new RpcClient(FILES_METHODS, (text) => sent.push(text));
  const calls = [
    // Only `path` is required: the rest have defaults.
    client.call('files.list', { path: '' }),
    client.call('files.list', { path: 'a', sort: 'size', desc: true }),
    // @ts-expect-error — a defaulted param still has its type.
    client.call('files.list', { path: '', limit: 'many' }),
    // @ts-expect-error — the required one may not be left out.
    client.call('files.list', { sort: 'name' }),
  ];
  const handlers: Partial<Handlers<FilesMethods, number>> = {
    // The handler sees every param, defaults filled in (no `undefined` to handle).
    'files.list': (p) => {
      const limit: number = p.limit;
      return { path: p.path, entries: [], next: null, total: limit, truncated: false };
    },
  };
  assert.equal(typeof handlers['files.list'], 'function');
  method({
    grant: null,
    params: (v) => ({ n: optional(object(v), 'n', (o, k) => integer(o, k, 0, 9)) ?? 0 }),
    result: () => undefined,
    // @ts-expect-error — `optional` names only keys of the params.
    optional: ['m'],
  });
  assert.deepEqual(
    sent.map((t) => JSON.parse(t).params),
    [{ path: '' }, { path: 'a', sort: 'size', desc: true }, { path: '', limit: 'many' }, { sort: 'name' }],
  );
  client.close();
  await Promise.all(calls.map((c) => c.catch(() => {})));
});
