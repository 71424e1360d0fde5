/**
 * The daemon's local API as a method map (`rpc.ts`), the one contract
 * between `pocketshell` commands and the running daemon: requests are
 * checked by the daemon with these parsers, answers typed for the CLI. The
 * daemon is this same user behind a 0600 socket in a 0700 folder, so its
 * answers are checked for shape (an object) and trusted for their fields;
 * what a command sends is checked field by field.
 */

import {
  type DeviceAgentPolicy,
  type PacingInfo,
  type PinnedDevice,
  parseAgentPolicy,
  parseFilesRoot,
  type SessionTimeouts,
} from '@pocketshell/host-core';
import {
  array,
  boolean,
  DEVICE_ID_RE,
  type DeviceId,
  GRANTS,
  type Grant,
  method,
  noParams,
  object,
  oneOf,
  optional,
  type Parser,
  type SessionInfo,
  string,
} from '@pocketshell/protocol';
import type { SessionLimitsConfig } from './config.ts';

/** An answer from the daemon: an object, its fields trusted (see the header). */
function trusted<T>(what: string): Parser<T> {
  return (value) => object(value, what) as T;
}

/** What `status` answers. */
export interface DaemonStatus {
  id: string;
  name: string;
  version: string;
  pid: number;
  mode: string;
  relay: { url: string; state: string; reason?: string; attempts?: number };
  keystore: { kind: string; reason: string };
  engine: string;
  devices: number;
  connections: { device: DeviceId; conn: string; state: string }[];
  sessions: SessionInfo[];
  sessionLimits: SessionTimeouts;
  /** The session holder keeping the shells across daemon restarts (absent: they live in the daemon). */
  holder?: { pid: number };
  /** The alert center: rules, whether it samples, pushes and hook runs so far. */
  alerts?: {
    rules: number;
    enabled: number;
    evaluating: boolean;
    pushes: { sent: number; failed: number };
    exec?: { ok: number; failed: number; dropped: number };
  };
}

/** What `sessions` answers. */
export interface DaemonSessions {
  sessions: SessionInfo[];
  links: Record<string, PacingInfo[]>;
  tmux: string[];
  screen: string[];
}

/** The local API's methods. */
export const LOCAL_METHODS = {
  /** The running daemon: identity, relay, key store, engine, devices, connections, sessions. */
  status: method({ grant: null, params: noParams, result: trusted<DaemonStatus>('status') }),
  /** Terminal sessions, how each attachment is paced, and tmux/screen sessions. */
  sessions: method({ grant: null, params: noParams, result: trusted<DaemonSessions>('sessions') }),
  /**
   * Runs one pairing. Events before the answer: `url` `{url, expires}`, then
   * `prompt` (the SAS) answered by `confirm` on the same connection.
   */
  pair: method({
    grant: null,
    params: (v): { grants?: Grant[] } => {
      if (v === undefined || v === null) return {};
      const grants = optional(object(v, 'params'), 'grants', (o, k) =>
        array(o, k, GRANTS.length, (g, f) => oneOf({ [f]: g }, f, GRANTS)),
      );
      return grants === undefined ? {} : { grants };
    },
    result: trusted<{ device: PinnedDevice }>('pair'),
  }),
  /** The person's answer to the pairing prompt of this connection. */
  confirm: method({
    grant: null,
    params: (v) => ({ ok: boolean(object(v, 'params'), 'ok') }),
    result: (): null => null,
  }),
  /** Re-reads config.json's session limits and applies them to live sessions. */
  'limits.reload': method({
    grant: null,
    params: noParams,
    result: trusted<{ sessionLimits: SessionLimitsConfig }>('limits'),
  }),
  /** Unpairs a device (closes its connections at once, tells the relay). */
  revoke: method({
    grant: null,
    params: (v) => ({ device: string(object(v, 'params'), 'device', 28, DEVICE_ID_RE) as DeviceId }),
    result: (v) => ({ revoked: boolean(object(v, 'result'), 'revoked') }),
  }),
  /** Sets a device's own files root (`null`: back to the home folder); audited `files.root`. */
  'devices.root': method({
    grant: null,
    params: (v) => {
      const o = object(v, 'params');
      return {
        device: string(o, 'device', 28, DEVICE_ID_RE) as DeviceId,
        root: o.root === null ? null : parseFilesRoot(o, 'root'),
      };
    },
    result: trusted<{ device: PinnedDevice }>('devices.root'),
  }),
  /** Sets a device's agent tier and workspace roots (`null`: back to the defaults); audited `agent.tier`. */
  'devices.agent': method({
    grant: null,
    params: (v): { device: DeviceId; agent: DeviceAgentPolicy | null } => {
      const o = object(v, 'params');
      return {
        device: string(o, 'device', 28, DEVICE_ID_RE) as DeviceId,
        agent: o.agent === null ? null : parseAgentPolicy(o.agent),
      };
    },
    result: trusted<{ device: PinnedDevice }>('devices.agent'),
  }),
  /** Raises a test alert for one paired device, or for each (`pocketshell alerts test`). */
  'alerts.test': method({
    grant: null,
    params: (v): { device?: DeviceId } => {
      if (v === undefined || v === null) return {};
      const device = optional(object(v, 'params'), 'device', (o, k) => string(o, k, 28, DEVICE_ID_RE));
      return device === undefined ? {} : { device: device as DeviceId };
    },
    result: trusted<{ alerts: { device: DeviceId; id: string }[] }>('alerts.test'),
  }),
} as const;

/** The local API's map type. */
export type LocalMethods = typeof LOCAL_METHODS;
