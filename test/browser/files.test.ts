/**
 * The Files screen in Debian's Chromium (phone emulation, 412 px) against
 * a real relay process and a real host serving the `files` channel from a
 * temporary root (a folder `project` holding a TypeScript file and a PNG,
 * a text file at the top, a `.ssh` folder on the deny list): the host
 * screen links to Files; the listing shows the root's entries, folders
 * first; tapping `project` opens it (breadcrumbs follow); the TypeScript
 * file previews as coloured text (its words on screen, keywords in their
 * own spans); the PNG previews as an image the browser decoded
 * (naturalWidth > 0); the hidden toggle shows `.ssh`, greyed and not
 * openable. A 6 MiB file uploaded from the page (`setInputFiles`) shows
 * its progress and ends on the host with the same SHA-256, and downloaded
 * back through the page (`<a download>` on a Blob URL) its bytes are the
 * original's. A 32 MiB upload broken by a host restart pauses and resumes
 * from what the host holds (the line says "resumed from"), with the right
 * hash and no temporary file left. "Open a terminal here" opens a new
 * session in that folder. The PDF previews in an iframe on a Blob URL
 * (the relay's CSP allows blob: frames), and no CSP violation is reported.
 * From the page: new folder, rename (by a long press), copy (a second copy
 * refused `exists`, said in words), move, delete to the trash and for
 * good, each checked on disk; a cancelled upload leaves nothing; a name
 * already there is replaced only when asked. Links show where they lead
 * (a link to a folder in the root opens; out of it, or to nothing, they
 * are disabled); a folder of 450 files pages in 200 at a time and sorts
 * by size both ways. A search by name (case-insensitive) lists the
 * matches under the folder shown, each with its folder, and a match
 * previews from where it is. A 300 KiB log previews its first 256 KiB (light
 * theme). With `files:read` only the
 * changing actions are not offered; without it the screen says why.
 * Screenshots (in /tmp/fweb-shots and .artifacts/screenshots): files-hosts,
 * files-listing, files-folder, files-text-preview, files-image-preview,
 * files-pdf-preview, files-hidden, files-actions, files-upload-progress,
 * files-uploaded, files-upload-resumed, files-delete-confirm, files-links,
 * files-sorted-by-size, files-search, files-text-preview-light, files-listing-light,
 * files-no-grant.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { crc32, deflateSync } from 'node:zlib';
import type { DeviceId } from '@pocketshell/protocol';
import type { Page } from 'playwright-core';
import {
  assertFits,
  browserSkip,
  browserSuite,
  pairPhone,
  screenshot,
  typeInTerminal,
  waitForLine,
} from './harness.ts';

const skip = browserSkip();
const SHOTS = '/tmp/fweb-shots';

/** A real PNG (8-bit RGB, a colour gradient) of `width` × `height`. */
function png(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body) >>> 0);
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    const row = y * (width * 3 + 1);
    raw[row] = 0; // no filter
    for (let x = 0; x < width; x++) {
      raw[row + 1 + x * 3] = Math.round((x / width) * 255);
      raw[row + 2 + x * 3] = Math.round((y / height) * 255);
      raw[row + 3 + x * 3] = 160;
    }
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A real one-page PDF saying "Hello PDF". */
function pdf(): Buffer {
  const stream = 'BT /F1 24 Tf 40 100 Td (Hello PDF) Tj ET';
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 200] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>',
    `<< /Length ${stream.length} >>\nstream\n${stream}\nendstream`,
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
  ];
  let out = '%PDF-1.4\n';
  const offsets: number[] = [];
  objects.forEach((o, i) => {
    offsets.push(out.length);
    out += `${i + 1} 0 obj\n${o}\nendobj\n`;
  });
  const xref = out.length;
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const o of offsets) out += `${String(o).padStart(10, '0')} 00000 n \n`;
  out += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(out, 'latin1');
}

/** Polls `check` every 50 ms until it holds or `ms` passed; returns whether it held. */
async function eventually(check: () => boolean, ms = 10_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return check();
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

const TS_SOURCE = `// The answer, computed.
export function answer(): number {
  const six = 6;
  return six * 7; // 42
}

const greeting = "hello from the host";
console.log(greeting, answer());
`;

/** Saves a screenshot in the harness's folder and in /tmp/fweb-shots. */
async function shot(page: Page, name: string): Promise<void> {
  const path = await screenshot(page, name);
  mkdirSync(SHOTS, { recursive: true });
  copyFileSync(path, join(SHOTS, `${name}.png`));
}

/** The names of the listed entries, in order. */
function listed(page: Page): Promise<string[]> {
  return page
    .locator('[data-testid="entries"] li.file-row')
    .evaluateAll((els) => els.map((e) => e.getAttribute('data-name') ?? ''));
}

describe('the Files screen in Chromium', { skip, timeout: 300_000 }, () => {
  let root: string;
  let work: string;
  let phoneId: DeviceId;
  const image = png(64, 48);

  // The tree the host serves, made before the host starts (the common set-up's `before` runs next).
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'pocketshell-files-root-'));
    work = mkdtempSync(join(tmpdir(), 'pocketshell-files-work-'));
    mkdirSync(join(root, 'project'));
    writeFileSync(join(root, 'project', 'answer.ts'), TS_SOURCE);
    writeFileSync(join(root, 'project', 'chart.png'), image);
    writeFileSync(join(root, 'project', 'hello.pdf'), pdf());
    writeFileSync(join(root, 'top.txt'), 'A text file at the top of the root.\n');
    // Links: one to a folder in the root, one out of it (never followed), one to nothing.
    mkdirSync(join(root, 'links'));
    symlinkSync('../project', join(root, 'links', 'to-project'));
    symlinkSync('/etc', join(root, 'links', 'to-etc'));
    symlinkSync('missing', join(root, 'links', 'to-nothing'));
    // A folder of 450 files, file NNN holding NNN bytes: three pages.
    mkdirSync(join(root, 'many'));
    for (let i = 0; i < 450; i++)
      writeFileSync(join(root, 'many', `f${String(i).padStart(3, '0')}`), Buffer.alloc(i));
    // A 300 KiB log: the preview shows its first 256 KiB.
    mkdirSync(join(root, 'logs'));
    writeFileSync(
      join(root, 'logs', 'big.log'),
      Array.from(
        { length: 300 * 16 },
        (_, i) => `line ${String(i).padStart(6, '0')} ${'x'.repeat(51)}\n`,
      ).join(''),
    );
    mkdirSync(join(root, '.ssh'));
    writeFileSync(join(root, '.ssh', 'id_ed25519'), 'not a real key\n');
  });

  const suite = browserSuite({ host: () => ({ filesRoot: root }) });

  before(async () => {
    phoneId = (await pairPhone(suite, { grants: ['shell', 'files:read', 'files:write'] })).id as DeviceId;
  });

  after(() => {
    if (root) rmSync(root, { recursive: true, force: true });
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const openFiles = async (page: Page) => {
    await page.goto(`${suite.relay.url}#/host/${suite.host.host.identity.id}`);
    await page.locator('[data-testid="host-files"]').tap();
    try {
      await page.locator('[data-testid="entries"] li.file-row').first().waitFor();
    } catch (error) {
      await shot(page, 'files-failed').catch(() => {});
      const said = await page
        .locator('main')
        .innerText()
        .catch(() => '?');
      throw new Error(`the Files screen listed nothing; it said: ${said.slice(0, 300)}`, { cause: error });
    }
  };

  test('browses into a folder and previews a text file and an image', async () => {
    const { page } = suite.phone;
    await shot(page, 'files-hosts');
    await openFiles(page);
    // Folders first, then files; hidden entries only on request.
    assert.deepEqual(await listed(page), ['links', 'logs', 'many', 'project', 'top.txt']);
    await shot(page, 'files-listing');
    await assertFits(page);

    await page.locator('li.file-row[data-name="project"] .row').tap();
    await page.locator('[data-testid="entries"][data-path="project"]').waitFor();
    assert.deepEqual(await listed(page), ['answer.ts', 'chart.png', 'hello.pdf']);
    assert.deepEqual(
      await page.locator('[data-testid="crumbs"] .crumb').evaluateAll((els) => els.map((e) => e.textContent)),
      ['Home', 'project'],
    );
    assert.match(page.url(), /#\/host\/[^/]+\/files\/project$/);
    await shot(page, 'files-folder');

    // Text: its words on screen, coloured.
    await page.locator('li.file-row[data-name="answer.ts"] .row').tap();
    const text = page.locator('[data-testid="preview-text"]');
    await text.waitFor();
    const shown = await text.innerText();
    assert.match(shown, /export function answer\(\): number \{/);
    assert.match(shown, /hello from the host/);
    assert.equal(await text.getAttribute('data-lang'), 'code');
    const keywords = await text.locator('.hl-kw').allInnerTexts();
    assert.ok(
      keywords.includes('function') && keywords.includes('return'),
      `keywords: ${keywords.join(',')}`,
    );
    assert.ok((await text.locator('.hl-str').allInnerTexts()).includes('"hello from the host"'));
    assert.ok((await text.locator('.hl-com').count()) >= 2);
    await shot(page, 'files-text-preview');
    await assertFits(page);
    await page.locator('[data-testid="preview-close"]').tap();
    await page.locator('[data-testid="preview"]').waitFor({ state: 'detached' });

    // Image: decoded by the browser from the Blob the download built.
    await page.locator('li.file-row[data-name="chart.png"] .row').tap();
    const img = page.locator('[data-testid="preview-image"]');
    await img.waitFor();
    await page.waitForFunction(() => {
      const el = document.querySelector<HTMLImageElement>('[data-testid="preview-image"]');
      return el?.complete && el.naturalWidth > 0;
    });
    assert.deepEqual(
      await img.evaluate((el: HTMLImageElement) => [el.naturalWidth, el.naturalHeight]),
      [64, 48],
    );
    await shot(page, 'files-image-preview');
    await page.locator('[data-testid="preview-close"]').tap();
    await page.locator('[data-testid="preview"]').waitFor({ state: 'detached' });

    // PDF: the browser's own viewer in an iframe on a Blob URL (the relay's CSP allows blob: frames only).
    await page.locator('li.file-row[data-name="hello.pdf"] .row').tap();
    const frame = page.locator('[data-testid="preview-pdf"]');
    await frame.waitFor();
    assert.match((await frame.getAttribute('src')) ?? '', /^blob:/);
    // The frame loaded the Blob (a frame the CSP refused would be an error page), and the viewer drew.
    const pdfFrame = await (await frame.elementHandle())?.contentFrame();
    await pdfFrame?.waitForLoadState();
    assert.match(pdfFrame?.url() ?? '', /^blob:/);
    await shot(page, 'files-pdf-preview');
    await page.locator('[data-testid="preview-close"]').tap();
    await page.locator('[data-testid="preview"]').waitFor({ state: 'detached' });
    assert.deepEqual(suite.cspViolations, []);

    // Back to the root by the breadcrumbs; hidden files on request; `.ssh` is denied: greyed, not openable.
    await page.locator('[data-testid="crumbs"] .crumb[data-path=""]').tap();
    await page.locator('[data-testid="entries"][data-path=""]').waitFor();
    await page.locator('[data-testid="show-hidden"]').tap();
    const ssh = page.locator('li.file-row[data-name=".ssh"]');
    await ssh.waitFor();
    assert.equal(await ssh.getAttribute('data-denied'), 'true');
    assert.equal(await ssh.locator('.row').isDisabled(), true);
    await shot(page, 'files-hidden');
    await page.locator('[data-testid="show-hidden"]').tap();
    await ssh.waitFor({ state: 'detached' });
  });

  test('uploads a file from the page and downloads it back, bytes equal', async () => {
    const { page } = suite.phone;
    await openFiles(page);
    await page.locator('li.file-row[data-name="project"] .row').tap();
    await page.locator('[data-testid="entries"][data-path="project"]').waitFor();

    const original = randomBytes(6 * 1024 * 1024);
    const local = join(work, 'upload.bin');
    writeFileSync(local, original);
    await page.locator('[data-testid="upload-input"]').setInputFiles(local);
    const item = page.locator('li.transfer[data-kind="upload"][data-name="upload.bin"]');
    await item.waitFor();
    // Progress while it runs (if it is not over already: the screenshot shows what there is).
    await page
      .locator('li.transfer[data-name="upload.bin"][data-state="running"]:not([data-done="0"])')
      .or(page.locator('li.transfer[data-name="upload.bin"][data-state="done"]'))
      .first()
      .waitFor();
    await shot(page, 'files-upload-progress');
    await assertFits(page);
    await page
      .locator('li.transfer[data-name="upload.bin"][data-state="done"]')
      .waitFor({ timeout: 120_000 });
    const expected = sha256(original);
    assert.equal(await item.getAttribute('data-sha256'), expected);
    assert.equal(sha256(readFileSync(join(root, 'project', 'upload.bin'))), expected);
    // The listing shows it.
    await page.locator('li.file-row[data-name="upload.bin"]').waitFor();
    await shot(page, 'files-uploaded');

    // Back to the phone through its ⋯ menu: an <a download> on a Blob URL.
    await page.locator('li.file-row[data-name="upload.bin"] [data-action="menu"]').tap();
    await page.locator('[data-testid="actions-sheet"]').waitFor();
    await shot(page, 'files-actions');
    await assertFits(page);
    const downloading = page.waitForEvent('download', { timeout: 120_000 });
    await page.locator('[data-menu="download"]').tap();
    const download = await downloading;
    assert.equal(download.suggestedFilename(), 'upload.bin');
    const saved = await download.path();
    const back = readFileSync(saved);
    assert.equal(back.length, original.length);
    assert.ok(back.equals(original), 'the downloaded bytes are the uploaded ones');
    await page.locator('li.transfer[data-kind="download"][data-state="done"]').waitFor();
    assert.equal(
      await page.locator('li.transfer[data-kind="download"]').getAttribute('data-sha256'),
      expected,
    );
  });

  test('opens a terminal in a folder', async () => {
    const { page } = suite.phone;
    await openFiles(page);
    await page.locator('li.file-row[data-name="project"] [data-action="menu"]').tap();
    await page.locator('[data-menu="terminal"]').tap();
    await page.locator('[data-testid="conn"][data-state="p2p"]').waitFor();
    await typeInTerminal(page, 'pwd');
    await waitForLine(page, new RegExp(`^${join(root, 'project').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`));
  });

  test('an upload broken by a host restart resumes from what the host holds', async () => {
    const { page } = suite.phone;
    await openFiles(page);
    const original = randomBytes(32 * 1024 * 1024);
    const local = join(work, 'resume.bin');
    writeFileSync(local, original);
    await page.locator('[data-testid="upload-input"]').setInputFiles(local);
    const item = page.locator('li.transfer[data-kind="upload"][data-name="resume.bin"]');
    await page.waitForFunction(() => {
      const el = document.querySelector('li.transfer[data-name="resume.bin"]');
      return (
        el?.getAttribute('data-state') === 'running' && Number(el.getAttribute('data-done')) >= 256 * 1024
      );
    });
    // The host goes away mid-upload: the page pauses, keeps the file, and goes on when the host is back.
    await suite.host.restart();
    await item
      .and(
        page.locator(
          '[data-state="paused"], [data-state="queued"], [data-state="running"], [data-state="done"]',
        ),
      )
      .waitFor();
    await shot(page, 'files-upload-resumed');
    await page
      .locator('li.transfer[data-name="resume.bin"][data-state="done"]')
      .waitFor({ timeout: 180_000 });
    const line = await item.locator('[data-testid="transfer-line"]').innerText();
    assert.match(line, /resumed from [1-9]/);
    const expected = sha256(original);
    assert.equal(await item.getAttribute('data-sha256'), expected);
    assert.equal(sha256(readFileSync(join(root, 'resume.bin'))), expected);
    // Nothing of the broken try is left beside it.
    assert.deepEqual(
      readdirSync(root).filter((n) => n.includes('.part')),
      [],
    );
  });

  test('makes, renames, copies, moves and deletes entries; a refusal in words', async () => {
    const { page } = suite.phone;
    await openFiles(page);
    const sheetClosed = () => page.locator('dialog.sheet').waitFor({ state: 'detached' });
    const actionsOf = async (name: string) => {
      await page.locator(`li.file-row[data-name="${name}"] [data-action="menu"]`).tap();
      await page.locator('[data-testid="actions-sheet"]').waitFor();
    };
    const answer = async (text: string) => {
      await page.locator('[data-testid="name-field"]').fill(text);
      await page.locator('[data-testid="name-ok"]').tap();
      await sheetClosed();
    };

    // New folder.
    await page.locator('[data-testid="folder-actions"]').tap();
    await page.locator('[data-menu="mkdir"]').tap();
    await answer('made');
    await page.locator('li.file-row[data-name="made"]').waitFor();
    assert.ok(statSync(join(root, 'made')).isDirectory());

    // A long press (held still) opens the same actions as ⋯: rename.
    const row = page.locator('li.file-row[data-name="top.txt"] .row');
    const box = await row.boundingBox();
    assert.ok(box);
    const at = {
      clientX: box.x + box.width / 2,
      clientY: box.y + box.height / 2,
      pointerType: 'touch',
      bubbles: true,
    };
    await row.dispatchEvent('pointerdown', at);
    await page.locator('[data-testid="actions-sheet"]').waitFor();
    await row.dispatchEvent('pointerup', at);
    await page.locator('[data-menu="rename"]').tap();
    await answer('note.txt');
    await page.locator('li.file-row[data-name="note.txt"]').waitFor();
    assert.equal(readFileSync(join(root, 'note.txt'), 'utf8'), 'A text file at the top of the root.\n');
    assert.equal(existsSync(join(root, 'top.txt')), false);

    // Copy into the folder; a second copy to the same name is refused, in words.
    await actionsOf('note.txt');
    await page.locator('[data-menu="copy"]').tap();
    await answer('made/note.txt');
    await page.locator('.toast', { hasText: 'Copied' }).waitFor();
    assert.equal(
      readFileSync(join(root, 'made', 'note.txt'), 'utf8'),
      readFileSync(join(root, 'note.txt'), 'utf8'),
    );
    await actionsOf('note.txt');
    await page.locator('[data-menu="copy"]').tap();
    await answer('made/note.txt');
    await page.locator('.toast', { hasText: /already there.*\(exists\)/ }).waitFor();

    // Move it.
    await actionsOf('note.txt');
    await page.locator('[data-menu="move"]').tap();
    await answer('made/moved.txt');
    await page.locator('li.file-row[data-name="note.txt"]').waitFor({ state: 'detached' });
    assert.equal(existsSync(join(root, 'note.txt')), false);
    assert.ok(existsSync(join(root, 'made', 'moved.txt')));

    // Delete the folder to the trash (the host user's trash, under the home).
    await actionsOf('made');
    await page.locator('[data-menu="delete"]').tap();
    await page.locator('[data-testid="delete-trash"]').tap();
    await page.locator('li.file-row[data-name="made"]').waitFor({ state: 'detached' });
    assert.equal(existsSync(join(root, 'made')), false);
    assert.ok(existsSync(join(root, '.local', 'share', 'Trash', 'files', 'made', 'moved.txt')));

    // Delete for good asks twice; the file is gone, not in the trash.
    writeFileSync(join(root, 'gone.txt'), 'bye\n');
    await page.locator('[data-testid="folder-actions"]').tap();
    await page.locator('[data-menu="refresh"]').tap();
    await actionsOf('gone.txt');
    await page.locator('[data-menu="delete"]').tap();
    await page.locator('[data-testid="delete-permanent"]').tap();
    await page.locator('[data-testid="confirm-sheet"]').waitFor();
    await shot(page, 'files-delete-confirm');
    await page.locator('[data-testid="confirm-ok"]').tap();
    await page.locator('li.file-row[data-name="gone.txt"]').waitFor({ state: 'detached' });
    assert.equal(existsSync(join(root, 'gone.txt')), false);
    assert.equal(existsSync(join(root, '.local', 'share', 'Trash', 'files', 'gone.txt')), false);
  });

  test('a cancelled upload leaves nothing; a name already there is replaced only when asked', async () => {
    const { page } = suite.phone;
    await openFiles(page);
    const local = join(work, 'cancel.bin');
    writeFileSync(local, randomBytes(32 * 1024 * 1024));
    await page.locator('[data-testid="upload-input"]').setInputFiles(local);
    const item = page.locator('li.transfer[data-kind="upload"][data-name="cancel.bin"]');
    await page.waitForFunction(() => {
      const el = document.querySelector('li.transfer[data-name="cancel.bin"]');
      return (
        el?.getAttribute('data-state') === 'running' && Number(el.getAttribute('data-done')) >= 256 * 1024
      );
    });
    await item.locator('[data-action="cancel"]').tap();
    await page.locator('li.transfer[data-name="cancel.bin"][data-state="cancelled"]').waitFor();
    assert.ok(
      await eventually(() => readdirSync(root).every((n) => !n.includes('cancel.bin'))),
      `left behind: ${readdirSync(root).join(', ')}`,
    );

    writeFileSync(join(root, 'replace.txt'), 'old\n');
    await page.locator('[data-testid="folder-actions"]').tap();
    await page.locator('[data-menu="refresh"]').tap();
    await page.locator('li.file-row[data-name="replace.txt"]').waitFor();
    const newer = join(work, 'replace.txt');
    writeFileSync(newer, 'new content\n');
    // Declined: nothing is sent.
    await page.locator('[data-testid="upload-input"]').setInputFiles(newer);
    await page.locator('[data-testid="confirm-sheet"]').waitFor();
    await page.locator('[data-testid="confirm-cancel"]').tap();
    await page.locator('dialog.sheet').waitFor({ state: 'detached' });
    assert.equal(await page.locator('li.transfer[data-name="replace.txt"]').count(), 0);
    assert.equal(readFileSync(join(root, 'replace.txt'), 'utf8'), 'old\n');
    // Accepted: replaced.
    await page.locator('[data-testid="upload-input"]').setInputFiles(newer);
    await page.locator('[data-testid="confirm-ok"]').tap();
    await page.locator('li.transfer[data-name="replace.txt"][data-state="done"]').waitFor();
    assert.equal(readFileSync(join(root, 'replace.txt'), 'utf8'), 'new content\n');
  });

  test('links show where they lead; a folder of 450 pages in, sorted by size both ways', async () => {
    const { page } = suite.phone;
    await openFiles(page);
    await page.locator('li.file-row[data-name="links"] .row').tap();
    await page.locator('[data-testid="entries"][data-path="links"]').waitFor();
    const link = (name: string) => page.locator(`li.file-row[data-name="${name}"]`);
    assert.equal(await link('to-project').getAttribute('data-link'), 'dir');
    assert.equal(await link('to-etc').getAttribute('data-link'), 'outside');
    assert.equal(await link('to-nothing').getAttribute('data-link'), 'broken');
    assert.match(await link('to-project').locator('.row-sub').innerText(), /→ folder/);
    assert.match(await link('to-etc').locator('.row-sub').innerText(), /→ outside/);
    assert.equal(await link('to-etc').locator('.row').isDisabled(), true);
    assert.equal(await link('to-nothing').locator('.row').isDisabled(), true);
    await shot(page, 'files-links');
    // A link to a folder in the root opens it.
    await link('to-project').locator('.row').tap();
    await page.locator('[data-testid="entries"][data-path="links/to-project"]').waitFor();
    assert.deepEqual(await listed(page), ['answer.ts', 'chart.png', 'hello.pdf', 'upload.bin']);

    await page.locator('[data-testid="crumbs"] .crumb[data-path=""]').tap();
    await page.locator('li.file-row[data-name="many"] .row').tap();
    await page.locator('[data-testid="entries"][data-path="many"]').waitFor();
    assert.equal(await page.locator('[data-testid="entries"]').getAttribute('data-total'), '450');
    const count = () => page.locator('[data-testid="entries"] li.file-row').count();
    assert.equal(await count(), 200);
    await page.locator('[data-testid="load-more"]').tap();
    await page.locator('li.file-row[data-name="f399"]').waitFor();
    assert.equal(await count(), 400);
    await page.locator('[data-testid="load-more"]').tap();
    await page.locator('li.file-row[data-name="f449"]').waitFor();
    assert.equal(await count(), 450);
    assert.equal(await page.locator('[data-testid="load-more"]').isVisible(), false);
    const names = await listed(page);
    assert.deepEqual(names, [...names].sort());
    assert.equal(new Set(names).size, 450);
    // Size: largest first, then (tapped again) smallest first.
    await page.locator('[data-sort="size"]').tap();
    await page
      .locator('[data-testid="entries"] li.file-row')
      .first()
      .and(page.locator('[data-name="f449"]'))
      .waitFor();
    assert.match((await page.locator('[data-sort="size"]').innerText()) ?? '', /↓/);
    await page.locator('[data-sort="size"]').tap();
    await page
      .locator('[data-testid="entries"] li.file-row')
      .first()
      .and(page.locator('[data-name="f000"]'))
      .waitFor();
    assert.match((await page.locator('[data-sort="size"]').innerText()) ?? '', /↑/);
    await shot(page, 'files-sorted-by-size');
  });

  test('searches by name under the folder shown; a match opens where it is', async () => {
    const { page } = suite.phone;
    await openFiles(page);
    await page.locator('li.file-row[data-name="many"] .row').tap();
    await page.locator('[data-testid="entries"][data-path="many"]').waitFor();
    await page.locator('[data-testid="search"]').tap();
    await page.locator('[data-testid="name-field"]').fill('F44');
    await page.locator('[data-testid="name-ok"]').tap();
    await page.locator('[data-testid="entries"][data-search="F44"]').waitFor();
    assert.deepEqual(
      (await listed(page)).sort(),
      Array.from({ length: 10 }, (_, i) => `f44${i}`),
    );
    assert.equal(await page.locator('[data-testid="files-status"]').innerText(), '10 matches');
    // From the root: a file in a folder, shown with its folder, previews from there.
    await page.locator('[data-testid="crumbs"] .crumb[data-path=""]').tap();
    await page.locator('[data-testid="search-bar"]').waitFor({ state: 'hidden' });
    await page.locator('[data-testid="search"]').tap();
    await page.locator('[data-testid="name-field"]').fill('answer');
    await page.locator('[data-testid="name-ok"]').tap();
    const match = page.locator(
      '[data-testid="entries"][data-search="answer"] li.file-row[data-name="answer.ts"]',
    );
    await match.waitFor();
    assert.match(await match.locator('.row-sub').innerText(), /^in project · /);
    await shot(page, 'files-search');
    await match.locator('.row').tap();
    await page.locator('[data-testid="preview-text"]', { hasText: 'hello from the host' }).waitFor();
    await page.locator('[data-testid="preview-close"]').tap();
    await page.locator('[data-testid="search-clear"]').tap();
    await page.locator('[data-testid="search-bar"]').waitFor({ state: 'hidden' });
    await page.locator('li.file-row[data-name="project"]').waitFor();
  });

  test('a large text file previews its first 256 KiB (light theme)', async () => {
    const { page } = suite.phone;
    await page.emulateMedia({ colorScheme: 'light' });
    try {
      await openFiles(page);
      await page.locator('li.file-row[data-name="logs"] .row').tap();
      await page.locator('li.file-row[data-name="big.log"] .row').tap();
      const text = page.locator('[data-testid="preview-text"]');
      await text.waitFor();
      const status = page.locator('[data-testid="preview-status"]');
      assert.equal(await status.innerText(), 'The first 256 KiB of 300 KiB (4096 lines).');
      const shown = await text.innerText();
      assert.ok(shown.startsWith('line 000000 '));
      // 256 KiB of 64-byte lines: 4096 whole lines, the last one 004095.
      assert.match(shown, /line 004095 x+\n?$/);
      assert.doesNotMatch(shown, /line 004096/);
      await shot(page, 'files-text-preview-light');
      await page.locator('[data-testid="preview-close"]').tap();
      await shot(page, 'files-listing-light');
    } finally {
      await page.emulateMedia({ colorScheme: 'dark' });
    }
  });

  test('with files:read only, nothing that changes a file is offered; without it the screen says why', async () => {
    const { page } = suite.phone;
    suite.host.host.agent.setGrants(phoneId, ['shell', 'files:read']);
    await page.goto(`${suite.relay.url}/#/hosts`);
    await page.locator(`[data-host="${suite.host.host.identity.id}"][data-state="online"]`).waitFor();
    await openFiles(page);
    assert.equal(await page.locator('[data-testid="upload"]').isVisible(), false);
    await page.locator('li.file-row[data-name="replace.txt"] [data-action="menu"]').tap();
    const offered = await page
      .locator('[data-testid="actions-sheet"] .menu-item')
      .evaluateAll((els) => els.map((e) => e.getAttribute('data-menu')));
    assert.deepEqual(offered, ['open', 'download']);
    await page.keyboard.press('Escape');
    await page.locator('dialog.sheet').waitFor({ state: 'detached' });

    suite.host.host.agent.setGrants(phoneId, ['shell']);
    await page.goto(`${suite.relay.url}/#/hosts`);
    await page.locator(`[data-host="${suite.host.host.identity.id}"][data-state="online"]`).waitFor();
    await page.goto(`${suite.relay.url}/#/host/${suite.host.host.identity.id}/files`);
    const denied = page.locator('[data-testid="files-denied"]');
    await denied.waitFor();
    assert.equal(await denied.getAttribute('data-code'), 'grant_missing');
    assert.match((await denied.textContent()) ?? '', /does not hold the files:read grant/);
    await shot(page, 'files-no-grant');
    await assertFits(page);
  });

  test('no screen of this file broke the Content Security Policy', () => {
    assert.deepEqual(suite.cspViolations, []);
  });
});
