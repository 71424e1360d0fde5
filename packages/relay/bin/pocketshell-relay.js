#!/usr/bin/env node
// pocketshell-relay of a source checkout: checks the Node version first (the sources are
// TypeScript, which Node runs from 22.18 on; the state is in node:sqlite), then runs it.
import { requireNode } from '../../../packaging/npm/node-check.js';

requireNode('pocketshell-relay', 'in a source checkout, the npm scripts bring their own Node 24 (npm ci)');
const { main } = await import('../src/cli.ts');
process.exitCode = await main(process.argv.slice(2));
