#!/usr/bin/env node
// The `pocketshell` command: runs the CLI on Node >= 22 (which strips TypeScript types).
import { run } from '../src/cli.ts';

const code = await run(process.argv.slice(2), {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  env: process.env,
});
process.exitCode = code;
