/**
 * The relay path as the WebRTC layer sees it: `RelayLink` lives in
 * `@pocketshell/protocol` (relay-link.ts; the browser runs it too) and is
 * a `Peer` of this layer's engine interface — checked here by the
 * compiler — so the host and the Node device hand it to the same channel
 * code as a WebRTC peer.
 */
import type { LinkChannel, RelayLink } from '@pocketshell/protocol';
import type { DataChannel, Peer } from './engine.ts';

export { RELAY_PATH, RelayLink } from '@pocketshell/protocol';

/** A relay link as a `Peer` (a compile-time check that it is one). */
export function relayLinkPeer(link: RelayLink): Peer {
  return link;
}

/** A relay link's channel as a `DataChannel`. */
export function linkDataChannel(channel: LinkChannel): DataChannel {
  return channel;
}
