/**
 * Which way a device's connection to its host runs, for the connection
 * badge (web client) and the status line of `pocketshell connect`: straight
 * between the two (host or server-reflexive candidates), through TURN over
 * UDP, TCP or TLS (a relay candidate of the selected ICE pair, and the
 * transport between us and the TURN server), or through the relay's sealed
 * envelopes (the last resort, no WebRTC). Derived from the selected
 * candidate pair, so every engine reports it the same way (docs/transport.md).
 */

/** The paths, best first. */
export const LINK_PATHS = ['direct', 'turn-udp', 'turn-tcp', 'turn-tls', 'relay'] as const;

/** One path (`LINK_PATHS`). */
export type LinkPath = (typeof LINK_PATHS)[number];

const LABELS: Record<LinkPath, string> = {
  direct: 'direct',
  'turn-udp': 'TURN/UDP',
  'turn-tcp': 'TURN/TCP',
  'turn-tls': 'TURN/TLS',
  relay: 'relay',
};

/** How the path is shown to a person (`TURN/TCP`). */
export function linkPathLabel(path: LinkPath): string {
  return LABELS[path];
}

/** Whether `a` is a better path than `b` (direct beats TURN/UDP beats TURN/TCP …). */
export function betterLinkPath(a: LinkPath, b: LinkPath): boolean {
  return LINK_PATHS.indexOf(a) < LINK_PATHS.indexOf(b);
}

/** The two ends of a selected ICE candidate pair, as stats report them. */
export interface SelectedPair {
  /** Our candidate's type: `host`, `srflx`, `prflx` or `relay`. */
  localType: string;
  /**
   * For a local relay candidate, the transport between us and the TURN
   * server (`udp`, `tcp` or `tls`, as `RTCIceCandidateStats.relayProtocol`).
   */
  relayProtocol?: string | undefined;
  /** The remote candidate's type. */
  remoteType: string;
}

/**
 * The path of a selected pair. A local relay candidate gives TURN over its
 * relay protocol (`udp` when unknown). When only the remote's candidate is a
 * relay, traffic still goes through a TURN server — the remote's — and our
 * leg to it is UDP (no engine here runs ICE over TCP), so TURN/UDP.
 */
export function linkPathOf(pair: SelectedPair): LinkPath {
  if (pair.localType === 'relay') {
    const protocol = (pair.relayProtocol ?? 'udp').toLowerCase();
    if (protocol === 'tls') return 'turn-tls';
    if (protocol === 'tcp') return 'turn-tcp';
    return 'turn-udp';
  }
  if (pair.remoteType === 'relay') return 'turn-udp';
  return 'direct';
}

/**
 * The type of an ICE candidate line (`typ host|srflx|prflx|relay`), or
 * `null` when the line does not parse.
 */
export function candidateType(candidate: string): string | null {
  const fields = candidate.replace(/^a=/, '').trim().split(/\s+/);
  if (fields.length < 8 || !fields[0]!.startsWith('candidate:') || fields[6] !== 'typ') return null;
  return fields[7]!;
}

/**
 * The stream-TURN hint (docs/protocol.md §6): a session-level SDP attribute
 * a device adds to the offer it signs when its WebRTC may run over TURN
 * over TCP or TLS — the web client after a WebRTC attempt to that host
 * failed. A host whose default engine cannot answer Chromium on such a path
 * (libjuice refuses Chromium's checks there, docs/transport.md) answers
 * that offer on an engine that can. Signed with the SDP; it only picks the
 * host's engine, never a security property.
 */
export const STREAM_TURN_HINT = 'a=x-pocketshell-turn:stream';

/** `sdp` with the stream-TURN hint at session level (after its `t=` line); unchanged if already there. */
export function withStreamTurnHint(sdp: string): string {
  if (hasStreamTurnHint(sdp)) return sdp;
  const eol = sdp.includes('\r\n') ? '\r\n' : '\n';
  const lines = sdp.split(eol);
  const t = lines.findIndex((l) => l.startsWith('t='));
  lines.splice(t < 0 ? lines.length : t + 1, 0, STREAM_TURN_HINT);
  return lines.join(eol);
}

/** Whether a session description carries the stream-TURN hint. */
export function hasStreamTurnHint(sdp: string): boolean {
  return sdp.split(/\r?\n/).some((l) => l === STREAM_TURN_HINT);
}
