/**
 * `RelayStore`: everything the relay keeps, behind one asynchronous
 * interface, so the embedded SQLite store and a later PostgreSQL one are
 * interchangeable. Secrets never reach it in clear: claims and enrollment
 * tokens are stored as SHA-256 hashes. Times are integer Unix seconds.
 */
import type { DeviceId, HostId, PartyId } from '@pocketshell/protocol';

/** An enrollment token as listed (never its value or hash). */
export interface TokenRecord {
  id: string;
  label: string;
  createdAt: number;
  expiresAt: number | null;
  usesLeft: number;
  revokedAt: number | null;
}

/** A new enrollment token. */
export interface NewToken {
  id: string;
  hash: string;
  label: string;
  createdAt: number;
  expiresAt: number | null;
  uses: number;
}

/** How a redeem went. */
export type RedeemOutcome = { ok: true } | { ok: false; burned: HostId[] };

/**
 * A device's Web Push subscription: the push service's endpoint URL (a
 * capability: whoever holds it can send to the browser, so it is never
 * logged) and the browser's `p256dh` / `auth` keys, base64url.
 */
export interface PushSubscriptionRecord {
  id: string;
  deviceId: DeviceId;
  endpoint: string;
  p256dh: string;
  auth: string;
  createdAt: number;
}

/** A key pair as stored (the VAPID keys), base64url. */
export interface StoredKeyPair {
  publicKey: string;
  privateKey: string;
}

/** The relay's storage. Every method is atomic. */
export interface RelayStore {
  /**
   * True when other relay processes may use the same store (PostgreSQL):
   * what one node caches (pairings) or keeps on its disk (the VAPID keys)
   * must then be shared or invalidated through the fleet.
   */
  readonly shared: boolean;
  /** True when a host with this id is registered. */
  hasHost(id: HostId): Promise<boolean>;
  /** Registers a host or refreshes its `last_seen`. */
  touchHost(id: HostId, pub: string, now: number): Promise<void>;
  /**
   * Registers a new host with an enrollment token in one transaction: the
   * token (by hash) must be live; one use is taken. False when it is not.
   */
  enrollHost(id: HostId, pub: string, tokenHash: string, now: number): Promise<boolean>;
  /**
   * Refreshes a known device's `last_seen`. A device is stored only when a
   * pairing is recorded (`acceptPending`), so strangers add no rows.
   */
  seenDevice(id: DeviceId, now: number): Promise<void>;
  /** The stored public key of a party, if registered. */
  publicKeyOf(id: PartyId): Promise<string | undefined>;

  /** Live claims of a host. */
  countLiveClaims(host: HostId, now: number): Promise<number>;
  /** Stores a claim hash. */
  createClaim(hash: string, host: HostId, expiresAt: number, now: number): Promise<void>;
  /**
   * Burns the claim `hash` if it is live, belongs to `host` and has fewer
   * than `maxAttempts` wrong attempts. Otherwise counts a wrong attempt
   * against `host`'s live claims (and the claim itself, if it exists), and
   * deletes those that reached `maxAttempts`, naming their hosts in `burned`.
   */
  redeemClaim(hash: string, host: HostId, now: number, maxAttempts: number): Promise<RedeemOutcome>;

  /** Remembers that `host` may accept or reject `device` (key `devicePub`) until `expiresAt`. */
  addPending(host: HostId, device: DeviceId, devicePub: string, expiresAt: number): Promise<void>;
  /** Consumes a live pending redeem; true when there was one. */
  takePending(host: HostId, device: DeviceId, now: number): Promise<boolean>;

  /**
   * Consumes a live pending redeem and records the device (with the key it
   * redeemed with) and the pairing, in one transaction; false without one.
   */
  acceptPending(host: HostId, device: DeviceId, now: number): Promise<boolean>;
  /** True when the two are paired. */
  isPaired(host: HostId, device: DeviceId): Promise<boolean>;
  /** Removes a pairing, and the device when it has no pairing left; true when there was one. */
  removePairing(host: HostId, device: DeviceId): Promise<boolean>;
  /** True when the host or device has at least one pairing. */
  hasPairing(id: PartyId): Promise<boolean>;
  /** The hosts a device is paired with. */
  hostsOf(device: DeviceId): Promise<HostId[]>;
  /** The devices a host is paired with. */
  devicesOf(host: HostId): Promise<DeviceId[]>;

  createToken(token: NewToken): Promise<void>;
  listTokens(): Promise<TokenRecord[]>;
  /** Revokes a token; false when there is no such token. */
  revokeToken(id: string, now: number): Promise<boolean>;

  /**
   * Stores a subscription, upserted by endpoint (an endpoint presented again,
   * by this device or another, takes the new keys and device). False, and
   * nothing stored, when the device already holds `maxPerDevice` others.
   * Subscriptions go with their device (when its last pairing is removed).
   */
  putPushSubscription(sub: PushSubscriptionRecord, maxPerDevice: number): Promise<boolean>;
  /** The device's subscriptions, oldest first. */
  pushSubscriptionsOf(device: DeviceId): Promise<PushSubscriptionRecord[]>;
  /** Removes one subscription of the device (by endpoint) or all of them; the number removed. */
  removePushSubscriptions(device: DeviceId, endpoint?: string): Promise<number>;
  /** Removes the subscription with this endpoint (the push service answered 404/410); true when there was one. */
  removePushEndpoint(endpoint: string): Promise<boolean>;

  /**
   * The relay's VAPID key pair (base64url): stores `candidate` unless a pair
   * is stored already — atomically, the first caller wins — and returns the
   * stored one. Used when the store is shared (`push.ts`, `sharedVapidKeys`).
   */
  keepVapidKeys(candidate: StoredKeyPair, now: number): Promise<StoredKeyPair>;

  /** Deletes expired claims and pending redeems. */
  purgeExpired(now: number): Promise<void>;
  /** Cheap liveness probe. */
  ping(): Promise<void>;
  /** Idempotent. */
  close(): Promise<void>;
}
