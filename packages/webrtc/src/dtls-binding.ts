/**
 * Binds a peer connection's DTLS certificate to a signed SDP (docs/protocol.md
 * §6): once the connection reports `connected`, the fingerprint of the
 * certificate the remote actually presented is compared, in constant time,
 * with the `a=fingerprint` the remote signed; on any mismatch the peer is
 * closed and the binding fails with `fingerprint_mismatch`. The check does
 * not rely on the engine's own fingerprint check (werift has one, other
 * engines may not). Until the binding holds, nothing may use the peer's
 * channels: `gateChannels` holds them back.
 */
import { fingerprintsEqual } from '@pocketshell/protocol';
import type { DataChannel, Peer, PeerConnectionState } from './engine.ts';
import { WebRtcError } from './errors.ts';

/** States of one binding; `verified` and `dropped` are final. */
export const BINDING_STATES = ['waiting', 'verified', 'dropped'] as const;
export type BindingState = (typeof BINDING_STATES)[number];

/** Options of `bindRemoteCertificate`. */
export interface BindOptions {
  /** Gives up (closing the peer, `connect_failed`) when aborted, e.g. on a connect timeout. */
  signal?: AbortSignal;
}

/**
 * Resolves when `peer` is connected and the remote's DTLS certificate has
 * the sha-256 fingerprint `expected` (from the verified remote SDP). Rejects
 * with `WebRtcError` — `fingerprint_mismatch`, `connect_failed` or
 * `peer_closed` — after closing the peer.
 */
export function bindRemoteCertificate(
  peer: Peer,
  expected: string,
  options: BindOptions = {},
): Promise<void> {
  const { signal } = options;
  return new Promise<void>((resolve, reject) => {
    let state: BindingState = 'waiting';
    const cleanup = () => {
      offState();
      signal?.removeEventListener('abort', onAbort);
    };
    const verified = () => {
      if (state !== 'waiting') return;
      state = 'verified';
      cleanup();
      resolve();
    };
    const drop = (error: WebRtcError) => {
      if (state !== 'waiting') return;
      state = 'dropped';
      cleanup();
      peer.close().then(
        () => reject(error),
        (cause: unknown) => reject(new WebRtcError(error.code, error.message, { cause })),
      );
    };
    const certificateMatches = (): boolean | null => {
      const actual = peer.remoteCertificateFingerprint();
      return actual === null ? null : fingerprintsEqual(actual, expected);
    };
    const onState = (connection: PeerConnectionState) => {
      if (connection === 'connected') {
        // Connected without a readable certificate cannot be confirmed: fail closed.
        if (certificateMatches() === true) verified();
        else drop(new WebRtcError('fingerprint_mismatch'));
      } else if (connection === 'failed' || connection === 'closed') {
        // The engine may have refused the certificate itself; say so precisely.
        if (certificateMatches() === false) drop(new WebRtcError('fingerprint_mismatch'));
        else if (connection === 'failed') drop(new WebRtcError('connect_failed'));
        else drop(new WebRtcError('peer_closed'));
      }
    };
    const onAbort = () => drop(new WebRtcError('connect_failed', 'gave up waiting for the connection'));
    const offState = peer.on('connectionstatechange', onState);
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted) onAbort();
    else onState(peer.connectionState);
  });
}

/**
 * Calls `listener` for each channel the remote opens on `peer`, but only
 * once `verified` has resolved; channels that arrive earlier wait, and are
 * closed if `verified` rejects. Returns the function that stops listening.
 */
export function gateChannels(
  peer: Peer,
  verified: Promise<void>,
  listener: (channel: DataChannel) => void,
): () => void {
  let open = false;
  let refused = false;
  let stopped = false;
  const waiting: DataChannel[] = [];
  const offEvent = peer.on('datachannel', (channel) => {
    if (open) listener(channel);
    else if (refused) channel.close();
    else waiting.push(channel);
  });
  verified.then(
    () => {
      open = true;
      for (const channel of waiting.splice(0)) if (!stopped) listener(channel);
    },
    () => {
      refused = true;
      for (const channel of waiting.splice(0)) channel.close();
      offEvent();
    },
  );
  return () => {
    stopped = true;
    offEvent();
  };
}
