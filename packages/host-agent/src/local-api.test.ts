/**
 * Tests of the daemon's local API parser and socket (issue 12: every parser
 * a peer reaches is fuzzed). `parseLocalRequest` over 10^5 random and
 * mutated lines returns a well-formed request or throws `BadLocalRequest`
 * (`bad_message`), nothing else; the line reader never holds more than its
 * cap over 10^5 random chunkings; and on a real Unix socket a malformed
 * line is answered (with its id when readable) and the connection stays
 * usable, while an over-long line — with or without its newline — is
 * answered `bad_message` and the connection closed.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import fs from 'node:fs';
import { createConnection, type Server, type Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BadRequest, ProtocolError, parseRequest } from '@pocketshell/protocol';
import { parserInputs } from '@pocketshell/protocol/testing';
import fc from 'fast-check';
import { LineReader, LocalClient, type LocalHandlers, MAX_LOCAL_LINE, serveLocalApi } from './local-api.ts';
import type { DaemonStatus } from './local-methods.ts';

/** The local API's request parser: the shared RPC one, capped at a line. */
const parseLocalRequest = (line: string | Uint8Array) => parseRequest(line, MAX_LOCAL_LINE);
const BadLocalRequest = BadRequest;

const METHOD_RE = /^[a-z][a-z.]*$/;

/** Runs `parse`, requiring a well-formed request or a `BadLocalRequest` with `bad_message`. */
function total(line: string | Uint8Array): void {
  try {
    const r = parseLocalRequest(line);
    assert.ok(Number.isSafeInteger(r.id) && r.id >= 0 && r.id <= 2 ** 31, `id ${r.id}`);
    assert.ok(METHOD_RE.test(r.method) && r.method.length <= 64, `method ${r.method}`);
  } catch (error) {
    if (!(error instanceof BadLocalRequest) || error.code !== 'bad_message') throw error;
    if (error.id !== undefined) assert.ok(Number.isSafeInteger(error.id) && error.id >= 0);
  }
}

const valid = [
  { id: 1, method: 'status' },
  { id: 2, method: 'sessions', params: null },
  { id: 3, method: 'pair', params: { grants: ['shell'] } },
  { id: 0, method: 'confirm', params: { ok: true } },
  { id: 4, method: 'revoke', params: { device: `d_${'a'.repeat(26)}` } },
  { id: 5, method: 'limits.reload' },
];
const lines = parserInputs(valid);

describe('parseLocalRequest', () => {
  test('valid requests parse; the id of a malformed one is kept when readable', () => {
    for (const v of valid)
      assert.deepEqual(parseLocalRequest(JSON.stringify(v)), { params: undefined, ...v });
    const bad = (line: string | Uint8Array, id?: number) =>
      assert.throws(
        () => parseLocalRequest(line),
        (e: unknown) => e instanceof BadLocalRequest && e.code === 'bad_message' && e.id === id,
      );
    bad('not json');
    bad('[]');
    bad('{"id":"1","method":"status"}');
    bad('{"id":-1,"method":"status"}');
    bad('{"id":7,"method":"Status!"}', 7);
    bad('{"id":7}', 7);
    bad(Uint8Array.of(0x7b, 0xff, 0x7d)); // invalid UTF-8
    bad(JSON.stringify({ id: 8, method: 'status', params: 'x'.repeat(MAX_LOCAL_LINE) }));
    // The cap counts bytes, not characters.
    bad(JSON.stringify({ id: 9, method: 'status', params: 'é'.repeat(MAX_LOCAL_LINE / 2) }));
  });

  test('property: 10^5 random or mutated lines → a request or BadLocalRequest(bad_message), never anything else', () => {
    fc.assert(fc.property(lines, total), { numRuns: 100_000, seed: 12 });
  });
});

describe('LineReader', () => {
  test('property: 10^5 random chunkings give back the lines, never holding more than the cap', () => {
    const max = 16;
    fc.assert(
      fc.property(
        fc.array(
          fc.uint8Array({ maxLength: 24 }).map((b) => b.map((x) => (x === 10 ? 11 : x))),
          {
            maxLength: 6,
          },
        ),
        fc.array(fc.nat(40), { maxLength: 8 }),
        (parts, cuts) => {
          const stream = Buffer.concat(parts.map((p) => Buffer.concat([Buffer.from(p), Buffer.of(10)])));
          const reader = new LineReader(max);
          const got: Buffer[] = [];
          let at = 0;
          try {
            for (const cut of [...cuts, stream.length]) {
              const end = Math.min(stream.length, at + cut);
              got.push(...reader.push(stream.subarray(at, end)));
              assert.ok(reader.held <= max, `holds ${reader.held}`);
              at = end;
            }
          } catch (error) {
            if (!(error instanceof ProtocolError) || error.code !== 'bad_message') throw error;
            // Refused only when some line really is longer than the cap.
            assert.ok(parts.some((p) => p.length > max));
            assert.equal(reader.held, 0);
            return;
          }
          assert.ok(parts.every((p) => p.length <= max));
          assert.deepEqual(
            got.map((b) => [...b]),
            parts.map((p) => [...p]),
          );
        },
      ),
      { numRuns: 100_000, seed: 5 },
    );
  });
});

describe('local API socket', () => {
  let dir: string;
  let sock: string;
  let server: Server;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ps-local-api-'));
    sock = path.join(dir, 'agent.sock');
    const unsupported = () => {
      throw new ProtocolError('unsupported');
    };
    const handlers: LocalHandlers = {
      status: () => ({ ok: true }) as unknown as DaemonStatus,
      sessions: unsupported,
      pair: unsupported,
      'limits.reload': unsupported,
      revoke: unsupported,
      'devices.root': unsupported,
      'devices.agent': unsupported,
      'alerts.test': unsupported,
    };
    server = await serveLocalApi(sock, handlers);
  });
  after(() => {
    server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** A raw connection: write bytes, read reply lines, see whether the daemon closed it. */
  async function raw(): Promise<{
    socket: Socket;
    next: () => Promise<Record<string, unknown>>;
    closed: Promise<void>;
  }> {
    const socket = createConnection(sock);
    await once(socket, 'connect');
    let text = '';
    const waiting: ((line: string) => void)[] = [];
    const ready: string[] = [];
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      text += d;
      for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n')) {
        const line = text.slice(0, nl);
        text = text.slice(nl + 1);
        const w = waiting.shift();
        if (w) w(line);
        else ready.push(line);
      }
    });
    socket.on('error', () => {});
    const closed = once(socket, 'close').then(() => undefined);
    const next = () =>
      new Promise<Record<string, unknown>>((resolve) => {
        const take = (line: string) => resolve(JSON.parse(line) as Record<string, unknown>);
        const r = ready.shift();
        if (r !== undefined) take(r);
        else waiting.push(take);
      });
    return { socket, next, closed };
  }

  test('a malformed line is answered bad_message (with its id when readable) and the connection stays usable', async () => {
    const c = await raw();
    c.socket.write('this is not json\n');
    assert.deepEqual(await c.next(), {
      id: null,
      error: { code: 'bad_message', message: 'request is not JSON' },
    });
    c.socket.write('{"id":5,"method":"No Such"}\n');
    const r = await c.next();
    assert.equal(r.id, 5);
    assert.equal((r.error as { code: string }).code, 'bad_message');
    c.socket.write('{"id":6,"method":"nosuch"}\n');
    assert.equal(((await c.next()).error as { code: string }).code, 'unsupported');
    c.socket.write('{"id":7,"method":"status"}\n');
    assert.deepEqual(await c.next(), { id: 7, result: { ok: true } });
    c.socket.destroy();
  });

  test('an over-long line without a newline is answered and the connection closed', async () => {
    const c = await raw();
    const chunk = Buffer.alloc(8192, 0x41);
    for (let sent = 0; sent <= MAX_LOCAL_LINE; sent += chunk.length) c.socket.write(chunk);
    const r = await c.next();
    assert.equal(r.id, null);
    assert.equal((r.error as { code: string }).code, 'bad_message');
    await c.closed;
  });

  test('an over-long line that does end in a newline is refused too, not run', async () => {
    const c = await raw();
    const line = JSON.stringify({ id: 9, method: 'status', params: 'x'.repeat(MAX_LOCAL_LINE) });
    c.socket.write(`${line}\n`);
    const r = await c.next();
    assert.equal(r.result, undefined, 'the request was not run');
    assert.equal((r.error as { code: string }).code, 'bad_message');
    await c.closed;
  });

  test('the client still talks to it', async () => {
    const client = await LocalClient.connect(sock);
    assert.ok(client);
    assert.deepEqual(await client.call('status'), { ok: true });
    await assert.rejects(
      client.callUntyped('nosuch'),
      (e: Error & { code?: string }) => e.code === 'unsupported',
    );
    client.close();
  });
});
