/**
 * Which ICE candidates a peer lets through, by IP address (and, for our own,
 * candidate type), for each side.
 *
 * - `local`: our own candidates (signalled, put in our description, paired).
 *   With a bind address every socket is bound there, so only that address
 *   (any other would be a lie), and then the peer's address filter — except
 *   relay candidates: their address is the TURN server's allocation, not one
 *   of our sockets, so the bind address says nothing about them and only the
 *   filter applies (a device on a network that blocks UDP reaches its host
 *   only through them, docs/transport.md).
 * - `remote`: the remote's candidates (accepted from its description or
 *   trickle, paired): the peer's address filter only. The bind address says
 *   where OUR sockets are; the remote is elsewhere (another host, namespace
 *   or loopback address), so applying it there would refuse every remote
 *   that is not at our own address.
 */
export interface CandidatePolicy {
  /** `type` is the candidate's type (`host`, `srflx`, `prflx`, `relay`); unknown counts as not relay. */
  readonly local: (address: string, type?: string) => boolean;
  readonly remote: (address: string) => boolean;
  /** Whether either side restricts anything (engines may skip the pair filter otherwise). */
  readonly restricts: boolean;
}

const any = (): boolean => true;

/** The policy of one peer: `bindAddress` of its engine, `localAddressFilter` of its `PeerOptions`. */
export function candidatePolicy(
  bindAddress: string | undefined,
  filter: ((address: string) => boolean) | undefined,
): CandidatePolicy {
  const remote = filter ?? any;
  const local =
    bindAddress === undefined
      ? (address: string) => remote(address)
      : (address: string, type?: string) => (type === 'relay' || address === bindAddress) && remote(address);
  return { local, remote, restricts: bindAddress !== undefined || filter !== undefined };
}
