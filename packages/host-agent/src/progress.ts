/**
 * The progress line of `pocketshell cp`: bytes done of the total, percent,
 * a bar, the speed (over the last few seconds) and the time left, redrawn
 * in place on a terminal (`\r` and erase-line) at most ten times a second.
 * The formatting functions are pure (tested); `ProgressLine` draws them on
 * a stream only when that stream is a TTY.
 */

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'] as const;

/** `1536` → `1.5 KiB`: binary units, one decimal from KiB on. */
export function formatBytes(n: number): string {
  let v = n;
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(1)} ${UNITS[u]}`;
}

/** Seconds as `m:ss`, or `h:mm:ss` from an hour on; `--:--` when unknown. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** What one progress line shows. */
export interface ProgressState {
  /** What is being copied (a file name). */
  label: string;
  done: number;
  total: number;
  /** Bytes per second (0: not known yet). */
  speed: number;
}

/**
 * One progress line at most `width` columns wide:
 * `name  [#####     ]  45%  12.0 MiB / 27.0 MiB  5.2 MiB/s  0:03 left`.
 * The label is cut (with `…`) to leave room for the figures.
 */
export function formatProgress(s: ProgressState, width: number): string {
  const pct = s.total > 0 ? Math.min(100, Math.floor((s.done / s.total) * 100)) : 100;
  const left = s.speed > 0 ? formatDuration((s.total - s.done) / s.speed) : '--:--';
  const figures = `${String(pct).padStart(3)}%  ${formatBytes(s.done)} / ${formatBytes(s.total)}  ${
    s.speed > 0 ? `${formatBytes(s.speed)}/s` : '-- /s'
  }  ${left} left`;
  const room = width - figures.length - 2;
  // A bar of a width that depends on the terminal only, so it does not jump as the figures change.
  const barWidth = width >= 110 ? 30 : width >= 90 ? 20 : width >= 75 ? 10 : 0;
  const bar =
    barWidth > 0 && room - barWidth - 4 >= 8
      ? `[${'#'.repeat(Math.round((pct / 100) * barWidth)).padEnd(barWidth)}]  `
      : '';
  const labelRoom = Math.max(0, room - bar.length);
  const label =
    [...s.label].length <= labelRoom
      ? s.label
      : labelRoom > 1
        ? `${[...s.label].slice(0, labelRoom - 1).join('')}…`
        : '';
  return `${label ? `${label}  ` : ''}${bar}${figures}`.slice(0, Math.max(0, width));
}

/** The speed over a sliding window of samples (bytes per second). */
export class SpeedMeter {
  readonly #windowMs: number;
  readonly #samples: { at: number; done: number }[] = [];

  constructor(windowMs = 5000) {
    this.#windowMs = windowMs;
  }

  /** Records `done` at `at` (ms) and returns the speed over the window. */
  sample(done: number, at: number): number {
    this.#samples.push({ at, done });
    while (this.#samples.length > 2 && at - this.#samples[0]!.at > this.#windowMs) this.#samples.shift();
    const first = this.#samples[0]!;
    const ms = at - first.at;
    return ms > 0 ? ((done - first.done) * 1000) / ms : 0;
  }
}

/** A stream the line is drawn on. */
export interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(text: string): unknown;
}

/** A progress line redrawn in place on a TTY (nothing at all elsewhere). */
export class ProgressLine {
  readonly #stream: ProgressStream;
  readonly #enabled: boolean;
  readonly #meter = new SpeedMeter();
  readonly #now: () => number;
  #last = 0;
  #drawn = false;
  #speed = 0;

  constructor(stream: ProgressStream, enabled: boolean, now: () => number = () => performance.now()) {
    this.#stream = stream;
    this.#enabled = enabled && stream.isTTY === true;
    this.#now = now;
  }

  /** True when the line is drawn (a TTY, not quiet). */
  get enabled(): boolean {
    return this.#enabled;
  }

  /** Updates the line (drawn at most every 100 ms unless `force`). */
  update(label: string, done: number, total: number, force = false): void {
    if (!this.#enabled) return;
    const at = this.#now();
    this.#speed = this.#meter.sample(done, at);
    if (!force && this.#drawn && at - this.#last < 100) return;
    this.#last = at;
    this.#drawn = true;
    const width = Math.max(20, (this.#stream.columns || 80) - 1);
    this.#stream.write(`\r\x1b[2K${formatProgress({ label, done, total, speed: this.#speed }, width)}`);
  }

  /** Erases the line. */
  clear(): void {
    if (this.#enabled && this.#drawn) this.#stream.write('\r\x1b[2K');
    this.#drawn = false;
  }
}
