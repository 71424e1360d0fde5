/**
 * The Agents screens' words and diff colouring (packages/web/src/
 * agent-format.ts), in Node: the sandbox said plainly, why an agent cannot
 * start, a tool call's one-line summary, an approval's outcome with who
 * answered, folders inside (or not) the workspace roots — `..` cannot climb
 * out, a root's sibling with the same prefix is not inside — and diffs: the
 * `+`/`-`/`@@` lines told apart (a removed "-- x" inside a hunk is not a
 * header), the language's keywords coloured on the code of each line, the
 * cap of 400 lines with the rest counted, and, for any text, every line's
 * marker and tokens joining back to the line (fast-check).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  agentError,
  approvalOutcome,
  DIFF_LINES_SHOWN,
  diffFile,
  diffLines,
  diffStat,
  fenceFile,
  folderProblem,
  messageBlocks,
  normalPath,
  resultLine,
  sandboxWords,
  toolSummary,
  unavailableReason,
} from '../../packages/web/src/agent-format.ts';

test('no sandbox is said plainly, with the reason', () => {
  const none = sandboxWords({ kind: 'none', reason: 'bwrap not installed' });
  assert.equal(none.title, 'No sandbox on this host: the agent runs with your user’s full rights.');
  assert.equal(none.detail, 'bwrap not installed');
  assert.equal(sandboxWords({ kind: 'none' }).detail, 'The host did not say why.');
  assert.match(sandboxWords({ kind: 'bwrap' }).title, /bubblewrap/);
});

test('an agent the host lacks is refused with the reason', () => {
  const info = {
    agents: [
      { kind: 'claude', available: true, version: '2.0.1' },
      { kind: 'codex', available: false },
    ],
  } as const;
  assert.equal(unavailableReason(info, 'claude'), undefined);
  assert.equal(
    unavailableReason(info, 'codex'),
    'Codex is not available on this host: it found no `codex` it can run.',
  );
  // Not listed at all: not available either.
  assert.match(unavailableReason({ agents: [] }, 'claude') ?? '', /Claude is not available/);
});

test('a tool call in one line: the command, the file, else its JSON', () => {
  assert.equal(
    toolSummary('Bash', '{"command":"npm test -- --watch=false","timeout":1000}'),
    'npm test -- --watch=false',
  );
  assert.equal(toolSummary('Read', '{"file_path":"/w/app/a.ts"}'), '/w/app/a.ts');
  assert.equal(toolSummary('commandExecution', '{"command":["git","status"]}'), 'git status');
  assert.equal(toolSummary('Grep', '{"pattern":"TODO\\n","glob":"*.ts"}'), 'TODO');
  assert.equal(toolSummary('Todo', '{"todos":[1,2]}'), '{"todos":[1,2]}');
  assert.equal(toolSummary('Plan', '{}'), 'Plan');
  assert.equal(toolSummary('Odd', 'not json\nat all'), 'not json at all');
  const long = toolSummary('Bash', JSON.stringify({ command: 'x'.repeat(500) }));
  assert.equal(long.length, 160);
  assert.ok(long.endsWith('…'));
});

test('an answered approval says who answered', () => {
  assert.equal(approvalOutcome({ state: 'approved', by: 'Pixel 9' }), 'Approved by Pixel 9');
  assert.equal(approvalOutcome({ state: 'approved' }), 'Approved');
  assert.equal(approvalOutcome({ state: 'denied', by: 'Pixel 9' }), 'Denied by Pixel 9');
  assert.match(approvalOutcome({ state: 'expired' }), /^Expired/);
  assert.equal(approvalOutcome({ state: 'pending' }), 'Waiting for an answer');
});

test('a turn result in one line', () => {
  assert.equal(resultLine({ ok: true, turns: 3, durationMs: 4200 }), 'Turn done · 3 steps · 4.2 s');
  assert.equal(resultLine({ ok: false, turns: 1, durationMs: 95_000 }), 'Turn failed · 1 step · 1 min 35 s');
  assert.equal(resultLine({ ok: true, durationMs: 250 }), 'Turn done · 250 ms');
});

test('a typed folder must be inside a workspace root', () => {
  const roots = ['/home/ann/src', '/srv/work/'];
  assert.deepEqual(folderProblem('/home/ann/src', roots), { ok: '/home/ann/src' });
  assert.deepEqual(folderProblem('/home/ann/src/app/', roots), { ok: '/home/ann/src/app' });
  assert.deepEqual(folderProblem(' /srv/work/./x ', roots), { ok: '/srv/work/x' });
  // `..` cannot climb out; a sibling sharing the prefix is not inside.
  assert.ok('problem' in folderProblem('/home/ann/src/../.ssh', roots));
  assert.ok('problem' in folderProblem('/home/ann/src2', roots));
  assert.ok('problem' in folderProblem('src/app', roots));
  assert.match(
    (folderProblem('/etc', roots) as { problem: string }).problem,
    /\/home\/ann\/src, \/srv\/work\//,
  );
  assert.match((folderProblem('/etc', []) as { problem: string }).problem, /no workspace folder/);
  assert.equal(normalPath('/a/b/../../..'), '/');
  assert.equal(normalPath('a/b'), undefined);
});

test('errors in plain words with their code', () => {
  assert.equal(
    agentError({ code: 'tier_refused', message: 'x' }),
    'Your tier on this host does not allow that. (tier_refused)',
  );
  assert.match(
    agentError({ code: 'path_denied' }),
    /outside this device’s workspace folders\. \(path_denied\)/,
  );
  assert.equal(agentError(new Error('boom')), 'boom (internal)');
});

const PATCH = `diff --git a/src/app.ts b/src/app.ts
index 1111111..2222222 100644
--- a/src/app.ts
+++ b/src/app.ts
@@ -1,4 +1,4 @@
 import { x } from './x';
-const answer = 41;
+const answer = 42; // fixed
--- this line was "-- this line"
 export function f() { return answer; }
`;

test('a unified diff: headers, hunks, added and removed lines, keywords coloured', () => {
  assert.equal(diffFile(PATCH), 'src/app.ts');
  const { lines, more, total } = diffLines(PATCH);
  assert.equal(total, 10);
  assert.equal(more, 0);
  assert.deepEqual(
    lines.map((l) => l.kind),
    ['meta', 'meta', 'meta', 'meta', 'hunk', 'ctx', 'del', 'add', 'del', 'ctx'],
  );
  const added = lines[7]!;
  assert.equal(added.mark, '+');
  assert.equal(added.tokens.map((t) => t[1]).join(''), 'const answer = 42; // fixed');
  assert.deepEqual(
    added.tokens.filter(([c]) => c !== ''),
    [
      ['kw', 'const'],
      ['num', '42'],
      ['com', '// fixed'],
    ],
  );
  // Inside a hunk, "--- …" is a removed line, not a file header.
  assert.equal(lines[8]!.tokens.map((t) => t[1]).join(''), '-- this line was "-- this line"');
  assert.deepEqual(diffStat(PATCH), { added: 1, removed: 2 });
});

test('a new file’s content (no diff markers): every line added, coloured by the path’s language', () => {
  const { lines } = diffLines('def f():\n    return 1\n', '/w/app/tool.py');
  assert.deepEqual(
    lines.map((l) => l.kind),
    ['add', 'add'],
  );
  assert.deepEqual(lines[0]!.tokens[0], ['kw', 'def']);
  assert.deepEqual(diffStat('a\nb\nc'), { added: 3, removed: 0 });
  assert.deepEqual(diffLines('').lines, []);
});

test('a long diff is capped at 400 lines, the rest counted and shown on demand', () => {
  const body = Array.from({ length: 1000 }, (_, i) => `+line ${i}`).join('\n');
  const diff = `--- a/big.txt\n+++ b/big.txt\n@@ -0,0 +1,1000 @@\n${body}\n`;
  const first = diffLines(diff);
  assert.equal(first.lines.length, DIFF_LINES_SHOWN);
  assert.equal(first.total, 1003);
  assert.equal(first.more, 603);
  const next = diffLines(diff, undefined, DIFF_LINES_SHOWN, DIFF_LINES_SHOWN);
  assert.equal(next.lines.length, 400);
  assert.equal(next.more, 203);
  assert.equal(next.lines[0]!.tokens.map((t) => t[1]).join(''), 'line 397');
  assert.equal(next.lines[0]!.kind, 'add');
});

test('any text: each line’s marker and tokens join back to the line', () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.oneof(
          fc.string({ maxLength: 40 }),
          fc.constantFrom('@@ -1 +1 @@', '--- a/x.ts', '+++ b/x.ts', '+', '-', ' '),
        ),
        {
          maxLength: 30,
        },
      ),
      fc.constantFrom('x.ts', 'x.py', 'x.sh', undefined),
      (parts, file) => {
        const text = parts.join('\n');
        const { lines, total } = diffLines(text, file, 1000);
        // Text with no diff marker is a new file's content, shown whole.
        const unified = /^(?:@@ |--- |\+\+\+ |diff --git )/m.test(text);
        const expected = text === '' ? [] : (text.endsWith('\n') ? text.slice(0, -1) : text).split('\n');
        assert.equal(total, expected.length);
        lines.forEach((l, i) => {
          const rebuilt = l.tokens.map((t) => t[1]).join('');
          const original = expected[i] ?? '';
          // Markers are taken off the line: the tokens are the rest, exactly.
          if (!unified) assert.equal(rebuilt, original);
          else if (l.kind === 'meta' || l.kind === 'hunk') assert.equal(l.mark + rebuilt, original);
          else if (l.kind === 'ctx' && !original.startsWith(' ')) assert.equal(rebuilt, original);
          else assert.equal(l.mark + rebuilt, original);
        });
      },
    ),
  );
});

test('a message splits at its fenced code blocks; a fence still open runs to the end', () => {
  const text = 'Here is the fix:\n```ts\nconst a = 1;\n```\nand a diff:\n```diff\n-a\n+b\n```\nDone.';
  assert.deepEqual(messageBlocks(text), [
    { kind: 'text', text: 'Here is the fix:\n' },
    { kind: 'code', lang: 'ts', text: 'const a = 1;' },
    { kind: 'text', text: 'and a diff:\n' },
    { kind: 'code', lang: 'diff', text: '-a\n+b' },
    { kind: 'text', text: 'Done.' },
  ]);
  // Streaming: the closing fence has not come yet.
  assert.deepEqual(messageBlocks('Run:\n```bash\nnpm te'), [
    { kind: 'text', text: 'Run:\n' },
    { kind: 'code', lang: 'bash', text: 'npm te' },
  ]);
  // Inline backticks are prose.
  assert.deepEqual(messageBlocks('use `npm test` here'), [{ kind: 'text', text: 'use `npm test` here' }]);
  assert.deepEqual(messageBlocks(''), []);
  assert.equal(fenceFile('TypeScript'), 'x.ts');
  assert.equal(fenceFile('bash'), 'x.sh');
  assert.equal(fenceFile('go'), 'x.go');
});

test('any message: its blocks hold all of its text (fences aside), in order', () => {
  fc.assert(
    fc.property(
      fc.array(fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom('```', '```ts', '\n', '`')), {
        maxLength: 20,
      }),
      (parts) => {
        const text = parts.join('');
        const joined = messageBlocks(text)
          .map((b) => b.text)
          .join('');
        // Every character of the blocks comes from the text, in order.
        let at = 0;
        for (const ch of joined) {
          at = text.indexOf(ch, at);
          assert.ok(at >= 0, `${JSON.stringify(joined)} from ${JSON.stringify(text)}`);
          at++;
        }
        // Without a fence, the message is one block, whole.
        if (!/^[ \t]*```/m.test(text) && text !== '')
          assert.deepEqual(messageBlocks(text), [{ kind: 'text', text }]);
      },
    ),
  );
});
