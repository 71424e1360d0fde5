/**
 * The channel catalogue (docs/protocol.md §6): every data channel a device
 * may open on a host, with its label grammar, the grant it needs and its
 * framing. A label is `kind` or `kind:arg`; `parseChannelLabel` turns one
 * into a typed `ChannelLabel` (a union over the catalogue, so the host's
 * dispatch is exhaustive), `formatChannelLabel` goes back. Adding a channel
 * is one entry here, one handler on the host and one client per device.
 */
import { ProtocolError } from './errors.ts';
import type { Grant } from './inner.ts';

/** How a channel's messages are framed. */
export type Framing =
  /** JSON requests and replies (rpc.ts). */
  | 'rpc'
  /** Terminal frames (frames.ts, terminal-stream.ts). */
  | 'terminal'
  /** JSON RPC plus binary data and ack frames (files-frames.ts). */
  | 'files';

/** One catalogue entry: the grant the channel needs, its framing, and its label argument's grammar. */
export interface ChannelSpec<A> {
  readonly grant: Grant | null;
  readonly framing: Framing;
  /** Checks the part after `kind:` (undefined when the label has none). */
  readonly parseArg: (arg: string | undefined) => A;
  /** The part after `kind:`, or undefined for a bare `kind`. */
  formatArg(arg: A): string | undefined;
}

/** Longest channel label, in UTF-16 units. */
export const MAX_CHANNEL_LABEL = 160;

const noArg = (arg: string | undefined): undefined => {
  if (arg !== undefined) throw new ProtocolError('bad_message', 'this channel takes no argument');
  return undefined;
};

/** `term:<target>`: `new`, a session id, `tmux:<name>` or `screen:<name>` (checked further by the host). */
const termTarget = (arg: string | undefined): string => {
  if (arg === undefined || arg === '' || /[\p{Cc}\s]/u.test(arg))
    throw new ProtocolError(
      'bad_message',
      'term: needs a target (new, a session id, tmux:<name>, screen:<name>)',
    );
  return arg;
};

/** The catalogue. */
export const CHANNELS = {
  /** The control channel: one per connection, the RPC of `CONTROL_METHODS`; each method checks its own grant. */
  control: { grant: null, framing: 'rpc', parseArg: noArg, formatArg: () => undefined },
  /** A terminal attached to a host session. */
  term: { grant: 'shell', framing: 'terminal', parseArg: termTarget, formatArg: (t: string) => t },
  /** The host's live figures, history and process actions: the RPC of `STATS_METHODS` (stats.ts). */
  stats: { grant: 'stats', framing: 'rpc', parseArg: noArg, formatArg: () => undefined },
  /**
   * The device's files under its root: the RPC of `FILES_METHODS` (files.ts)
   * with data frames (files-frames.ts). A device may open several (one per
   * transfer keeps a listing from waiting behind a big file); each method
   * checks `files:read` or `files:write`.
   */
  files: { grant: 'files:read', framing: 'files', parseArg: noArg, formatArg: () => undefined },
  /**
   * Alert rules, history, acknowledgements, snoozes and the live alert
   * stream: the RPC of `ALERTS_METHODS` (alerts.ts); each method checks its
   * own grant and the host filters what a device sees by its grants.
   */
  alerts: { grant: null, framing: 'rpc', parseArg: noArg, formatArg: () => undefined },
  /**
   * Agent sessions (Claude Code, Codex): the RPC of `AGENT_METHODS`
   * (agent.ts) — start, resume, stop, watch events, answer approvals.
   */
  agent: { grant: 'agent', framing: 'rpc', parseArg: noArg, formatArg: () => undefined },
} as const satisfies Readonly<Record<string, ChannelSpec<unknown>>>;

/** A channel kind. */
export type ChannelKind = keyof typeof CHANNELS;

/** The label argument of a kind. */
export type ChannelArg<K extends ChannelKind> = ReturnType<(typeof CHANNELS)[K]['parseArg']>;

/** A parsed label: one member per catalogue entry. */
export type ChannelLabel = {
  [K in ChannelKind]: { readonly kind: K; readonly arg: ChannelArg<K> };
}[ChannelKind];

/**
 * Parses a channel label. Unknown kind → `unsupported`; a label too long or
 * with a bad argument → `bad_message`. The message quotes at most 32
 * characters of what was sent.
 */
export function parseChannelLabel(label: string): ChannelLabel {
  if (label.length > MAX_CHANNEL_LABEL) throw new ProtocolError('bad_message', 'channel label too long');
  const colon = label.indexOf(':');
  const kind = colon < 0 ? label : label.slice(0, colon);
  const arg = colon < 0 ? undefined : label.slice(colon + 1);
  if (!Object.hasOwn(CHANNELS, kind))
    throw new ProtocolError('unsupported', `channel ${JSON.stringify(label.slice(0, 32))}`);
  const spec = CHANNELS[kind as ChannelKind] as ChannelSpec<unknown>;
  return { kind, arg: spec.parseArg(arg) } as ChannelLabel;
}

/** Formats a label (the inverse of `parseChannelLabel`). */
export function formatChannelLabel(label: ChannelLabel): string {
  const spec = CHANNELS[label.kind] as ChannelSpec<unknown>;
  const arg = spec.formatArg(label.arg);
  return arg === undefined ? label.kind : `${label.kind}:${arg}`;
}

/** The grant a channel needs (null: none). */
export function channelGrant(kind: ChannelKind): Grant | null {
  return CHANNELS[kind].grant;
}
