#!/usr/bin/env node
// The `pocketshell-relay` command of the npm package: checks the Node version (the relay
// stores its state in node:sqlite) and runs the bundled relay. Plain JavaScript on purpose.
const MIN = [22, 18];
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < MIN[0] || (major === MIN[0] && minor < MIN[1])) {
  process.stderr.write(
    `pocketshell-relay needs Node ${MIN.join('.')} or newer; this is ${process.version}.\n`,
  );
  process.exit(1);
}
await import('../dist/lib/relay.mjs');
