/**
 * The project's own vectors: the checked-in file is exactly what the
 * generator makes, every value recomputes from its inputs, and a changed
 * value is caught. The browser test runs `checkVectors` on the same file.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildVectors, checkVectors, type Vectors } from './build.ts';
import file from './protocol-v1.json' with { type: 'json' };

const vectors = file as Vectors;

test('test/vectors/protocol-v1.json is what `npm run vectors` generates', () => {
  assert.deepEqual(JSON.parse(JSON.stringify(buildVectors())), vectors);
});

test('every vector recomputes from its inputs', () => {
  assert.deepEqual(checkVectors(vectors), []);
  assert.ok(
    vectors.envelopes.length >= 3 && vectors.signatures.length >= 5 && vectors.identities.length >= 3,
  );
});

test('a changed value is reported', () => {
  const copy = structuredClone(vectors);
  copy.sas[0]!.digits = copy.sas[0]!.digits === '000000' ? '000001' : '000000';
  copy.envelopes[1]!.envelope.ct = copy.envelopes[1]!.envelope.ct.replace(/^./, (c) =>
    c === 'A' ? 'B' : 'A',
  );
  const problems = checkVectors(copy);
  assert.equal(problems.length, 3, problems.join('\n'));
});
