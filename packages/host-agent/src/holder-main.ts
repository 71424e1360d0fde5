/**
 * The session holder process (docs/host.md "Session holder"): what
 * `pocketshell session-holder` runs, started by the daemon when none answers
 * on `<state>/holder.sock`. It owns the PTYs — the login shell and
 * environment as the daemon would give them (`passEnv` from config.json) —
 * and outlives daemon restarts; it ends on SIGTERM (closing its sessions),
 * when asked (`daemon stop`), when idle, or when its socket file is
 * removed. Returns at once when another holder already answers.
 *
 * Its own entry point (the launcher imports it without the CLI): a holder
 * lives as long as its shells, so it loads only what holding them needs —
 * not commander, the daemon, WebRTC, stats or files.
 */
import { readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ensurePrivateDir,
  HOLDER_IDLE_MS,
  holderSocket,
  nodePtyBackend,
  privateUmask,
  SessionHolder,
  SessionManager,
  statePaths,
} from '@pocketshell/host-core/holder';
import { readConfig, sessionTimeoutsOf } from './config.ts';
import { stderrLog } from './log.ts';

/** Runs the session holder of the state folder `env` names until it ends. */
export async function runSessionHolder(env: Readonly<Record<string, string | undefined>>): Promise<void> {
  privateUmask();
  const p = statePaths({ env });
  ensurePrivateDir(p.root);
  const log = stderrLog(env);
  const config = readConfig(p);
  let holder: SessionHolder | undefined;
  const manager = new SessionManager({
    backend: nodePtyBackend(),
    env,
    ...(config.passEnv ? { passEnv: config.passEnv } : {}),
    timeouts: sessionTimeoutsOf(config),
    onAttention: (event) => holder?.attention(event),
  });
  const idle = Number(env.POCKETSHELL_HOLDER_IDLE_MS);
  let done!: () => void;
  const ended = new Promise<void>((r) => {
    done = r;
  });
  holder = await SessionHolder.listen({
    socketPath: holderSocket(p),
    manager,
    idleMs: Number.isSafeInteger(idle) && idle > 0 ? idle : HOLDER_IDLE_MS,
    onEnd: () => done(),
    log,
  });
  if (!holder) {
    log('a session holder already runs on this state folder');
    return;
  }
  log(`session holder ${process.pid} listening on ${holderSocket(p)}`);
  // The first session's one-off costs, now rather than on its way (a failure shows again there).
  manager.prewarm().catch(() => {});
  // For people and tests: which process holds the shells (written atomically, removed at the end).
  const pidFile = join(p.root, 'holder.pid');
  writeFileSync(`${pidFile}.tmp`, `${process.pid}\n`, { mode: 0o600 });
  renameSync(`${pidFile}.tmp`, pidFile);
  const h = holder;
  process.on('SIGTERM', () => void h.end('SIGTERM'));
  // Caught (not ignored), so the shells start with them at their defaults; no terminal to hang up.
  for (const s of ['SIGINT', 'SIGQUIT', 'SIGHUP'] as const) process.on(s, () => {});
  await ended;
  try {
    if (readFileSync(pidFile, 'utf8').trim() === String(process.pid)) unlinkSync(pidFile);
  } catch {}
  // Whatever handle is left (a PTY's last read) must not keep an ended holder around.
  setTimeout(() => process.exit(0), 500);
}
