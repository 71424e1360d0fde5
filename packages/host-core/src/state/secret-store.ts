/**
 * The secret store: where the host's private key lives. First choice is the
 * OS keychain (macOS Keychain, Windows Credential Manager, the Secret Service
 * on Linux) through `@napi-rs/keyring`; when no keychain answers (headless
 * Linux without a D-Bus session, a locked or absent Secret Service) it falls
 * back to 0600 files in the state folder. The store says which it is
 * (`kind`) and why (`reason`), so `pocketshell status` can tell the user.
 *
 * Why `@napi-rs/keyring` and not keytar: keytar is archived (no releases
 * since 2022) and builds from source against libsecret headers, so it fails
 * to install on machines without them. `@napi-rs/keyring` is maintained,
 * wraps the Rust `keyring` crate, ships prebuilt binaries per platform
 * through the npm registry (no compiler, no headers), talks to the Secret
 * Service over D-Bus directly, and has an async API that takes an
 * AbortSignal. On Linux we pin it to the Secret Service: its other Linux
 * backend, the kernel keyring, forgets everything at logout or reboot, which
 * would silently change the host's identity.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import path from 'node:path';
import { b64u, fromB64u } from '@pocketshell/protocol';
import { HostError } from '../errors.ts';
import type { StatePaths } from './paths.ts';
import {
  currentOwner,
  ensurePrivateDir,
  type Owner,
  readPrivateFile,
  removePrivateFile,
  writePrivateFile,
} from './private-files.ts';

/** Which kind of store holds the secrets. */
export type SecretStoreKind = 'keychain' | 'file';

/** A small named-secret store. Names are `[a-z0-9-]{1,64}`. */
export interface SecretStore {
  readonly kind: SecretStoreKind;
  /** Why this kind was chosen (for `pocketshell status`); never holds a secret. */
  readonly reason: string;
  get(name: string): Promise<Uint8Array | null>;
  set(name: string, value: Uint8Array): Promise<void>;
  /** True when something was deleted. */
  delete(name: string): Promise<boolean>;
}

const NAME_RE = /^[a-z0-9-]{1,64}$/;

function checkName(name: string): void {
  if (!NAME_RE.test(name)) throw new TypeError(`secret name must match ${NAME_RE}: ${JSON.stringify(name)}`);
}

/** Secrets as 0600 files `<dir>/<name>.key` (base64url); a key file others may read is refused. */
export class FileSecretStore implements SecretStore {
  readonly kind = 'file' as const;
  readonly reason: string;
  readonly #dir: string;
  readonly #owner: Owner;

  constructor(dir: string, opts: { reason?: string; owner?: Owner } = {}) {
    this.#dir = dir;
    this.reason = opts.reason ?? 'file store';
    this.#owner = opts.owner ?? currentOwner();
  }

  #file(name: string): string {
    checkName(name);
    return path.join(this.#dir, `${name}.key`);
  }

  async get(name: string): Promise<Uint8Array | null> {
    const file = this.#file(name);
    ensurePrivateDir(this.#dir, this.#owner);
    const raw = readPrivateFile(file, { secret: true, owner: this.#owner });
    if (raw === null) return null;
    try {
      return fromB64u(raw.toString('utf8').trim());
    } catch (cause) {
      throw new HostError('state_corrupt', `${file}: not a base64url secret`, { cause, path: file });
    }
  }

  async set(name: string, value: Uint8Array): Promise<void> {
    const file = this.#file(name);
    ensurePrivateDir(this.#dir, this.#owner);
    writePrivateFile(file, b64u(value) + '\n');
  }

  async delete(name: string): Promise<boolean> {
    const file = this.#file(name);
    const existed = readPrivateFile(file, { owner: this.#owner }) !== null;
    removePrivateFile(file);
    return existed;
  }
}

/** The part of a `@napi-rs/keyring` `AsyncEntry` this module uses. */
export interface KeyringEntry {
  setPassword(password: string, signal?: AbortSignal | null): Promise<void>;
  getPassword(signal?: AbortSignal | null): Promise<string | null>;
  deleteCredential(signal?: AbortSignal | null): Promise<boolean>;
}

/** Makes a keychain entry for (service, account); may throw when no keychain is reachable. */
export type KeyringEntryFactory = (service: string, account: string) => KeyringEntry;

/** The real keychain through `@napi-rs/keyring`, loaded only when called (nothing on import). */
export function napiKeyringFactory(platform: NodeJS.Platform = process.platform): KeyringEntryFactory {
  const require = createRequire(import.meta.url);
  const { AsyncEntry } = require('@napi-rs/keyring') as typeof import('@napi-rs/keyring');
  const options = platform === 'linux' ? { linux: { store: 'secret-service' as const } } : undefined;
  return (service, account) => new AsyncEntry(service, account, options);
}

/** Secrets in the OS keychain, one entry per name under `service`, accounts scoped to one state folder. */
export class KeychainSecretStore implements SecretStore {
  readonly kind = 'keychain' as const;
  readonly reason: string;
  readonly #service: string;
  readonly #scope: string;
  readonly #factory: KeyringEntryFactory;
  readonly #timeoutMs: number;

  constructor(opts: {
    factory: KeyringEntryFactory;
    scope: string;
    service?: string;
    timeoutMs?: number;
    reason?: string;
  }) {
    this.#factory = opts.factory;
    this.#scope = opts.scope;
    this.#service = opts.service ?? 'pocketshell';
    this.#timeoutMs = opts.timeoutMs ?? 10_000;
    this.reason = opts.reason ?? 'OS keychain';
  }

  #entry(name: string): KeyringEntry {
    checkName(name);
    try {
      return this.#factory(this.#service, `${name}@${this.#scope}`);
    } catch (cause) {
      throw new HostError('keystore_unavailable', 'the OS keychain is not reachable', { cause });
    }
  }

  async get(name: string): Promise<Uint8Array | null> {
    const entry = this.#entry(name);
    const value = await bounded((signal) => entry.getPassword(signal), this.#timeoutMs, 'read');
    if (value === null) return null;
    try {
      return fromB64u(value);
    } catch (cause) {
      throw new HostError('state_corrupt', `keychain entry ${name}: not a base64url secret`, { cause });
    }
  }

  async set(name: string, value: Uint8Array): Promise<void> {
    const entry = this.#entry(name);
    await bounded((signal) => entry.setPassword(b64u(value), signal), this.#timeoutMs, 'write');
  }

  async delete(name: string): Promise<boolean> {
    const entry = this.#entry(name);
    return bounded((signal) => entry.deleteCredential(signal), this.#timeoutMs, 'delete');
  }
}

/** Runs a keychain call with an abort signal and a hard deadline; failures become `keystore_unavailable`. */
async function bounded<T>(op: (signal: AbortSignal) => Promise<T>, ms: number, what: string): Promise<T> {
  const ctl = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      ctl.abort();
      reject(
        new HostError('keystore_unavailable', `the OS keychain did not answer a ${what} within ${ms} ms`),
      );
    }, ms);
  });
  try {
    return await Promise.race([op(ctl.signal), deadline]);
  } catch (cause) {
    if (cause instanceof HostError) throw cause;
    throw new HostError('keystore_unavailable', `the OS keychain refused a ${what}`, { cause });
  } finally {
    clearTimeout(timer);
  }
}

/** Options for `openSecretStore`. */
export interface OpenSecretStoreOptions {
  readonly paths: StatePaths;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly platform?: NodeJS.Platform;
  /** How long the keychain probe may take before the file store is used (default 3000 ms). */
  readonly probeTimeoutMs?: number;
  /** The keychain binding (default: `@napi-rs/keyring`); tests inject a failing or a real one. */
  readonly keyring?: () => KeyringEntryFactory;
  readonly owner?: Owner;
}

/**
 * Picks the secret store. `POCKETSHELL_KEYSTORE=file` forces the file store,
 * `=keychain` requires the keychain (and fails with `keystore_unavailable`
 * when it does not answer). Otherwise the keychain is probed with a
 * write/read/delete round trip under a deadline; on Linux without a D-Bus
 * session bus it is not tried at all. Anything short of a full round trip
 * selects the 0600 file store.
 */
export async function openSecretStore(opts: OpenSecretStoreOptions): Promise<SecretStore> {
  const env = opts.env ?? process.env;
  const platform = opts.platform ?? process.platform;
  const forced = env.POCKETSHELL_KEYSTORE;
  const fileStore = (reason: string) =>
    new FileSecretStore(opts.paths.secrets, opts.owner ? { reason, owner: opts.owner } : { reason });
  if (forced === 'file') return fileStore('forced by POCKETSHELL_KEYSTORE=file');
  if (forced !== undefined && forced !== '' && forced !== 'keychain') {
    throw new HostError(
      'keystore_unavailable',
      `POCKETSHELL_KEYSTORE must be "file" or "keychain", not ${JSON.stringify(forced)}`,
    );
  }
  const required = forced === 'keychain';
  const fallback = (why: string): SecretStore => {
    if (required) throw new HostError('keystore_unavailable', `POCKETSHELL_KEYSTORE=keychain, but ${why}`);
    return fileStore(`no keychain: ${why}`);
  };
  if (platform === 'linux' && !env.DBUS_SESSION_BUS_ADDRESS) return fallback('no D-Bus session bus');
  const scope = createHash('sha256').update(opts.paths.root).digest('hex').slice(0, 16);
  let factory: KeyringEntryFactory;
  try {
    factory = (opts.keyring ?? (() => napiKeyringFactory(platform)))();
  } catch (cause) {
    return fallback(`the keychain binding did not load (${errorText(cause)})`);
  }
  const store = new KeychainSecretStore({
    factory,
    scope,
    timeoutMs: opts.probeTimeoutMs ?? 3000,
    reason: 'OS keychain',
  });
  try {
    const probe = Uint8Array.of(1, 2, 3, 4);
    await store.set('probe', probe);
    const back = await store.get('probe');
    await store.delete('probe');
    if (back === null || b64u(back) !== b64u(probe))
      return fallback('the keychain did not return what was stored');
  } catch (cause) {
    return fallback(errorText(cause));
  }
  return new KeychainSecretStore({ factory, scope, reason: 'OS keychain' });
}

function errorText(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  const inner = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : '';
  return (msg + inner).slice(0, 300);
}
