#!/usr/bin/env node
// The `pocketshell` command of a source checkout: checks the Node version first (the
// sources are TypeScript, which Node runs from 22.18 on), then runs the CLI.
import { setFlagsFromString } from 'node:v8';
import { requireNode } from '../../../packaging/npm/node-check.js';

requireNode(
  'pocketshell',
  'in a source checkout, npm start and the npm scripts bring their own Node 24 (npm ci)',
);
// A 1 MiB young generation, as the npm package's launcher sets it (packaging/npm/launcher.js).
// Only for the long-lived processes (the daemon, the session holder): a one-off command such as
// `cp` moving a large file keeps V8's default.
if (['run', 'session-holder'].includes(process.argv[2] === 'daemon' ? process.argv[3] : process.argv[2]))
  setFlagsFromString('--max-semi-space-size=1');
if (process.argv[2] === 'session-holder' && process.argv.length === 3) {
  // The session holder lives as long as its shells: its own small entry point, without the CLI.
  const { runSessionHolder } = await import('../src/holder-main.ts');
  await runSessionHolder(process.env);
} else {
  const { run } = await import('../src/cli.ts');
  const code = await run(process.argv.slice(2), {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
    env: process.env,
  });
  process.exitCode = code;
}
