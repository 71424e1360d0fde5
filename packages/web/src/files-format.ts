/**
 * How the Files screen writes things: root-relative paths (joining, parent,
 * breadcrumbs), dates, transfer speed and time left, a file's kind for its
 * preview, the shell command that opens a terminal in a folder (quoted
 * safely), and each error code of the `files` channel in plain words.
 */
import { bytes, duration } from './stats-format.ts';

/** `a/b` + `c` → `a/b/c`; the root is `""`. */
export function joinPath(dir: string, name: string): string {
  return dir === '' ? name : `${dir}/${name}`;
}

/** The folder holding `path` (`""` for an entry of the root). */
export function parentPath(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
}

/** The last component of `path`. */
export function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** The breadcrumbs of `path`: the root, then each folder down to it, as `[label, path]`. */
export function crumbs(path: string, rootLabel: string): [string, string][] {
  const out: [string, string][] = [[rootLabel, '']];
  if (path === '') return out;
  let at = '';
  for (const part of path.split('/')) {
    at = joinPath(at, part);
    out.push([part, at]);
  }
  return out;
}

/** The absolute path on the host of a root-relative `path` under `root`. */
export function absolutePath(root: string, path: string): string {
  if (path === '') return root;
  return root.endsWith('/') ? `${root}${path}` : `${root}/${path}`;
}

/**
 * `cd -- '<dir>'` quoted for a POSIX shell: the path in single quotes, each
 * single quote in it written `'\''`; control characters (a newline would
 * run what follows) are refused rather than sent.
 */
export function cdCommand(dir: string): string | undefined {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (/[\u0000-\u001f\u007f]/.test(dir)) return undefined;
  return `cd -- '${dir.replaceAll("'", "'\\''")}'`;
}

/** A modification time, short: the time today, the day this year, the date otherwise. */
export function fileDate(ms: number, now = Date.now()): string {
  const d = new Date(ms);
  const n = new Date(now);
  if (d.toDateString() === n.toDateString())
    return d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
  if (d.getFullYear() === n.getFullYear())
    return d.toLocaleDateString(undefined, { day: 'numeric', month: 'short' });
  return d.toLocaleDateString(undefined, { day: 'numeric', month: 'short', year: 'numeric' });
}

/** `3.4 MiB of 12 MiB · 5.1 MiB/s · 2 s left`. */
export function transferLine(done: number, total: number, bytesPerSecond: number): string {
  const parts = [`${bytes(done)} of ${bytes(total)}`];
  if (bytesPerSecond > 0 && done < total) {
    parts.push(`${bytes(bytesPerSecond)}/s`);
    parts.push(`${duration(Math.max(1, Math.ceil((total - done) / bytesPerSecond)))} left`);
  }
  return parts.join(' · ');
}

/**
 * A moving transfer rate: bytes per second over the last few seconds
 * (samples older than `windowMs` are dropped).
 */
export class RateMeter {
  readonly #samples: [number, number][] = [];
  readonly #windowMs: number;

  constructor(windowMs = 3000) {
    this.#windowMs = windowMs;
  }

  /** Records that `done` bytes are done at `at` (ms); returns the rate. */
  add(done: number, at = performance.now()): number {
    this.#samples.push([at, done]);
    while (this.#samples.length > 2 && at - (this.#samples[0]?.[0] ?? at) > this.#windowMs)
      this.#samples.shift();
    return this.rate();
  }

  rate(): number {
    const first = this.#samples[0];
    const last = this.#samples[this.#samples.length - 1];
    if (!first || !last || last[0] - first[0] < 200) return 0;
    return ((last[1] - first[1]) * 1000) / (last[0] - first[0]);
  }

  reset(): void {
    this.#samples.length = 0;
  }
}

/** What a preview shows. */
export type PreviewKind = 'text' | 'image' | 'pdf' | 'other';

const IMAGE_TYPES: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  avif: 'image/avif',
  bmp: 'image/bmp',
  ico: 'image/x-icon',
  svg: 'image/svg+xml',
};

const BINARY_EXT = new Set([
  'zip',
  'gz',
  'tgz',
  'xz',
  'bz2',
  'zst',
  '7z',
  'rar',
  'tar',
  'iso',
  'img',
  'bin',
  'exe',
  'dll',
  'so',
  'o',
  'a',
  'class',
  'jar',
  'pyc',
  'mp3',
  'mp4',
  'mkv',
  'mov',
  'avi',
  'webm',
  'ogg',
  'flac',
  'wav',
  'db',
  'sqlite',
  'woff',
  'woff2',
  'ttf',
  'otf',
  'doc',
  'docx',
  'xls',
  'xlsx',
  'ppt',
  'pptx',
  'odt',
  'ods',
]);

/** The extension of a name, lower case (`""` when none). */
export function extension(name: string): string {
  const i = name.lastIndexOf('.');
  return i <= 0 ? '' : name.slice(i + 1).toLowerCase();
}

/** What kind of preview a name gets (text is confirmed by its bytes). */
export function previewKind(name: string): PreviewKind {
  const ext = extension(name);
  if (IMAGE_TYPES[ext]) return 'image';
  if (ext === 'pdf') return 'pdf';
  if (BINARY_EXT.has(ext)) return 'other';
  return 'text';
}

/** The MIME type of a previewed file (images and PDFs; else a download's generic type). */
export function mimeType(name: string): string {
  const ext = extension(name);
  return IMAGE_TYPES[ext] ?? (ext === 'pdf' ? 'application/pdf' : 'application/octet-stream');
}

/** Whether `bytes` look like text: no NUL, and valid UTF-8 (a character cut at the end is fine). */
export function looksLikeText(bytes: Uint8Array): boolean {
  if (bytes.includes(0)) return false;
  // A multi-byte character cut by the end of the range is not a reason to refuse.
  let end = bytes.length;
  for (let back = 1; back <= 3 && end - back >= 0; back++) {
    const b = bytes[end - back] as number;
    if ((b & 0xc0) === 0xc0) {
      end -= back;
      break;
    }
    if ((b & 0x80) === 0) break;
  }
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, end));
    return true;
  } catch {
    return false;
  }
}

const WORDS: Record<string, string> = {
  path_denied: 'Not allowed: that is outside the folders this device may use, or a protected file.',
  exists: 'Something with that name is already there.',
  not_found: 'It is not there any more.',
  wrong_type: 'That is a folder where a file is needed, or the reverse.',
  integrity: 'The bytes did not arrive intact (their SHA-256 did not match); nothing was saved.',
  no_space: 'The computer’s disk is full.',
  grant_missing: 'This device may not do that on this computer (it lacks the grant).',
  limit_reached: 'Too many transfers at once; try again when one has finished.',
  cancelled: 'Cancelled.',
  unavailable: 'The connection to the computer was lost.',
  timeout: 'The computer did not answer in time.',
  unsupported: 'This computer does not offer that yet.',
  bad_message: 'The computer refused the request as malformed.',
  not_permitted: 'The computer’s user may not do that.',
  internal: 'Something went wrong on the computer.',
};

/** The code of an error (`internal` when it has none). */
export function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : 'internal';
}

/** An error of the files channel in plain words, with its code. */
export function fileError(error: unknown): string {
  const code = errorCode(error);
  return `${WORDS[code] ?? (error as Error)?.message ?? 'Failed.'} (${code})`;
}
