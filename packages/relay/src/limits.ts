/**
 * The relay's abuse limits: every number in one place, with defaults, and
 * `RateLimiter`, which holds a per-IP and a per-identity `BucketSet` for
 * each limited action (connect, auth, pair.create, pair.redeem, pair.wrong,
 * send, turn, push.subscribe, push.send, push.device). `pair.wrong` counts
 * only wrong redeems, so an address cannot burn a host's claim by changing
 * identities. `push.send` is per host (its `identity` bucket) and `push.device`
 * per (host, device) pair: its `identity` bucket is keyed by the pair and its
 * `ip` bucket by the device (all hosts together).
 * Operators override any number through the config file's `limits` object.
 */
import { type BucketRate, BucketSet } from './token-bucket.ts';

/** Actions that are rate limited. */
export const LIMITED_ACTIONS = [
  'connect',
  'auth',
  'pair.create',
  'pair.redeem',
  'pair.wrong',
  'send',
  'turn',
  'push.subscribe',
  'push.send',
  'push.device',
] as const;
/** One limited action. */
export type LimitedAction = (typeof LIMITED_ACTIONS)[number];

/** Per-IP and per-identity rates of one action. */
export interface ActionLimit {
  ip: BucketRate;
  identity: BucketRate;
}

/** Every limit the relay enforces. */
export interface Limits {
  rates: Record<LimitedAction, ActionLimit>;
  /** WebSocket frames beyond this are cut by the socket layer (close 1009); between the protocol's 64 KiB and this the relay answers `bad_message`. */
  maxFrameBytes: number;
  /** Authenticated connections one identity may hold at once. */
  maxConnectionsPerIdentity: number;
  /** Open WebSocket connections in all (authenticated or not). */
  maxConnections: number;
  /** Live (unexpired) claims one host may hold. */
  maxClaimsPerHost: number;
  /** Wrong redeems against a host after which its live claims die. */
  maxClaimAttempts: number;
  /** Claim lifetime, seconds. */
  claimTtlSeconds: number;
  /** How long after a redeem the host may accept or reject, seconds. */
  pendingTtlSeconds: number;
  /** Seconds a client has to authenticate after the challenge. */
  authTimeoutSeconds: number;
  /** Seconds between WebSocket pings. */
  pingIntervalSeconds: number;
  /** Seconds of silence (no frame, no pong) after which a connection is dropped. */
  idleTimeoutSeconds: number;
  /** Keys one bucket set holds before it fails closed. */
  maxBucketKeys: number;
  /** Seconds a client has to send a request's headers (enforced to the second). */
  headersTimeoutSeconds: number;
  /** Seconds a client has to send a whole request. */
  requestTimeoutSeconds: number;
  /** Open TCP connections (HTTP and WebSocket) one address may hold; not applied with `--trust-proxy`. */
  maxConnectionsPerAddress: number;
}

/** The defaults (docs/relay.md lists them). */
export const DEFAULT_LIMITS: Limits = {
  rates: {
    connect: { ip: { burst: 60, perSecond: 2 }, identity: { burst: 60, perSecond: 2 } },
    auth: { ip: { burst: 60, perSecond: 2 }, identity: { burst: 20, perSecond: 0.5 } },
    'pair.create': { ip: { burst: 30, perSecond: 0.5 }, identity: { burst: 10, perSecond: 0.1 } },
    'pair.redeem': { ip: { burst: 30, perSecond: 0.5 }, identity: { burst: 10, perSecond: 0.1 } },
    // wrong redeems: 3 per address, then one per 200 s — below maxClaimAttempts, so one address cannot burn a claim
    'pair.wrong': { ip: { burst: 3, perSecond: 0.005 }, identity: { burst: 3, perSecond: 0.005 } },
    send: { ip: { burst: 2000, perSecond: 1000 }, identity: { burst: 400, perSecond: 200 } },
    turn: { ip: { burst: 60, perSecond: 1 }, identity: { burst: 10, perSecond: 0.1 } },
    // push.key, push.subscribe and push.unsubscribe, per address and per device
    'push.subscribe': { ip: { burst: 60, perSecond: 1 }, identity: { burst: 20, perSecond: 0.2 } },
    // push.send per host address and per host: 60 at once, then one a second
    'push.send': { ip: { burst: 120, perSecond: 2 }, identity: { burst: 60, perSecond: 1 } },
    // push.send per device from all hosts (`ip`) and per (host, device) pair (`identity`): 10 at once, then one per 6 s
    'push.device': { ip: { burst: 30, perSecond: 0.5 }, identity: { burst: 10, perSecond: 1 / 6 } },
  },
  maxFrameBytes: 80 * 1024,
  maxConnectionsPerIdentity: 8,
  maxConnections: 20_000,
  maxClaimsPerHost: 8,
  maxClaimAttempts: 5,
  claimTtlSeconds: 300,
  pendingTtlSeconds: 300,
  authTimeoutSeconds: 10,
  pingIntervalSeconds: 25,
  idleTimeoutSeconds: 60,
  maxBucketKeys: 100_000,
  headersTimeoutSeconds: 10,
  requestTimeoutSeconds: 30,
  maxConnectionsPerAddress: 64,
};

/**
 * The key an address's budgets are kept under: an IPv4 address as is (also
 * when IPv4-mapped), an IPv6 address as its /64 — one subscriber's usual
 * allocation, which holds more addresses than any bucket set could.
 */
export function addressKey(ip: string): string {
  const bare = ip.split('%')[0]!.toLowerCase();
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(bare);
  if (mapped) return mapped[1]!;
  if (!bare.includes(':')) return bare;
  const halves = bare.split('::');
  if (halves.length > 2) return bare;
  const left = halves[0] ? halves[0].split(':') : [];
  const right = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const groups =
    halves.length === 2
      ? [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right]
      : left;
  return `${groups
    .slice(0, 4)
    .map((g) => g.padStart(4, '0'))
    .join(':')}::/64`;
}

/**
 * What the router and the relay take tokens from: `RateLimiter` in memory,
 * or `SharedRateLimiter` (shared-limiter.ts), whose shared buckets live in
 * Redis and answer asynchronously.
 */
export interface Limiter {
  take(action: LimitedAction, ip: string, identity?: string): boolean | Promise<boolean>;
  has(action: LimitedAction, ip: string, identity?: string): boolean | Promise<boolean>;
  takeIdentity(action: LimitedAction, identity: string): boolean | Promise<boolean>;
  sweep(): void;
}

/** Per-IP and per-identity buckets for every limited action. */
export class RateLimiter implements Limiter {
  readonly #ip = new Map<LimitedAction, BucketSet>();
  readonly #identity = new Map<LimitedAction, BucketSet>();

  constructor(limits: Limits, now: () => number = Date.now) {
    for (const action of LIMITED_ACTIONS) {
      const r = limits.rates[action];
      this.#ip.set(action, new BucketSet(r.ip, { maxKeys: limits.maxBucketKeys, now }));
      this.#identity.set(action, new BucketSet(r.identity, { maxKeys: limits.maxBucketKeys, now }));
    }
  }

  /** Takes a token from the IP's bucket and, when given, the identity's; false when either is empty. */
  take(action: LimitedAction, ip: string, identity?: string): boolean {
    if (!this.#ip.get(action)!.take(ip)) return false;
    if (identity !== undefined && !this.#identity.get(action)!.take(identity)) return false;
    return true;
  }

  /** True when the IP's bucket (and the identity's, when given) could take a token now; takes nothing. */
  has(action: LimitedAction, ip: string, identity?: string): boolean {
    if (!this.#ip.get(action)!.has(ip)) return false;
    return identity === undefined || this.#identity.get(action)!.has(identity);
  }

  /** Takes a token from the identity's bucket only (when the IP's was taken earlier). */
  takeIdentity(action: LimitedAction, identity: string): boolean {
    return this.#identity.get(action)!.take(identity);
  }

  /** Drops refilled buckets (called periodically). */
  sweep(): void {
    for (const set of [...this.#ip.values(), ...this.#identity.values()]) set.sweep();
  }
}

/** Merges a partial override (from a config file) onto `base`, refusing unknown keys and bad numbers. */
export function mergeLimits(base: Limits, override: unknown): Limits {
  if (override === undefined) return base;
  if (typeof override !== 'object' || override === null || Array.isArray(override)) {
    throw new TypeError('limits: expected an object');
  }
  const out: Limits = structuredClone(base);
  for (const [k, v] of Object.entries(override as Record<string, unknown>)) {
    if (k === 'rates') {
      if (typeof v !== 'object' || v === null) throw new TypeError('limits.rates: expected an object');
      for (const [action, rv] of Object.entries(v as Record<string, unknown>)) {
        if (!(LIMITED_ACTIONS as readonly string[]).includes(action)) {
          throw new TypeError(`limits.rates.${action}: unknown action`);
        }
        const target = out.rates[action as LimitedAction];
        for (const [scope, sv] of Object.entries((rv ?? {}) as Record<string, unknown>)) {
          if (scope !== 'ip' && scope !== 'identity')
            throw new TypeError(`limits.rates.${action}.${scope}: unknown`);
          const s = (sv ?? {}) as Record<string, unknown>;
          const burst = s.burst ?? target[scope].burst;
          const perSecond = s.perSecond ?? target[scope].perSecond;
          if (
            typeof burst !== 'number' ||
            !(burst >= 1) ||
            typeof perSecond !== 'number' ||
            !(perSecond > 0)
          ) {
            throw new TypeError(`limits.rates.${action}.${scope}: burst >= 1 and perSecond > 0`);
          }
          target[scope] = { burst, perSecond };
        }
      }
    } else if (k in base) {
      if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0)
        throw new TypeError(`limits.${k}: expected a positive number`);
      (out as unknown as Record<string, number>)[k] = v;
    } else {
      throw new TypeError(`limits.${k}: unknown limit`);
    }
  }
  return out;
}
