/**
 * The web client's words for a terminal that ended: the host's reason when
 * it ended the session (its session limits, a close, a shutdown), else the
 * program's exit code.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EXIT_REASONS } from '@pocketshell/protocol';
import { exitMessage } from '../../packages/web/src/exit-message.ts';

test('each exit reason of the protocol has its own sentence; no reason or an unknown one gives the exit code', () => {
  const sentences = EXIT_REASONS.map((r) => exitMessage(129, r));
  assert.equal(new Set(sentences).size, EXIT_REASONS.length);
  for (const s of sentences) assert.doesNotMatch(s, /exit code/);
  assert.match(exitMessage(129, 'idle_timeout'), /idle limit/);
  assert.match(exitMessage(129, 'max_lifetime'), /maximum lifetime/);
  assert.equal(exitMessage(3, undefined), 'The program ended (exit code 3).');
  assert.equal(exitMessage(0, 'some_future_reason'), 'The program ended (exit code 0).');
});
