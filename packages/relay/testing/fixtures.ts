/**
 * Small fixtures for relay tests and benchmarks: an envelope nobody can
 * open, a reply's code in one word, and a config file of limits.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { b64u, type Envelope, randomBytes, type ServerMessage, unixNow } from '@pocketshell/protocol';

/**
 * An envelope the relay routes but nobody can open: random `enc` and
 * `ct` (`ctBytes` long), a fresh `mid`, stamped now.
 */
export function junkEnvelope(kind = 'offer', ctBytes = 64): Envelope {
  return {
    kind,
    mid: b64u(randomBytes(16)),
    ts: unixNow(),
    enc: b64u(randomBytes(32)),
    ct: b64u(randomBytes(ctBytes)),
  };
}

/** What a relay reply says in one word: its error code, or its type when it is not an error. */
export function replyCode(m: ServerMessage): string {
  return m.t === 'error' ? m.code : m.t;
}

let configDir: string | undefined;
let configCount = 0;

/** A relay config file holding `limits` (`--config`), in a folder removed when the process exits. */
export function limitsConfig(limits: object): string {
  if (!configDir) {
    const dir = mkdtempSync(join(tmpdir(), 'relay-conf-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    configDir = dir;
  }
  const path = join(configDir, `relay-${++configCount}.json`);
  writeFileSync(path, JSON.stringify({ limits }));
  return path;
}
