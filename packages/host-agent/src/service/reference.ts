/**
 * The reference service files that packages install (the .deb's user unit,
 * the plist in packaging/macos): the same generators as `daemon start`, with
 * systemd specifiers (`%h`) instead of one user's paths. A test keeps the
 * checked-in copies in packaging/ equal to these; `node reference.ts --write`
 * rewrites them.
 */
import { writeFileSync } from 'node:fs';
import type { ServiceSpec } from './backend.ts';
import { launchdPlist } from './launchd.ts';
import { systemdUnit } from './systemd.ts';

/** What a packaged install runs: `<binary> daemon run`, its state in `<home>/.pocketshell`. */
function installSpec(binary: string, home: string, hardened: boolean): ServiceSpec {
  const stateDir = `${home}/.pocketshell`;
  return {
    command: [binary, 'daemon', 'run'],
    env: { POCKETSHELL_HOME: stateDir },
    stateDir,
    home,
    logFile: `${stateDir}/daemon.log`,
    hardened,
  };
}

/** The user unit for a system-wide install (`/usr/bin/pocketshell`). */
export function referenceUnit(): string {
  return systemdUnit({ ...installSpec('/usr/bin/pocketshell', '%h', true), specifiers: true });
}

/** The launchd agent for a Homebrew install on Apple silicon, for a user "you". */
export function referencePlist(): string {
  return launchdPlist(installSpec('/opt/homebrew/bin/pocketshell', '/Users/you', false));
}

export const REFERENCE_FILES = {
  'packaging/systemd/pocketshell.service': referenceUnit,
  'packaging/macos/dev.pocketshell.agent.plist': referencePlist,
} as const;

if (import.meta.main && process.argv.includes('--write')) {
  const root = new URL('../../../../', import.meta.url);
  for (const [path, make] of Object.entries(REFERENCE_FILES)) writeFileSync(new URL(path, root), make());
}
