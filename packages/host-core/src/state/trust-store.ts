/**
 * The trust store: the devices this host has paired with (pinned id, public
 * key, name, grants, when paired, when last seen, its files root when it
 * has one of its own) and the devices it has
 * revoked. Revoking forgets the key but keeps a revoked-list entry, so a
 * revoked device is told `revoked`, not treated as a stranger. The file
 * (`devices.json`, 0600) is schema-checked on every read and replaced
 * atomically on every change; a corrupt one is a `state_corrupt` error.
 */

import path from 'node:path';
import {
  AGENT_TIERS,
  type AgentTier,
  b64u,
  DEVICE_ID_RE,
  type DeviceId,
  deviceIdOf,
  fromB64u,
  GRANTS,
  type Grant,
  integer,
  MAX_AGENT_ROOTS,
  MAX_TS,
  type Obj,
  object,
  oneOf,
  optional,
  ProtocolError,
  string,
  unixNow,
} from '@pocketshell/protocol';
import type { StatePaths } from './paths.ts';
import { ensurePrivateDir, readJsonFile, writeJsonFile } from './private-files.ts';

/** A paired device. */
export interface PinnedDevice {
  readonly id: DeviceId;
  /** Ed25519 public key, base64url. */
  readonly pub: string;
  readonly name: string;
  readonly grants: readonly Grant[];
  /** Unix seconds. */
  readonly pairedAt: number;
  /** Unix seconds of the last authenticated contact. */
  readonly lastSeen?: number;
  /** The device's own root for the `files` channel (absolute, normalised); none: the host user's home. */
  readonly filesRoot?: string;
  /** The device's agent tier and workspace roots (docs/host.md "Agents"); none: `DEFAULT_AGENT_TIER` and the home folder. */
  readonly agent?: DeviceAgentPolicy;
}

/** A device's agent settings as stored. */
export interface DeviceAgentPolicy {
  readonly tier: AgentTier;
  /** Absolute, normalised folders (empty: the home folder). */
  readonly roots: readonly string[];
}

/** A device that was revoked: its key is forgotten, its id is remembered. */
export interface RevokedDevice {
  readonly id: DeviceId;
  readonly name: string;
  /** Unix seconds. */
  readonly revokedAt: number;
}

/** What the host knows about a device id. */
export type DeviceStatus =
  | { readonly status: 'paired'; readonly device: PinnedDevice }
  | { readonly status: 'revoked'; readonly device: RevokedDevice }
  | { readonly status: 'unknown' };

interface DevicesFile {
  v: 1;
  devices: PinnedDevice[];
  revoked: RevokedDevice[];
}

/** Most devices (and revoked entries) one host keeps. */
export const MAX_DEVICES = 256;
// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters
const NAME_RE = /^[^\x00-\x1f\x7f]{1,64}$/;
/** Longest files root kept, in characters. */
export const MAX_FILES_ROOT = 4096;
// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters
const ROOT_RE = /^\/[^\x00-\x1f\x7f]*$/;

/** Checks a files root: absolute, normalised (no `.`, `..`, `//`, trailing `/` but for `/`), no control characters. */
export function parseFilesRoot(o: Obj, key: string): string {
  const v = string(o, key, MAX_FILES_ROOT, ROOT_RE);
  if (path.posix.normalize(v) !== v || (v.length > 1 && v.endsWith('/')))
    throw new ProtocolError('bad_message', `${key}: not a normalised absolute path`);
  return v;
}

/** Checks a device's agent settings. */
export function parseAgentPolicy(value: unknown, key = 'agent'): DeviceAgentPolicy {
  const o = object(value, key);
  const roots = o.roots;
  if (!Array.isArray(roots) || roots.length > MAX_AGENT_ROOTS)
    throw new ProtocolError('bad_message', `${key}.roots: at most ${MAX_AGENT_ROOTS} folders`);
  return {
    tier: oneOf(o, 'tier', AGENT_TIERS),
    roots: [...new Set(roots.map((r, i) => parseFilesRoot({ [`roots[${i}]`]: r }, `roots[${i}]`)))],
  };
}

function listOf<T>(o: Obj, key: string, item: (v: Obj) => T): T[] {
  const v = o[key];
  if (!Array.isArray(v)) throw new Error(`${key}: expected an array`);
  if (v.length > MAX_DEVICES) throw new Error(`${key}: more than ${MAX_DEVICES} entries`);
  return v.map((x, i) => item(object(x, `${key}[${i}]`)));
}

function parsePinned(o: Obj): PinnedDevice {
  const id = string(o, 'id', 28, DEVICE_ID_RE) as DeviceId;
  const pub = string(o, 'pub', 43);
  const key = fromB64u(pub);
  if (key.length !== 32 || deviceIdOf(key) !== id) throw new Error(`device ${id}: id does not match pub`);
  const grants = o.grants;
  if (!Array.isArray(grants) || grants.length > GRANTS.length) throw new Error(`device ${id}: bad grants`);
  const lastSeen = optional(o, 'lastSeen', (x, k) => integer(x, k, 0, MAX_TS));
  const filesRoot = optional(o, 'filesRoot', parseFilesRoot);
  const agent = o.agent === undefined ? undefined : parseAgentPolicy(o.agent);
  return {
    id,
    pub,
    name: string(o, 'name', 64, NAME_RE),
    grants: [...new Set(grants.map((g, i) => oneOf({ [`grants[${i}]`]: g }, `grants[${i}]`, GRANTS)))],
    pairedAt: integer(o, 'pairedAt', 0, MAX_TS),
    ...(lastSeen === undefined ? {} : { lastSeen }),
    ...(filesRoot === undefined ? {} : { filesRoot }),
    ...(agent === undefined ? {} : { agent }),
  };
}

function parseRevoked(o: Obj): RevokedDevice {
  return {
    id: string(o, 'id', 28, DEVICE_ID_RE) as DeviceId,
    name: string(o, 'name', 64, NAME_RE),
    revokedAt: integer(o, 'revokedAt', 0, MAX_TS),
  };
}

function parseDevicesFile(value: unknown): DevicesFile {
  const o = object(value, 'devices file');
  if (o.v !== 1) throw new Error('unsupported version (expected v: 1)');
  return { v: 1, devices: listOf(o, 'devices', parsePinned), revoked: listOf(o, 'revoked', parseRevoked) };
}

/** What `pin` needs: the device's key and name and the grants it gets. */
export interface PinRequest {
  readonly publicKey: Uint8Array;
  readonly name: string;
  readonly grants: readonly Grant[];
}

/** The pinned and revoked devices of this host, persisted in `devices.json`. */
export class TrustStore {
  readonly #paths: StatePaths;
  readonly #clock: () => number;

  constructor(opts: { paths: StatePaths; clock?: () => number }) {
    this.#paths = opts.paths;
    this.#clock = opts.clock ?? (() => unixNow());
  }

  #read(): DevicesFile {
    ensurePrivateDir(this.#paths.root);
    return readJsonFile(this.#paths.devices, parseDevicesFile) ?? { v: 1, devices: [], revoked: [] };
  }

  #write(file: DevicesFile): void {
    writeJsonFile(this.#paths.devices, file);
  }

  /** Every paired device. */
  list(): PinnedDevice[] {
    return this.#read().devices;
  }

  /** Every revoked device. */
  revoked(): RevokedDevice[] {
    return this.#read().revoked;
  }

  /** Paired, revoked, or unknown. */
  status(id: string): DeviceStatus {
    const file = this.#read();
    const device = file.devices.find((d) => d.id === id);
    if (device) return { status: 'paired', device };
    const gone = file.revoked.find((d) => d.id === id);
    if (gone) return { status: 'revoked', device: gone };
    return { status: 'unknown' };
  }

  /** The pinned device, or throws `not_paired` / `revoked` (wire codes: this is what a refusal says). */
  require(id: string): PinnedDevice {
    const s = this.status(id);
    if (s.status === 'paired') return s.device;
    if (s.status === 'revoked') throw new ProtocolError('revoked', `device ${id} was revoked`);
    throw new ProtocolError('not_paired', `device ${id} is not paired with this host`);
  }

  /** Pins a device (re-pairing a revoked device clears its revoked entry). Returns the pinned record. */
  pin(req: PinRequest): PinnedDevice {
    if (req.publicKey.length !== 32) throw new ProtocolError('bad_key', 'device public key must be 32 bytes');
    const id = deviceIdOf(req.publicKey);
    const candidate = {
      id,
      pub: b64u(req.publicKey),
      name: req.name,
      grants: [...req.grants],
      pairedAt: this.#clock(),
    };
    const device = parsePinned(candidate as unknown as Obj); // the same checks as a read
    const file = this.#read();
    const devices = file.devices.filter((d) => d.id !== id);
    if (devices.length >= MAX_DEVICES)
      throw new ProtocolError('limit_reached', `at most ${MAX_DEVICES} devices`);
    this.#write({ v: 1, devices: [...devices, device], revoked: file.revoked.filter((d) => d.id !== id) });
    return device;
  }

  /** Replaces a device's grants; throws `not_paired` when it is not paired. */
  setGrants(id: string, grants: readonly Grant[]): PinnedDevice {
    return this.#update(id, (d) => parsePinned({ ...d, grants: [...grants] } as unknown as Obj));
  }

  /**
   * Sets a device's own files root (an absolute path; `null`: back to the
   * host user's home); throws `not_paired` when it is not paired,
   * `bad_message` for a path that is not absolute and normalised.
   */
  setFilesRoot(id: string, root: string | null): PinnedDevice {
    return this.#update(id, (d) => {
      const { filesRoot: _, ...rest } = d;
      return parsePinned((root === null ? rest : { ...rest, filesRoot: root }) as unknown as Obj);
    });
  }

  /**
   * Sets a device's agent tier and workspace roots (`null`: back to the
   * defaults); throws `not_paired` when it is not paired, `bad_message` for
   * a root that is not absolute and normalised.
   */
  setAgentPolicy(id: string, policy: DeviceAgentPolicy | null): PinnedDevice {
    return this.#update(id, (d) => {
      const { agent: _, ...rest } = d;
      return parsePinned((policy === null ? rest : { ...rest, agent: policy }) as unknown as Obj);
    });
  }

  /** Records an authenticated contact now. */
  touch(id: string): PinnedDevice {
    return this.#update(id, (d) => ({ ...d, lastSeen: this.#clock() }));
  }

  #update(id: string, change: (d: PinnedDevice) => PinnedDevice): PinnedDevice {
    const file = this.#read();
    const i = file.devices.findIndex((d) => d.id === id);
    const current = file.devices[i];
    if (!current) throw new ProtocolError('not_paired', `device ${id} is not paired with this host`);
    const next = change(current);
    file.devices[i] = next;
    this.#write(file);
    return next;
  }

  /**
   * Revokes a device: forgets its key and grants, remembers its id and name
   * as revoked. Returns the revoked entry, or null when it was not paired
   * (revoking twice is harmless).
   */
  revoke(id: string): RevokedDevice | null {
    const file = this.#read();
    const device = file.devices.find((d) => d.id === id);
    if (!device) return null;
    const entry: RevokedDevice = { id: device.id, name: device.name, revokedAt: this.#clock() };
    const revoked = [...file.revoked.filter((d) => d.id !== id), entry].slice(-MAX_DEVICES);
    this.#write({ v: 1, devices: file.devices.filter((d) => d.id !== id), revoked });
    return entry;
  }

  /** Forgets every device, paired and revoked (with the identity, for `pocketshell pair --reset`). */
  clear(): void {
    this.#write({ v: 1, devices: [], revoked: [] });
  }
}
