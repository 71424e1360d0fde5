/**
 * The rate limiter of a relay fleet: the same token buckets as
 * `RateLimiter` (limits.ts), kept in Redis for the actions whose budget
 * must hold across nodes — authentication, pairing (above all `pair.wrong`,
 * the guard against guessing a claim), TURN credentials and Web Push — so
 * changing node does not buy a fresh budget. Each take is one Lua script,
 * atomic in Redis, on Redis's clock; a bucket's key expires once it would
 * be full again, so Redis holds only the buckets being drained. `connect`
 * and `send` stay per node (in memory): they are about one node's sockets
 * and CPU, and a Redis round trip per routed message would buy nothing.
 * When Redis fails, the take fails (the client gets `internal`): closed,
 * never open.
 */
import type { LimitedAction, Limiter, Limits, RateLimiter } from './limits.ts';
import type { BucketRate } from './token-bucket.ts';

/** Actions whose buckets live in Redis when the relay runs in a fleet. */
export const SHARED_ACTIONS: ReadonlySet<LimitedAction> = new Set<LimitedAction>([
  'auth',
  'pair.create',
  'pair.redeem',
  'pair.wrong',
  'turn',
  'push.subscribe',
  'push.send',
  'push.device',
]);

/**
 * KEYS: bucket keys; ARGV[1]: '1' take, '0' only look; then burst and
 * rate per key. Takes from each bucket in order and stops at the first
 * empty one (1: all had a token). Looking takes nothing.
 */
export const BUCKET_SCRIPT = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local take = ARGV[1] == '1'
for i, key in ipairs(KEYS) do
  local burst = tonumber(ARGV[2 * i])
  local rate = tonumber(ARGV[2 * i + 1])
  local b = redis.call('HMGET', key, 'tokens', 'at')
  local tokens = tonumber(b[1])
  if tokens == nil then tokens = burst else
    tokens = math.min(burst, tokens + (now - tonumber(b[2])) / 1000 * rate)
  end
  if tokens < 1 then return 0 end
  if take then
    tokens = tokens - 1
    redis.call('HSET', key, 'tokens', tostring(tokens), 'at', tostring(now))
    redis.call('PEXPIRE', key, math.ceil((burst - tokens) / rate * 1000) + 1000)
  end
end
return 1`;

/** Runs a Lua script (the fleet's `eval`). */
export type ScriptRunner = (
  s: { src: string; sha: string },
  keys: string[],
  args: (string | number)[],
) => Promise<unknown>;

/** Buckets in Redis for the shared actions, in memory for the others. */
export class SharedRateLimiter implements Limiter {
  readonly #limits: Limits;
  readonly #local: RateLimiter;
  readonly #run: ScriptRunner;
  readonly #script: { src: string; sha: string };

  constructor(limits: Limits, local: RateLimiter, run: ScriptRunner, script: { src: string; sha: string }) {
    this.#limits = limits;
    this.#local = local;
    this.#run = run;
    this.#script = script;
  }

  async #buckets(take: boolean, action: LimitedAction, buckets: [scope: 'ip' | 'identity', key: string][]) {
    const keys: string[] = [];
    const args: (string | number)[] = [take ? '1' : '0'];
    for (const [scope, key] of buckets) {
      const rate: BucketRate = this.#limits.rates[action][scope];
      keys.push(`ps:rl:${action}:${scope}:${key}`);
      args.push(rate.burst, rate.perSecond);
    }
    return (await this.#run(this.#script, keys, args)) === 1;
  }

  take(action: LimitedAction, ip: string, identity?: string): boolean | Promise<boolean> {
    if (!SHARED_ACTIONS.has(action)) return this.#local.take(action, ip, identity);
    return this.#buckets(true, action, [
      ['ip', ip],
      ...(identity === undefined ? [] : [['identity', identity] as ['identity', string]]),
    ]);
  }

  has(action: LimitedAction, ip: string, identity?: string): boolean | Promise<boolean> {
    if (!SHARED_ACTIONS.has(action)) return this.#local.has(action, ip, identity);
    return this.#buckets(false, action, [
      ['ip', ip],
      ...(identity === undefined ? [] : [['identity', identity] as ['identity', string]]),
    ]);
  }

  takeIdentity(action: LimitedAction, identity: string): boolean | Promise<boolean> {
    if (!SHARED_ACTIONS.has(action)) return this.#local.takeIdentity(action, identity);
    return this.#buckets(true, action, [['identity', identity]]);
  }

  sweep(): void {
    this.#local.sweep();
  }
}
