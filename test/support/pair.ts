/**
 * Pairing a Node device with a host in end-to-end tests, as a person does
 * it with `--yes`: the host shows the link, the device opens it, the host
 * confirms without comparing digits (tests of the digits themselves pair by
 * hand). Resolves with both sides' results: the device the host pinned and
 * the host the device paired with.
 */
import type { Device, PairedHost } from '@pocketshell/client';
import type { Grant } from '@pocketshell/protocol';

/** The host side of a pairing (`HostAgent.pair`). */
interface PairingHost<P> {
  pair(options: {
    webUrl: string;
    grants?: readonly Grant[];
    onUrl: (url: string) => void;
    confirm: () => Promise<boolean>;
  }): Promise<P>;
}

export async function pairNodeDevice<P>(
  agent: PairingHost<P>,
  device: Device,
  opts: { readonly webUrl: string; readonly name: string; readonly grants?: readonly Grant[] },
): Promise<{ pinned: P; host: PairedHost }> {
  let paired: Promise<PairedHost> | undefined;
  const pinned = await agent.pair({
    webUrl: opts.webUrl,
    ...(opts.grants ? { grants: opts.grants } : {}),
    onUrl: (url) => {
      paired = device.pair(url, { name: opts.name });
    },
    confirm: async () => true,
  });
  if (!paired) throw new Error('the host showed no pairing link');
  return { pinned, host: await paired };
}
