/**
 * The device's own storage, in IndexedDB: its key pair (made on first use)
 * and the hosts it has pinned (id, public key, name, fingerprint, grants).
 * One object store of named records; every call opens a short transaction.
 * Nothing here ever leaves the browser.
 */
import {
  fingerprint,
  type Grant,
  generateKeyPair,
  type HostId,
  type KeyPair,
  publicKeyOf,
} from '@pocketshell/protocol';

/** A host this device is paired with. */
export interface PinnedHost {
  id: HostId;
  pub: Uint8Array;
  name: string;
  fingerprint: string;
  grants: Grant[];
  /** Milliseconds since the epoch. */
  pairedAt: number;
  /**
   * Set when a host of the same name was paired again under another key and
   * the person acknowledged the key change: the id of the host that replaced
   * this one. It stays pinned, shown as "old key".
   */
  replacedBy?: HostId;
}

const DB_NAME = 'pocketshell';
const STORE = 'kv';

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error('indexeddb request failed'));
  });
}

export class DeviceStore {
  readonly #db: IDBDatabase;

  private constructor(db: IDBDatabase) {
    this.#db = db;
  }

  /** Opens (and on first use creates) the database. */
  static async open(factory: IDBFactory = indexedDB): Promise<DeviceStore> {
    const req = factory.open(DB_NAME, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    return new DeviceStore(await request(req));
  }

  async #get<T>(key: string): Promise<T | undefined> {
    return (await request(this.#db.transaction(STORE).objectStore(STORE).get(key))) as T | undefined;
  }

  async #put(key: string, value: unknown): Promise<void> {
    const tx = this.#db.transaction(STORE, 'readwrite');
    tx.objectStore(STORE).put(value, key);
    await new Promise<void>((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error ?? new Error('indexeddb write failed'));
    });
  }

  /** This device's key pair, made and stored on first use. */
  async keyPair(): Promise<KeyPair> {
    const seed = await this.#get<Uint8Array>('device.seed');
    if (seed instanceof Uint8Array && seed.length === 32) {
      return { secretKey: seed, publicKey: publicKeyOf(seed) };
    }
    const pair = generateKeyPair();
    await this.#put('device.seed', pair.secretKey);
    return pair;
  }

  /** Pinned hosts, oldest first. */
  async hosts(): Promise<PinnedHost[]> {
    const list = (await this.#get<PinnedHost[]>('hosts')) ?? [];
    return list.sort((a, b) => a.pairedAt - b.pairedAt);
  }

  /**
   * Pins a host (replacing an earlier record of the same id); the hosts in
   * `replaces` are marked as replaced by it (an acknowledged key change).
   * Returns it and every host whose record changed.
   */
  async pin(
    host: Omit<PinnedHost, 'fingerprint' | 'replacedBy'>,
    replaces: readonly HostId[] = [],
  ): Promise<{ pinned: PinnedHost; marked: PinnedHost[] }> {
    const pinned: PinnedHost = { ...host, fingerprint: fingerprint(host.pub) };
    const marked: PinnedHost[] = [];
    const others = (await this.hosts())
      .filter((h) => h.id !== host.id)
      .map((h) => {
        if (!replaces.includes(h.id)) return h;
        const old = { ...h, replacedBy: host.id };
        marked.push(old);
        return old;
      });
    await this.#put('hosts', [...others, pinned]);
    return { pinned, marked };
  }

  /** Updates a pinned host's grants (as the host reported them); returns the record, or undefined when not pinned. */
  async setGrants(id: HostId, grants: readonly Grant[]): Promise<PinnedHost | undefined> {
    const all = await this.hosts();
    const host = all.find((h) => h.id === id);
    if (!host) return undefined;
    const changed = { ...host, grants: [...grants] };
    await this.#put(
      'hosts',
      all.map((h) => (h.id === id ? changed : h)),
    );
    return changed;
  }

  /** Forgets a host. */
  async unpin(id: HostId): Promise<void> {
    await this.#put(
      'hosts',
      (await this.hosts()).filter((h) => h.id !== id),
    );
  }

  /** A small setting (font size…). */
  async setting<T>(key: string): Promise<T | undefined> {
    return this.#get<T>(`setting.${key}`);
  }

  async setSetting(key: string, value: unknown): Promise<void> {
    await this.#put(`setting.${key}`, value);
  }

  close(): void {
    this.#db.close();
  }
}
