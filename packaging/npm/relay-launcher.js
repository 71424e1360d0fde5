#!/usr/bin/env node
// The `pocketshell-relay` command of the npm package: checks the Node version (the relay
// stores its state in node:sqlite) and runs the bundled relay. Plain JavaScript on purpose.
import { requireNode } from './node-check.js';

requireNode('pocketshell-relay');
await import('../dist/lib/relay.mjs');
