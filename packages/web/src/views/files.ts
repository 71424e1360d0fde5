/**
 * A host's Files screen (`#/host/<id>/files[/<path>]`, from the host
 * screen): the device's folders under its root on that computer, over the
 * `files` channel (docs/protocol.md §6). Breadcrumbs from the root; a
 * folder listed a page at a time (more on demand), sorted by name, size or
 * date (tap again to reverse), hidden files on request; folders first.
 * Tapping a folder opens it, tapping a file previews it (preview.ts);
 * long-pressing an entry, or its ⋯ button, offers its actions: download to
 * the phone, rename, move, copy, delete (to the trash, or for good after a
 * second confirmation), and for a folder "Open a terminal here" (a new
 * session whose first input is `cd -- '<folder>'`). The folder's own ⋯
 * offers a new folder, upload, a terminal here and a refresh. The
 * magnifier searches names under the folder shown (`files.search`) and
 * lists the matches, each with its folder, in place of the listing.
 *
 * Uploads (several files from an `<input type=file multiple>`; a name
 * already listed asks before it is replaced) and downloads run on a
 * channel of their own, so the listing never waits behind them; their
 * list (progress, speed, time left, cancel, resume after a lost
 * connection) is `files-transfers.ts`.
 *
 * Entries on the host's deny list are shown greyed and do not open; a
 * link shows where it leads (`→ folder`, `→ outside`…), and only a link to
 * a file or folder within the root opens. Errors are said in plain words
 * with their code. Without `files:read` the screen says so; without
 * `files:write` the changing actions are not offered.
 */
import { type FileEntry, type HostId, type ListSort, ProtocolError } from '@pocketshell/protocol';
import type { App } from '../app.ts';
import type { FilesChannel, FilesResult } from '../files-channel.ts';
import {
  absolutePath,
  baseName,
  cdCommand,
  crumbs,
  errorCode,
  fileDate,
  fileError,
  joinPath,
  parentPath,
  previewKind,
} from '../files-format.ts';
import { setFirstInput } from '../first-input.ts';
import { icon } from '../icons.ts';
import { openPreview } from '../preview.ts';
import { bytes } from '../stats-format.ts';
import { fill, h, sheet, toast } from '../ui.ts';
import { frame } from './chrome.ts';
import { TransferList } from './files-transfers.ts';

/** Entries asked per page. */
export const PAGE = 200;
/** Matches asked of a search. */
export const SEARCH_LIMIT = 200;
/** How long a press lasts before it is a long press. */
const LONG_PRESS_MS = 500;

type Info = FilesResult<'files.info'>;

const LINK_WORDS: Record<string, string> = {
  file: 'file',
  dir: 'folder',
  other: 'special file',
  broken: 'nothing (broken)',
  outside: 'outside (not followed)',
};

export function filesView(app: App, [id, pathParam]: string[]): () => void {
  const host = app.device.host(id ?? '');
  const body = h('div', { class: 'stack files' });
  const { el: screenEl, dispose } = frame(app, host ? `${host.name} · Files` : 'Files', body, {
    back: host ? `#/host/${host.id}` : '#/hosts',
  });
  if (!host) {
    fill(body, h('p', { class: 'error' }, 'This host is not paired with this device.'));
    return dispose;
  }
  const hostId = host.id as HostId;
  let gone = false;
  let path = pathParam ?? '';
  let info: Info | undefined;
  let sort: ListSort = 'name';
  let desc = false;
  let hidden = false;
  let next: number | null = null;
  let loadSeq = 0;
  const entries: FileEntry[] = [];

  // ---------------------------------------------------------------- channels
  /** One channel for the listing and changes, one for transfers (a big file never holds up the listing). */
  const channels: Record<'browse' | 'xfer', Promise<FilesChannel> | undefined> = {
    browse: undefined,
    xfer: undefined,
  };
  const channel = (slot: 'browse' | 'xfer'): Promise<FilesChannel> => {
    const existing = channels[slot];
    if (existing) {
      // A closed or failed channel is opened again, once for every caller waiting on it.
      const again = () => {
        if (channels[slot] === existing) channels[slot] = undefined;
        return channel(slot);
      };
      return existing.then((c) => (c.isClosed ? again() : c), again);
    }
    if (gone) return Promise.reject(new ProtocolError('cancelled', 'screen closed'));
    const opening = app.device
      .link(hostId)
      .then((link) => link.openFiles())
      .then((c) => {
        // Opened after the screen went away: not kept.
        if (gone) c.close();
        return c;
      });
    channels[slot] = opening;
    opening.catch(() => {
      if (channels[slot] === opening) channels[slot] = undefined;
    });
    return opening;
  };

  // ---------------------------------------------------------------- the screen's parts
  const status = h('p', { class: 'muted', 'data-testid': 'files-status' }, 'Connecting…');
  const denied = h(
    'div',
    { class: 'card warn', 'data-testid': 'files-denied', 'data-code': 'grant_missing', hidden: true },
    h('div', { class: 'warn-title' }, 'Not allowed'),
    h('p', {}, `This device may not see files on ${host.name}: it does not hold the files:read grant there.`),
    h('p', { class: 'muted' }, 'A device with admin on that computer can give it.'),
  );
  const crumbBar = h('nav', { class: 'crumbs', 'aria-label': 'Folder', 'data-testid': 'crumbs' });
  const sortButtons = (['name', 'size', 'mtime'] as const).map((key) =>
    h(
      'button',
      {
        type: 'button',
        class: 'seg',
        'data-sort': key,
        'aria-pressed': key === sort ? 'true' : 'false',
        onclick: () => {
          if (sort === key) desc = !desc;
          else {
            sort = key;
            desc = key !== 'name';
          }
          drawSort();
          void load();
        },
      },
      key === 'mtime' ? 'Date' : key === 'size' ? 'Size' : 'Name',
    ),
  );
  const drawSort = () => {
    for (const b of sortButtons) {
      const on = b.dataset.sort === sort;
      b.setAttribute('aria-pressed', String(on));
      const label = b.dataset.sort === 'mtime' ? 'Date' : b.dataset.sort === 'size' ? 'Size' : 'Name';
      b.textContent = on ? `${label} ${desc ? '↓' : '↑'}` : label;
    }
  };
  drawSort();
  const hiddenChip = h(
    'button',
    {
      type: 'button',
      class: 'chip',
      'aria-pressed': 'false',
      'data-testid': 'show-hidden',
      onclick: () => {
        hidden = !hidden;
        hiddenChip.setAttribute('aria-pressed', String(hidden));
        void load();
      },
    },
    'Hidden',
  );
  const fileInput = h('input', {
    type: 'file',
    multiple: true,
    class: 'visually-hidden',
    'data-testid': 'upload-input',
    'aria-label': 'Files to upload',
    tabindex: -1,
  });
  fileInput.addEventListener('change', () => {
    const files = Array.from(fileInput.files ?? []);
    fileInput.value = '';
    void addUploads(files);
  });
  const uploadButton = h(
    'button',
    {
      type: 'button',
      class: 'button small primary',
      'data-testid': 'upload',
      hidden: true,
      onclick: () => fileInput.click(),
    },
    'Upload',
  );
  const folderMenuButton = h(
    'button',
    {
      type: 'button',
      class: 'icon-button',
      'aria-label': 'Folder actions',
      'data-testid': 'folder-actions',
      onclick: () => void folderActions(),
    },
    '⋯',
  );
  const toolbar = h(
    'div',
    { class: 'files-tools' },
    h(
      'div',
      { class: 'segmented sorts', role: 'group', 'aria-label': 'Sort', 'data-testid': 'sorts' },
      ...sortButtons,
    ),
    hiddenChip,
  );
  const searchButton = h(
    'button',
    {
      type: 'button',
      class: 'icon-button',
      'aria-label': 'Search by name',
      'data-testid': 'search',
      onclick: async () => {
        const query = await ask('Search this folder', 'Name contains', '', 'Search');
        if (query !== null) void search(query);
      },
    },
    icon('search'),
  );
  const actionsBar = h('div', { class: 'files-tools' }, uploadButton, searchButton, folderMenuButton);
  const searchLabel = h('span', { class: 'search-query' });
  const searchBar = h(
    'div',
    { class: 'files-tools search-bar', 'data-testid': 'search-bar', hidden: true },
    h('span', { class: 'muted' }, 'Names containing'),
    searchLabel,
    h(
      'button',
      { type: 'button', class: 'chip', 'data-testid': 'search-clear', onclick: () => void load() },
      'Clear',
    ),
  );
  const transfersList = h('ul', { class: 'list transfers', 'data-testid': 'transfers', hidden: true });
  const list = h('ul', { class: 'list entries', 'data-testid': 'entries' });
  const more = h(
    'button',
    {
      type: 'button',
      class: 'button',
      'data-testid': 'load-more',
      hidden: true,
      onclick: () => void loadMore(),
    },
    'Show more',
  );
  const browser = h(
    'div',
    { class: 'stack', hidden: true },
    crumbBar,
    actionsBar,
    toolbar,
    searchBar,
    transfersList,
    status,
    list,
    more,
  );
  fill(body, denied, browser, fileInput);
  // Before the browser shows: the status line says what happens.
  body.prepend(h('p', { class: 'muted', 'data-testid': 'files-connecting' }, 'Connecting…'));

  const say = (text: string, error = false) => {
    status.textContent = text;
    status.classList.toggle('error', error);
    status.hidden = text === '';
  };

  // ---------------------------------------------------------------- listing
  /** The root as the person knows it: Home, /, or the folder's own name. */
  const rootLabel = () =>
    info?.home === '' ? 'Home' : info?.root === '/' ? '/' : baseName(info?.root ?? '') || 'Root';

  const drawCrumbs = () => {
    const parts = crumbs(path, rootLabel());
    fill(
      crumbBar,
      ...parts.flatMap(([label, at], i) => [
        i > 0 ? h('span', { class: 'crumb-sep', 'aria-hidden': 'true' }, '/') : null,
        h(
          'button',
          {
            type: 'button',
            class: 'crumb',
            'data-path': at,
            'aria-current': i === parts.length - 1 ? 'location' : undefined,
            onclick: () => go(at),
          },
          label,
        ),
      ]),
    );
    crumbBar.scrollLeft = crumbBar.scrollWidth;
  };

  const go = (to: string) => {
    path = to;
    app.rewrite(`#/host/${host.id}/files${to ? `/${encodeURIComponent(to)}` : ''}`);
    void load();
  };

  const canWrite = () => info?.write === true;

  const load = async () => {
    const seq = ++loadSeq;
    searchBar.hidden = true;
    drawCrumbs();
    entries.length = 0;
    next = null;
    list.replaceChildren();
    more.hidden = true;
    say('Loading…');
    await page(seq, 0);
  };

  const loadMore = async () => {
    if (next === null) return;
    more.disabled = true;
    await page(loadSeq, next);
    more.disabled = false;
  };

  const page = async (seq: number, cursor: number) => {
    try {
      const chan = await channel('browse');
      const r = await chan.call('files.list', { path, cursor, limit: PAGE, sort, desc, hidden });
      if (gone || seq !== loadSeq) return;
      entries.push(...r.entries);
      next = r.next;
      for (const e of r.entries) list.append(row(e));
      more.hidden = next === null;
      list.dataset.total = String(r.total);
      list.dataset.path = r.path;
      if (r.total === 0) say(hidden ? 'This folder is empty.' : 'Nothing here (hidden files are not shown).');
      else
        say(
          `${r.total} ${r.total === 1 ? 'item' : 'items'}${r.truncated ? ' (a very large folder: only the first 100 000 are listed)' : ''}`,
        );
    } catch (error) {
      if (gone || seq !== loadSeq) return;
      say(`Could not list this folder: ${fileError(error)}`, true);
      status.dataset.code = errorCode(error);
    }
  };

  /** Names containing `query` under the folder shown (the host bounds the walk), in place of the listing. */
  const search = async (query: string) => {
    const seq = ++loadSeq;
    entries.length = 0;
    next = null;
    list.replaceChildren();
    more.hidden = true;
    searchBar.hidden = false;
    searchLabel.textContent = `“${query}”`;
    say('Searching…');
    try {
      const chan = await channel('browse');
      const r = await chan.call('files.search', { path, query, limit: SEARCH_LIMIT, hidden });
      if (gone || seq !== loadSeq) return;
      for (const m of r.matches) list.append(row(m, m.path));
      list.dataset.path = path;
      list.dataset.search = query;
      const n = r.matches.length;
      say(
        `${n === 0 ? 'No' : n} ${n === 1 ? 'match' : 'matches'}${r.truncated ? ' (the search stopped early: try a longer name, or a folder further down)' : ''}`,
      );
    } catch (error) {
      if (gone || seq !== loadSeq) return;
      say(`Could not search: ${fileError(error)}`, true);
      status.dataset.code = errorCode(error);
    }
  };

  const subLine = (e: FileEntry) => {
    const parts: string[] = [];
    if (e.type === 'link') parts.push(`→ ${LINK_WORDS[e.link ?? 'broken'] ?? e.link}`);
    if (e.type === 'file') parts.push(bytes(e.size));
    parts.push(fileDate(e.mtime));
    if (e.denied) parts.push('protected');
    return parts.join(' · ');
  };

  const iconOf = (e: FileEntry) => {
    if (e.type === 'dir' || (e.type === 'link' && e.link === 'dir')) return icon('folder');
    if (e.type === 'link') return icon('link');
    if (e.type === 'other') return icon('other');
    return icon(previewKind(e.name) === 'image' ? 'image' : 'file');
  };

  /** Whether tapping the entry does something (denied entries and links that lead nowhere do not open). */
  const openable = (e: FileEntry) =>
    !e.denied &&
    (e.type === 'file' || e.type === 'dir' || (e.type === 'link' && (e.link === 'file' || e.link === 'dir')));
  const isDir = (e: FileEntry) => e.type === 'dir' || (e.type === 'link' && e.link === 'dir');

  /** A listing's row; a search match passes its own path (and shows its folder). */
  const row = (e: FileEntry, matchPath?: string): HTMLElement => {
    const at = matchPath ?? joinPath(path, e.name);
    const sub =
      matchPath === undefined ? subLine(e) : `in ${parentPath(matchPath) || rootLabel()} · ${subLine(e)}`;
    const main = h(
      'button',
      {
        class: 'row',
        type: 'button',
        'data-name': e.name,
        disabled: !openable(e),
        'aria-disabled': openable(e) ? undefined : 'true',
        onclick: () => {
          if (pressed) {
            pressed = false;
            return;
          }
          open(e, at);
        },
      },
      h('span', { class: 'file-icon', 'aria-hidden': 'true' }, iconOf(e)),
      h(
        'span',
        { class: 'row-main' },
        h('span', { class: 'row-title' }, e.name),
        h('span', { class: 'row-sub' }, sub),
      ),
    );
    // A long press (held, not moved) opens the entry's actions, as its ⋯ does.
    let pressed = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let startX = 0;
    let startY = 0;
    const cancelPress = () => {
      clearTimeout(timer);
      timer = undefined;
    };
    const li = h(
      'li',
      {
        class: `with-actions file-row${e.denied ? ' denied' : ''}`,
        'data-name': e.name,
        'data-type': e.type,
        'data-link': e.link,
        'data-denied': e.denied ? 'true' : undefined,
      },
      main,
      h(
        'button',
        {
          class: 'icon-button',
          type: 'button',
          'aria-label': `Actions for ${e.name}`,
          'data-action': 'menu',
          onclick: () => void entryActions(e, at),
        },
        '⋯',
      ),
    );
    li.addEventListener('pointerdown', (ev) => {
      startX = ev.clientX;
      startY = ev.clientY;
      pressed = false;
      cancelPress();
      timer = setTimeout(() => {
        timer = undefined;
        pressed = true;
        void entryActions(e, at);
      }, LONG_PRESS_MS);
    });
    li.addEventListener('pointermove', (ev) => {
      if (Math.abs(ev.clientX - startX) > 10 || Math.abs(ev.clientY - startY) > 10) cancelPress();
    });
    li.addEventListener('pointerup', cancelPress);
    li.addEventListener('pointercancel', cancelPress);
    // A touch browser's own long-press menu: ours instead (once, if the timer already fired).
    li.addEventListener('contextmenu', (ev) => {
      ev.preventDefault();
      if (pressed || timer === undefined) {
        if (!pressed) void entryActions(e, at);
        return;
      }
      cancelPress();
      pressed = true;
      void entryActions(e, at);
    });
    return li;
  };

  const open = (e: FileEntry, at: string) => {
    if (!openable(e)) return;
    if (isDir(e)) {
      go(at);
      return;
    }
    void openPreview({
      path: at,
      entry: e,
      channel: () => channel('xfer'),
      download: () => void download(at, e),
    });
  };

  // ---------------------------------------------------------------- actions
  /** A sheet of actions, one per line; resolves with the chosen one's value. */
  const menu = (title: string, items: { label: string; value: string; danger?: boolean }[]) => {
    let close: (v: string) => void = () => {};
    const buttons = items.map((it) =>
      h(
        'button',
        {
          type: 'button',
          class: `menu-item${it.danger ? ' danger' : ''}`,
          'data-menu': it.value,
          onclick: () => close(it.value),
        },
        it.label,
      ),
    );
    const s = sheet({
      title,
      testid: 'actions-sheet',
      content: [h('div', { class: 'menu' }, ...buttons)],
      actions: [{ label: 'Cancel', value: 'cancel' }],
    });
    close = (v) => s.el.close(v);
    return s.result;
  };

  /** A sheet with one text field; resolves with the trimmed text, or null. */
  const ask = async (title: string, label: string, value: string, action: string, note?: string) => {
    const field = h('input', {
      type: 'text',
      class: 'text-field',
      value,
      'aria-label': label,
      'data-testid': 'name-field',
      autocapitalize: 'off',
      autocomplete: 'off',
      spellcheck: 'false',
      autofocus: true,
    });
    const { el, result } = sheet({
      title,
      testid: 'name-sheet',
      content: [
        h('label', { class: 'setting' }, h('span', { class: 'label' }, label), field),
        note ? h('p', { class: 'muted' }, note) : null,
      ],
      actions: [
        { label: 'Cancel', value: 'cancel' },
        { label: action, value: 'ok', kind: 'primary', testid: 'name-ok' },
      ],
    });
    field.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter') el.close('ok');
    });
    // The name without its extension selected, ready to be typed over.
    const dot = value.lastIndexOf('.');
    field.setSelectionRange(0, dot > 0 ? dot : value.length);
    if ((await result) !== 'ok' || gone) return null;
    const text = field.value.trim();
    return text === '' ? null : text;
  };

  const confirm = async (
    title: string,
    text: string,
    action: string,
    kind: 'primary' | 'danger' = 'danger',
  ) => {
    const { result } = sheet({
      title,
      testid: 'confirm-sheet',
      content: [h('p', { class: 'muted' }, text)],
      actions: [
        { label: 'Cancel', value: 'cancel', testid: 'confirm-cancel' },
        { label: action, value: 'ok', kind, testid: 'confirm-ok' },
      ],
    });
    return (await result) === 'ok' && !gone;
  };

  /** Runs a change, says it, reloads the listing; errors in plain words. */
  const change = async (what: string, run: (chan: FilesChannel) => Promise<unknown>, done: string) => {
    try {
      const chan = await channel('browse');
      await run(chan);
      toast(done);
    } catch (error) {
      toast(`Could not ${what}: ${fileError(error)}`);
    }
    if (!gone) await load();
  };

  const entryActions = async (e: FileEntry, at: string) => {
    const w = canWrite() && !e.denied;
    const items: { label: string; value: string; danger?: boolean }[] = [];
    if (openable(e)) items.push({ label: isDir(e) ? 'Open' : 'Preview', value: 'open' });
    if (!e.denied && (e.type === 'file' || (e.type === 'link' && e.link === 'file')))
      items.push({ label: 'Download to this phone', value: 'download' });
    if (isDir(e) && !e.denied) items.push({ label: 'Open a terminal here', value: 'terminal' });
    if (w) {
      items.push({ label: 'Rename', value: 'rename' });
      items.push({ label: 'Move', value: 'move' });
      items.push({ label: 'Copy', value: 'copy' });
      items.push({ label: 'Delete', value: 'delete', danger: true });
    }
    if (items.length === 0) {
      toast(
        e.denied
          ? 'Protected: this cannot be opened or changed from here.'
          : 'Nothing can be done with this here.',
      );
      return;
    }
    const choice = await menu(e.name, items);
    if (gone || !choice) return;
    if (choice === 'open') open(e, at);
    else if (choice === 'download') void download(at, e);
    else if (choice === 'terminal') terminalHere(at);
    else if (choice === 'rename') {
      const name = await ask('Rename', 'New name', e.name, 'Rename');
      if (name === null || name === e.name) return;
      await change('rename', (c) => c.call('files.rename', { path: at, name }), `Renamed to ${name}`);
    } else if (choice === 'move' || choice === 'copy') {
      const verb = choice === 'move' ? 'Move' : 'Copy';
      const suggested = choice === 'copy' ? copyName(at) : at;
      const to = await ask(
        `${verb} “${e.name}”`,
        'To (the full path from the root)',
        suggested,
        verb,
        info ? `The root is ${info.root}.` : undefined,
      );
      if (to === null || to === at) return;
      const target = to.replace(/^\/+/, '');
      if (choice === 'move')
        await change(
          'move',
          (c) => c.call('files.move', { from: at, to: target, overwrite: false }),
          'Moved',
        );
      else
        await change(
          'copy',
          (c) => c.call('files.copy', { from: at, to: target, overwrite: false }),
          'Copied',
        );
    } else if (choice === 'delete') await remove(e, at);
  };

  const copyName = (at: string) => {
    const name = baseName(at);
    const dot = name.lastIndexOf('.');
    const copy = dot > 0 ? `${name.slice(0, dot)} copy${name.slice(dot)}` : `${name} copy`;
    return joinPath(parentPath(at), copy);
  };

  const remove = async (e: FileEntry, at: string) => {
    const { result } = sheet({
      title: `Delete “${e.name}”?`,
      testid: 'delete-sheet',
      content: [
        h(
          'p',
          { class: 'muted' },
          isDir(e) && e.type === 'dir'
            ? 'The folder and everything in it go to the computer’s trash, where they can be restored.'
            : 'It goes to the computer’s trash, where it can be restored.',
        ),
      ],
      actions: [
        { label: 'Cancel', value: 'cancel' },
        { label: 'Delete for good…', value: 'permanent', kind: 'danger', testid: 'delete-permanent' },
        { label: 'Move to trash', value: 'trash', kind: 'primary', testid: 'delete-trash' },
      ],
    });
    const choice = await result;
    if (gone || (choice !== 'trash' && choice !== 'permanent')) return;
    if (choice === 'permanent') {
      const sure = await confirm(
        `Delete “${e.name}” for good?`,
        'It is removed from the computer at once and cannot be restored.',
        'Delete for good',
      );
      if (!sure) return;
      await change('delete', (c) => c.call('files.delete', { path: at, permanent: true }), 'Deleted');
    } else
      await change(
        'delete',
        (c) => c.call('files.delete', { path: at, permanent: false }),
        'Moved to the trash',
      );
  };

  const terminalHere = (at: string) => {
    if (!info) return;
    const command = cdCommand(absolutePath(info.root, at));
    if (command === undefined) {
      toast('This folder’s name cannot be typed into a shell safely.');
      return;
    }
    setFirstInput(host.id, `${command}\r`);
    app.go(`#/t/${host.id}/new`);
  };

  const folderActions = async () => {
    const items: { label: string; value: string }[] = [];
    if (canWrite()) {
      items.push({ label: 'New folder', value: 'mkdir' });
      items.push({ label: 'Upload files', value: 'upload' });
    }
    items.push({ label: 'Open a terminal here', value: 'terminal' });
    items.push({ label: 'Refresh', value: 'refresh' });
    const choice = await menu(path === '' ? info?.root || 'Root' : baseName(path), items);
    if (gone || !choice) return;
    if (choice === 'mkdir') {
      const name = await ask('New folder', 'Name', '', 'Create');
      if (name === null) return;
      await change(
        'make the folder',
        (c) => c.call('files.mkdir', { path: joinPath(path, name), parents: false }),
        `Made ${name}`,
      );
    } else if (choice === 'upload') fileInput.click();
    else if (choice === 'terminal') terminalHere(path);
    else void load();
  };

  // ---------------------------------------------------------------- transfers
  const transfers = new TransferList({
    el: transfersList,
    anchors: screenEl,
    channel: () => channel('xfer'),
    online: () => app.device.online(hostId),
    uploaded: (at) => {
      if (!gone && parentPath(at) === path) void load();
    },
  });

  const download = (at: string, e: FileEntry) => transfers.download(at, e);

  const addUploads = async (files: File[]) => {
    const folder = path;
    // One question per name already in the folder as listed.
    for (const file of files) {
      let overwrite = false;
      if (folder === path && entries.some((e) => e.name === file.name)) {
        overwrite = await confirm(
          `Replace “${file.name}”?`,
          'A file with this name is already in this folder; uploading replaces it.',
          'Replace',
          'primary',
        );
        if (!overwrite) continue;
      }
      if (gone) return;
      transfers.upload(file, joinPath(folder, file.name), overwrite);
    }
  };

  // ---------------------------------------------------------------- start
  const start = async () => {
    const connecting = body.querySelector('[data-testid="files-connecting"]');
    try {
      const chan = await channel('browse');
      info = await chan.call('files.info');
      if (gone) return;
      connecting?.remove();
      browser.hidden = false;
      denied.hidden = true;
      uploadButton.hidden = !info.write;
      if (pathParam === undefined && info.home !== null) path = info.home;
      await load();
    } catch (error) {
      if (gone) return;
      // A channel the host refuses (no files:read) opens and closes at once.
      let refused = errorCode(error) === 'grant_missing';
      if (!refused && errorCode(error) === 'unavailable') {
        try {
          const link = await app.device.link(hostId);
          const { grants } = await link.call('host.info');
          refused = !grants.includes('files:read');
        } catch {
          // Unknown: said below as the error it was.
        }
      }
      if (gone) return;
      if (refused) {
        connecting?.remove();
        denied.hidden = false;
        return;
      }
      if (connecting) connecting.textContent = `Could not reach the host: ${fileError(error)}`;
      retry = setTimeout(() => void start(), 3000);
    }
  };
  let retry: ReturnType<typeof setTimeout> | undefined;
  void start();

  const offPresence = app.device.on('presence', (p) => {
    if (p.host !== hostId || !p.online || gone) return;
    if (!info) {
      clearTimeout(retry);
      void start();
      return;
    }
    void load();
    transfers.resumePaused();
  });

  return () => {
    gone = true;
    clearTimeout(retry);
    transfers.dispose();
    offPresence();
    for (const c of Object.values(channels)) void c?.then((x) => x.close()).catch(() => {});
    for (const d of document.querySelectorAll('dialog.preview')) (d as HTMLDialogElement).close();
    dispose();
  };
}
