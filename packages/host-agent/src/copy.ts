/**
 * `pocketshell cp [-r] <host>:<path> <local>` and the reverse: files
 * between this machine (paired as a device, as for `pocketshell connect`)
 * and a host, over the host's `files` channel (docs/protocol.md §6) through
 * the Node `FilesClient`. Remote paths are relative to the device's root
 * on the host (`host:` the root itself, `host:~/x` from the host user's
 * home). Nothing is overwritten without `--force`; a copy cut short goes on
 * where it stopped when run again — a file download from its
 * `<name>.pocketshell-part`, an upload from the partial the host keeps, a
 * folder from `<folder>.pocketshell-part` (on the receiving side), renamed
 * into place once every file is in it. Ctrl-C cancels and leaves the
 * partial for that. Progress on stderr when it is a terminal.
 */
import { type Dirent, existsSync, lstatSync, mkdirSync, readdirSync, renameSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { FilesClient } from '@pocketshell/client';
import { openSecretStore, type StatePaths } from '@pocketshell/host-core';
import {
  type Code,
  codeOf,
  type FileEntry,
  type FilesMethods,
  normalizeFilePath,
  type ResultOf,
} from '@pocketshell/protocol';
import { openDevice } from './connect.ts';
import { DeviceStore } from './device-store.ts';
import { CliError } from './exit-codes.ts';
import { formatBytes, ProgressLine, type ProgressStream } from './progress.ts';

/** The suffix of a download (file or folder) that is not complete yet. */
export const PART_SUFFIX = '.pocketshell-part';

/** What `cp` uses of `FilesClient` (@pocketshell/client): its RPC and the resumable whole-file transfers. */
export type FilesApi = Pick<FilesClient, 'rpc' | 'downloadFile' | 'uploadFile' | 'close'>;

/** What `files.info` says: the device's root, whether it may write, the home in the root. */
export type FilesInfo = ResultOf<FilesMethods, 'files.info'>;

/** One side of a copy, as given on the command line. */
export type Endpoint = { kind: 'local'; path: string } | { kind: 'remote'; host: string; path: string };

/**
 * `host:path` is remote when the colon comes before any `/` (as with scp):
 * `./a:b` and `/x:y` stay local.
 */
export function parseEndpoint(arg: string): Endpoint {
  const colon = arg.indexOf(':');
  const slash = arg.indexOf('/');
  if (colon > 0 && (slash < 0 || colon < slash))
    return { kind: 'remote', host: arg.slice(0, colon), path: arg.slice(colon + 1) };
  return { kind: 'local', path: arg };
}

/**
 * A remote path as typed → a path in the device's root: `~` and `~/x`
 * from the host user's home (`home` as `files.info` gives it), anything
 * else from the root. `..` and the like are refused (`bad_message`).
 */
export function resolveRemote(path: string, home: string | null): string {
  if (path === '~' || path.startsWith('~/')) {
    if (home === null)
      throw new CliError(
        'path_denied',
        'the host user’s home is outside this device’s root: give a path from the root',
      );
    return normalizeFilePath(`${home}/${path.slice(1)}`);
  }
  return normalizeFilePath(path);
}

/** Options of `pocketshell cp`. */
export interface CpOptions {
  recursive?: boolean | undefined;
  force?: boolean | undefined;
  quiet?: boolean | undefined;
}

/** What a copy reports as it goes. */
export interface CpOutput {
  /** A line for the person (notes, the summary). */
  err(line: string): void;
  /** Where the progress line goes (drawn only when it is a TTY). */
  stream: ProgressStream;
}

/** What a copy did. */
export interface CpResult {
  files: number;
  bytes: number;
  skipped: string[];
}

const rjoin = (a: string, b: string) => (a ? `${a}/${b}` : b);
const rbase = (p: string) => p.slice(p.lastIndexOf('/') + 1);

/** A local filesystem failure as a coded error naming the path. */
export function localError(error: unknown, path: string): Error {
  const errno = (error as NodeJS.ErrnoException).code;
  const map: Record<string, [Code, string]> = {
    ENOENT: ['not_found', 'no such file or folder'],
    EEXIST: ['exists', 'already exists'],
    EISDIR: ['wrong_type', 'is a folder'],
    ENOTDIR: ['wrong_type', 'is not a folder'],
    EACCES: ['not_permitted', 'permission denied'],
    EPERM: ['not_permitted', 'operation not permitted'],
    ENOSPC: ['no_space', 'no space left on this disk'],
    EDQUOT: ['no_space', 'disk quota exceeded'],
  };
  const hit = errno ? map[errno] : undefined;
  if (!hit) return error as Error;
  return new CliError(hit[0], `${path}: ${hit[1]}`);
}

function local<T>(path: string, fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    throw localError(error, path);
  }
}

function lstatOrNull(path: string) {
  return local(path, () => lstatSync(path, { throwIfNoEntry: false }) ?? null);
}

/** A file or folder to copy, relative to the copy's top. */
interface Item {
  rel: string;
  dir: boolean;
  size: number;
}

/**
 * Copies between this machine and a host through `files`: the work of
 * `pocketshell cp` once connected (the e2e test and the benchmark drive
 * it through the real CLI).
 */
export class Copier {
  readonly #files: FilesApi;
  readonly #o: CpOptions;
  readonly #out: CpOutput;
  readonly #signal: AbortSignal;
  readonly #bar: ProgressLine;
  readonly #home: string | null;
  readonly #write: boolean;
  readonly #result: CpResult = { files: 0, bytes: 0, skipped: [] };
  #base = 0;
  #total = 0;
  /** What a cancel leaves for a resume: the partial folder's, else the file's being copied. */
  #folder: string | undefined;
  #stays: string | undefined;

  constructor(files: FilesApi, info: FilesInfo, o: CpOptions, out: CpOutput, signal: AbortSignal) {
    this.#files = files;
    this.#home = info.home;
    this.#write = info.write;
    this.#o = o;
    this.#out = out;
    this.#signal = signal;
    this.#bar = new ProgressLine(out.stream, !o.quiet);
  }

  #note(line: string): void {
    if (this.#o.quiet) return;
    this.#bar.clear();
    this.#out.err(line);
  }

  async #rstat(path: string): Promise<(FileEntry & { path: string }) | null> {
    try {
      return await this.#files.rpc.call('files.stat', { path });
    } catch (error) {
      if (codeOf(error) === 'not_found') return null;
      throw error;
    }
  }

  #checkAborted(): void {
    if (this.#signal.aborted) throw new CliError('cancelled', 'cancelled');
  }

  #progress(label: string) {
    return (done: number) => this.#bar.update(label, this.#base + done, this.#total);
  }

  /** Host → here. */
  async download(remote: string, localDest: string): Promise<CpResult> {
    const src = resolveRemote(remote, this.#home);
    const st = await this.#rstat(src);
    if (!st) throw new CliError('not_found', `${src || '/'}: no such file or folder on the host`);
    if (st.denied) throw new CliError('path_denied', `${src}: on the host’s deny list`);
    const isDir = st.type === 'dir' || (st.type === 'link' && st.link === 'dir');
    if (isDir && !this.#o.recursive)
      throw new CliError('wrong_type', `${src || '/'} is a folder: copy it with -r`);
    const into = local(localDest, () => statSync(localDest, { throwIfNoEntry: false }) ?? null);
    if (!into && /\/$/.test(localDest)) throw new CliError('not_found', `${localDest}: no such folder`);
    const name = rbase(src);
    const target = into?.isDirectory() && name ? join(localDest, name) : localDest;
    if (!isDir) {
      this.#total = st.size;
      await this.#downloadFile(src, target, st.size, this.#o.force === true);
    } else {
      await this.#downloadDir(src, target);
    }
    this.#finish();
    return this.#result;
  }

  async #downloadFile(src: string, target: string, size: number, overwrite: boolean): Promise<void> {
    this.#checkAborted();
    const t = lstatOrNull(target);
    if (t?.isDirectory()) throw new CliError('wrong_type', `${target} is a folder`);
    if (t && !overwrite) throw new CliError('exists', `${target} exists: pass --force to overwrite it`);
    const part = lstatOrNull(`${target}${PART_SUFFIX}`);
    if (part?.isFile() && part.size > 0)
      this.#note(`resuming ${target} at ${formatBytes(Math.min(part.size, size))} of ${formatBytes(size)}`);
    const label = basename(target);
    this.#bar.update(label, this.#base, this.#total, true);
    this.#stays = `the partial file ${target}${PART_SUFFIX} stays`;
    await this.#files.downloadFile(src, target, {
      resume: true,
      onProgress: this.#progress(label),
      signal: this.#signal,
    });
    this.#base += size;
    this.#result.files++;
    this.#result.bytes += size;
  }

  async #downloadDir(src: string, target: string): Promise<void> {
    const t = lstatOrNull(target);
    if (t && !t.isDirectory()) throw new CliError('wrong_type', `${target} exists and is not a folder`);
    const work = t && this.#o.force ? target : `${target}${PART_SUFFIX}`;
    if (t && !this.#o.force) throw new CliError('exists', `${target} exists: pass --force to copy into it`);
    const resuming = work !== target && existsSync(work);
    if (resuming) this.#note(`resuming the folder ${target} from ${work}`);
    const items = await this.#walkRemote(src);
    this.#total = items.reduce((n, i) => n + i.size, 0);
    local(work, () => mkdirSync(work, { recursive: true }));
    if (work !== target) this.#folder = `the partial folder ${work} stays`;
    for (const item of items) {
      const dest = join(work, item.rel);
      if (item.dir) {
        local(dest, () => mkdirSync(dest, { recursive: true }));
        continue;
      }
      // In the partial folder, a file under its own name is complete (downloads rename only once checked).
      const have = work !== target ? lstatOrNull(dest) : null;
      if (have?.isFile() && have.size === item.size) {
        this.#base += item.size;
        this.#result.files++;
        continue;
      }
      await this.#downloadFile(rjoin(src, item.rel), dest, item.size, true);
    }
    if (work !== target) local(target, () => renameSync(work, target));
  }

  /** Every entry under `top` (files, folders; hidden ones too), parents before children. */
  async #walkRemote(top: string): Promise<Item[]> {
    const items: Item[] = [];
    const walk = async (rel: string): Promise<void> => {
      let cursor: number | null = 0;
      while (cursor !== null) {
        this.#checkAborted();
        const page: ResultOf<FilesMethods, 'files.list'> = await this.#files.rpc.call('files.list', {
          path: rjoin(top, rel),
          cursor,
          limit: 1000,
          sort: 'name',
          desc: false,
          hidden: true,
        });
        if (page.truncated && cursor === 0)
          this.#note(`${rjoin(top, rel)}: the host lists only the first 100000 entries of this folder`);
        for (const e of page.entries) {
          const r = rel ? `${rel}/${e.name}` : e.name;
          const shown = rjoin(top, r);
          if (e.denied) this.#skip(`${shown} (on the host’s deny list)`);
          else if (e.type === 'dir') {
            items.push({ rel: r, dir: true, size: 0 });
            await walk(r);
          } else if (e.type === 'file') items.push({ rel: r, dir: false, size: e.size });
          else if (e.type === 'link') this.#skip(`${shown} (a link)`);
          else this.#skip(`${shown} (not a regular file)`);
        }
        cursor = page.next;
      }
    };
    await walk('');
    return items;
  }

  #skip(what: string): void {
    this.#result.skipped.push(what);
    this.#note(`skipped ${what}`);
  }

  /** Here → host. */
  async upload(localSrc: string, remote: string): Promise<CpResult> {
    if (!this.#write)
      throw new CliError(
        'grant_missing',
        'this device may not write files on that host (it needs the files:write grant)',
      );
    const dst = resolveRemote(remote, this.#home);
    const st = local(localSrc, () => statSync(localSrc));
    if (!st.isDirectory() && !st.isFile())
      throw new CliError('wrong_type', `${localSrc} is not a regular file`);
    if (st.isDirectory() && !this.#o.recursive)
      throw new CliError('wrong_type', `${localSrc} is a folder: copy it with -r`);
    const into = await this.#rstat(dst);
    const intoDir = into?.type === 'dir' || (into?.type === 'link' && into.link === 'dir');
    const name = basename(resolve(localSrc));
    const target = intoDir && name ? rjoin(dst, name) : dst;
    if (st.isFile()) {
      this.#total = st.size;
      await this.#uploadFile(localSrc, target, st.size, this.#o.force === true);
    } else {
      await this.#uploadDir(localSrc, target);
    }
    this.#finish();
    return this.#result;
  }

  async #uploadFile(src: string, target: string, size: number, overwrite: boolean, known?: FileEntry | null) {
    this.#checkAborted();
    const t = known === undefined ? await this.#rstat(target) : known;
    if (t?.type === 'dir') throw new CliError('wrong_type', `${target || '/'} is a folder on the host`);
    if (t && !overwrite)
      throw new CliError('exists', `${target} exists on the host: pass --force to overwrite it`);
    const label = basename(src);
    this.#bar.update(label, this.#base, this.#total, true);
    this.#stays = 'the host keeps the partial upload';
    const progress = this.#progress(label);
    let first = true;
    const onProgress = (done: number) => {
      // The first report is where the host goes on from: past 0 it kept a partial of this upload.
      if (first && done > 0)
        this.#note(
          `resuming ${src} at ${formatBytes(done)} of ${formatBytes(size)} (the host kept the rest)`,
        );
      first = false;
      progress(done);
    };
    // No signal: Ctrl-C closes the channel instead (see `cp`), so the host keeps the partial for a resume.
    await this.#files.uploadFile(src, target, { overwrite, onProgress });
    this.#base += size;
    this.#result.files++;
    this.#result.bytes += size;
  }

  async #uploadDir(src: string, target: string): Promise<void> {
    if (!target) throw new CliError('exists', 'the root exists on the host: copy into a folder of it');
    const t = await this.#rstat(target);
    if (t && t.type !== 'dir')
      throw new CliError('wrong_type', `${target} exists on the host and is not a folder`);
    if (t && !this.#o.force)
      throw new CliError('exists', `${target} exists on the host: pass --force to copy into it`);
    const work = t ? target : `${target}${PART_SUFFIX}`;
    const items = this.#walkLocal(src);
    this.#total = items.reduce((n, i) => n + i.size, 0);
    const partial = work !== target;
    if (partial && (await this.#rstat(work)))
      this.#note(`resuming the folder ${target} from ${work} on the host`);
    await this.#mkdir(work);
    if (partial) this.#folder = `the host keeps the partial folder ${work}`;
    for (const item of items) {
      const dest = rjoin(work, item.rel);
      if (item.dir) {
        await this.#mkdir(dest);
        continue;
      }
      const have = await this.#rstat(dest);
      // In the partial folder, a file under its own name is complete (the host renames only once checked).
      if (partial && have?.type === 'file' && have.size === item.size) {
        this.#base += item.size;
        this.#result.files++;
        continue;
      }
      await this.#uploadFile(join(src, item.rel), dest, item.size, partial || this.#o.force === true, have);
    }
    if (partial) await this.#files.rpc.call('files.move', { from: work, to: target, overwrite: false });
  }

  async #mkdir(path: string): Promise<void> {
    try {
      await this.#files.rpc.call('files.mkdir', { path, parents: true });
    } catch (error) {
      if (codeOf(error) !== 'exists') throw error;
      const s = await this.#rstat(path);
      if (s?.type !== 'dir') throw error;
    }
  }

  /** Files and folders under `top` (links followed to files; links to folders skipped). */
  #walkLocal(top: string): Item[] {
    const items: Item[] = [];
    const walk = (rel: string) => {
      const dir = join(top, rel);
      const entries = local(dir, () => readdirSync(dir, { withFileTypes: true })).sort(
        (a: Dirent, b: Dirent) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
      );
      for (const e of entries) {
        const r = rel ? `${rel}/${e.name}` : e.name;
        const path = join(top, r);
        if (e.isDirectory()) {
          items.push({ rel: r, dir: true, size: 0 });
          walk(r);
        } else if (e.isFile())
          items.push({ rel: r, dir: false, size: local(path, () => statSync(path)).size });
        else if (e.isSymbolicLink()) {
          const s = statSync(path, { throwIfNoEntry: false });
          if (s?.isFile()) items.push({ rel: r, dir: false, size: s.size });
          else this.#skip(`${path} (a link${s?.isDirectory() ? ' to a folder' : ''})`);
        } else this.#skip(`${path} (not a regular file)`);
      }
    };
    walk('');
    return items;
  }

  /**
   * A failure as the person should hear it: after Ctrl-C (whatever the
   * transfer rejected with — `cancelled`, or the closed channel of an
   * upload), `cancelled` saying what stays for a resume.
   */
  failure(error: unknown): Error {
    if (!this.#signal.aborted && codeOf(error) !== 'cancelled') return error as Error;
    const stays = this.#folder ?? this.#stays;
    return new CliError(
      'cancelled',
      stays ? `cancelled; ${stays}: run the same command again to resume` : 'cancelled',
    );
  }

  #finish(): void {
    this.#bar.clear();
  }

  /** Erases the progress line (before an error is printed). */
  clear(): void {
    this.#bar.clear();
  }
}

/** Connects as this machine's device to the paired host `query` and opens its `files` channel. */
export async function openFilesOn(
  paths: StatePaths,
  env: Readonly<Record<string, string | undefined>>,
  query: string,
): Promise<{ files: FilesApi; info: FilesInfo; close(): Promise<void> }> {
  const secrets = await openSecretStore({ paths, env });
  const host = new DeviceStore(paths, secrets).find(query);
  const { device } = await openDevice(paths, env, host.relay);
  device.addHost(host);
  device.start();
  try {
    const conn = await device.connect(host.id);
    // The host closes a `files` channel it refuses: the first call fails. The grants this device
    // was paired with say why (they may have changed since; the host's word is the channel).
    const refused = async (error: unknown): Promise<never> => {
      await conn.close();
      if (!host.grants.includes('files:read'))
        throw new CliError(
          'grant_missing',
          `${host.name} does not let this device see its files (it needs the files:read grant; paired with: ${host.grants.join(', ') || 'none'})`,
        );
      throw error;
    };
    const files = await conn.openFiles().catch(refused);
    const info = await files.rpc.call('files.info').catch(refused);
    return {
      files,
      info,
      close: async () => {
        files.close();
        await conn.close();
        await device.close();
      },
    };
  } catch (error) {
    await device.close();
    throw error;
  }
}

/**
 * `pocketshell cp`: checks the arguments, connects, copies; Ctrl-C
 * cancels (a second one exits at once). Throws coded errors.
 */
export async function cp(
  paths: StatePaths,
  env: Readonly<Record<string, string | undefined>>,
  from: string,
  to: string,
  o: CpOptions,
  out: CpOutput,
): Promise<CpResult> {
  const a = parseEndpoint(from);
  const b = parseEndpoint(to);
  if (a.kind === b.kind)
    throw new CliError(
      'config_invalid',
      a.kind === 'local'
        ? 'one side must be on a host: pocketshell cp [-r] HOST:PATH LOCAL, or LOCAL HOST:PATH'
        : 'copies between two hosts are not supported: one side must be local',
    );
  const remote = a.kind === 'remote' ? a : (b as Extract<Endpoint, { kind: 'remote' }>);
  const ac = new AbortController();
  let session: { files: FilesApi; info: FilesInfo; close(): Promise<void> } | undefined;
  let sigints = 0;
  const onSigint = () => {
    sigints++;
    if (sigints > 1) process.exit(130);
    ac.abort();
    // An upload stops with its channel: the host keeps what it has (a cancel would remove it).
    if (a.kind === 'local') session?.files.close();
  };
  process.on('SIGINT', onSigint);
  const started = performance.now();
  try {
    session = await openFilesOn(paths, env, remote.host);
    const copier = new Copier(session.files, session.info, o, out, ac.signal);
    try {
      if (ac.signal.aborted) throw new CliError('cancelled', 'cancelled');
      const result = await (a.kind === 'remote'
        ? copier.download(a.path, (b as { path: string }).path)
        : copier.upload(a.path, (b as { path: string }).path)
      ).catch((error: unknown) => {
        throw copier.failure(error);
      });
      if (!o.quiet && out.stream.isTTY) {
        const s = (performance.now() - started) / 1000;
        out.err(
          `copied ${result.files} file${result.files === 1 ? '' : 's'}, ${formatBytes(result.bytes)} in ${s.toFixed(1)} s` +
            (result.skipped.length ? `; skipped ${result.skipped.length}` : ''),
        );
      }
      return result;
    } finally {
      copier.clear();
      await session.close().catch(() => undefined);
    }
  } finally {
    process.off('SIGINT', onSigint);
  }
}
