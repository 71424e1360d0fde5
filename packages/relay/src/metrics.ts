/**
 * Relay metrics in the Prometheus text format (version 0.0.4): open
 * connections, authenticated connections by role, connections accepted,
 * messages routed by type, refusals by error code, and Web Push messages
 * by outcome (sent, gone, failed), and in a fleet the messages between
 * nodes by outcome (sent, received, acked, gone, unanswered, dropped), and
 * pairing checks answered by the pairing cache (hit) or the store (miss). Counters only go up;
 * gauges are read when scraped.
 */

/** The relay's counters and gauges. */
export class Metrics {
  connectionsTotal = 0;
  openConnections = 0;
  readonly authenticated = { host: 0, device: 0 };
  readonly routed = new Map<string, number>();
  readonly refusals = new Map<string, number>();
  readonly pushes = new Map<string, number>();
  readonly fleet = new Map<string, number>();
  readonly pairingCache = new Map<string, number>();

  /** Counts one pairing check: answered by the cache (`hit`) or the store (`miss`). */
  pairingLookup(outcome: 'hit' | 'miss'): void {
    this.pairingCache.set(outcome, (this.pairingCache.get(outcome) ?? 0) + 1);
  }

  /** Counts one routed message of type `t` (`deliver`, `pair.request`, …). */
  route(t: string): void {
    this.routed.set(t, (this.routed.get(t) ?? 0) + 1);
  }

  /** Counts one refusal with `code`. */
  refuse(code: string): void {
    this.refusals.set(code, (this.refusals.get(code) ?? 0) + 1);
  }

  /** Counts one Web Push message by outcome (`sent`, `gone`, `failed`). */
  push(outcome: string): void {
    this.pushes.set(outcome, (this.pushes.get(outcome) ?? 0) + 1);
  }

  /** Counts one message between relay nodes by outcome. */
  fleetMessage(outcome: 'sent' | 'received' | 'acked' | 'gone' | 'unanswered' | 'dropped'): void {
    this.fleet.set(outcome, (this.fleet.get(outcome) ?? 0) + 1);
  }

  /** Renders everything as Prometheus text. */
  render(): string {
    const lines: string[] = [];
    const metric = (name: string, type: string, help: string, samples: [string, number][]) => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const [labels, v] of samples) lines.push(`${name}${labels} ${v}`);
    };
    const labelled = (label: string, m: Map<string, number>): [string, number][] =>
      [...m.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [`{${label}="${k}"}`, v]);
    metric('pocketshell_relay_connections', 'gauge', 'Open WebSocket connections.', [
      ['', this.openConnections],
    ]);
    metric('pocketshell_relay_authenticated_connections', 'gauge', 'Authenticated connections by role.', [
      ['{role="host"}', this.authenticated.host],
      ['{role="device"}', this.authenticated.device],
    ]);
    metric('pocketshell_relay_connections_total', 'counter', 'WebSocket connections accepted.', [
      ['', this.connectionsTotal],
    ]);
    metric(
      'pocketshell_relay_messages_routed_total',
      'counter',
      'Messages routed from one party to another, by type.',
      labelled('type', this.routed),
    );
    metric(
      'pocketshell_relay_refusals_total',
      'counter',
      'Refusals sent, by error code.',
      labelled('code', this.refusals),
    );
    metric(
      'pocketshell_relay_push_total',
      'counter',
      'Web Push messages handed to push services, by outcome.',
      labelled('outcome', this.pushes),
    );
    metric(
      'pocketshell_relay_fleet_messages_total',
      'counter',
      'Messages between relay nodes (--redis): sent, received, acked, gone (no node listening), unanswered (no ack in time), dropped (malformed).',
      labelled('outcome', this.fleet),
    );
    metric(
      'pocketshell_relay_pairing_cache_total',
      'counter',
      'Pairing checks of send and push.send: answered from the pairing cache (hit) or the store (miss).',
      labelled('outcome', this.pairingCache),
    );
    return `${lines.join('\n')}\n`;
  }
}
