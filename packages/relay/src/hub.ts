/**
 * The hub: which authenticated connections each identity holds on this
 * relay node, so messages can be delivered and presence computed. In-process
 * for the embedded relay; a later issue fans out between nodes through
 * Redis behind the same methods.
 */
import type { PartyId } from '@pocketshell/protocol';

/** What the hub needs of a connection. */
export interface HubMember {
  readonly id: PartyId;
}

/** Online connections by identity. */
export class Hub<C extends HubMember> {
  readonly #byId = new Map<PartyId, Set<C>>();

  /** Adds a connection; true when it is the identity's first (it just came online). */
  add(conn: C): boolean {
    let set = this.#byId.get(conn.id);
    const first = set === undefined;
    if (set === undefined) {
      set = new Set();
      this.#byId.set(conn.id, set);
    }
    set.add(conn);
    return first;
  }

  /** Removes a connection; true when it was the identity's last (it just went offline). */
  remove(conn: C): boolean {
    const set = this.#byId.get(conn.id);
    if (set === undefined || !set.delete(conn)) return false;
    if (set.size > 0) return false;
    this.#byId.delete(conn.id);
    return true;
  }

  /** The identity's connections (empty when offline). */
  connectionsOf(id: PartyId): ReadonlySet<C> {
    return this.#byId.get(id) ?? new Set();
  }

  /** Number of connections the identity holds. */
  count(id: PartyId): number {
    return this.#byId.get(id)?.size ?? 0;
  }

  /** True when the identity holds at least one connection. */
  online(id: PartyId): boolean {
    return this.#byId.has(id);
  }
}
