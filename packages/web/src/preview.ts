/**
 * A file's preview, full screen over the Files screen (a modal `<dialog>`:
 * back or Esc closes it): text — the first 256 KiB read with `files.read`,
 * coloured by `highlight.ts` and built as text nodes, never markup; images
 * — the file downloaded (hash checked) into a Blob URL shown in an `<img>`;
 * PDFs — the same into an `<iframe>` (the browser's own viewer), with a
 * link to open it in a tab. Anything else, or a file too large to preview,
 * offers the download. Blob URLs are revoked when the preview closes.
 */
import type { FileEntry } from '@pocketshell/protocol';
import type { FilesChannel } from './files-channel.ts';
import { fileError, looksLikeText, mimeType, type PreviewKind, previewKind } from './files-format.ts';
import { highlight, languageOf } from './highlight.ts';
import { bytes } from './stats-format.ts';
import { h } from './ui.ts';

/** Bytes of a text file shown. */
export const TEXT_PREVIEW_BYTES = 256 * 1024;
/** Largest image previewed (downloaded whole). */
export const IMAGE_PREVIEW_MAX = 32 * 1024 * 1024;
/** Largest PDF previewed. */
export const PDF_PREVIEW_MAX = 64 * 1024 * 1024;

export interface PreviewOptions {
  path: string;
  entry: FileEntry;
  /** A channel for the preview's bytes (opened or reused by the screen). */
  channel(): Promise<FilesChannel>;
  /** Downloads the file to the phone. */
  download(): void;
}

/** Opens the preview; resolves when it is closed. */
export function openPreview(o: PreviewOptions): Promise<void> {
  const { entry } = o;
  const abort = new AbortController();
  const urls: string[] = [];
  const kind: PreviewKind = previewKind(entry.name);
  const body = h('div', { class: 'preview-body', 'data-testid': 'preview-body', 'data-kind': kind });
  const status = h('p', { class: 'muted preview-status', 'data-testid': 'preview-status' }, 'Loading…');
  const dialog = h(
    'dialog',
    { class: 'preview', 'data-testid': 'preview', 'aria-label': entry.name },
    h(
      'header',
      { class: 'bar' },
      h(
        'button',
        {
          class: 'icon-button',
          type: 'button',
          'aria-label': 'Close preview',
          'data-testid': 'preview-close',
          onclick: () => dialog.close(),
        },
        '‹',
      ),
      h(
        'div',
        { class: 'preview-title' },
        h('h1', {}, entry.name),
        h('span', { class: 'row-sub' }, bytes(entry.size)),
      ),
      h(
        'button',
        {
          class: 'icon-button',
          type: 'button',
          'aria-label': 'Download to this phone',
          'data-testid': 'preview-download',
          onclick: () => o.download(),
        },
        '⤓',
      ),
    ),
    status,
    body,
  );
  document.body.append(dialog);
  const closed = new Promise<void>((resolve) => {
    dialog.addEventListener('close', () => {
      abort.abort();
      for (const u of urls) URL.revokeObjectURL(u);
      dialog.remove();
      resolve();
    });
  });
  dialog.showModal();

  const noPreview = (why: string) => {
    status.textContent = why;
    body.dataset.kind = 'other';
    body.append(
      h(
        'button',
        {
          class: 'button primary',
          type: 'button',
          'data-testid': 'preview-get',
          onclick: () => o.download(),
        },
        'Download',
      ),
    );
  };

  const showText = async () => {
    const chan = await o.channel();
    const { bytes: head, size } = await chan.read(o.path, 0, TEXT_PREVIEW_BYTES, abort.signal);
    if (!looksLikeText(head)) {
      noPreview('This file is not text; there is no preview for it.');
      return;
    }
    const text = new TextDecoder('utf-8').decode(head);
    const code = h('code', {});
    for (const [cls, s] of highlight(text, entry.name))
      code.append(cls ? h('span', { class: `hl-${cls}` }, s) : document.createTextNode(s));
    const lang = languageOf(entry.name);
    body.append(
      h('pre', { class: 'code', 'data-testid': 'preview-text', 'data-lang': lang ?? 'plain' }, code),
    );
    const lines = text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
    status.textContent =
      size > head.length
        ? `The first ${bytes(head.length)} of ${bytes(size)} (${lines} lines).`
        : `${lines} ${lines === 1 ? 'line' : 'lines'}${lang ? '' : ' · plain text'}`;
  };

  const showBlob = async (max: number) => {
    if (entry.size > max) {
      noPreview(`Too large to preview here (${bytes(entry.size)}).`);
      return undefined;
    }
    const chan = await o.channel();
    const { blob } = await chan.download(o.path, {
      type: mimeType(entry.name),
      signal: abort.signal,
      expectedSize: entry.size,
      onProgress: (done, total) => {
        status.textContent = `Loading… ${bytes(done)} of ${bytes(total)}`;
      },
    });
    const url = URL.createObjectURL(blob);
    urls.push(url);
    return url;
  };

  const showImage = async () => {
    const url = await showBlob(IMAGE_PREVIEW_MAX);
    if (!url) return;
    const img = h('img', { class: 'preview-image', alt: entry.name, 'data-testid': 'preview-image' });
    img.addEventListener('load', () => {
      status.textContent = `${img.naturalWidth} × ${img.naturalHeight} · ${bytes(entry.size)}`;
    });
    img.addEventListener('error', () => {
      status.textContent = 'This image could not be shown (a format this browser does not read?).';
    });
    img.src = url;
    body.append(img);
  };

  const showPdf = async () => {
    const url = await showBlob(PDF_PREVIEW_MAX);
    if (!url) return;
    status.textContent = `${bytes(entry.size)}.`;
    body.append(
      h('iframe', { class: 'preview-pdf', src: url, title: entry.name, 'data-testid': 'preview-pdf' }),
      h(
        'a',
        {
          class: 'button small',
          href: url,
          target: '_blank',
          rel: 'noopener',
          'data-testid': 'preview-open',
        },
        'Open in a tab',
      ),
    );
  };

  void (async () => {
    try {
      if (kind === 'text') await showText();
      else if (kind === 'image') await showImage();
      else if (kind === 'pdf') await showPdf();
      else noPreview('There is no preview for this kind of file.');
    } catch (error) {
      if (abort.signal.aborted) return;
      status.textContent = `Could not preview: ${fileError(error)}`;
      status.classList.add('error');
      dialog.dataset.code = (error as { code?: string }).code ?? 'internal';
    }
  })();
  return closed;
}
