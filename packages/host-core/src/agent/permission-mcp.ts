/**
 * The permission prompt tool as an MCP server on stdio (issue 18): what
 * `pocketshell agent-permission-mcp --socket <path> --token-file <path>`
 * runs when Claude Code starts it from the session's MCP config. It speaks
 * MCP's JSON-RPC 2.0, one message per line (`initialize`, `tools/list` with
 * one tool `approve` taking `{tool_name, input, tool_use_id}`,
 * `tools/call`, `ping`), and forwards each call over the session's unix
 * socket (with the session's token) to the Claude adapter (./claude.ts),
 * which answers after the tier and, when it says so, a device: the reply's
 * text is the documented `{"behavior":"allow","updatedInput":…}` or
 * `{"behavior":"deny","message":…}`. It decides nothing itself; if the host
 * cannot be reached the answer is a denial. While an answer is awaited
 * (a person may take minutes), a call that came with a progress token gets
 * `notifications/progress` every 10 s, so the client does not give up.
 */
import net from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { LineSplitter } from './claude.ts';

/** The MCP protocol version answered when the client names none. */
const MCP_VERSION = '2024-11-05';
/** Longest MCP message read. */
const MAX_MCP_LINE = 1024 * 1024;

/** The one tool, as `tools/list` describes it. */
export const APPROVE_TOOL = {
  name: 'approve',
  description:
    'PocketShell permission prompt: asks the host (and, when its tier says so, the person on their phone) whether a tool call may run.',
  inputSchema: {
    type: 'object',
    properties: {
      tool_name: { type: 'string', description: 'The tool that asks' },
      input: { type: 'object', description: 'The tool call input' },
      tool_use_id: { type: 'string', description: 'The tool call id' },
    },
    required: ['tool_name', 'input'],
  },
} as const;

/** Asks the adapter over its socket; resolves with the reply's JSON text (a denial when it cannot). */
export function askHost(socketPath: string, token: string, args: Record<string, unknown>): Promise<string> {
  return new Promise((resolve) => {
    const deny = (why: string) => resolve(JSON.stringify({ behavior: 'deny', message: why }));
    const sock = net.connect(socketPath);
    let buf = '';
    sock.setEncoding('utf8');
    sock.on('connect', () =>
      sock.write(
        `${JSON.stringify({ token, tool_name: args.tool_name, input: args.input ?? {}, tool_use_id: args.tool_use_id })}\n`,
      ),
    );
    sock.on('data', (c: string) => {
      buf += c;
      if (buf.length > MAX_MCP_LINE) sock.destroy();
    });
    sock.on('error', () => deny('PocketShell could not reach the host to ask; denied.'));
    sock.on('close', () => {
      const line = buf.split('\n')[0] ?? '';
      try {
        const o = JSON.parse(line) as { behavior?: unknown };
        if (o.behavior === 'allow' || o.behavior === 'deny') return resolve(line);
      } catch {}
      deny('PocketShell got no answer from the host; denied.');
    });
  });
}

/** How often a waiting call reports progress (when the client asked for it). */
export const PROGRESS_MS = 10_000;

/** Serves MCP on `input`/`output` until `input` ends. */
export function runPermissionMcp(o: {
  socketPath: string;
  token: string;
  input: Readable;
  output: Writable;
  progressMs?: number;
}): Promise<void> {
  const send = (m: unknown) => o.output.write(`${JSON.stringify(m)}\n`);
  const lines = new LineSplitter(MAX_MCP_LINE);
  const handle = async (line: string) => {
    let m: { id?: unknown; method?: unknown; params?: unknown };
    try {
      m = JSON.parse(line) as typeof m;
    } catch {
      send({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'parse error' } });
      return;
    }
    if (m === null || typeof m !== 'object') return;
    const id = m.id;
    if (id === undefined) return; // a notification (initialized, cancelled)
    const params = (m.params ?? {}) as Record<string, unknown>;
    switch (m.method) {
      case 'initialize':
        return send({
          jsonrpc: '2.0',
          id,
          result: {
            protocolVersion:
              typeof params.protocolVersion === 'string' ? params.protocolVersion : MCP_VERSION,
            capabilities: { tools: {} },
            serverInfo: { name: 'pocketshell', version: '1' },
          },
        });
      case 'ping':
        return send({ jsonrpc: '2.0', id, result: {} });
      case 'tools/list':
        return send({ jsonrpc: '2.0', id, result: { tools: [APPROVE_TOOL] } });
      case 'tools/call': {
        if (params.name !== 'approve')
          return send({ jsonrpc: '2.0', id, error: { code: -32602, message: 'unknown tool' } });
        const args = (params.arguments ?? {}) as Record<string, unknown>;
        // A phone may take minutes: with a progress token, progress notifications keep the client's idle timer quiet.
        const token = ((params._meta ?? {}) as Record<string, unknown>).progressToken;
        let beats = 0;
        const beat =
          typeof token === 'string' || typeof token === 'number'
            ? setInterval(
                () =>
                  send({
                    jsonrpc: '2.0',
                    method: 'notifications/progress',
                    params: { progressToken: token, progress: ++beats, message: 'waiting for an answer' },
                  }),
                o.progressMs ?? PROGRESS_MS,
              )
            : undefined;
        const text = await askHost(o.socketPath, o.token, args).finally(() => clearInterval(beat));
        return send({ jsonrpc: '2.0', id, result: { content: [{ type: 'text', text }] } });
      }
      default:
        return send({ jsonrpc: '2.0', id, error: { code: -32601, message: 'method not found' } });
    }
  };
  return new Promise((resolve) => {
    o.input.setEncoding('utf8');
    o.input.on('data', (chunk: string) =>
      lines.push(
        chunk,
        (line) => {
          if (line.trim()) void handle(line);
        },
        () => send({ jsonrpc: '2.0', id: null, error: { code: -32600, message: 'message too long' } }),
      ),
    );
    o.input.on('end', () => resolve());
    o.input.on('close', () => resolve());
  });
}
