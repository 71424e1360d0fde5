// The Node version check every entry point runs first (the installed launchers and the
// source checkout's bins alike). Plain JavaScript that any Node parses, with no imports:
// it must give one clear line, before anything that needs a newer Node can fail.

/** Node 22.18: TypeScript type stripping on by default, node:sqlite, module.registerHooks. */
export const MIN_NODE = [22, 18];

/**
 * Exits with status 2 and one line naming the Node found, the Node needed and how to get
 * it, when this Node is older than MIN_NODE. `hint` is added for a source checkout.
 */
export function requireNode(command, hint) {
  const [major, minor] = process.versions.node.split('.').map(Number);
  if (major > MIN_NODE[0] || (major === MIN_NODE[0] && minor >= MIN_NODE[1])) return;
  process.stderr.write(
    `${command}: needs Node ${MIN_NODE.join('.')} or newer, found ${process.version} (${process.execPath}); ` +
      `install Node 24 LTS from https://nodejs.org or your package manager (nvm: nvm install 24)` +
      `${hint ? `; ${hint}` : ''}.\n`,
  );
  process.exit(2);
}
