/**
 * The Codex adapter: one `codex app-server` process per session, driven
 * over its JSON-RPC on stdio (JSONL, JSON-RPC 2.0 without the `"jsonrpc"`
 * field), as documented in openai/codex `codex-rs/app-server/README.md`
 * (read at commit 001cdd27) and the v2 types of
 * `codex-rs/app-server-protocol` (`v2/thread.rs` at 020dff01):
 * `initialize` + `initialized`, `thread/start` or `thread/resume`, one
 * `turn/start` per prompt, `turn/interrupt`; the notifications `turn/*`,
 * `item/started`, `item/completed`, `item/agentMessage/delta`,
 * `item/commandExecution/outputDelta` and `error`; and the server's
 * approval requests `item/commandExecution/requestApproval` and
 * `item/fileChange/requestApproval`, answered `{ decision: "accept" |
 * "decline" }` (the v1 `execCommandApproval`/`applyPatchApproval`, answered
 * `approved`/`denied`, are handled too, for older CLIs).
 *
 * Every approval request goes to `start.permit`, which applies the tier;
 * the thread is also started with Codex's own settings matching the tier as
 * defence in depth: approval policy `untrusted` (Codex asks before anything
 * but known-safe reads) and sandbox `read-only` for the read-only tier,
 * `workspace-write` otherwise — never `danger-full-access`, never approval
 * `never`. A server request this client does not support is refused, so
 * the server never waits for an answer that will not come.
 *
 * `start.spawn(args)` gets the arguments after the executable
 * (`['app-server']`); the manager prepends `start.executable` and the
 * sandbox. Lines are capped at 8 MiB (the process is killed beyond);
 * an unreadable line is an `error` event, never a crash; unknown
 * notifications are ignored.
 */
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { isAbsolute, resolve } from 'node:path';
import { type ApprovalAction, MAX_AGENT_PATH, MAX_AGENT_TEXT, type ToolState } from '@pocketshell/protocol';
import type {
  AgentAdapter,
  AgentBackend,
  AgentEventBody,
  AgentStart,
  PermissionAnswer,
  PermissionRequest,
} from './backend.ts';

/** Longest line accepted from the app-server; the process is killed beyond. */
export const CODEX_MAX_LINE = 8 * 1024 * 1024;
/** How long `initialize` and `thread/start` may take before the session fails. */
export const CODEX_START_TIMEOUT_MS = 60_000;
/** How long `stop` waits after closing stdin before SIGTERM, and after SIGTERM before SIGKILL. */
export const CODEX_STOP_GRACE_MS = 2_000;
/** Unreadable lines reported one by one before they are only counted. */
const MAX_PROTOCOL_ERRORS = 10;
/** The stderr tail kept for an exit report. */
const STDERR_TAIL = 4096;

type Json = Record<string, unknown>;

const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (o: Json, k: string): string | undefined =>
  typeof o[k] === 'string' ? (o[k] as string) : undefined;
const num = (o: Json, k: string): number | undefined =>
  typeof o[k] === 'number' && Number.isFinite(o[k]) ? (o[k] as number) : undefined;

/** `s` cut to the event text limit, and whether it was cut. */
function cut(s: string, max = MAX_AGENT_TEXT): [string, boolean] {
  return s.length <= max ? [s, false] : [s.slice(0, max), true];
}
/** One line, at most `max` characters, no control characters. */
function oneLine(s: string, max = 200): string {
  const l = s.replace(/[\p{Cc}]+/gu, ' ').trim();
  return l.length <= max ? l : `${l.slice(0, max - 1)}…`;
}

/** An item id as events carry it: one line of at most 128 characters (longer ones are cut, not dropped). */
function itemId(id: string | undefined): string | undefined {
  return id === undefined || id === '' ? undefined : oneLine(id, 128);
}

/** The thread settings for a tier: Codex's own approval policy and sandbox mode. */
export function codexThreadSettings(tier: AgentStart['tier']): {
  approvalPolicy: 'untrusted';
  sandbox: 'read-only' | 'workspace-write';
} {
  return { approvalPolicy: 'untrusted', sandbox: tier === 'read-only' ? 'read-only' : 'workspace-write' };
}

/** A file change in a `fileChange` item. */
interface Change {
  readonly path: string;
  readonly kind: 'add' | 'delete' | 'update';
  readonly diff: string;
}

function changesOf(item: Json, cwd: string): Change[] {
  const list = Array.isArray(item.changes) ? item.changes : [];
  const out: Change[] = [];
  for (const c of list) {
    if (!isObj(c)) continue;
    const p = str(c, 'path');
    if (p === undefined || p.includes('\0')) continue;
    const k = isObj(c.kind) ? str(c.kind, 'type') : str(c, 'kind');
    const kind = k === 'add' || k === 'delete' ? k : 'update';
    out.push({ path: isAbsolute(p) ? p : resolve(cwd, p), kind, diff: str(c, 'diff') ?? '' });
  }
  return out;
}

/**
 * Maps the app-server's notifications to session events, keeping what it
 * needs across them: which messages streamed deltas (their completion is
 * then not repeated), each command's output so far (capped), the file
 * changes an approval request refers to, and the turn's start time.
 */
export class CodexMapper {
  private readonly streamed = new Set<string>();
  private readonly output = new Map<string, string>();
  private readonly files = new Map<string, Change[]>();
  private turnStarted = 0;
  /** The running turn's id (set by `turn/started`). */
  turnId: string | undefined;
  /** Turns completed in this process. */
  turns = 0;

  private readonly cwd: string;
  private readonly now: () => number;

  constructor(cwd: string, now: () => number = Date.now) {
    this.cwd = cwd;
    this.now = now;
  }

  /** The file changes of item `id`, as its `item/started` gave them. */
  changes(id: string): readonly Change[] {
    return this.files.get(id) ?? [];
  }

  /** The events one notification makes (none for those it does not know). */
  notification(method: string, params: unknown): AgentEventBody[] {
    if (!isObj(params)) return [];
    switch (method) {
      case 'turn/started': {
        const turn = isObj(params.turn) ? params.turn : {};
        this.turnId = str(turn, 'id') ?? this.turnId;
        this.turnStarted = this.now();
        return [{ type: 'state', state: 'working' }];
      }
      case 'turn/completed': {
        const turn = isObj(params.turn) ? params.turn : {};
        const status = str(turn, 'status');
        const error = isObj(turn.error) ? str(turn.error, 'message') : undefined;
        this.turnId = undefined;
        this.turns++;
        this.streamed.clear();
        this.output.clear();
        this.files.clear();
        const text = error ?? (status === 'interrupted' ? 'interrupted' : undefined);
        return [
          {
            type: 'result',
            ok: status === 'completed',
            ...(text === undefined ? {} : { text: cut(text)[0] }),
            turns: this.turns,
            durationMs: Math.max(0, this.now() - this.turnStarted),
          },
        ];
      }
      case 'item/agentMessage/delta': {
        const id = itemId(str(params, 'itemId'));
        const delta = str(params, 'delta');
        if (id === undefined || delta === undefined || delta === '') return [];
        this.streamed.add(id);
        return [{ type: 'text', id, text: cut(delta)[0], delta: true }];
      }
      case 'item/commandExecution/outputDelta': {
        const id = itemId(str(params, 'itemId'));
        const delta = str(params, 'delta');
        if (id === undefined || delta === undefined) return [];
        const sofar = this.output.get(id) ?? '';
        if (sofar.length < MAX_AGENT_TEXT) this.output.set(id, sofar + delta);
        return [];
      }
      case 'item/started':
      case 'item/completed':
        return isObj(params.item) ? this.item(params.item, method === 'item/completed') : [];
      case 'error': {
        const error = isObj(params.error) ? params.error : {};
        if (params.willRetry === true) return [];
        return [
          { type: 'error', code: 'agent_error', message: cut(str(error, 'message') ?? 'error', 4096)[0] },
        ];
      }
      default:
        return [];
    }
  }

  private item(item: Json, done: boolean): AgentEventBody[] {
    const id = itemId(str(item, 'id'));
    const type = str(item, 'type');
    if (id === undefined || type === undefined) return [];
    switch (type) {
      case 'agentMessage': {
        if (!done || this.streamed.has(id)) return [];
        const text = str(item, 'text') ?? '';
        return text === '' ? [] : [{ type: 'text', id, text: cut(text)[0], delta: false }];
      }
      case 'commandExecution': {
        const command = str(item, 'command') ?? '';
        const input = cut(JSON.stringify({ command, cwd: str(item, 'cwd') ?? this.cwd }))[0];
        if (!done) return [{ type: 'tool', id, name: 'commandExecution', state: 'started', input }];
        const status = str(item, 'status');
        const exit = num(item, 'exitCode');
        const state: ToolState =
          status === 'declined'
            ? 'denied'
            : status === 'failed' || (exit !== undefined && exit !== 0)
              ? 'failed'
              : 'done';
        const [output, truncated] = cut(str(item, 'aggregatedOutput') ?? this.output.get(id) ?? '');
        this.output.delete(id);
        return [
          {
            type: 'tool',
            id,
            name: 'commandExecution',
            state,
            input,
            ...(output === '' ? {} : { output }),
            ...(truncated ? { truncated } : {}),
          },
        ];
      }
      case 'fileChange': {
        const changes = changesOf(item, this.cwd);
        if (!done) this.files.set(id, changes);
        else this.files.delete(id);
        const input = cut(
          JSON.stringify({ changes: changes.map((c) => ({ path: c.path, kind: c.kind })) }),
        )[0];
        const [diff, truncated] = cut(changes.map((c) => c.diff).join('\n'));
        const status = str(item, 'status');
        const state: ToolState = !done
          ? 'started'
          : status === 'declined'
            ? 'denied'
            : status === 'failed'
              ? 'failed'
              : 'done';
        return [
          {
            type: 'tool',
            id,
            name: 'fileChange',
            state,
            input,
            ...(diff === '' ? {} : { diff }),
            ...(truncated ? { truncated } : {}),
          },
        ];
      }
      case 'mcpToolCall':
      case 'dynamicToolCall':
      case 'webSearch':
      case 'imageView':
      case 'collabToolCall': {
        const name =
          type === 'mcpToolCall'
            ? `mcp:${str(item, 'server') ?? '?'}/${str(item, 'tool') ?? '?'}`
            : type === 'dynamicToolCall' || type === 'collabToolCall'
              ? (str(item, 'tool') ?? type)
              : type;
        const { id: _id, type: _type, result, error, status, ...rest } = item;
        const input = cut(JSON.stringify(rest))[0];
        if (!done) return [{ type: 'tool', id, name: oneLine(name, 128), state: 'started', input }];
        const failed = status === 'failed' || (error !== undefined && error !== null);
        const [output, truncated] = cut(
          result === undefined || result === null
            ? ''
            : typeof result === 'string'
              ? result
              : JSON.stringify(result),
        );
        return [
          {
            type: 'tool',
            id,
            name: oneLine(name, 128),
            state: failed ? 'failed' : 'done',
            input,
            ...(output === '' ? {} : { output }),
            ...(truncated ? { truncated } : {}),
          },
        ];
      }
      default:
        return [];
    }
  }

  /**
   * The permission request an approval request from the server makes, or
   * undefined when the request is not an approval this client classifies.
   */
  approval(method: string, params: unknown, requestId: string | number): PermissionRequest | undefined {
    if (!isObj(params)) return undefined;
    const fallback = `req-${requestId}`;
    const safeId = (s: string | undefined) =>
      s !== undefined && /^[A-Za-z0-9_.:-]{1,128}$/.test(s) ? s : fallback;
    if (method === 'item/commandExecution/requestApproval' || method === 'execCommandApproval') {
      const raw = params.command;
      const command = Array.isArray(raw)
        ? raw.filter((a): a is string => typeof a === 'string').join(' ')
        : typeof raw === 'string'
          ? raw
          : undefined;
      const cwd = str(params, 'cwd') ?? this.cwd;
      const reason = str(params, 'reason');
      const id = safeId(str(params, 'approvalId') ?? str(params, 'itemId') ?? str(params, 'callId'));
      if (command === undefined) {
        // A network-only approval (`networkApprovalContext`), no command.
        return {
          id,
          action: 'network',
          tool: 'commandExecution',
          summary: oneLine(`network access${reason ? `: ${reason}` : ''}`, 1000),
        };
      }
      return {
        id,
        action: 'command',
        tool: 'commandExecution',
        summary: oneLine(`run \`${command}\` in ${cwd}`, 1000),
        command: cut(command, 16 * 1024)[0],
      };
    }
    if (method === 'item/fileChange/requestApproval' || method === 'applyPatchApproval') {
      const itemId = str(params, 'itemId') ?? str(params, 'callId');
      let changes: Change[] = itemId === undefined ? [] : [...this.changes(itemId)];
      if (changes.length === 0 && isObj(params.fileChanges)) {
        // v1: { fileChanges: { path: { type: add|delete|update, content|unified_diff } } }
        for (const [p, c] of Object.entries(params.fileChanges)) {
          if (!isObj(c) || p.includes('\0')) continue;
          const t = str(c, 'type');
          changes.push({
            path: isAbsolute(p) ? p : resolve(this.cwd, p),
            kind: t === 'add' || t === 'delete' ? t : 'update',
            diff: str(c, 'unified_diff') ?? str(c, 'content') ?? '',
          });
        }
      }
      const root = str(params, 'grantRoot');
      if (changes.length === 0 && root !== undefined) changes = [{ path: root, kind: 'update', diff: '' }];
      const first = changes[0];
      const action: ApprovalAction = first?.kind === 'add' ? 'write' : 'edit';
      const verb = first?.kind === 'add' ? 'write' : first?.kind === 'delete' ? 'delete' : 'edit';
      const summary =
        changes.length === 0
          ? 'change files'
          : changes.length === 1
            ? `${verb} ${first!.path}`
            : `${verb} ${first!.path} and ${changes.length - 1} more file${changes.length > 2 ? 's' : ''}`;
      const diff = cut(changes.map((c) => c.diff).join('\n'))[0];
      return {
        id: safeId(itemId),
        action,
        tool: 'fileChange',
        summary: oneLine(summary, 1000),
        ...(first === undefined || first.path.length > MAX_AGENT_PATH ? {} : { path: first.path }),
        ...(diff === '' ? {} : { diff }),
      };
    }
    return undefined;
  }
}

/** The JSON-RPC result that answers an approval request. */
export function approvalResult(method: string, answer: PermissionAnswer): Json {
  const yes = answer.decision === 'approve';
  if (method === 'execCommandApproval' || method === 'applyPatchApproval')
    return { decision: yes ? 'approved' : 'denied' };
  return { decision: yes ? 'accept' : 'decline' };
}

/** Splits a byte stream into lines, refusing a line longer than `max` bytes. */
export class LineSplitter {
  private parts: Buffer[] = [];
  private size = 0;
  private overflowed = false;
  private readonly max: number;
  private readonly onLine: (line: string) => void;
  private readonly onOverflow: () => void;

  constructor(max: number, onLine: (line: string) => void, onOverflow: () => void) {
    this.max = max;
    this.onLine = onLine;
    this.onOverflow = onOverflow;
  }

  push(chunk: Buffer): void {
    if (this.overflowed) return;
    let start = 0;
    for (let nl = chunk.indexOf(10, start); nl !== -1; nl = chunk.indexOf(10, start)) {
      const piece = chunk.subarray(start, nl);
      if (this.size + piece.length > this.max) {
        this.overflow();
        return;
      }
      this.parts.push(piece);
      const line = Buffer.concat(this.parts).toString('utf8');
      this.parts = [];
      this.size = 0;
      start = nl + 1;
      this.onLine(line);
      if (this.overflowed) return;
    }
    const rest = chunk.subarray(start);
    if (this.size + rest.length > this.max) {
      this.overflow();
      return;
    }
    if (rest.length > 0) {
      this.parts.push(Buffer.from(rest));
      this.size += rest.length;
    }
  }

  private overflow(): void {
    this.overflowed = true;
    this.parts = [];
    this.size = 0;
    this.onOverflow();
  }
}

interface Pending {
  resolve(result: unknown): void;
  reject(err: Error): void;
}

class CodexSession implements AgentBackend {
  readonly exited: Promise<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>;
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly mapper: CodexMapper;
  private readonly pending = new Map<number, Pending>();
  private readonly queue: string[] = [];
  private nextId = 1;
  private threadId: string | undefined;
  private turnRunning = false;
  private interruptWanted = false;
  private gone = false;
  private stopping: Promise<void> | undefined;
  private protocolErrors = 0;
  private stderrTail = '';
  private readonly start: AgentStart;

  constructor(start: AgentStart) {
    this.start = start;
    this.mapper = new CodexMapper(start.cwd);
    if (start.prompt !== undefined) this.queue.push(start.prompt);
    this.child = start.spawn(['app-server']);
    let done!: (exit: { code: number | null; signal: NodeJS.Signals | null }) => void;
    this.exited = new Promise((r) => {
      done = r;
    });
    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      if (this.gone) return;
      this.gone = true;
      for (const p of this.pending.values()) p.reject(new Error('codex app-server exited'));
      this.pending.clear();
      if (this.stopping === undefined && code !== 0) {
        const tail = this.stderrTail.trim().split('\n').slice(-5).join('\n');
        this.emit({
          type: 'error',
          code: 'agent_exit',
          message: cut(
            `codex app-server exited (${signal ?? `code ${code}`})${tail ? `: ${tail}` : ''}`,
            4096,
          )[0],
        });
      }
      done({ code, signal });
    };
    this.child.on('error', (err: NodeJS.ErrnoException) => {
      this.emit({
        type: 'error',
        code: 'agent_unavailable',
        message: `codex could not start: ${err.code ?? err.message}`,
      });
      finish(null, null);
    });
    this.child.on('close', (code, signal) => finish(code, signal));
    this.child.stdin.on('error', () => {}); // EPIPE after the process died: the close handler reports it
    const lines = new LineSplitter(
      CODEX_MAX_LINE,
      (line) => this.line(line),
      () => {
        this.emit({
          type: 'error',
          code: 'agent_protocol',
          message: `codex app-server sent a line over ${CODEX_MAX_LINE} bytes; the session is ended`,
        });
        this.child.kill('SIGKILL');
      },
    );
    this.child.stdout.on('data', (b: Buffer) => lines.push(b));
    this.child.stderr.on('data', (b: Buffer) => {
      this.stderrTail = (this.stderrTail + b.toString('utf8')).slice(-STDERR_TAIL);
    });
    void this.open();
  }

  private emit(event: AgentEventBody): void {
    this.start.emit(event);
  }

  private write(msg: Json): void {
    if (this.gone || this.child.stdin.destroyed || this.child.stdin.writableEnded) return;
    this.child.stdin.write(`${JSON.stringify(msg)}\n`);
  }

  private request(method: string, params: Json, timeoutMs?: number): Promise<unknown> {
    if (this.gone) return Promise.reject(new Error('codex app-server exited'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer =
        timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              this.pending.delete(id);
              reject(new Error(`${method}: no answer in ${timeoutMs} ms`));
            }, timeoutMs);
      this.pending.set(id, {
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.write({ method, id, params });
    });
  }

  private async open(): Promise<void> {
    try {
      await this.request(
        'initialize',
        { clientInfo: { name: 'pocketshell', title: 'PocketShell', version: '0.1.0' } },
        CODEX_START_TIMEOUT_MS,
      );
      this.write({ method: 'initialized' });
      const settings = { cwd: this.start.cwd, ...codexThreadSettings(this.start.tier) };
      const result = await this.request(
        this.start.resume === undefined ? 'thread/start' : 'thread/resume',
        this.start.resume === undefined ? settings : { threadId: this.start.resume, ...settings },
        CODEX_START_TIMEOUT_MS,
      );
      const thread = isObj(result) && isObj(result.thread) ? result.thread : {};
      const id = str(thread, 'id');
      if (id === undefined) throw new Error('thread/start gave no thread id');
      this.threadId = id;
      this.start.native(id);
      if (this.queue.length === 0) this.emit({ type: 'state', state: 'idle' });
      this.drain();
    } catch (err) {
      if (this.gone) return;
      this.emit({
        type: 'error',
        code: 'agent_start',
        message: cut(`codex app-server did not start a thread: ${(err as Error).message}`, 4096)[0],
      });
      void this.stop();
    }
  }

  private drain(): void {
    if (this.gone || this.threadId === undefined || this.turnRunning || this.stopping) return;
    const text = this.queue.shift();
    if (text === undefined) return;
    this.turnRunning = true;
    this.interruptWanted = false;
    this.request('turn/start', { threadId: this.threadId, input: [{ type: 'text', text }] }).then(
      (result) => {
        const turn = isObj(result) && isObj(result.turn) ? result.turn : {};
        const id = str(turn, 'id');
        if (id !== undefined && this.mapper.turnId === undefined && this.turnRunning) this.mapper.turnId = id;
        if (this.interruptWanted) void this.interrupt();
      },
      (err: Error) => {
        if (this.gone) return;
        this.turnRunning = false;
        this.emit({
          type: 'error',
          code: 'agent_error',
          message: cut(`turn/start: ${err.message}`, 4096)[0],
        });
        this.drain();
      },
    );
  }

  private line(line: string): void {
    if (line.trim() === '') return;
    let msg: unknown;
    try {
      msg = JSON.parse(line);
    } catch {
      this.protocolError(`an unreadable line from codex app-server (${line.length} characters, not JSON)`);
      return;
    }
    if (!isObj(msg)) {
      this.protocolError('a line from codex app-server that is not a JSON object');
      return;
    }
    const method = str(msg, 'method');
    const id = msg.id;
    const hasId = typeof id === 'number' || typeof id === 'string';
    if (method === undefined) {
      // A response to one of our requests (or an error about a line we sent).
      const p = typeof id === 'number' ? this.pending.get(id) : undefined;
      if (p === undefined) {
        if (isObj(msg.error))
          this.emit({
            type: 'error',
            code: 'agent_error',
            message: cut(str(msg.error, 'message') ?? 'error from codex app-server', 4096)[0],
          });
        return;
      }
      this.pending.delete(id as number);
      if (isObj(msg.error)) p.reject(new Error(str(msg.error, 'message') ?? 'error'));
      else p.resolve(msg.result);
      return;
    }
    if (hasId) {
      void this.serverRequest(method, msg.params, id);
      return;
    }
    this.notification(method, msg.params);
  }

  private protocolError(message: string): void {
    this.protocolErrors++;
    if (this.protocolErrors <= MAX_PROTOCOL_ERRORS)
      this.emit({ type: 'error', code: 'agent_protocol', message });
    else if (this.protocolErrors === MAX_PROTOCOL_ERRORS + 1)
      this.emit({
        type: 'error',
        code: 'agent_protocol',
        message: 'further unreadable lines are not reported',
      });
  }

  private notification(method: string, params: unknown): void {
    for (const e of this.mapper.notification(method, params)) this.emit(e);
    if (method === 'turn/completed') {
      this.turnRunning = false;
      this.interruptWanted = false;
      if (this.queue.length === 0) this.emit({ type: 'state', state: 'idle' });
      this.drain();
    }
  }

  private async serverRequest(method: string, params: unknown, id: string | number): Promise<void> {
    const request = this.mapper.approval(method, params, id);
    if (request !== undefined) {
      let answer: PermissionAnswer;
      try {
        answer = await this.start.permit(request);
      } catch (err) {
        answer = { decision: 'deny', message: (err as Error).message };
      }
      this.write({ id, result: approvalResult(method, answer) });
      return;
    }
    // Requests this client does not serve are refused, the way a person would decline them.
    if (method === 'item/permissions/requestApproval') this.write({ id, result: { permissions: {} } });
    else if (method === 'mcpServer/elicitation/request')
      this.write({ id, result: { action: 'decline', content: null } });
    else this.write({ id, error: { code: -32601, message: `${method} is not supported by PocketShell` } });
  }

  send(text: string): void {
    if (this.gone || this.stopping) return;
    this.queue.push(text);
    this.drain();
  }

  async interrupt(): Promise<void> {
    if (this.gone || !this.turnRunning || this.threadId === undefined) return;
    const turnId = this.mapper.turnId;
    if (turnId === undefined) {
      // turn/start not answered yet: interrupt as soon as the turn has an id.
      this.interruptWanted = true;
      return;
    }
    try {
      await this.request('turn/interrupt', { threadId: this.threadId, turnId }, CODEX_START_TIMEOUT_MS);
    } catch (err) {
      if (!this.gone)
        this.emit({
          type: 'error',
          code: 'agent_error',
          message: cut(`turn/interrupt: ${(err as Error).message}`)[0],
        });
    }
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.queue.length = 0;
      if (!this.gone) this.child.stdin.end();
      const waitExit = (ms: number) =>
        Promise.race([
          this.exited.then(() => true),
          new Promise<boolean>((r) => {
            const t = setTimeout(() => r(false), ms);
            void this.exited.then(() => clearTimeout(t));
          }),
        ]);
      if (await waitExit(CODEX_STOP_GRACE_MS)) return;
      this.child.kill('SIGTERM');
      if (await waitExit(CODEX_STOP_GRACE_MS)) return;
      this.child.kill('SIGKILL');
      await this.exited;
    })();
    return this.stopping;
  }
}

/** Starts one Codex session (`codex app-server`). */
export const codexAdapter: AgentAdapter = (start) => new CodexSession(start);
