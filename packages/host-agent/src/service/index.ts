/**
 * Running the daemon as a service (systemd --user, launchd, or a detached
 * process with a pid file): the one door to this folder.
 */
export type {
  LogOptions,
  Runner,
  ServiceBackend,
  ServiceKind,
  ServiceSpec,
  ServiceState,
} from './backend.ts';
export { runCommand, SERVICE_KINDS } from './backend.ts';
export {
  type DaemonReport,
  daemonReport,
  formatReport,
  formatStopped,
  liveStatus,
  relayState,
  type Stopped,
  startService,
  stopService,
} from './control.ts';
export { DetachedService } from './detached.ts';
export { LAUNCHD_LABEL, LaunchdService, launchdPlist } from './launchd.ts';
export { daemonAnswers, detectKind, serviceBackend, serviceFiles, serviceSpec } from './manager.ts';
export { isDaemonProcess, PidFile, processAlive } from './pid-file.ts';
export { SystemdService, systemdUnit, UNIT_NAME } from './systemd.ts';
