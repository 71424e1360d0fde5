#!/usr/bin/env node
// pocketshell-relay: the self-hostable PocketShell relay. Needs Node >= 22.18 (type stripping).
import { main } from '../src/cli.ts';

process.exitCode = await main(process.argv.slice(2));
