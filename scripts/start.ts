/**
 * `npm start`: a local relay plus this machine's agent, printing the pairing
 * QR code and URL. Until the host agent lands it says so plainly.
 */
import { existsSync } from 'node:fs';

const agent = new URL('../packages/host-agent/bin/pocketshell.js', import.meta.url);
if (!existsSync(agent)) {
  console.error('PocketShell: the host agent (`pocketshell up`) has not landed yet; see README.md.');
  process.exit(1);
}
await import(agent.href);
