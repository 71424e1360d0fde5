/** `@pocketshell/host-agent`: the `pocketshell` CLI (bin/pocketshell.js) and its pieces. */
export { program, run } from './cli.ts';
export { type RunningDaemon, startDaemon } from './daemon.ts';
export { LocalClient } from './local-api.ts';
export { DAEMON_NODE_FLAGS } from './service/manager.ts';
export { up } from './up.ts';
