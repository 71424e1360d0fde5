/**
 * The `alerts.exec` hook (docs/host.md "Alerts", docs/security.md
 * "Alerts"): a command from the daemon's config run for each alert the
 * host raises — argv as given (no shell), the alert as JSON on its stdin,
 * the daemon's environment without its `POCKETSHELL_*` variables, stdout and stderr discarded, killed after `timeoutMs` (default 10 s).
 * One runs at a time; at most `maxQueue` wait (more are dropped and
 * counted). A failure (cannot start, non-zero exit, killed) is reported to
 * `onFailure` (the center audits it); nothing here throws.
 */
import { spawn } from 'node:child_process';
import type { Alert } from '@pocketshell/protocol';

export interface ExecHookOptions {
  /** The command and its arguments. */
  readonly argv: readonly string[];
  readonly timeoutMs?: number;
  readonly maxQueue?: number;
  /** Hears a failed run: `why` is `spawn`, `exit`, `timeout` or `dropped`. */
  readonly onFailure?: (alert: Alert, why: string, detail: string) => void;
}

export const EXEC_TIMEOUT_MS = 10_000;
export const EXEC_MAX_QUEUE = 32;

export class ExecHook {
  readonly #o: ExecHookOptions;
  readonly #queue: Alert[] = [];
  #running: Promise<void> | undefined;
  /** Runs finished with exit 0 / failed / dropped (for tests and `status`). */
  readonly counts = { ok: 0, failed: 0, dropped: 0 };

  constructor(o: ExecHookOptions) {
    if (o.argv.length === 0) throw new TypeError('alerts.exec: empty argv');
    this.#o = o;
  }

  /** Queues one run for `alert`. */
  run(alert: Alert): void {
    if (this.#queue.length >= (this.#o.maxQueue ?? EXEC_MAX_QUEUE)) {
      this.counts.dropped++;
      this.#o.onFailure?.(alert, 'dropped', 'queue full');
      return;
    }
    this.#queue.push(alert);
    this.#running ??= this.#drain().finally(() => {
      this.#running = undefined;
    });
  }

  /** Settles when the queue is empty. */
  async idle(): Promise<void> {
    while (this.#running) await this.#running;
  }

  async #drain(): Promise<void> {
    for (let a = this.#queue.shift(); a; a = this.#queue.shift()) {
      const failure = await this.#once(a);
      if (failure) {
        this.counts.failed++;
        this.#o.onFailure?.(a, failure[0], failure[1]);
      } else this.counts.ok++;
    }
  }

  #once(alert: Alert): Promise<[string, string] | undefined> {
    const [cmd, ...args] = this.#o.argv as [string, ...string[]];
    return new Promise((resolve) => {
      let done = false;
      const finish = (v: [string, string] | undefined) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        resolve(v);
      };
      // The daemon's environment without its own POCKETSHELL_* settings (as sessions get it).
      const env = Object.fromEntries(
        Object.entries(process.env).filter(([k]) => !k.startsWith('POCKETSHELL_')),
      );
      const child = spawn(cmd, args, { stdio: ['pipe', 'ignore', 'ignore'], shell: false, env });
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        finish(['timeout', `killed after ${this.#o.timeoutMs ?? EXEC_TIMEOUT_MS} ms`]);
      }, this.#o.timeoutMs ?? EXEC_TIMEOUT_MS);
      child.on('error', (e: NodeJS.ErrnoException) => finish(['spawn', e.code ?? 'error']));
      child.on('exit', (code, signal) =>
        finish(code === 0 ? undefined : ['exit', signal ? `signal ${signal}` : `exit ${code}`]),
      );
      child.stdin.on('error', () => {}); // a hook that does not read its stdin
      child.stdin.end(`${JSON.stringify(alert)}\n`);
    });
  }
}
