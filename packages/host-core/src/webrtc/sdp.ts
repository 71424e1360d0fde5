/**
 * The few things PocketShell reads from or changes in SDP: the one
 * `a=fingerprint:sha-256` line that binds the DTLS certificate to a signed
 * description, the IP address of an ICE candidate, and the removal of
 * candidates an address filter refuses. Fingerprints are compared as bytes,
 * in constant time. No Node APIs, so the browser can share it.
 */
import { equalBytes, ProtocolError } from '@pocketshell/protocol';

const FINGERPRINT_LINE = /^a=fingerprint:/i;
const SHA256_VALUE = /^(?:[0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$/;

/**
 * The value of the SDP's `a=fingerprint:sha-256` line, uppercase (`AB:CD:…`).
 * Exactly one `a=fingerprint` line is allowed, and it must be sha-256 with a
 * 32-byte value; anything else throws `bad_message`.
 */
export function sdpFingerprint(sdp: string): string {
  const lines = sdp.split(/\r?\n/).filter((line) => FINGERPRINT_LINE.test(line));
  if (lines.length !== 1) {
    throw new ProtocolError('bad_message', `sdp: expected one a=fingerprint line, found ${lines.length}`);
  }
  const match = /^a=fingerprint:(\S+) (\S+)\s*$/i.exec(lines[0]!);
  if (!match || match[1]!.toLowerCase() !== 'sha-256' || !SHA256_VALUE.test(match[2]!)) {
    throw new ProtocolError('bad_message', 'sdp: a=fingerprint must be sha-256 with a 32-byte value');
  }
  return match[2]!.toUpperCase();
}

/** The 32 bytes of a sha-256 fingerprint `AB:CD:…` (either case); `bad_message` otherwise. */
export function fingerprintBytes(fingerprint: string): Uint8Array {
  if (!SHA256_VALUE.test(fingerprint)) throw new ProtocolError('bad_message', 'not a sha-256 fingerprint');
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = Number.parseInt(fingerprint.slice(i * 3, i * 3 + 2), 16);
  return out;
}

/** Formats 32 digest bytes as an `a=fingerprint` value (`AB:CD:…`). */
export function formatFingerprint(digest: Uint8Array): string {
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0').toUpperCase()).join(':');
}

/**
 * Constant-time equality of two sha-256 fingerprints (case-insensitive).
 * False when either is malformed.
 */
export function fingerprintsEqual(a: string, b: string): boolean {
  if (!SHA256_VALUE.test(a) || !SHA256_VALUE.test(b)) return false;
  return equalBytes(fingerprintBytes(a), fingerprintBytes(b));
}

/**
 * The connection address of a candidate line (`candidate:…` or
 * `a=candidate:…`), or `null` when the line is not a well-formed candidate.
 */
export function candidateAddress(candidate: string): string | null {
  const fields = candidate.replace(/^a=/, '').trim().split(/\s+/);
  // candidate:<foundation> <component> <transport> <priority> <address> <port> typ <type> …
  if (fields.length < 8 || !fields[0]!.startsWith('candidate:') || fields[6] !== 'typ') return null;
  return fields[4]!;
}

/**
 * The SDP with every `a=candidate` line whose address `allow` refuses (or
 * that does not parse) removed; other lines and line endings are kept.
 */
export function filterSdpCandidates(sdp: string, allow: (address: string) => boolean): string {
  const eol = sdp.includes('\r\n') ? '\r\n' : '\n';
  return sdp
    .split(eol)
    .filter((line) => {
      if (!line.startsWith('a=candidate:')) return true;
      const address = candidateAddress(line);
      return address !== null && allow(address);
    })
    .join(eol);
}
