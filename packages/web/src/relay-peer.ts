/**
 * The relay path in the browser (docs/protocol.md §10): a `RelayLink` from
 * `@pocketshell/protocol` dressed as the `RTCPeerConnection` and
 * `RTCDataChannel` the page's channels already use (`addEventListener`,
 * `MessageEvent`s with `ArrayBuffer` data, `readyState`, `send`, `close`),
 * so the terminal, stats, files, alerts and agent channels run over it
 * unchanged when WebRTC cannot get through.
 */
import type { LinkChannel, RelayLink } from '@pocketshell/protocol';

/** Where the path choice is kept (`auto`, `direct`, `relay`; absent: `auto`). */
export const PATH_SETTING_KEY = 'pocketshell.path';

/** The connection path this page is set to use. */
export type PathSetting = 'auto' | 'direct' | 'relay';

/** The path setting from local storage (anything unknown is `auto`). */
export function pathSetting(): PathSetting {
  try {
    const v = globalThis.localStorage?.getItem(PATH_SETTING_KEY);
    return v === 'direct' || v === 'relay' ? v : 'auto';
  } catch {
    return 'auto';
  }
}

/** A relay link's channel as an `RTCDataChannel`. */
class LinkDataChannel extends EventTarget {
  readonly #ch: LinkChannel;
  binaryType: BinaryType = 'arraybuffer';

  constructor(ch: LinkChannel) {
    super();
    this.#ch = ch;
    ch.on('open', () => this.dispatchEvent(new Event('open')));
    ch.on('message', (m) => {
      const data =
        typeof m === 'string'
          ? m
          : (m.buffer as ArrayBuffer).slice(m.byteOffset, m.byteOffset + m.byteLength);
      this.dispatchEvent(new MessageEvent('message', { data }));
    });
    ch.on('close', () => this.dispatchEvent(new Event('close')));
    ch.on('bufferedamountlow', () => this.dispatchEvent(new Event('bufferedamountlow')));
  }

  get label(): string {
    return this.#ch.label;
  }
  get readyState(): RTCDataChannelState {
    return this.#ch.readyState;
  }
  get bufferedAmount(): number {
    return this.#ch.bufferedAmount;
  }
  get bufferedAmountLowThreshold(): number {
    return this.#ch.bufferedAmountLowThreshold;
  }
  set bufferedAmountLowThreshold(n: number) {
    this.#ch.bufferedAmountLowThreshold = n;
  }

  send(data: string | ArrayBuffer | ArrayBufferView): void {
    if (typeof data === 'string') this.#ch.send(data);
    else if (data instanceof ArrayBuffer) this.#ch.send(new Uint8Array(data));
    else this.#ch.send(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }

  close(): void {
    this.#ch.close();
  }
}

/** A relay link as the part of `RTCPeerConnection` a `HostLink` uses. */
export class RelayPeer extends EventTarget {
  readonly link: RelayLink;

  constructor(link: RelayLink) {
    super();
    this.link = link;
    link.on('connectionstatechange', () => this.dispatchEvent(new Event('connectionstatechange')));
  }

  get connectionState(): RTCPeerConnectionState {
    return this.link.connectionState;
  }

  createDataChannel(label: string): RTCDataChannel {
    return new LinkDataChannel(this.link.createDataChannel(label)) as unknown as RTCDataChannel;
  }

  close(): void {
    void this.link.close();
  }
}
