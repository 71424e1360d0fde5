/**
 * The Claude Code adapter (issue 18, docs/host.md "Agents"): runs
 * `claude -p --input-format stream-json --output-format stream-json
 * --verbose --include-partial-messages` (Claude Code's CLI reference and
 * its headless/SDK pages: one JSON message per line both ways), writes each
 * prompt as a stream-json `user` message on stdin, and turns the lines it
 * prints into `AgentEvent`s: `system`/`init` gives the native session id,
 * `stream_event` text deltas become text deltas, `assistant` messages give
 * tool calls (and whole texts not streamed), `user` tool results the
 * tools' output, `result` the end of a turn.
 *
 * Permissions: claude is given `--permission-prompt-tool
 * mcp__pocketshell__approve` and an MCP config (0600, in a 0700 folder of
 * the session under the state folder) naming one stdio MCP server, the
 * hidden `pocketshell agent-permission-mcp` (./permission-mcp.ts). That
 * server forwards each call over the session's unix socket (0600, a random
 * token checked in constant time) to this adapter, which classifies the
 * request and asks `permit` — the manager applies the tier and, when it
 * says so, waits for a device. The answer goes back as the documented
 * JSON text: `{"behavior":"allow","updatedInput":…}` or
 * `{"behavior":"deny","message":…}`. Never `--dangerously-skip-permissions`
 * nor `bypassPermissions`; at `read-only` the writing tools are also
 * disallowed on the command line (defence in depth).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { AgentTier } from '@pocketshell/protocol';
import type {
  AgentAdapter,
  AgentBackend,
  AgentStart,
  PermissionAnswer,
  PermissionRequest,
} from './backend.ts';

/** Longest stdout line parsed (a longer one is dropped, with an error event). */
export const MAX_CLAUDE_LINE = 8 * 1024 * 1024;
/** Longest permission request on the socket. */
export const MAX_PERMISSION_REQUEST = 1024 * 1024;
/** The stderr kept for an error message. */
const STDERR_TAIL = 4096;
/** How long `stop` waits after closing stdin, then after SIGTERM. */
const STOP_GRACE_MS = 3000;

/** How long claude waits on the permission prompt tool (its `MCP_TOOL_TIMEOUT`): a day. */
export const PERMISSION_WAIT_MS = 24 * 3600 * 1000;

/** Tools a read-only session may not even ask for. */
const READ_ONLY_DISALLOWED = ['Write', 'Edit', 'MultiEdit', 'NotebookEdit', 'Bash'];

export interface ClaudeAdapterOptions {
  /** The argv that starts the permission MCP server (`pocketshell agent-permission-mcp`, without its flags). */
  readonly mcpCommand: readonly string[];
  /** Where each session's 0700 folder (MCP config, socket, token) is made. */
  readonly runDir: string;
}

/** The claude argv after the executable, for a session. */
export function claudeArgs(o: { tier: AgentTier; resume?: string; mcpConfig: string }): string[] {
  const args = [
    '-p',
    '--input-format',
    'stream-json',
    '--output-format',
    'stream-json',
    '--verbose',
    '--include-partial-messages',
    '--permission-mode',
    'default',
    '--permission-prompt-tool',
    'mcp__pocketshell__approve',
    '--mcp-config',
    o.mcpConfig,
    '--strict-mcp-config',
  ];
  if (o.tier === 'read-only') args.push('--disallowedTools', READ_ONLY_DISALLOWED.join(','));
  if (o.resume !== undefined) args.push('--resume', o.resume);
  return args;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const obj = (v: unknown): Record<string, unknown> | undefined =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;

/** A unified-looking diff of one replacement (the device colours it; capped by the manager). */
export function replacementDiff(file: string, before: string, after: string): string {
  const lines = (text: string) => {
    if (text === '') return [];
    const l = text.split('\n');
    if (l[l.length - 1] === '') l.pop(); // a final newline ends the last line, it is not one more
    return l;
  };
  const minus = lines(before).map((l) => `-${l}`);
  const plus = lines(after).map((l) => `+${l}`);
  // A hunk of no lines starts at 0 (`@@ -0,0 +1,3 @@`: a new file).
  const range = (n: number) => `${n === 0 ? 0 : 1},${n}`;
  return [
    `--- ${before === '' ? '/dev/null' : file}`,
    `+++ ${file}`,
    `@@ -${range(minus.length)} +${range(plus.length)} @@`,
    ...minus,
    ...plus,
  ].join('\n');
}

/** Classifies one of claude's tool calls as a permission request (`cwd` resolves relative paths). */
export function classifyClaudeTool(
  id: string,
  tool: string,
  input: Record<string, unknown>,
  cwd: string,
): PermissionRequest {
  const at = (p: string | undefined) => (p === undefined ? undefined : path.resolve(cwd, p));
  switch (tool) {
    case 'Bash': {
      const command = str(input.command) ?? '';
      return { id, tool, action: 'command', command, summary: `run \`${command}\` in ${cwd}` };
    }
    case 'Write': {
      const file = at(str(input.file_path)) ?? cwd;
      const content = str(input.content) ?? '';
      return {
        id,
        tool,
        action: 'write',
        path: file,
        summary: `write ${file}`,
        diff: replacementDiff(file, '', content),
      };
    }
    case 'Edit': {
      const file = at(str(input.file_path)) ?? cwd;
      return {
        id,
        tool,
        action: 'edit',
        path: file,
        summary: `edit ${file}`,
        diff: replacementDiff(file, str(input.old_string) ?? '', str(input.new_string) ?? ''),
      };
    }
    case 'MultiEdit': {
      const file = at(str(input.file_path)) ?? cwd;
      const edits = Array.isArray(input.edits) ? input.edits.map(obj).filter((e) => e !== undefined) : [];
      return {
        id,
        tool,
        action: 'edit',
        path: file,
        summary: `edit ${file} (${edits.length} change${edits.length === 1 ? '' : 's'})`,
        diff: edits
          .map((e) => replacementDiff(file, str(e.old_string) ?? '', str(e.new_string) ?? ''))
          .join('\n'),
      };
    }
    case 'NotebookEdit': {
      const file = at(str(input.notebook_path)) ?? cwd;
      return { id, tool, action: 'edit', path: file, summary: `edit notebook ${file}` };
    }
    case 'Read':
    case 'LS':
    case 'Glob':
    case 'Grep': {
      const file = at(str(input.file_path) ?? str(input.path)) ?? cwd;
      const what = str(input.pattern);
      return {
        id,
        tool,
        action: 'read',
        path: file,
        summary: `${tool.toLowerCase()} ${what ? `${what} in ` : ''}${file}`,
      };
    }
    case 'WebFetch':
    case 'WebSearch': {
      const what = str(input.url) ?? str(input.query) ?? '';
      return {
        id,
        tool,
        action: 'network',
        summary: `${tool === 'WebFetch' ? 'fetch' : 'search the web for'} ${what}`,
      };
    }
    default:
      return { id, tool, action: 'other', summary: `use ${tool} ${JSON.stringify(input).slice(0, 200)}` };
  }
}

/** The documented answer of the permission prompt tool. */
export function permissionReply(answer: PermissionAnswer, input: Record<string, unknown>): string {
  return JSON.stringify(
    answer.decision === 'approve'
      ? { behavior: 'allow', updatedInput: input }
      : { behavior: 'deny', message: answer.message },
  );
}

/** Compares two tokens in constant time (of their hashes: lengths may differ). */
export function sameToken(a: string, b: string): boolean {
  const h = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(h(a), h(b));
}

/** Splits a stream into lines, each at most `max` bytes (a longer one is reported and skipped). */
export class LineSplitter {
  #buf = '';
  #skipping = false;
  readonly #max: number;
  constructor(max: number) {
    this.#max = max;
  }
  /** The whole lines in `chunk` (and `tooLong` once per dropped line). */
  push(chunk: string, onLine: (line: string) => void, onTooLong: () => void): void {
    let data = this.#buf + chunk;
    this.#buf = '';
    for (;;) {
      const nl = data.indexOf('\n');
      if (nl < 0) break;
      const line = data.slice(0, nl);
      data = data.slice(nl + 1);
      if (this.#skipping) {
        this.#skipping = false;
        continue;
      }
      if (line.length > this.#max) onTooLong();
      else onLine(line);
    }
    if (data.length > this.#max) {
      if (!this.#skipping) onTooLong();
      this.#skipping = true;
    } else if (!this.#skipping) this.#buf = data;
  }
}

/** The session's permission socket: one JSON line in, one out, per call. */
async function permissionServer(
  socketPath: string,
  token: string,
  cwd: string,
  permit: AgentStart['permit'],
  denied: Set<string>,
): Promise<net.Server> {
  const server = net.createServer((sock) => {
    let buf = '';
    sock.setEncoding('utf8');
    sock.on('error', () => {});
    sock.on('data', (chunk: string) => {
      buf += chunk;
      if (buf.length > MAX_PERMISSION_REQUEST) {
        sock.destroy();
        return;
      }
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      const line = buf.slice(0, nl);
      sock.pause();
      void (async () => {
        let reply: string;
        try {
          const o = obj(JSON.parse(line));
          if (!o || typeof o.token !== 'string' || !sameToken(o.token, token)) {
            sock.destroy();
            return;
          }
          const tool = str(o.tool_name) ?? 'unknown';
          const input = obj(o.input) ?? {};
          const id = str(o.tool_use_id) ?? `perm_${randomBytes(6).toString('hex')}`;
          const answer = await permit(classifyClaudeTool(id, tool, input, cwd));
          if (answer.decision === 'deny') denied.add(id);
          reply = permissionReply(answer, input);
        } catch {
          reply = JSON.stringify({
            behavior: 'deny',
            message: 'The host could not read the permission request.',
          });
        }
        if (!sock.destroyed) sock.end(`${reply}\n`);
      })();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve());
  });
  fs.chmodSync(socketPath, 0o600);
  return server;
}

/** The Claude Code adapter. */
export function claudeAdapter(options: ClaudeAdapterOptions): AgentAdapter {
  return (start) => new ClaudeSession(options, start);
}

class ClaudeSession implements AgentBackend {
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly #start: AgentStart;
  readonly #dir: string;
  readonly #child: import('node:child_process').ChildProcessWithoutNullStreams;
  #server: net.Server | undefined;
  #stderr = '';
  #ended = false;
  /** Message ids whose text came as deltas (their whole text is not sent again). */
  readonly #streamed = new Set<string>();
  /** Text blocks streaming now. */
  readonly #open = new Set<string>();
  #message = '';
  readonly #tools = new Map<string, { name: string; input: string }>();
  readonly #denied = new Set<string>();
  #requests = 0;
  /** Prompts sent before the socket listened (they follow the first, in order). */
  #queued: string[] | undefined = [];

  constructor(o: ClaudeAdapterOptions, start: AgentStart) {
    this.#start = start;
    fs.mkdirSync(o.runDir, { recursive: true, mode: 0o700 });
    this.#dir = fs.mkdtempSync(path.join(o.runDir, 'claude-'));
    fs.chmodSync(this.#dir, 0o700);
    const token = randomBytes(32).toString('base64url');
    const socketPath = path.join(this.#dir, 'perm.sock');
    const tokenFile = path.join(this.#dir, 'token');
    fs.writeFileSync(tokenFile, token, { mode: 0o600 });
    const mcpConfig = path.join(this.#dir, 'mcp.json');
    const [command, ...args] = o.mcpCommand;
    fs.writeFileSync(
      mcpConfig,
      JSON.stringify({
        mcpServers: {
          pocketshell: {
            type: 'stdio',
            command,
            args: [...args, '--socket', socketPath, '--token-file', tokenFile],
          },
        },
      }),
      { mode: 0o600 },
    );
    // The socket listens before claude can call it (its MCP servers start with it).
    const listening = permissionServer(socketPath, token, start.cwd, start.permit, this.#denied).then((s) => {
      this.#server = s;
      if (this.#ended) s.close();
    });
    try {
      this.#child = this.#spawn(start, mcpConfig);
    } catch (error) {
      // Nothing started (the sandbox refused, say): the socket and the folder go.
      this.#ended = true;
      void listening.finally(() => fs.rmSync(this.#dir, { recursive: true, force: true })).catch(() => {});
      throw error;
    }
    const child = this.#child;
    child.stdin.on('error', () => {});
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    const lines = new LineSplitter(MAX_CLAUDE_LINE);
    child.stdout.on('data', (chunk: string) =>
      lines.push(
        chunk,
        (line) => this.#line(line),
        () =>
          start.emit({
            type: 'error',
            code: 'line_too_long',
            message: 'claude printed a line too long to read; dropped',
          }),
      ),
    );
    child.stderr.on('data', (chunk: string) => {
      this.#stderr = (this.#stderr + chunk).slice(-STDERR_TAIL);
    });
    this.exited = new Promise((resolve) => {
      let done = false;
      const finish = (code: number | null, signal: NodeJS.Signals | null) => {
        if (done) return;
        done = true;
        this.#ended = true;
        this.#server?.close();
        fs.rmSync(this.#dir, { recursive: true, force: true });
        if (code !== 0 && this.#stderr.trim())
          start.emit({ type: 'error', code: 'agent_exit', message: this.#stderr.trim().slice(-STDERR_TAIL) });
        resolve({ code, signal });
      };
      child.once('error', (error) => {
        this.#stderr += `\n${(error as Error).message}`;
        finish(127, null);
      });
      child.once('close', (code, signal) => finish(code, signal));
    });
    void listening.then(
      () => {
        const queued = this.#queued ?? [];
        this.#queued = undefined;
        if (start.prompt !== undefined) this.#write(start.prompt);
        for (const t of queued) this.#write(t);
      },
      (error) => {
        start.emit({
          type: 'error',
          code: 'agent_unavailable',
          message: `permission socket: ${(error as Error).message}`,
        });
        child.kill('SIGKILL');
      },
    );
  }

  #spawn(start: AgentStart, mcpConfig: string): import('node:child_process').ChildProcessWithoutNullStreams {
    return start.spawn(
      claudeArgs({
        tier: start.tier,
        mcpConfig,
        ...(start.resume !== undefined ? { resume: start.resume } : {}),
      }),
      // An MCP tool call (the permission prompt) may wait for a person: claude's tool timeout set long.
      { MCP_TOOL_TIMEOUT: String(PERMISSION_WAIT_MS) },
    );
  }

  send(text: string): void {
    if (this.#queued) this.#queued.push(text);
    else this.#write(text);
  }

  #write(text: string): void {
    if (this.#ended) return;
    const message = { type: 'user', message: { role: 'user', content: [{ type: 'text', text }] } };
    this.#child.stdin.write(`${JSON.stringify(message)}\n`);
  }

  async interrupt(): Promise<void> {
    if (this.#ended) return;
    const request = {
      type: 'control_request',
      request_id: `req_${++this.#requests}`,
      request: { subtype: 'interrupt' },
    };
    this.#child.stdin.write(`${JSON.stringify(request)}\n`);
  }

  async stop(): Promise<void> {
    if (!this.#ended) {
      this.#child.stdin.end();
      const timer = setTimeout(() => {
        if (!this.#ended) this.#child.kill('SIGTERM');
        const kill = setTimeout(() => {
          if (!this.#ended) this.#child.kill('SIGKILL');
        }, STOP_GRACE_MS);
        kill.unref();
      }, STOP_GRACE_MS);
      timer.unref();
      await this.exited;
      clearTimeout(timer);
    }
  }

  #line(line: string): void {
    if (!line.trim()) return;
    let m: Record<string, unknown> | undefined;
    try {
      m = obj(JSON.parse(line));
    } catch {
      return;
    }
    if (!m) return;
    const emit = this.#start.emit;
    switch (m.type) {
      case 'system': {
        const id = str(m.session_id);
        if (m.subtype === 'init' && id && /^[A-Za-z0-9_.:-]{1,128}$/.test(id)) this.#start.native(id);
        return;
      }
      case 'stream_event': {
        const e = obj(m.event);
        if (!e) return;
        if (e.type === 'message_start') {
          this.#message = str(obj(e.message)?.id) ?? `msg_${randomBytes(4).toString('hex')}`;
          return;
        }
        const block = `${this.#message}:${Number(e.index) || 0}`;
        if (e.type === 'content_block_stop' && this.#open.delete(block)) {
          // The block ended: an empty delta tells the manager to release what its filter held.
          emit({ type: 'text', id: block, text: '', delta: true });
          return;
        }
        const delta = obj(e.delta);
        if (
          e.type === 'content_block_delta' &&
          delta?.type === 'text_delta' &&
          typeof delta.text === 'string'
        ) {
          this.#streamed.add(this.#message);
          this.#open.add(block);
          emit({ type: 'text', id: block, text: delta.text, delta: true });
        }
        return;
      }
      case 'assistant': {
        const msg = obj(m.message);
        const id = str(msg?.id) ?? `msg_${randomBytes(4).toString('hex')}`;
        const content = Array.isArray(msg?.content) ? msg.content : [];
        content.forEach((raw, index) => {
          const block = obj(raw);
          if (!block) return;
          if (block.type === 'text' && typeof block.text === 'string' && !this.#streamed.has(id))
            emit({ type: 'text', id: `${id}:${index}`, text: block.text, delta: false });
          if (block.type === 'tool_use') {
            const toolId = str(block.id) ?? `tool_${index}`;
            const name = str(block.name) ?? 'tool';
            const input = obj(block.input) ?? {};
            const compact = JSON.stringify(input);
            this.#tools.set(toolId, { name, input: compact });
            const classified = classifyClaudeTool(toolId, name, input, this.#start.cwd);
            emit({
              type: 'tool',
              id: toolId,
              name,
              state: 'started',
              input: compact,
              ...(classified.diff !== undefined ? { diff: classified.diff } : {}),
            });
          }
        });
        return;
      }
      case 'user': {
        const content = obj(m.message)?.content;
        if (!Array.isArray(content)) return;
        for (const raw of content) {
          const block = obj(raw);
          if (block?.type !== 'tool_result') continue;
          const toolId = str(block.tool_use_id) ?? 'tool';
          const known = this.#tools.get(toolId);
          const output = Array.isArray(block.content)
            ? block.content.map((c) => str(obj(c)?.text) ?? '').join('')
            : (str(block.content) ?? '');
          emit({
            type: 'tool',
            id: toolId,
            name: known?.name ?? 'tool',
            state: this.#denied.has(toolId) ? 'denied' : block.is_error === true ? 'failed' : 'done',
            input: known?.input ?? '{}',
            output,
          });
        }
        return;
      }
      case 'result': {
        const turns = Number(m.num_turns);
        const ms = Number(m.duration_ms);
        emit({
          type: 'result',
          ok: m.subtype === 'success' && m.is_error !== true,
          ...(typeof m.result === 'string' ? { text: m.result } : {}),
          ...(Number.isSafeInteger(turns) && turns >= 0 ? { turns } : {}),
          ...(Number.isSafeInteger(ms) && ms >= 0 ? { durationMs: ms } : {}),
        });
        return;
      }
      default:
        return;
    }
  }
}
