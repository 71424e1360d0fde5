/**
 * The Claude Code adapter's pieces without claude: the argv per tier (never
 * a permission bypass), how each tool is classified, the bounded line
 * splitter, the token comparison, the permission MCP server over real
 * streams and a real unix socket (a wrong token or no host is a denial),
 * and past sessions read from a fake `~/.claude/projects`.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, describe, test } from 'node:test';
import { AGENT_TIERS } from '@pocketshell/protocol';
import {
  classifyClaudeTool,
  claudeArgs,
  LineSplitter,
  permissionReply,
  replacementDiff,
  sameToken,
} from './claude.ts';
import { claudeHistory } from './claude-history.ts';
import { runPermissionMcp } from './permission-mcp.ts';

const dir = mkdtempSync(join(tmpdir(), 'pocketshell-claude-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('claude adapter', () => {
  test('argv: stream-json both ways, the permission tool, never a bypass; read-only disallows the writing tools', () => {
    for (const tier of AGENT_TIERS) {
      const args = claudeArgs({ tier, mcpConfig: '/x/mcp.json' });
      for (const f of ['-p', '--verbose', '--include-partial-messages', '--strict-mcp-config'])
        assert.ok(args.includes(f));
      assert.equal(args[args.indexOf('--permission-prompt-tool') + 1], 'mcp__pocketshell__approve');
      assert.equal(args[args.indexOf('--permission-mode') + 1], 'default');
      assert.ok(!args.some((a) => /dangerously|bypass/i.test(a)));
      assert.equal(args.includes('--disallowedTools'), tier === 'read-only');
      assert.ok(!args.includes('--allowedTools'));
    }
    const ro = claudeArgs({ tier: 'read-only', mcpConfig: '/m', resume: 'abc' });
    assert.equal(ro[ro.indexOf('--disallowedTools') + 1], 'Write,Edit,MultiEdit,NotebookEdit,Bash');
    assert.equal(ro[ro.indexOf('--resume') + 1], 'abc');
  });

  test('each tool classified: command, write, edit with a diff, read, network, other', () => {
    const c = (tool: string, input: Record<string, unknown>) => classifyClaudeTool('t1', tool, input, '/w');
    assert.deepEqual(c('Bash', { command: 'npm test' }), {
      id: 't1',
      tool: 'Bash',
      action: 'command',
      command: 'npm test',
      summary: 'run `npm test` in /w',
    });
    const w = c('Write', { file_path: 'a.ts', content: 'x\ny' });
    assert.deepEqual([w.action, w.path, w.summary], ['write', '/w/a.ts', 'write /w/a.ts']);
    assert.equal(w.diff, '--- /dev/null\n+++ /w/a.ts\n@@ -0,0 +1,2 @@\n+x\n+y');
    const e = c('Edit', { file_path: '/w/b.ts', old_string: 'old', new_string: 'new' });
    assert.deepEqual([e.action, e.path], ['edit', '/w/b.ts']);
    assert.match(e.diff ?? '', /-old\n\+new$/);
    const m = c('MultiEdit', { file_path: '/w/c', edits: [{ old_string: 'a', new_string: 'b' }, {}] });
    assert.equal(m.summary, 'edit /w/c (2 changes)');
    assert.equal(c('NotebookEdit', { notebook_path: 'n.ipynb' }).path, '/w/n.ipynb');
    assert.deepEqual(
      [c('Read', { file_path: '/etc/passwd' }).action, c('Read', { file_path: '/etc/passwd' }).path],
      ['read', '/etc/passwd'],
    );
    assert.equal(c('Grep', { pattern: 'x', path: 'src' }).path, '/w/src');
    assert.equal(c('WebFetch', { url: 'https://example.com' }).action, 'network');
    assert.equal(c('mcp__other__tool', { a: 1 }).action, 'other');
    assert.equal(
      permissionReply({ decision: 'approve' }, { a: 1 }),
      '{"behavior":"allow","updatedInput":{"a":1}}',
    );
    assert.equal(
      permissionReply({ decision: 'deny', message: 'no' }, {}),
      '{"behavior":"deny","message":"no"}',
    );
  });

  test('lines split across chunks; a line past the cap is dropped once, the next read', () => {
    const lines: string[] = [];
    let long = 0;
    const s = new LineSplitter(10);
    const push = (c: string) =>
      s.push(
        c,
        (l) => lines.push(l),
        () => long++,
      );
    push('ab');
    push('c\nde');
    push('f\n0123456789ABC');
    push('DEF');
    push('\nok\n');
    assert.deepEqual(lines, ['abc', 'def', 'ok']);
    assert.equal(long, 1);
    assert.ok(sameToken('abc', 'abc'));
    assert.ok(!sameToken('abc', 'abd'));
    assert.ok(!sameToken('abc', 'abcd'));
  });

  test('the permission MCP server: tools/list, a call forwarded with the token, a wrong token or no host denied', async () => {
    const sock = join(dir, 'perm.sock');
    const seen: Record<string, unknown>[] = [];
    const server = net.createServer((c) => {
      c.setEncoding('utf8');
      let buf = '';
      c.on('data', (d: string) => {
        buf += d;
        if (!buf.includes('\n')) return;
        const req = JSON.parse(buf.split('\n')[0]!) as Record<string, unknown>;
        seen.push(req);
        if (req.token !== 'good') return void c.destroy();
        // A person takes a while to answer.
        setTimeout(() => c.end(`${JSON.stringify({ behavior: 'allow', updatedInput: req.input })}\n`), 200);
      });
    });
    await new Promise<void>((r) => server.listen(sock, r));
    const talk = async (token: string, socketPath = sock, progressMs?: number) => {
      const input = new PassThrough();
      const output = new PassThrough();
      const replies: Record<string, unknown>[] = [];
      let buf = '';
      output.setEncoding('utf8');
      output.on('data', (d: string) => {
        buf += d;
        for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
          replies.push(JSON.parse(buf.slice(0, nl)) as Record<string, unknown>);
          buf = buf.slice(nl + 1);
        }
      });
      const done = runPermissionMcp({
        socketPath,
        token,
        input,
        output,
        ...(progressMs !== undefined ? { progressMs } : {}),
      });
      const send = (m: unknown) => input.write(`${JSON.stringify(m)}\n`);
      send({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18' } });
      send({ jsonrpc: '2.0', method: 'notifications/initialized' });
      send({ jsonrpc: '2.0', id: 2, method: 'tools/list' });
      send({
        jsonrpc: '2.0',
        id: 3,
        method: 'tools/call',
        params: {
          name: 'approve',
          arguments: { tool_name: 'Bash', input: { command: 'ls' }, tool_use_id: 'toolu_1' },
          _meta: { progressToken: 'p1' },
        },
      });
      send({ jsonrpc: '2.0', id: 4, method: 'nope' });
      const has = (id: number) => replies.some((r) => r.id === id);
      for (let i = 0; i < 200 && !(has(1) && has(2) && has(3) && has(4)); i++)
        await new Promise((r) => setTimeout(r, 20));
      input.end();
      await done;
      return replies;
    };
    const ok = await talk('good', sock, 40);
    const progress = ok.filter((r) => r.method === 'notifications/progress');
    assert.ok(progress.length >= 1, 'progress notifications while waiting');
    assert.equal((progress[0]!.params as { progressToken: string }).progressToken, 'p1');
    const byId = (id: number) =>
      ok.find((r) => r.id === id) as { result?: Record<string, unknown>; error?: unknown };
    assert.equal((byId(1).result as { protocolVersion: string }).protocolVersion, '2025-06-18');
    assert.deepEqual(
      ((byId(2).result as { tools: { name: string }[] }).tools ?? []).map((t) => t.name),
      ['approve'],
    );
    const text = (r: { result?: Record<string, unknown> }) =>
      JSON.parse((r.result as { content: { text: string }[] }).content[0]!.text) as Record<string, unknown>;
    assert.deepEqual(text(byId(3)), { behavior: 'allow', updatedInput: { command: 'ls' } });
    assert.deepEqual(seen[0], {
      token: 'good',
      tool_name: 'Bash',
      input: { command: 'ls' },
      tool_use_id: 'toolu_1',
    });
    assert.ok(byId(4).error);
    const wrong = await talk('bad');
    assert.equal(text(wrong.find((r) => r.id === 3) as never).behavior, 'deny');
    const nobody = await talk('good', join(dir, 'none.sock'));
    assert.equal(text(nobody.find((r) => r.id === 3) as never).behavior, 'deny');
    server.close();
  });

  test('past sessions: cwd and first prompt from each file, newest first, files without a cwd skipped', async () => {
    const home = join(dir, 'home');
    const p = join(home, '.claude', 'projects', '-w');
    mkdirSync(p, { recursive: true });
    const line = (o: unknown) => `${JSON.stringify(o)}\n`;
    writeFileSync(
      join(p, 'aaaa-1.jsonl'),
      line({ type: 'summary' }) +
        line({ type: 'user', cwd: '/w', message: { role: 'user', content: 'fix the\nbuild' } }),
    );
    writeFileSync(
      join(p, 'bbbb-2.jsonl'),
      line({
        type: 'user',
        cwd: '/w/sub',
        message: { role: 'user', content: [{ type: 'text', text: 'second' }] },
      }),
    );
    writeFileSync(join(p, 'cccc-3.jsonl'), line({ type: 'user', message: { content: 'no cwd' } }));
    writeFileSync(join(p, 'not a session.txt'), 'x');
    const past = await claudeHistory(home, 10);
    assert.deepEqual(past.map((x) => [x.native, x.cwd, x.title]).sort(), [
      ['aaaa-1', '/w', 'fix the'],
      ['bbbb-2', '/w/sub', 'second'],
    ]);
    assert.ok(past.every((x, i) => i === 0 || past[i - 1]!.updatedAt >= x.updatedAt));
    assert.deepEqual(await claudeHistory(join(dir, 'nobody'), 10), []);
    assert.equal((await claudeHistory(home, 1)).length, 1);
  });
});

test('a write’s diff is a new file’s (-0,0, /dev/null); an edit’s replaces its lines; a final newline is not one more line', () => {
  assert.equal(
    replacementDiff('/w/a.ts', '', 'export const answer = 42;\n'),
    '--- /dev/null\n+++ /w/a.ts\n@@ -0,0 +1,1 @@\n+export const answer = 42;',
  );
  assert.equal(
    replacementDiff('/w/a.ts', 'a\nb', 'c'),
    '--- /w/a.ts\n+++ /w/a.ts\n@@ -1,2 +1,1 @@\n-a\n-b\n+c',
  );
  assert.equal(replacementDiff('/w/a.ts', 'gone\n', ''), '--- /w/a.ts\n+++ /w/a.ts\n@@ -1,1 +0,0 @@\n-gone');
});
