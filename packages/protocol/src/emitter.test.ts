/**
 * The one typed emitter: a payload per event, none for `undefined` events,
 * registration order, `once`/`off`, and a throwing listener that neither
 * stops the others nor disappears. The `@ts-expect-error` lines are checked
 * by `tsc -b`: a wrong event name or payload does not compile.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Emitter } from './emitter.ts';

interface Events {
  message: string;
  close: undefined;
}

class Source extends Emitter<Events> {
  message(text: string): void {
    this.emit('message', text);
  }
  close(): void {
    this.emit('close');
  }
  typeChecks(): void {
    // @ts-expect-error a payload is required for `message`
    this.emit('message');
    // @ts-expect-error wrong payload type
    this.emit('message', 1);
    // @ts-expect-error unknown event
    this.emit('other', 'x');
  }
}

test('listeners get the one payload, in registration order; undefined events need none', () => {
  const s = new Source();
  const got: string[] = [];
  s.on('message', (text) => got.push(`a:${text}`));
  s.on('message', (text) => got.push(`b:${text}`));
  s.on('close', (payload) => got.push(`close:${String(payload)}`));
  s.message('hi');
  s.close();
  assert.deepEqual(got, ['a:hi', 'b:hi', 'close:undefined']);
  // @ts-expect-error wrong listener payload type
  s.on('message', (n: number) => n);
});

test('once runs once; off and the returned function remove a listener', () => {
  const s = new Source();
  const got: string[] = [];
  s.once('message', (text) => got.push(`once:${text}`));
  const off = s.on('message', (text) => got.push(`on:${text}`));
  const listener = (text: string): void => {
    got.push(`off:${text}`);
  };
  s.on('message', listener);
  s.off('message', listener);
  s.message('1');
  off();
  s.message('2');
  assert.deepEqual(got, ['once:1', 'on:1']);
  s.on('message', (text) => got.push(text));
  s.removeAllListeners();
  s.message('3');
  assert.deepEqual(got, ['once:1', 'on:1']);
});

test('a throwing listener does not stop the others, and its error is reported, not swallowed', () => {
  const s = new Source();
  const got: string[] = [];
  const boom = new Error('boom');
  s.on('message', () => {
    throw boom;
  });
  s.on('message', (text) => got.push(text));
  const reported: unknown[] = [];
  const g = globalThis as { reportError?: (e: unknown) => void };
  g.reportError = (e) => reported.push(e);
  try {
    s.message('after');
  } finally {
    delete g.reportError;
  }
  assert.deepEqual(got, ['after']);
  assert.deepEqual(reported, [boom]);
});
