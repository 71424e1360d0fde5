/**
 * Writes `test/vectors/protocol-v1.json` from fixed seeds (`npm run vectors`).
 * The output is checked in; the tests recompute it and fail on any drift.
 */
import { writeFileSync } from 'node:fs';
import { buildVectors, checkVectors } from '../test/vectors/build.ts';

const vectors = buildVectors();
const problems = checkVectors(vectors);
if (problems.length > 0) throw new Error(`vectors do not check:\n${problems.join('\n')}`);
const out = new URL('../test/vectors/protocol-v1.json', import.meta.url);
writeFileSync(out, `${JSON.stringify(vectors, null, 2)}\n`);
console.log(`wrote ${out.pathname}`);
