/**
 * The alert center (issue 16, docs/host.md "Alerts"): keeps the rules and
 * the history in the state folder, evaluates the rules against the stats
 * collector, turns terminal attention events into alerts, and hands every
 * alert to its sinks — the devices (sealed, through the relay: `push`),
 * the devices watching the `alerts` channel, and the optional `alerts.exec`
 * hook. Stub: the helper building issue 16's host part fills it in.
 */
import type { AlertPushBody, DeviceId } from '@pocketshell/protocol';

export interface AlertCenterOptions {
  /** Seals an alert to one device and hands it to the relay (`HostAgent.pushAlert`). */
  readonly push?: (device: DeviceId, body: AlertPushBody) => Promise<void>;
}

export class AlertCenter {
  readonly options: AlertCenterOptions;
  constructor(options: AlertCenterOptions) {
    this.options = options;
  }
}
