/**
 * The PTY backend seam: `PtyBackend.spawn` starts a program on a fresh
 * pseudo-terminal and returns a handle to feed it, read it, resize it, pause
 * reading, and signal it. Sessions only ever see this interface, so tests can
 * wrap the real backend (to count spawns, say) and a future backend (a
 * container, ssh) can slot in. `nodePtyBackend` is the real one, on node-pty,
 * reading raw bytes (no decoding) so output offsets count bytes.
 *
 * Signals: node-pty's forkpty child resets every signal disposition to the
 * default and restores the thread's (empty) signal mask before exec, and Node
 * itself resets inherited dispositions at startup (only SIGPIPE and SIGXFSZ
 * stay ignored, and the child resets those too). So a daemon started from a
 * background job, which inherits SIGINT/SIGQUIT as ignored, still gives its
 * shells a working Ctrl-C; `session-signals.test.ts` proves it end to end.
 */
import { createRequire } from 'node:module';
import { withUserUmask } from '../state/umask.ts';

/** How to start a program on a PTY. */
export interface PtySpawnOptions {
  readonly cols: number;
  readonly rows: number;
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
}

/** Why a PTY program ended: its exit status, or the signal that killed it (0 when none). */
export interface PtyExit {
  readonly exitCode: number;
  readonly signal: number;
}

/** A running program on a PTY. Callbacks may be registered once each. */
export interface PtyHandle {
  readonly pid: number;
  onData(listener: (data: Uint8Array) => void): void;
  onExit(listener: (exit: PtyExit) => void): void;
  write(data: Uint8Array | string): void;
  resize(cols: number, rows: number): void;
  /** Stops reading the PTY: the program blocks once the kernel buffer fills. */
  pause(): void;
  resume(): void;
  kill(signal?: NodeJS.Signals): void;
}

/** Starts programs on PTYs. */
export interface PtyBackend {
  spawn(file: string, args: readonly string[], opts: PtySpawnOptions): PtyHandle;
}

interface NodePtyTerminal {
  readonly pid: number;
  onData(listener: (data: string | Buffer) => void): unknown;
  onExit(listener: (e: { exitCode: number; signal?: number }) => void): unknown;
  write(data: string | Buffer): void;
  resize(cols: number, rows: number): void;
  pause(): void;
  resume(): void;
  kill(signal?: string): void;
}

interface NodePtyModule {
  spawn(
    file: string,
    args: string[],
    opts: {
      name: string;
      cols: number;
      rows: number;
      cwd: string;
      env: Record<string, string>;
      encoding: null;
    },
  ): NodePtyTerminal;
}

/** The real backend on node-pty (loaded when first called, not on import). */
export function nodePtyBackend(): PtyBackend {
  const require = createRequire(import.meta.url);
  const pty = require('node-pty') as NodePtyModule;
  return {
    spawn(file, args, opts) {
      // forked under the user's umask, not the daemon's 077
      const term = withUserUmask(() =>
        pty.spawn(file, [...args], {
          name: opts.env.TERM ?? 'xterm-256color',
          cols: opts.cols,
          rows: opts.rows,
          cwd: opts.cwd,
          env: { ...opts.env },
          encoding: null,
        }),
      );
      return {
        pid: term.pid,
        onData: (listener) => {
          term.onData((d) => listener(typeof d === 'string' ? Buffer.from(d, 'utf8') : d));
        },
        onExit: (listener) => {
          term.onExit((e) => listener({ exitCode: e.exitCode, signal: e.signal ?? 0 }));
        },
        write: (data) => term.write(typeof data === 'string' ? data : Buffer.from(data)),
        resize: (cols, rows) => term.resize(cols, rows),
        pause: () => term.pause(),
        resume: () => term.resume(),
        kill: (signal) => term.kill(signal),
      };
    },
  };
}
