/**
 * This machine as a *device* (for `pocketshell connect`): its own Ed25519
 * key in the secret store (`device-key`), and the hosts it paired with —
 * id, pinned key, name, grants and the relay each is reached through — in
 * `device-hosts.json` (0600, atomic, schema-checked) in the state folder.
 */

import { join } from 'node:path';
import type { PairedHost } from '@pocketshell/client';
import {
  HostError,
  readJsonFile,
  type SecretStore,
  type StatePaths,
  writeJsonFile,
} from '@pocketshell/host-core';
import {
  array,
  b64u,
  fromB64u,
  GRANTS,
  type Grant,
  generateKeyPair,
  HOST_ID_RE,
  type HostId,
  hostIdOf,
  type KeyPair,
  object,
  oneOf,
  ProtocolError,
  publicKeyOf,
  sameName,
  string,
} from '@pocketshell/protocol';

export const DEVICE_KEY_NAME = 'device-key';

/** A host as this device remembers it. */
export interface KnownHost extends PairedHost {
  /** `ws[s]://…/ws` of the relay the host was paired through. */
  relay: string;
  /**
   * Set on a host whose name and relay were paired again under another key
   * (an acknowledged key change): the id of the host that replaced it. It
   * stays paired — the person may still reach it — but is shown as old.
   */
  replacedBy?: HostId;
}

interface HostsFile {
  v: 1;
  hosts: { id: HostId; pub: string; name: string; grants: Grant[]; relay: string; replacedBy?: HostId }[];
}

function parseHosts(value: unknown): HostsFile {
  const o = object(value, 'device-hosts');
  if (o.v !== 1) throw new Error('unsupported version (expected v: 1)');
  return {
    v: 1,
    hosts: array(o, 'hosts', 256, (v, f) => {
      const h = object(v, f);
      return {
        id: string(h, 'id', 28, HOST_ID_RE) as HostId,
        pub: string(h, 'pub', 43),
        name: string(h, 'name', 64),
        grants: array(h, 'grants', GRANTS.length, (g, gf) => oneOf({ [gf]: g }, gf, GRANTS)),
        relay: string(h, 'relay', 256, /^wss?:\/\//),
        ...(h.replacedBy === undefined
          ? {}
          : { replacedBy: string(h, 'replacedBy', 28, HOST_ID_RE) as HostId }),
      };
    }),
  };
}

export class DeviceStore {
  readonly #file: string;
  readonly #secrets: SecretStore;

  constructor(paths: StatePaths, secrets: SecretStore) {
    this.#file = join(paths.root, 'device-hosts.json');
    this.#secrets = secrets;
  }

  /** This device's key pair, made on first use. */
  async keyPair(): Promise<KeyPair> {
    const secret = await this.#secrets.get(DEVICE_KEY_NAME);
    if (secret) {
      if (secret.length !== 32) throw new HostError('state_corrupt', 'the stored device key is not 32 bytes');
      return { secretKey: secret, publicKey: publicKeyOf(secret) };
    }
    const kp = generateKeyPair();
    await this.#secrets.set(DEVICE_KEY_NAME, kp.secretKey);
    return kp;
  }

  hosts(): KnownHost[] {
    const file = readJsonFile(this.#file, parseHosts);
    return (file?.hosts ?? []).map((h) => {
      const pub = fromB64u(h.pub);
      if (hostIdOf(pub) !== h.id)
        throw new HostError('state_corrupt', `${this.#file}: ${h.id} does not match its key`);
      return {
        id: h.id,
        pub,
        name: h.name,
        grants: h.grants,
        relay: h.relay,
        ...(h.replacedBy ? { replacedBy: h.replacedBy } : {}),
      };
    });
  }

  /**
   * The current hosts (not replaced) with `name` on `relay` under another
   * key than `id`: pairing `id` is then a key change.
   */
  sameName(name: string, relay: string, id: HostId): KnownHost[] {
    return this.hosts().filter(
      (h) => sameName(h.name, name) && h.relay === relay && h.id !== id && !h.replacedBy,
    );
  }

  /**
   * Adds or replaces a host; `replaces` marks those hosts as replaced by it
   * (an acknowledged key change).
   */
  save(host: KnownHost, replaces: readonly HostId[] = []): void {
    const others = this.hosts()
      .filter((h) => h.id !== host.id)
      .map((h) => (replaces.includes(h.id) ? { ...h, replacedBy: host.id } : h));
    const hosts = [...others, host].map((h) => ({
      id: h.id,
      pub: b64u(h.pub),
      name: h.name,
      grants: h.grants,
      relay: h.relay,
      ...(h.replacedBy ? { replacedBy: h.replacedBy } : {}),
    }));
    writeJsonFile(this.#file, { v: 1, hosts });
  }

  /** Finds a host by id, id prefix or name. */
  find(query: string): KnownHost {
    const hosts = this.hosts();
    const matches = hosts.filter(
      (h) => h.id === query || h.name === query || (query.length >= 4 && h.id.startsWith(query)),
    );
    if (matches.length === 1) return matches[0]!;
    // A name shared with replaced hosts (key changes) means the current one.
    const current = matches.filter((h) => !h.replacedBy);
    if (current.length === 1) return current[0]!;
    if (matches.length === 0)
      throw new ProtocolError(
        'not_found',
        `no paired host ${query}; see them with pocketshell device hosts, or pair with pocketshell device pair <url>`,
      );
    throw new ProtocolError('bad_message', `${query} matches ${matches.length} hosts; use the full id`);
  }
}
