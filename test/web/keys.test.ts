/**
 * The web client's pure pieces, in Node: F1–F12 as xterm encodes them
 * (with and without modifiers), and the bounded queue that holds keys typed
 * while the terminal is disconnected.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { INPUT_QUEUE_MAX, InputQueue } from '../../packages/web/src/input-queue.ts';
import { functionKey } from '../../packages/web/src/keybar.ts';

test('F1–F12 are the sequences xterm sends; modifiers use the CSI 1;m / n;m~ forms', () => {
  const plain = Array.from({ length: 12 }, (_, i) => functionKey(i + 1));
  assert.deepEqual(plain, [
    '\x1bOP',
    '\x1bOQ',
    '\x1bOR',
    '\x1bOS',
    '\x1b[15~',
    '\x1b[17~',
    '\x1b[18~',
    '\x1b[19~',
    '\x1b[20~',
    '\x1b[21~',
    '\x1b[23~',
    '\x1b[24~',
  ]);
  assert.equal(functionKey(1, 5), '\x1b[1;5P', 'Ctrl+F1');
  assert.equal(functionKey(12, 3), '\x1b[24;3~', 'Alt+F12');
  assert.throws(() => functionKey(13), RangeError);
  assert.throws(() => functionKey(0), RangeError);
});

test('the input queue keeps order up to its bound, counts what did not fit, and empties on take', () => {
  const q = new InputQueue(8);
  assert.equal(q.push('ab'), true);
  assert.equal(q.push('é'), true, 'two UTF-8 bytes');
  assert.equal(q.size, 4);
  assert.equal(q.push('12345'), false, 'would pass the bound: refused whole');
  assert.equal(q.dropped, 5);
  assert.equal(q.push('1234'), true);
  assert.equal(q.size, 8);
  assert.equal(q.take(), 'abé1234');
  assert.equal(q.size, 0);
  assert.equal(q.dropped, 0);
  assert.equal(new InputQueue().max, INPUT_QUEUE_MAX);
  assert.equal(INPUT_QUEUE_MAX, 4096);
});
