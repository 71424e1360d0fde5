/**
 * One rule's state machine, sample by sample with an injected clock: fires
 * once after `forSeconds`, resolves after `forSeconds` false, never fires
 * again within `cooldownSeconds` of its last firing, and a sample without
 * a value changes nothing.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AlertRule } from '@pocketshell/protocol';
import { type RuleState, step } from './rule-state.ts';

const rule: AlertRule = {
  id: 'cpu',
  name: '',
  enabled: true,
  metric: 'cpu',
  target: '',
  op: 'above',
  threshold: 50,
  forSeconds: 10,
  cooldownSeconds: 60,
  severity: 'warning',
};

/** Runs samples every 5 s from t=0; answers what each one produced. */
function run(values: (number | undefined)[], r = rule, state: RuleState = { firing: false }) {
  return values.map((v, i) => step(r, state, v, i * 5000) ?? '-').join(' ');
}

test('fires once after forSeconds, resolves after forSeconds false', () => {
  // t: 0 5 10 15 20 25 30 35 40
  assert.equal(run([90, 90, 90, 90, 10, 10, 10, 10]), '- - firing - - - resolved -');
});

test('a blip shorter than forSeconds neither fires nor resolves', () => {
  assert.equal(run([90, 10, 90, 10, 90, 90]), '- - - - - -');
  assert.equal(run([90, 90, 90, 10, 90, 10, 10, 10]), '- - firing - - - - resolved');
});

test('no second firing within the cooldown; fires again once it is over', () => {
  const state: RuleState = { firing: false };
  // Fires at 10 s, resolves at 25 s (false from 15 s), breaches again from 30 s: due at 40 s, but the
  // cooldown (60 s from 10 s) holds it until 70 s.
  const values = [90, 90, 90, 10, 10, 10, 90, 90, 90, 90, 90, 90, 90, 90, 90];
  const out = values.map((v, i) => step(rule, state, v, i * 5000) ?? '-');
  assert.deepEqual(out.map((o, i) => (o === '-' ? null : `${o}@${i * 5}`)).filter(Boolean), [
    'firing@10',
    'resolved@25',
    'firing@70',
  ]);
});

test('below rules, zero forSeconds, and missing values', () => {
  const gone: AlertRule = {
    ...rule,
    metric: 'process',
    target: 'nginx',
    op: 'below',
    threshold: 1,
    forSeconds: 0,
  };
  assert.equal(run([1, 0, 0, 1], gone), '- firing - resolved');
  assert.equal(run([90, undefined, 90, 90]), '- - firing -');
  // Exactly at the threshold is not above it.
  assert.equal(run([50, 50, 50, 50]), '- - - -');
});

test('a restored firing state does not fire again; it resolves', () => {
  assert.equal(run([90, 90, 90, 10, 10, 10], rule, { firing: true, lastFired: 0 }), '- - - - - resolved');
});
