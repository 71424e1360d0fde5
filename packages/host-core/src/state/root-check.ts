/**
 * The root guard: the agent gives a phone a shell, so running it as root
 * would hand out root shells. It refuses unless the operator allows it
 * explicitly (`--allow-root`).
 */
import { HostError } from '../errors.ts';

/** Options: `allowRoot` lets root through; `uid` is injected by tests (default: this process's). */
export interface RootCheckOptions {
  readonly allowRoot?: boolean;
  readonly uid?: number;
}

/** Throws `running_as_root` when running as uid 0 and root is not allowed. */
export function checkNotRoot(opts: RootCheckOptions = {}): void {
  const uid = opts.uid ?? (typeof process.getuid === 'function' ? process.getuid() : -1);
  if (uid === 0 && opts.allowRoot !== true) {
    throw new HostError(
      'running_as_root',
      'Refusing to run as root: devices would get root shells. Run as a normal user, or pass --allow-root if you really mean it.',
    );
  }
}
