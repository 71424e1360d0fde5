/**
 * The small shared helpers: `unixNow` (whole seconds, floored), `MAX_TS`,
 * and `isLoopbackHost` (host names and IP literals of this machine, bare
 * or bracketed IPv6, nothing that merely starts like one).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isLoopbackHost } from './loopback.ts';
import { MAX_TS, unixNow } from './time.ts';

test('unixNow floors milliseconds to whole seconds; MAX_TS bounds it for centuries', () => {
  assert.equal(unixNow(1_700_000_000_999), 1_700_000_000);
  assert.equal(unixNow(0), 0);
  const before = Math.floor(Date.now() / 1000);
  const now = unixNow();
  assert.ok(now >= before && now <= before + 1);
  assert.ok(Number.isInteger(now) && now < MAX_TS);
});

test('isLoopbackHost: localhost, 127.0.0.0/8 and ::1 (bare or bracketed); nothing else', () => {
  for (const host of ['localhost', '127.0.0.1', '127.1.2.3', '::1', '[::1]'])
    assert.ok(isLoopbackHost(host), host);
  for (const host of [
    '0.0.0.0',
    '::',
    '192.168.1.2',
    '127.0.0.1.example.com',
    'localhost.example',
    '[::2]',
    '',
  ])
    assert.ok(!isLoopbackHost(host), host);
});
