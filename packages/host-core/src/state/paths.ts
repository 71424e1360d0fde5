/**
 * Where the host keeps its state: `~/.pocketshell` unless an explicit root
 * is injected or `POCKETSHELL_HOME` names another folder. Every other module
 * takes a `StatePaths` rather than guessing, so tests point the whole host at
 * a temporary folder.
 */
import os from 'node:os';
import path from 'node:path';

/** The files and folders of one host's state. */
export interface StatePaths {
  /** The state folder itself (0700). */
  readonly root: string;
  /** Public half of the host identity and its name. */
  readonly identity: string;
  /** Pinned and revoked devices. */
  readonly devices: string;
  /** Host settings. */
  readonly config: string;
  /** The hash-chained audit log (JSON lines). */
  readonly audit: string;
  /** Folder of the file secret store, used when no keychain answers. */
  readonly secrets: string;
}

/** Options for `statePaths`; `root` wins over `env.POCKETSHELL_HOME`, which wins over `home`. */
export interface StatePathsOptions {
  readonly root?: string;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly home?: string;
}

/** Resolves the state layout. */
export function statePaths(opts: StatePathsOptions = {}): StatePaths {
  const env = opts.env ?? process.env;
  const fromEnv = env.POCKETSHELL_HOME;
  const root = path.resolve(
    opts.root ??
      (fromEnv !== undefined && fromEnv !== ''
        ? fromEnv
        : path.join(opts.home ?? os.homedir(), '.pocketshell')),
  );
  return {
    root,
    identity: path.join(root, 'identity.json'),
    devices: path.join(root, 'devices.json'),
    config: path.join(root, 'config.json'),
    audit: path.join(root, 'audit.jsonl'),
    secrets: path.join(root, 'secrets'),
  };
}
