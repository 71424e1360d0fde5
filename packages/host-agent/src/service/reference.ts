/**
 * The reference service files that packages install (the .deb's user unit,
 * the plist in packaging/macos): the same generators as `daemon start`, with
 * systemd specifiers (`%h`) instead of one user's paths. A test keeps the
 * checked-in copies in packaging/ equal to these; `node reference.ts --write`
 * rewrites them.
 */
import { writeFileSync } from 'node:fs';
import { launchdPlist } from './launchd.ts';
import { systemdUnit } from './systemd.ts';

/** The user unit for a system-wide install (`/usr/bin/pocketshell`). */
export function referenceUnit(): string {
  return systemdUnit({
    command: ['/usr/bin/pocketshell', 'daemon', 'run'],
    env: { POCKETSHELL_HOME: '%h/.pocketshell' },
    stateDir: '%h/.pocketshell',
    home: '%h',
    logFile: '%h/.pocketshell/daemon.log',
    hardened: true,
    specifiers: true,
  });
}

/** The launchd agent for a Homebrew install on Apple silicon, for a user "you". */
export function referencePlist(): string {
  return launchdPlist({
    command: ['/opt/homebrew/bin/pocketshell', 'daemon', 'run'],
    env: { POCKETSHELL_HOME: '/Users/you/.pocketshell' },
    stateDir: '/Users/you/.pocketshell',
    home: '/Users/you',
    logFile: '/Users/you/.pocketshell/daemon.log',
    hardened: false,
  });
}

export const REFERENCE_FILES = {
  'packaging/systemd/pocketshell.service': referenceUnit,
  'packaging/macos/dev.pocketshell.agent.plist': referencePlist,
} as const;

if (import.meta.main && process.argv.includes('--write')) {
  const root = new URL('../../../../', import.meta.url);
  for (const [path, make] of Object.entries(REFERENCE_FILES)) writeFileSync(new URL(path, root), make());
}
