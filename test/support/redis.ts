/**
 * A private `redis-server` on 127.0.0.1 for the fleet tests (the starter
 * lives with the relay's test helpers, which its own tests use too).
 */
export { redisServerBinary, type StartedRedis, startRedis } from '@pocketshell/relay/testing';
