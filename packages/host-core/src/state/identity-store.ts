/**
 * The host's identity: its Ed25519 key pair and its name. The secret seed
 * lives in the secret store (keychain or 0600 file); the public half, the id
 * and the name live in `identity.json`, schema-checked on every read. A
 * public file whose secret has gone missing, or whose key does not match its
 * id, is an error, never a silent new identity: devices have pinned this key.
 */
import fs from 'node:fs';
import os from 'node:os';
import {
  b64u,
  equalBytes,
  fromB64u,
  generateKeyPair,
  HOST_ID_RE,
  type HostId,
  hostIdOf,
  idMatchesKey,
  integer,
  MAX_HOST_NAME,
  object,
  publicKeyOf,
  randomBytes,
  string,
  unixNow,
} from '@pocketshell/protocol';
import { HostError } from '../errors.ts';
import type { StatePaths } from './paths.ts';
import { ensurePrivateDir, readJsonFile, removePrivateFile, writeJsonFile } from './private-files.ts';
import type { SecretStore } from './secret-store.ts';

/** The name of the host key in the secret store. */
export const HOST_KEY_NAME = 'host-key';

/** The host's identity. `secretKey` is the 32-byte Ed25519 seed: never log it. */
export interface HostIdentity {
  readonly id: HostId;
  readonly publicKey: Uint8Array;
  readonly secretKey: Uint8Array;
  readonly name: string;
  /** Unix seconds. */
  readonly createdAt: number;
}

interface IdentityFile {
  v: 1;
  id: HostId;
  pub: string;
  name: string;
  createdAt: number;
}

function parseIdentityFile(value: unknown): IdentityFile {
  const o = object(value, 'identity');
  if (o.v !== 1) throw new Error('unsupported version (expected v: 1)');
  const file: IdentityFile = {
    v: 1,
    id: string(o, 'id', 28, HOST_ID_RE) as HostId,
    pub: string(o, 'pub', 43),
    name: checkName(string(o, 'name', MAX_HOST_NAME)),
    createdAt: integer(o, 'createdAt', 0, 9_999_999_999),
  };
  const pub = fromB64u(file.pub);
  if (pub.length !== 32 || !idMatchesKey(file.id, pub)) throw new Error('id does not match pub');
  return file;
}

function checkName(name: string): string {
  const n = name.trim();
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters
  if (n.length === 0 || n.length > MAX_HOST_NAME || /[\x00-\x1f\x7f]/.test(n)) {
    throw new Error(`name must be 1..${MAX_HOST_NAME} printable characters`);
  }
  return n;
}

/** Options: the state layout, the secret store, and the injected world. */
export interface IdentityStoreOptions {
  readonly paths: StatePaths;
  readonly secrets: SecretStore;
  readonly hostname?: () => string;
  /** Unix seconds. */
  readonly clock?: () => number;
  readonly random?: (n: number) => Uint8Array;
}

/** Loads, creates, renames and resets the host identity. */
export class IdentityStore {
  readonly #paths: StatePaths;
  readonly #secrets: SecretStore;
  readonly #hostname: () => string;
  readonly #clock: () => number;
  readonly #random: (n: number) => Uint8Array;

  constructor(opts: IdentityStoreOptions) {
    this.#paths = opts.paths;
    this.#secrets = opts.secrets;
    this.#hostname = opts.hostname ?? os.hostname;
    this.#clock = opts.clock ?? (() => unixNow());
    this.#random = opts.random ?? randomBytes;
  }

  /** The identity, or null when this host has none yet. */
  async load(): Promise<HostIdentity | null> {
    ensurePrivateDir(this.#paths.root);
    const file = readJsonFile(this.#paths.identity, parseIdentityFile);
    const secret = await this.#secrets.get(HOST_KEY_NAME);
    if (file === null) {
      // Another process is between writing the key and writing identity.json: not there yet.
      if (secret !== null && creationInProgress(this.#creating)) return null;
      if (secret !== null) {
        throw new HostError(
          'state_corrupt',
          `${this.#paths.identity} is missing but a host key is in the ${this.#secrets.kind} store; run pocketshell pair --reset to start afresh`,
          { path: this.#paths.identity },
        );
      }
      return null;
    }
    if (secret === null) {
      throw new HostError(
        'identity_missing',
        `${this.#paths.identity} exists but its secret key is not in the ${this.#secrets.kind} store (${this.#secrets.reason}); run pocketshell pair --reset to make a new identity (paired devices must pair again)`,
        { path: this.#paths.identity },
      );
    }
    const publicKey = fromB64u(file.pub);
    if (secret.length !== 32 || !equalBytes(publicKeyOf(secret), publicKey)) {
      throw new HostError('state_corrupt', `the stored host key does not match ${this.#paths.identity}`, {
        path: this.#paths.identity,
      });
    }
    return { id: file.id, publicKey, secretKey: secret, name: file.name, createdAt: file.createdAt };
  }

  /** The identity, made (key pair in the secret store, public half on disk) when there is none. */
  async loadOrCreate(): Promise<HostIdentity> {
    const existing = await this.load();
    if (existing) return existing;
    // One creator at a time; a marker older than a minute is from a crashed creator.
    if (!claimCreation(this.#creating)) {
      for (let i = 0; i < 100 && creationInProgress(this.#creating); i++)
        await new Promise((r) => setTimeout(r, 100));
      const made = await this.load();
      if (made) return made;
      fs.rmSync(this.#creating, { force: true });
      claimCreation(this.#creating);
    }
    try {
      return await this.#create();
    } finally {
      fs.rmSync(this.#creating, { force: true });
    }
  }

  async #create(): Promise<HostIdentity> {
    const kp = generateKeyPair(this.#random(32));
    const name = checkName(this.#hostname() || 'host');
    const file: IdentityFile = {
      v: 1,
      id: hostIdOf(kp.publicKey),
      pub: b64u(kp.publicKey),
      name,
      createdAt: this.#clock(),
    };
    await this.#secrets.set(HOST_KEY_NAME, kp.secretKey);
    writeJsonFile(this.#paths.identity, file);
    return { id: file.id, publicKey: kp.publicKey, secretKey: kp.secretKey, name, createdAt: file.createdAt };
  }

  get #creating(): string {
    return `${this.#paths.identity}.creating`;
  }

  /** Renames the host; throws `identity_missing` when there is no identity. */
  async setName(name: string): Promise<HostIdentity> {
    const current = await this.load();
    if (!current) throw new HostError('identity_missing');
    let checked: string;
    try {
      checked = checkName(name);
    } catch (cause) {
      throw new TypeError(`host name: ${(cause as Error).message}`);
    }
    writeJsonFile(this.#paths.identity, {
      v: 1,
      id: current.id,
      pub: b64u(current.publicKey),
      name: checked,
      createdAt: current.createdAt,
    } satisfies IdentityFile);
    return { ...current, name: checked };
  }

  /** Wipes the identity: the secret key and `identity.json` (for `pocketshell pair --reset`). */
  async reset(): Promise<void> {
    await this.#secrets.delete(HOST_KEY_NAME);
    removePrivateFile(this.#paths.identity);
  }
}

/** Marks identity creation as ours (exclusive create); false when someone else holds it. */
function claimCreation(marker: string): boolean {
  try {
    fs.writeFileSync(marker, String(process.pid), { flag: 'wx', mode: 0o600 });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new HostError('state_io', `${marker}: cannot create`, { cause: error, path: marker });
  }
}

/** True while a creation marker younger than a minute exists. */
function creationInProgress(marker: string): boolean {
  const st = fs.statSync(marker, { throwIfNoEntry: false });
  return st !== undefined && Date.now() - st.mtimeMs < 60_000;
}
