/**
 * Test support for PTY sessions (the `src/pty/*.test.ts` files, and others
 * through `@pocketshell/host-core/testing`): a frame recorder standing in
 * for a transport, a spawn-counting wrapper around a real backend, and a
 * plain `/bin/sh` command with a fixed prompt so tests do not depend on the
 * user's shell start-up files.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type HostControl, parseHostFrame } from '@pocketshell/protocol';
import type { PtyBackend } from '../src/pty/backend.ts';

/** Records what a transport would receive, split into the attach header, snapshot and live bytes. */
export class FrameRecorder {
  readonly controls: HostControl[] = [];
  /** The snapshot payloads, one per `attached` (resync adds more). */
  readonly snapshots: Uint8Array[] = [];
  /** Live output after the latest snapshot. */
  live: Buffer = Buffer.alloc(0);
  /** All live output ever received (across resyncs). */
  allLive: Buffer = Buffer.alloc(0);
  frames = 0;
  /** Bytes of all frames received. */
  bytes = 0;
  /** The output offset a device would acknowledge now (snapshots count once complete). */
  offset = 0;
  #attachedAt = 0;
  /** Snapshot bytes still to come after the latest `attached`. */
  #snapshotLeft = 0;
  #snapshotParts: Uint8Array[] = [];
  #waiters: Array<() => void> = [];

  readonly send = (frame: Uint8Array): void => {
    this.frames += 1;
    this.bytes += frame.length;
    const f = parseHostFrame(frame);
    if (f.type === 'control') {
      this.controls.push(f.control);
      if (f.control.t === 'attached') {
        this.#snapshotLeft = f.control.snapshot;
        this.#snapshotParts = [];
        this.#attachedAt = f.control.offset;
        this.live = Buffer.alloc(0);
        if (this.#snapshotLeft === 0) {
          this.snapshots.push(new Uint8Array(0));
          this.offset = this.#attachedAt;
        }
      }
    } else if (this.#snapshotLeft > 0) {
      if (f.data.length > this.#snapshotLeft) throw new Error('snapshot frames overrun the announced length');
      this.#snapshotParts.push(f.data.slice());
      this.#snapshotLeft -= f.data.length;
      if (this.#snapshotLeft === 0) {
        this.snapshots.push(Buffer.concat(this.#snapshotParts));
        this.offset = this.#attachedAt;
      }
    } else {
      this.offset += f.data.length;
      this.live = Buffer.concat([this.live, f.data]);
      this.allLive = Buffer.concat([this.allLive, f.data]);
    }
    // Checked once the code that sent this frame has finished (flow control decides after sending).
    if (this.#waiters.length > 0)
      setImmediate(() => {
        for (const w of this.#waiters.splice(0)) w();
      });
  };

  /** Live output as text. */
  text(): string {
    return this.live.toString('utf8');
  }

  /** Resolves when `check()` holds, re-checking on every frame; rejects after `ms`. */
  until(check: () => boolean, what: string, ms = 20_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(`timed out waiting for ${what}; live: ${JSON.stringify(this.text().slice(-300))}`),
          ),
        ms,
      );
      const test = () => {
        if (check()) {
          clearTimeout(timer);
          resolve();
        } else this.#waiters.push(test);
      };
      test();
    });
  }

  /** Resolves when the live text matches `re`. */
  waitFor(re: RegExp, ms?: number): Promise<void> {
    return this.until(() => re.test(this.text()), String(re), ms);
  }
}

/** Wraps a backend and counts its spawns. */
export function countingBackend(inner: PtyBackend): PtyBackend & { spawns: number; pids: number[] } {
  const spy = {
    spawns: 0,
    pids: [] as number[],
    spawn: ((file, args, opts) => {
      spy.spawns += 1;
      const h = inner.spawn(file, args, opts);
      spy.pids.push(h.pid);
      return h;
    }) as PtyBackend['spawn'],
  };
  return spy;
}

/** A temp home folder and an environment for a predictable `/bin/sh`. */
export function testShellEnv(): { home: string; env: Record<string, string>; cleanup: () => void } {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'ps-pty-'));
  return {
    home,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: home,
      PS1: 'PS$ ',
      SHELL: '/bin/sh',
      LANG: 'C.UTF-8',
    },
    cleanup: () => fs.rmSync(home, { recursive: true, force: true }),
  };
}

/** The test shell: plain interactive `/bin/sh`, no start-up files. */
export const TEST_SHELL = { file: '/bin/sh', args: [] as string[] };

/** True while a process with `pid` exists and is not a zombie. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}
