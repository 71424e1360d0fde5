/**
 * The `files` channel's transfers (issue 15, docs/protocol.md §6) end to
 * end: a real relay process, a real host on loopback whose files root is a
 * temporary folder, paired Node devices (some as child processes).
 * Downloads and uploads of small and multi-MiB files arrive with the right
 * SHA-256; a byte flipped on the wire fails the upload `integrity` and
 * nothing appears (and a flipped download is caught by the client); a
 * client killed mid-upload leaves nothing under the final name, and a new
 * client resumes from the host's temporary file and completes; cancels
 * end transfers; a tail follows appended lines, a truncation and a
 * deletion; too many transfers at once are refused `limit_reached`; a
 * device without `files:write` cannot upload; stale temporary files go;
 * a link, hard link or FIFO planted under an upload's temporary name is
 * replaced, never written through.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { appendFile, truncate, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { FilesClient, type HostConnection } from '@pocketshell/client';
import type { HostId } from '@pocketshell/protocol';
import { loopbackDevice, until } from '../support/cli.ts';
import { childLines, type FilesWorld, filesWorld, type Paired } from '../support/files-e2e.ts';

const MiB = 1024 * 1024;
const PER_DEVICE = 3;
let w: FilesWorld;
let rw: Paired;
let conn: HostConnection;

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const code = (c: string) => (e: Error & { code?: string }) => {
  assert.equal(e.code, c, e.message);
  return true;
};
const partsIn = (dir: string) => readdirSync(dir).filter((n) => n.includes('.pocketshell-'));

function audit(): Record<string, unknown>[] {
  return readFileSync(join(w.dir, 'state', 'audit.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** An upload source over bytes in memory (small files only). */
const bytesSource = (b: Uint8Array) => ({
  size: b.length,
  read: async (offset: number, length: number) => b.slice(offset, offset + length),
});

before(async () => {
  w = await filesWorld({ perDevice: PER_DEVICE });
  rw = await w.pair(['files:read', 'files:write']);
  conn = await rw.device.connect(rw.host.id);
});

after(async () => {
  await conn?.close();
  await w?.close();
});

test('downloads and uploads small and multi-MiB files with the right SHA-256; reads ranges', async () => {
  const files = await conn.openFiles();
  const empty = new Uint8Array(0);
  const small = randomBytes(1000);
  const big = randomBytes(5 * MiB + 12345);
  writeFileSync(join(w.root, 'empty.bin'), empty);
  writeFileSync(join(w.root, 'small.bin'), small);
  writeFileSync(join(w.root, 'big.bin'), big);

  for (const [name, bytes] of [
    ['empty.bin', empty],
    ['small.bin', small],
    ['big.bin', big],
  ] as const) {
    const parts: Buffer[] = [];
    let progress = 0;
    const r = await files.download(
      name,
      (chunk, offset) => {
        assert.equal(
          offset,
          parts.reduce((n, p) => n + p.length, 0),
        );
        parts.push(Buffer.from(chunk));
      },
      {
        onProgress: (d) => {
          progress = d;
        },
      },
    );
    assert.equal(r.size, bytes.length);
    assert.equal(r.sha256, sha(bytes));
    assert.ok(Buffer.concat(parts).equals(bytes));
    assert.equal(progress, bytes.length);
    // To a local file, through the part file.
    const local = join(w.dir, `dl-${name}`);
    const f = await files.downloadFile(name, local);
    assert.equal(f.sha256, sha(bytes));
    assert.ok(readFileSync(local).equals(bytes));
    assert.equal(existsSync(`${local}.pocketshell-part`), false);
  }

  // A resumed download: a correct prefix on disk is hashed with the rest.
  const local = join(w.dir, 'resumed.bin');
  writeFileSync(`${local}.pocketshell-part`, big.subarray(0, 2 * MiB));
  const seen: number[] = [];
  const res = await files.downloadFile('big.bin', local, { onProgress: (d) => seen.push(d) });
  assert.equal(res.sha256, sha(big));
  assert.ok(seen[0]! > 2 * MiB && seen[0]! <= 2 * MiB + 256 * 1024, `first progress ${seen[0]}`);
  assert.ok(readFileSync(local).equals(big));
  // A wrong prefix on disk: the whole-file hash catches it, the part file goes, nothing appears.
  const bad = join(w.dir, 'bad-prefix.bin');
  writeFileSync(`${bad}.pocketshell-part`, randomBytes(MiB));
  await assert.rejects(files.downloadFile('big.bin', bad), code('integrity'));
  assert.equal(existsSync(bad), false);
  assert.equal(existsSync(`${bad}.pocketshell-part`), false);

  // Ranges.
  const range = await files.read('big.bin', 3 * MiB + 7, 100_000);
  assert.ok(Buffer.from(range).equals(big.subarray(3 * MiB + 7, 3 * MiB + 7 + 100_000)));
  const tailEnd = await files.read('big.bin', big.length - 10, 1000);
  assert.ok(Buffer.from(tailEnd).equals(big.subarray(big.length - 10)));
  assert.equal((await files.read('big.bin', big.length + 5, 10)).length, 0);
  await assert.rejects(
    files.rpc.callUntyped('files.read', { path: 'big.bin', length: MiB + 1 }),
    code('bad_message'),
  );

  // Uploads, small and multi-MiB, into a subfolder; the bytes on the host are the sender's.
  mkdirSync(join(w.root, 'up'));
  for (const [name, bytes] of [
    ['e.bin', empty],
    ['s.bin', small],
    ['b.bin', big],
  ] as const) {
    const r = await files.upload(`up/${name}`, bytesSource(bytes));
    assert.deepEqual(r, { path: `up/${name}`, size: bytes.length, sha256: sha(bytes) });
    assert.ok(readFileSync(join(w.root, 'up', name)).equals(bytes));
  }
  assert.deepEqual(partsIn(join(w.root, 'up')), []);
  // uploadFile from a local file.
  const r = await files.uploadFile(join(w.dir, 'dl-big.bin'), 'up/from-file.bin');
  assert.equal(r.sha256, sha(big));
  assert.ok(readFileSync(join(w.root, 'up', 'from-file.bin')).equals(big));

  // No overwrite unless asked; with it, the file is replaced.
  await assert.rejects(files.upload('up/s.bin', bytesSource(big)), code('exists'));
  assert.ok(readFileSync(join(w.root, 'up', 's.bin')).equals(small));
  const again = await files.upload('up/s.bin', bytesSource(big), { overwrite: true });
  assert.equal(again.sha256, sha(big));
  assert.ok(readFileSync(join(w.root, 'up', 's.bin')).equals(big));
  await assert.rejects(files.upload('up', bytesSource(small), { overwrite: true }), code('wrong_type'));

  // Every write audited with device, path, size and hash.
  const writes = audit().filter((e) => e.event === 'files.write');
  const last = writes[writes.length - 1]!;
  assert.equal(last.device, rw.device.id);
  assert.equal(last.path, 'up/s.bin');
  assert.equal(last.size, big.length);
  assert.equal(last.sha256, sha(big));
  assert.ok(writes.some((e) => e.path === 'up/b.bin' && e.sha256 === sha(big)));
  files.close();
});

test('a byte flipped on the wire mid-upload fails it `integrity`; nothing appears, the temp file is gone', async () => {
  const files = await conn.openFiles();
  const bytes = randomBytes(3 * MiB);
  const send = files.channel.send.bind(files.channel);
  let flipped = false;
  // The client hashes what it read; a byte changed after that, in a data frame half way, is damage in transit.
  files.channel.send = (data) => {
    if (typeof data !== 'string' && data[0] === 0x02 && !flipped) {
      const offset = new DataView(data.buffer, data.byteOffset).getUint32(9);
      if (offset >= 1.5 * MiB) {
        const copy = Uint8Array.from(data);
        copy[13 + 100]! ^= 0x01;
        flipped = true;
        return send(copy);
      }
    }
    return send(data);
  };
  mkdirSync(join(w.root, 'flip'));
  await assert.rejects(files.upload('flip/x.bin', bytesSource(bytes)), code('integrity'));
  assert.ok(flipped);
  assert.deepEqual(readdirSync(join(w.root, 'flip')), []);
  assert.ok(audit().some((e) => e.event === 'refusal' && e.code === 'integrity'));
  files.close();

  // A download flipped on the way in is caught by the client: no local file, no part file.
  writeFileSync(join(w.root, 'flip', 'y.bin'), bytes);
  const channel = conn.peer.createDataChannel('files');
  let hit = false;
  channel.on('message', (data) => {
    if (typeof data !== 'string' && data[0] === 0x02 && !hit) {
      const offset = new DataView(data.buffer, data.byteOffset).getUint32(9);
      if (offset >= MiB) {
        data[13 + 5]! ^= 0x80;
        hit = true;
      }
    }
  });
  const dl = new FilesClient(channel);
  await new Promise<void>((r) => channel.once('open', () => r()));
  const local = join(w.dir, 'flipped.bin');
  await assert.rejects(dl.downloadFile('flip/y.bin', local), code('integrity'));
  assert.ok(hit);
  assert.equal(existsSync(local), false);
  assert.equal(existsSync(`${local}.pocketshell-part`), false);
  dl.close();
});

test('a client killed mid-upload leaves nothing under the final name; a new client resumes and completes', async () => {
  const local = join(w.dir, 'kill-src.bin');
  const bytes = randomBytes(24 * MiB);
  writeFileSync(local, bytes);
  mkdirSync(join(w.root, 'kill'));
  // The same device in another process.
  const c = w.child(rw, { op: 'upload', local, remote: 'kill/k.bin' });
  const lines = childLines(c);
  await until(() => lines.progress() >= 4 * MiB, 60_000, 20);
  c.kill('SIGKILL');
  const ended = await lines.done;
  assert.equal(ended.result, undefined, 'killed before it finished');
  assert.equal(existsSync(join(w.root, 'kill', 'k.bin')), false);
  // The temporary file holds what arrived; the host keeps it for a resume.
  const parts = partsIn(join(w.root, 'kill'));
  assert.equal(parts.length, 1);
  assert.match(parts[0]!, /^\.k\.bin\.pocketshell-[0-9a-f]{16}\.part$/);

  // A new client (same device key, new process state), without waiting for the host to see the old channel die.
  const again = loopbackDevice(w.relay.wsUrl, rw.keyPair);
  again.addHost(rw.host);
  try {
    const c2 = await again.connect(rw.host.id as HostId);
    const files = await c2.openFiles();
    const held = statSync(join(w.root, 'kill', parts[0]!)).size;
    let first = -1;
    const r = await files.uploadFile(local, 'kill/k.bin', {
      onProgress: (d) => {
        if (first < 0) first = d;
      },
    });
    assert.ok(first > 0, `resumed from ${first}`);
    assert.ok(first >= held - 256 * 1024, `resumed from ${first}, the part held ${held}`);
    assert.equal(r.sha256, sha(bytes));
    assert.ok(readFileSync(join(w.root, 'kill', 'k.bin')).equals(bytes));
    assert.deepEqual(partsIn(join(w.root, 'kill')), []);
    await c2.close();
  } finally {
    await again.close();
  }
});

test('a resumed upload whose prefix differs starts over; cancel removes the temporary file', async () => {
  const files = await conn.openFiles();
  mkdirSync(join(w.root, 'resume'));
  const bytes = randomBytes(2 * MiB);
  // Leave a part behind by closing the channel mid-upload (the host keeps it). On a connection of its
  // own: werift reuses a closed channel's stream id at once, and the late stream reset of a channel
  // closed mid-transfer then closes the next channel opened on that connection.
  const side = await rw.device.connect(rw.host.id);
  const first = await side.openFiles();
  const send = first.channel.send.bind(first.channel);
  let frames = 0;
  first.channel.send = (data) => {
    if (typeof data !== 'string' && data[0] === 0x02 && ++frames === 40) first.close();
    else if (first.channel.readyState === 'open') send(data);
  };
  await assert.rejects(first.upload('resume/r.bin', bytesSource(bytes)), code('unavailable'));
  await until(
    () =>
      partsIn(join(w.root, 'resume')).length === 1 &&
      statSync(join(w.root, 'resume', partsIn(join(w.root, 'resume'))[0]!)).size > 0,
  );
  await side.close();
  // Other bytes of the same size: the prefix hash differs, the client restarts from 0.
  const other = randomBytes(2 * MiB);
  let start = -1;
  const r = await files.upload('resume/r.bin', bytesSource(other), {
    onProgress: (d) => {
      if (start < 0) start = d;
    },
  });
  assert.equal(start, 0);
  assert.equal(r.sha256, sha(other));
  assert.ok(readFileSync(join(w.root, 'resume', 'r.bin')).equals(other));

  // Cancel by signal mid-upload: the temporary file is removed, nothing appears.
  const ac2 = new AbortController();
  await assert.rejects(
    files.upload('resume/c.bin', bytesSource(randomBytes(8 * MiB)), {
      signal: ac2.signal,
      onProgress: (d) => {
        if (d >= MiB) ac2.abort();
      },
    }),
    code('cancelled'),
  );
  await until(() => partsIn(join(w.root, 'resume')).length === 0);
  assert.equal(existsSync(join(w.root, 'resume', 'c.bin')), false);

  // Cancel a download: it ends `cancelled`, and the channel goes on serving.
  writeFileSync(join(w.root, 'resume', 'd.bin'), randomBytes(16 * MiB));
  const ac3 = new AbortController();
  let got = 0;
  await assert.rejects(
    files.download(
      'resume/d.bin',
      async (chunk) => {
        got += chunk.length;
        if (got >= MiB) ac3.abort();
      },
      { signal: ac3.signal },
    ),
    code('cancelled'),
  );
  assert.ok(got < 16 * MiB);
  assert.equal((await files.read('resume/r.bin', 0, 10)).length, 10);
  files.close();
});

test('a tail follows appended lines, a truncation, and ends on cancel and on deletion', async () => {
  const files = await conn.openFiles();
  const log = join(w.root, 'app.log');
  writeFileSync(log, 'old line 1\nold line 2\n');
  let text = '';
  let truncatedTo = -1;
  const ac = new AbortController();
  const tail = files.tail(
    'app.log',
    (chunk) => {
      text += Buffer.from(chunk).toString();
    },
    { backlog: 11, onTruncated: (s) => (truncatedTo = s), signal: ac.signal },
  );
  await until(() => text === 'old line 2\n');
  await appendFile(log, 'new line 3\n');
  await until(() => text.endsWith('new line 3\n'));
  await appendFile(log, 'new line 4\nnew line 5\n');
  await until(() => text.endsWith('new line 4\nnew line 5\n'));
  await truncate(log, 0);
  await until(() => truncatedTo === 0);
  await appendFile(log, 'after truncation\n');
  await until(() => text.endsWith('after truncation\n'));
  ac.abort();
  assert.deepEqual(await tail, { ended: 'cancelled' });

  let text2 = '';
  const tail2 = files.tail('app.log', (chunk) => {
    text2 += Buffer.from(chunk).toString();
  });
  await until(() => text2 === 'after truncation\n');
  await unlink(log);
  assert.deepEqual(await tail2, { ended: 'deleted' });
  files.close();
});

test('too many transfers at once are refused limit_reached, over all of a device’s channels', async () => {
  const a = await conn.openFiles();
  const b = await conn.openFiles();
  for (let i = 0; i < PER_DEVICE; i++) writeFileSync(join(w.root, `t${i}.log`), 'x\n');
  const acs: AbortController[] = [];
  const tails: Promise<unknown>[] = [];
  for (let i = 0; i < PER_DEVICE; i++) {
    const ac = new AbortController();
    acs.push(ac);
    let seen = false;
    tails.push(
      (i % 2 ? a : b).tail(
        `t${i}.log`,
        () => {
          seen = true;
        },
        { signal: ac.signal },
      ),
    );
    await until(() => seen);
  }
  await assert.rejects(a.read('t0.log', 0, 2), code('limit_reached'));
  await assert.rejects(
    b.download('t0.log', () => {}),
    code('limit_reached'),
  );
  await assert.rejects(b.upload('t9.log', bytesSource(Uint8Array.of(1))), code('limit_reached'));
  assert.ok(audit().some((e) => e.event === 'refusal' && e.code === 'limit_reached'));
  // Another device has its own count.
  const other = await w.pair(['files:read']);
  const oc = await other.device.connect(other.host.id);
  const of = await oc.openFiles();
  assert.equal(Buffer.from(await of.read('t0.log', 0, 2)).toString(), 'x\n');
  await oc.close();
  // Slots come back when transfers end.
  for (const ac of acs) ac.abort();
  await Promise.all(tails);
  assert.equal(Buffer.from(await a.read('t0.log', 0, 2)).toString(), 'x\n');
  a.close();
  b.close();
});

test('a device without files:write cannot upload (grant_missing); nothing is written', async () => {
  const ro = await w.pair(['files:read']);
  const c = await ro.device.connect(ro.host.id);
  try {
    const files = await c.openFiles();
    await assert.rejects(files.upload('ro.bin', bytesSource(randomBytes(1000))), code('grant_missing'));
    assert.equal(existsSync(join(w.root, 'ro.bin')), false);
    assert.deepEqual(partsIn(w.root), []);
    // Reading is allowed.
    writeFileSync(join(w.root, 'ro-read.txt'), 'hello');
    assert.equal(Buffer.from(await files.read('ro-read.txt', 0, 100)).toString(), 'hello');
    // Data frames for an upload it never began end the channel (bad_message).
    const closed = new Promise<void>((r) => files.channel.once('close', () => r()));
    files.channel.send(Uint8Array.of(0x02, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 42));
    await closed;
    assert.ok(audit().some((e) => e.event === 'refusal' && e.code === 'bad_message'));
  } finally {
    await c.close();
  }
  // A device without any files grant is refused the channel.
  const none = await w.pair(['shell']);
  const cn = await none.device.connect(none.host.id);
  // (The channel may open before the host reads its label; then it closes at once.)
  const refused = await cn.openFiles().catch((e: Error & { code?: string }) => e.code);
  if (refused instanceof FilesClient)
    await assert.rejects(refused.read('ro-read.txt', 0, 5), code('unavailable'));
  else assert.equal(refused, 'unavailable');
  assert.ok(
    audit().some((e) => e.event === 'refusal' && e.code === 'grant_missing' && e.device === none.device.id),
  );
  await cn.close();
});

test('temporary files unused for 24 hours are removed when an upload begins in their folder', async () => {
  const files = await conn.openFiles();
  const dir = join(w.root, 'stale');
  mkdirSync(dir);
  const stale = join(dir, '.old.bin.pocketshell-0123456789abcdef.part');
  const fresh = join(dir, '.new.bin.pocketshell-fedcba9876543210.part');
  writeFileSync(stale, 'stale');
  writeFileSync(fresh, 'fresh');
  const old = (Date.now() - 25 * 3600 * 1000) / 1000;
  utimesSync(stale, old, old);
  await files.upload('stale/x.bin', bytesSource(Uint8Array.of(1, 2, 3)));
  assert.equal(existsSync(stale), false);
  assert.equal(existsSync(fresh), true);
  files.close();
});

test('a link, a hard link or a FIFO planted under an upload’s temporary name is replaced, never written through', async () => {
  const files = await conn.openFiles();
  const dir = join(w.root, 'plant');
  mkdirSync(dir);
  const outside = join(w.dir, 'outside.txt');
  const bytes = randomBytes(100_000);
  const cases: [string, (part: string) => void][] = [
    ['link.bin', (part) => symlinkSync(outside, part)],
    ['hard.bin', (part) => linkSync(outside, part)],
    ['fifo.bin', (part) => execFileSync('mkfifo', [part])],
  ];
  for (const [name, plant] of cases) {
    writeFileSync(outside, 'outside, untouched');
    // The temporary name as docs/protocol.md §6 gives it: key from device, folder, name and size.
    const key = createHash('sha256')
      .update(`${rw.device.id}\0${realpathSync(dir)}\0${name}\0${bytes.length}`)
      .digest('hex')
      .slice(0, 16);
    plant(join(dir, `.${name}.pocketshell-${key}.part`));
    const r = await files.upload(`plant/${name}`, bytesSource(bytes));
    assert.equal(r.sha256, sha(bytes), name);
    assert.ok(readFileSync(join(dir, name)).equals(bytes), name);
    assert.equal(readFileSync(outside, 'utf8'), 'outside, untouched', name);
    assert.equal(lstatSync(outside).isFile(), true);
    assert.deepEqual(partsIn(dir), [], name);
  }
  files.close();
});
