/**
 * The control channel's methods (docs/protocol.md §6): the one contract the
 * host serves and every device (Node and web) calls, checked on both sides
 * by `rpc.ts`. Each entry names its params, its result and the grant it
 * needs; a method whose rule is finer than one grant (closing another
 * device's session, unpairing oneself) says so and the host checks the
 * rest.
 */
import { ProtocolError } from './errors.ts';
import { DEVICE_ID_RE, type DeviceId } from './identity.ts';
import { GRANTS, type Grant } from './inner.ts';
import { method, noParams, type ParamsOf, type ResultOf } from './rpc.ts';
import { array, boolean, integer, type Obj, object, oneOf, optional, string } from './schema.ts';

/** Longest session name, in UTF-16 units. */
export const SESSION_NAME_MAX = 64;
/** Most sessions or devices a listing carries. */
const MAX_LISTED = 256;
const SESSION_ID = /^[A-Za-z0-9_:.-]+$/;

/** Session states, in lifecycle order. RUNNING means at least one attachment. */
export const SESSION_STATES = ['STARTING', 'RUNNING', 'DETACHED', 'EXITED'] as const;
/** One session state. */
export type SessionState = (typeof SESSION_STATES)[number];
/** What runs in a session. */
export const SESSION_KINDS = ['shell', 'tmux', 'screen'] as const;
/** One session kind. */
export type SessionKind = (typeof SESSION_KINDS)[number];

/** A session as listed (`sessions.list`). */
export interface SessionInfo {
  readonly id: string;
  readonly kind: SessionKind;
  readonly state: SessionState;
  readonly attached: number;
  readonly pid: number;
  readonly cols: number;
  readonly rows: number;
  readonly title: string;
  /** The name a person gave it; empty when none. */
  readonly name: string;
  readonly offset: number;
  /** Milliseconds since the epoch. */
  readonly createdAt: number;
  readonly exitCode: number | null;
}

/** A paired device as listed (`devices.list`). */
export interface DeviceInfo {
  readonly id: DeviceId;
  readonly name: string;
  readonly grants: readonly Grant[];
  /** Unix seconds. */
  readonly pairedAt: number;
  /** Unix seconds of the last authenticated contact. */
  readonly lastSeen?: number;
  /** True for the device asking. */
  readonly self: boolean;
  /** Open connections now. */
  readonly connections: number;
}

const MAX_INT = Number.MAX_SAFE_INTEGER;

function sessionInfo(value: unknown): SessionInfo {
  const o = object(value, 'session');
  return {
    id: string(o, 'id', 64, SESSION_ID),
    kind: oneOf(o, 'kind', SESSION_KINDS),
    state: oneOf(o, 'state', SESSION_STATES),
    attached: integer(o, 'attached', 0, 1 << 16),
    pid: integer(o, 'pid', 0, 2 ** 31),
    cols: integer(o, 'cols', 0, 1 << 16),
    rows: integer(o, 'rows', 0, 1 << 16),
    title: string(o, 'title', 256),
    name: string(o, 'name', SESSION_NAME_MAX),
    offset: integer(o, 'offset', 0, MAX_INT),
    createdAt: integer(o, 'createdAt', 0, MAX_INT),
    exitCode: o.exitCode === null ? null : integer(o, 'exitCode', -(2 ** 31), 2 ** 31),
  };
}

const deviceId = (o: Obj, key: string) => string(o, key, 28, DEVICE_ID_RE) as DeviceId;
const grantList = (o: Obj, key: string) =>
  array(o, key, GRANTS.length, (v, f) => oneOf({ [f]: v }, f, GRANTS)).filter(
    (g, i, all) => all.indexOf(g) === i,
  );

function deviceInfo(value: unknown): DeviceInfo {
  const o = object(value, 'device');
  const lastSeen = optional(o, 'lastSeen', (x, k) => integer(x, k, 0, MAX_INT));
  return {
    id: deviceId(o, 'id'),
    name: string(o, 'name', 64),
    grants: grantList(o, 'grants'),
    pairedAt: integer(o, 'pairedAt', 0, MAX_INT),
    ...(lastSeen === undefined ? {} : { lastSeen }),
    self: boolean(o, 'self'),
    connections: integer(o, 'connections', 0, 1 << 16),
  };
}

const names = (o: Obj, key: string) => array(o, key, MAX_LISTED, (v, f) => string({ [f]: v }, f, 128));

/** `sessions.rename` params: the name trimmed, printable, at most 64 characters (empty clears it). */
function renameParams(value: unknown): { id: string; name: string } {
  const o = object(value, 'params');
  const id = string(o, 'id', 64);
  const name = string(o, 'name', 256).trim();
  if (name.length > SESSION_NAME_MAX) throw new ProtocolError('bad_message', 'name: too long');
  if (/[\p{Cc}\p{Cf}]/u.test(name)) throw new ProtocolError('bad_message', 'name: bad format');
  return { id, name };
}

/** The control methods. */
export const CONTROL_METHODS = {
  /** Who the host is, and the grants the asking device holds there now. */
  'host.info': method({
    grant: null,
    params: noParams,
    result: (v) => {
      const o = object(v, 'result');
      return {
        id: string(o, 'id', 28),
        name: string(o, 'name', 64),
        fingerprint: string(o, 'fingerprint', 128),
        platform: string(o, 'platform', 32),
        arch: string(o, 'arch', 32),
        node: string(o, 'node', 32),
        grants: grantList(o, 'grants'),
      };
    },
  }),
  /** The host's sessions, and the tmux and screen sessions it could attach. */
  'sessions.list': method({
    grant: 'shell',
    params: noParams,
    result: (v) => {
      const o = object(v, 'result');
      return {
        sessions: array(o, 'sessions', MAX_LISTED, (x) => sessionInfo(x)),
        tmux: names(o, 'tmux'),
        screen: names(o, 'screen'),
      };
    },
  }),
  /** Ends a session: its starter with `shell`, any other device needs `admin` too. */
  'sessions.close': method({
    grant: 'shell',
    params: (v) => ({ id: string(object(v, 'params'), 'id', 64) }),
    result: (v) => ({ closed: string(object(v, 'result'), 'closed', 64) }),
  }),
  /** Names a session (empty clears the name). */
  'sessions.rename': method({
    grant: 'shell',
    params: renameParams,
    result: renameParams,
  }),
  /** The devices paired with this host. */
  'devices.list': method({
    grant: 'admin',
    params: noParams,
    result: (v) => ({ devices: array(object(v, 'result'), 'devices', MAX_LISTED, (x) => deviceInfo(x)) }),
  }),
  /**
   * Unpairs a device and closes its channels at once. Needs `admin`, except
   * for the device asking about itself (a device can always unpair itself).
   */
  'devices.revoke': method({
    grant: null,
    params: (v) => ({ device: deviceId(object(v, 'params'), 'device') }),
    result: (v) => ({ revoked: boolean(object(v, 'result'), 'revoked') }),
  }),
  /** Sets a device's grants; a device that loses one is disconnected, so every channel is checked anew. */
  'devices.grants': method({
    grant: 'admin',
    params: (v) => {
      const o = object(v, 'params');
      return { device: deviceId(o, 'device'), grants: grantList(o, 'grants') };
    },
    result: (v) => ({ device: deviceInfo(object(v, 'result').device) }),
  }),
} as const;

/** The control method map's type. */
export type ControlMethods = typeof CONTROL_METHODS;
/** A control method's name. */
export type ControlMethod = keyof ControlMethods;
/** A control method's params. */
export type ControlParams<K extends ControlMethod> = ParamsOf<ControlMethods, K>;
/** A control method's result. */
export type ControlResult<K extends ControlMethod> = ResultOf<ControlMethods, K>;

/** Largest control request, in bytes of UTF-8. */
export const MAX_CONTROL_REQUEST = 16 * 1024;
/** Largest control reply a device accepts, in bytes of UTF-8. */
export const MAX_CONTROL_REPLY = 1024 * 1024;
