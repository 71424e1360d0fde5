/**
 * The Files screen's transfers list: uploads from the phone and downloads
 * to it, each a row with a bar, "3.4 MiB of 12 MiB · 2.1 MiB/s · 4 s
 * left", and cancel (✕), resume (↻, a paused upload) or clear (✓).
 *
 * Uploads run one at a time, in order. A lost connection (or no connection
 * to be had) pauses an upload; it is tried again after 1, 2, 4, 8, 15 s, at
 * once when the host comes back online (`resumePaused`), or when ↻ is
 * tapped — and goes on from what the host already holds (`FilesChannel.
 * upload` checks the host's prefix by hash). A cancelled upload's
 * temporary file is removed on the host (`files.upload.cancel`; for a
 * paused one, after reopening it). A finished download is handed to the
 * browser as a file: an `<a download>` on a Blob URL, revoked a minute
 * later. Rows redraw at most every 100 ms while bytes flow.
 */
import type { FileEntry } from '@pocketshell/protocol';
import type { FilesChannel } from '../files-channel.ts';
import { errorCode, fileError, mimeType, RateMeter, transferLine } from '../files-format.ts';
import { bytes } from '../stats-format.ts';
import { fill, h } from '../ui.ts';

/** Waits between attempts to resume an upload after a lost connection. */
const RESUME_BACKOFF_MS = [1000, 2000, 4000, 8000, 15_000];
/** Least time between two redraws of a running row. */
const REDRAW_MS = 100;

type State = 'queued' | 'running' | 'paused' | 'done' | 'failed' | 'cancelled';

/** One upload or download. */
interface Transfer {
  readonly kind: 'upload' | 'download';
  readonly name: string;
  /** Root-relative path of the file on the host. */
  readonly path: string;
  readonly file?: File;
  readonly overwrite: boolean;
  state: State;
  done: number;
  total: number;
  readonly meter: RateMeter;
  abort?: AbortController;
  attempts: number;
  readonly el: HTMLElement;
  message?: string | undefined;
  redraw?: ReturnType<typeof setTimeout> | undefined;
}

export interface TransferListOptions {
  /** The list's element (shown while it holds a row). */
  readonly el: HTMLElement;
  /** Where a download's `<a download>` is put for its click. */
  readonly anchors: HTMLElement;
  /** The channel transfers run on (opened again after a lost connection). */
  channel(): Promise<FilesChannel>;
  /** Whether the host is online (`false`: a paused upload waits for `resumePaused`). */
  online(): boolean | undefined;
  /** An upload finished: the file is at `path` now. */
  uploaded(path: string): void;
}

export class TransferList {
  readonly #o: TransferListOptions;
  readonly #items: Transfer[] = [];
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  #pumping = false;
  #gone = false;

  constructor(o: TransferListOptions) {
    this.#o = o;
  }

  /** Queues `file` for `path` (the host refuses `exists` unless `overwrite`). */
  upload(file: File, path: string, overwrite: boolean): void {
    this.#add({ kind: 'upload', name: file.name, path, file, overwrite, state: 'queued', total: file.size });
    void this.#pump();
  }

  /** Downloads `path` and hands it to the browser as a file. */
  async download(path: string, entry: FileEntry): Promise<void> {
    const t = this.#add({
      kind: 'download',
      name: entry.name,
      path,
      overwrite: false,
      state: 'running',
      total: entry.size,
    });
    const abort = new AbortController();
    t.abort = abort;
    try {
      const chan = await this.#o.channel();
      const r = await chan.download(path, {
        type: mimeType(entry.name),
        signal: abort.signal,
        expectedSize: entry.size,
        onProgress: (done, total) => this.#progress(t, done, total),
      });
      t.state = 'done';
      t.done = r.size;
      t.total = r.size;
      t.el.dataset.sha256 = r.sha256;
      const url = URL.createObjectURL(r.blob);
      const a = h('a', {
        href: url,
        download: entry.name,
        class: 'visually-hidden',
        'data-testid': 'download-link',
      });
      this.#o.anchors.append(a);
      a.click();
      this.#later(() => {
        URL.revokeObjectURL(url);
        a.remove();
      }, 60_000);
    } catch (error) {
      const code = errorCode(error);
      t.state = code === 'cancelled' || abort.signal.aborted ? 'cancelled' : 'failed';
      t.message = fileError(error);
      t.el.dataset.code = code;
    }
    this.#draw(t);
  }

  /** The host is back: every paused upload is tried again now. */
  resumePaused(): void {
    let any = false;
    for (const t of this.#items)
      if (t.kind === 'upload' && t.state === 'paused') {
        t.state = 'queued';
        this.#draw(t);
        any = true;
      }
    if (any) void this.#pump();
  }

  /** The screen goes away: running transfers are cancelled, timers stopped. */
  dispose(): void {
    this.#gone = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    for (const t of this.#items) {
      clearTimeout(t.redraw);
      t.abort?.abort();
    }
  }

  #later(run: () => void, ms: number): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      run();
    }, ms);
    this.#timers.add(timer);
  }

  #add(t: Omit<Transfer, 'el' | 'meter' | 'attempts' | 'done'>): Transfer {
    const el = h('li', { class: 'transfer', 'data-kind': t.kind, 'data-name': t.name });
    const full: Transfer = { ...t, el, meter: new RateMeter(), attempts: 0, done: 0 };
    this.#items.push(full);
    this.#o.el.append(el);
    this.#o.el.hidden = false;
    this.#draw(full);
    return full;
  }

  #progress(t: Transfer, done: number, total: number): void {
    t.done = done;
    t.total = total;
    t.meter.add(done);
    if (t.redraw !== undefined) return;
    t.redraw = setTimeout(() => {
      t.redraw = undefined;
      if (t.state === 'running') this.#draw(t);
    }, REDRAW_MS);
  }

  #clear(t: Transfer): void {
    t.el.remove();
    this.#items.splice(this.#items.indexOf(t), 1);
    this.#o.el.hidden = this.#items.length === 0;
  }

  #cancel(t: Transfer): void {
    if (t.state === 'queued' || t.state === 'paused') {
      t.state = 'cancelled';
      this.#draw(t);
      if (t.kind === 'upload') void this.#cancelOnHost(t);
      return;
    }
    t.abort?.abort();
  }

  /** A paused upload's temporary file is the host's to remove: reopened, then cancelled. */
  async #cancelOnHost(t: Transfer): Promise<void> {
    if (t.done === 0 || !t.file) return;
    try {
      const chan = await this.#o.channel();
      const b = await chan.call('files.upload.begin', {
        path: t.path,
        size: t.file.size,
        overwrite: t.overwrite,
        restart: false,
        mode: undefined,
      });
      await chan.call('files.upload.cancel', { handle: b.handle });
    } catch {
      // Unreachable now: the host removes abandoned temporary files itself (after 24 h).
    }
  }

  #resume(t: Transfer): void {
    if (t.state !== 'paused') return;
    t.state = 'queued';
    t.attempts = 0;
    this.#draw(t);
    void this.#pump();
  }

  /** Runs the queued uploads one at a time. */
  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    const next = () => this.#items.find((x) => x.kind === 'upload' && x.state === 'queued');
    try {
      for (let t = next(); t && !this.#gone; t = next()) await this.#runUpload(t);
    } finally {
      this.#pumping = false;
    }
  }

  #pause(t: Transfer, error: unknown): void {
    t.state = 'paused';
    t.message = fileError(error);
    const wait = RESUME_BACKOFF_MS[Math.min(t.attempts++, RESUME_BACKOFF_MS.length - 1)] ?? 15_000;
    this.#later(() => {
      if (this.#gone || t.state !== 'paused') return;
      // Offline: `resumePaused` goes on when the host is back.
      if (this.#o.online() === false) return;
      t.state = 'queued';
      this.#draw(t);
      void this.#pump();
    }, wait);
  }

  async #runUpload(t: Transfer): Promise<void> {
    const file = t.file;
    if (!file) return;
    t.state = 'running';
    const abort = new AbortController();
    t.abort = abort;
    t.meter.reset();
    this.#draw(t);
    let chan: FilesChannel;
    try {
      chan = await this.#o.channel();
    } catch (error) {
      // No connection to be had yet (the host restarting, the network away): later.
      if (this.#gone) return;
      this.#pause(t, error);
      this.#draw(t);
      return;
    }
    try {
      const r = await chan.upload(file, t.path, {
        overwrite: t.overwrite,
        signal: abort.signal,
        onProgress: (done, total) => this.#progress(t, done, total),
      });
      t.state = 'done';
      t.done = r.size;
      t.message = r.resumedFrom > 0 ? `resumed from ${bytes(r.resumedFrom)}` : undefined;
      t.el.dataset.sha256 = r.sha256;
      this.#o.uploaded(r.path);
    } catch (error) {
      const code = errorCode(error);
      if (code === 'cancelled' || abort.signal.aborted) t.state = 'cancelled';
      else if (code === 'unavailable' || code === 'timeout') {
        // The connection went: the host keeps what it has; go on from there later.
        this.#pause(t, error);
      } else {
        t.state = 'failed';
        t.message = fileError(error);
        t.el.dataset.code = code;
      }
    }
    this.#draw(t);
  }

  #line(t: Transfer): string {
    switch (t.state) {
      case 'running':
        return transferLine(t.done, t.total, t.meter.rate());
      case 'queued':
        return `Waiting · ${bytes(t.total)}`;
      case 'paused':
        return `Paused at ${bytes(t.done)} of ${bytes(t.total)}: ${t.message ?? 'connection lost'}`;
      case 'done':
        return `${t.kind === 'upload' ? 'Uploaded' : 'Downloaded'} · ${bytes(t.total)}${t.message ? ` · ${t.message}` : ''}`;
      case 'cancelled':
        return 'Cancelled';
      default:
        return t.message ?? 'Failed';
    }
  }

  #draw(t: Transfer): void {
    clearTimeout(t.redraw);
    t.redraw = undefined;
    const pct = t.total > 0 ? Math.min(100, (t.done / t.total) * 100) : t.state === 'done' ? 100 : 0;
    const active = t.state === 'running' || t.state === 'queued' || t.state === 'paused';
    const failed = t.state === 'failed';
    const fillEl = h('div', { class: `meter-fill${failed ? ' failed' : ''}` });
    fillEl.style.width = `${pct.toFixed(1)}%`;
    t.el.dataset.state = t.state;
    t.el.dataset.done = String(t.done);
    const button = (label: string, action: string, text: string, run: () => void, danger = false) =>
      h(
        'button',
        {
          class: `icon-button${danger ? ' danger' : ''}`,
          type: 'button',
          'aria-label': `${label} ${t.name}`,
          'data-action': action,
          onclick: run,
        },
        text,
      );
    fill(
      t.el,
      h(
        'div',
        { class: 'transfer-main' },
        h(
          'div',
          { class: 'transfer-head' },
          h('span', { class: 'badge' }, t.kind === 'upload' ? '↑' : '↓'),
          h('span', { class: 'row-title' }, t.name),
        ),
        h(
          'div',
          {
            class: 'meter',
            role: 'progressbar',
            'aria-valuemin': 0,
            'aria-valuemax': 100,
            'aria-valuenow': Math.round(pct),
          },
          fillEl,
        ),
        h(
          'span',
          { class: `row-sub wrap${failed ? ' error' : ''}`, 'data-testid': 'transfer-line' },
          this.#line(t),
        ),
      ),
      t.state === 'paused' && t.kind === 'upload'
        ? button('Resume', 'resume', '↻', () => this.#resume(t))
        : null,
      active
        ? button('Cancel', 'cancel', '✕', () => this.#cancel(t), true)
        : button('Clear', 'clear', '✓', () => this.#clear(t)),
    );
  }
}
