/**
 * Whether a host name or IP literal is this machine: `localhost`, IPv4
 * 127.0.0.0/8 or IPv6 `::1` (bare, as in a listen address, or bracketed, as
 * in a URL's `hostname`). The relay uses it to default to open registration
 * when it listens on loopback only; the web client to offer loopback
 * candidates only when it is served from this machine.
 */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
