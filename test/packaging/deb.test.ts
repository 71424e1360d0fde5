/**
 * The Debian packages (scripts/package-deb.ts) and the Homebrew formulas
 * (scripts/package-homebrew.ts): the .debs build with dpkg-deb, their
 * control fields and file lists are right, `dpkg -x` + running the
 * extracted binaries works, the units they carry pass `systemd-analyze
 * verify`, and a formula names the sha256 of the tarball it was made for.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { ROOT } from '../support/cli.ts';

const hasDpkg = spawnSync('dpkg-deb', ['--version']).status === 0;
const hasAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0;
const VERSION = (
  JSON.parse(readFileSync(join(ROOT, 'packages/host-agent/package.json'), 'utf8')) as { version: string }
).version;
let work: string;
let agentDeb: string;
let relayDeb: string;
let extracted: string;
/** PATH with this Node first: the packages run on the system's node. */
const PATH = `${dirname(process.execPath)}:${process.env.PATH}`;

before(() => {
  work = mkdtempSync(join(tmpdir(), 'pocketshell-deb-'));
  if (!hasDpkg) return;
  [agentDeb, relayDeb] = execFileSync(
    process.execPath,
    [join(ROOT, 'scripts/package-deb.ts'), '--out', work],
    {
      encoding: 'utf8',
    },
  )
    .trim()
    .split('\n') as [string, string];
  extracted = join(work, 'root');
  execFileSync('dpkg', ['-x', agentDeb, extracted]);
  execFileSync('dpkg', ['-x', relayDeb, extracted]);
});

after(() => rmSync(work, { recursive: true, force: true }));

function field(deb: string, name: string): string {
  return execFileSync('dpkg-deb', ['--field', deb, name], { encoding: 'utf8' }).trim();
}

test('the agent .deb: control fields and contents', { skip: !hasDpkg && 'no dpkg-deb' }, () => {
  assert.match(agentDeb, new RegExp(`pocketshell_${VERSION.replaceAll('.', '\\.')}_(amd64|arm64)\\.deb$`));
  const info = execFileSync('dpkg-deb', ['--info', agentDeb], { encoding: 'utf8' });
  assert.match(info, /Package: pocketshell\n/);
  assert.equal(field(agentDeb, 'Version'), VERSION);
  assert.match(field(agentDeb, 'Depends'), /^nodejs \(>= 22\.18\)$/);
  assert.ok(Number(field(agentDeb, 'Installed-Size')) > 1000);
  const contents = execFileSync('dpkg-deb', ['--contents', agentDeb], { encoding: 'utf8' });
  for (const path of [
    './usr/bin/pocketshell',
    './usr/lib/pocketshell/bin/pocketshell.js',
    './usr/lib/pocketshell/dist/lib/pocketshell.mjs',
    './usr/lib/pocketshell/package.json',
    '/lib/node_modules/node-pty/build/Release/pty.node',
    '/lib/node_modules/@napi-rs/keyring/index.js',
    './usr/lib/systemd/user/pocketshell.service',
    './usr/share/man/man1/pocketshell.1.gz',
    './usr/share/doc/pocketshell/copyright',
  ])
    assert.ok(contents.includes(path), `${path} in the package`);
  assert.match(contents, /-rwxr-xr-x root\/root .* \.\/usr\/bin\/pocketshell\n/);
  assert.doesNotMatch(contents, /\.(cc|h|gyp)\n|binding\.gyp|\/src\/unix\//, 'no sources to compile');
});

test('the relay .deb: system unit, conffile, examples', { skip: !hasDpkg && 'no dpkg-deb' }, () => {
  assert.equal(field(relayDeb, 'Architecture'), 'all');
  assert.equal(field(relayDeb, 'Package'), 'pocketshell-relay');
  const contents = execFileSync('dpkg-deb', ['--contents', relayDeb], { encoding: 'utf8' });
  for (const path of [
    './usr/bin/pocketshell-relay',
    './usr/lib/pocketshell-relay/dist/lib/relay.mjs',
    './usr/lib/systemd/system/pocketshell-relay.service',
    './etc/default/pocketshell-relay',
    './usr/share/doc/pocketshell-relay/examples/Caddyfile',
    './usr/share/doc/pocketshell-relay/examples/nginx.conf',
  ])
    assert.ok(contents.includes(path), `${path} in the package`);
  const control = join(work, 'control');
  execFileSync('dpkg-deb', ['--control', relayDeb, control]);
  assert.equal(readFileSync(join(control, 'conffiles'), 'utf8'), '/etc/default/pocketshell-relay\n');
  assert.equal(statSync(join(control, 'postinst')).mode & 0o777, 0o755);
});

test('dpkg -x, then the extracted binaries run', { skip: !hasDpkg && 'no dpkg-deb' }, () => {
  const env = { ...process.env, PATH, POCKETSHELL_HOME: join(work, 'state'), POCKETSHELL_KEYSTORE: 'file' };
  const v = spawnSync(join(extracted, 'usr/bin/pocketshell'), ['--version'], { env, encoding: 'utf8' });
  assert.equal(v.status, 0, v.stderr);
  assert.equal(v.stdout.trim(), VERSION);
  const doctor = spawnSync(join(extracted, 'usr/bin/pocketshell'), ['doctor', '--json'], {
    env,
    encoding: 'utf8',
  });
  assert.equal(
    (JSON.parse(doctor.stdout) as { checks: { id: string; status: string }[] }).checks[0]?.status,
    'ok',
  );
  const relay = spawnSync(join(extracted, 'usr/bin/pocketshell-relay'), ['--help'], {
    env,
    encoding: 'utf8',
  });
  assert.match(relay.stdout + relay.stderr, /usage:\s+pocketshell-relay/);
});

test('the packaged units pass systemd-analyze verify', {
  skip: (!hasDpkg || !hasAnalyze) && 'no dpkg-deb or systemd-analyze',
}, () => {
  const runtime = mkdtempSync(join(work, 'rt-'));
  for (const [unit, bin, user] of [
    ['usr/lib/systemd/user/pocketshell.service', 'usr/bin/pocketshell', true],
    ['usr/lib/systemd/system/pocketshell-relay.service', 'usr/bin/pocketshell-relay', false],
  ] as const) {
    // ExecStart must name an existing executable: point it at the extracted one.
    const copy = join(work, unit.split('/').pop()!);
    writeFileSync(copy, readFileSync(join(extracted, unit), 'utf8').replace(`/${bin}`, join(extracted, bin)));
    const r = spawnSync('systemd-analyze', ['verify', ...(user ? ['--user'] : []), '--man=no', copy], {
      env: { ...process.env, XDG_RUNTIME_DIR: runtime },
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    const complaints = r.stderr
      .split('\n')
      .filter((l) => l.includes(copy) || /Unknown|ignoring|Failed/.test(l));
    assert.deepEqual(complaints, [], unit);
  }
});

test('a Homebrew formula pins the tarball it was made for', () => {
  const tgz = join(work, `pocketshell-${VERSION}.tgz`);
  writeFileSync(tgz, 'stand-in tarball bytes');
  const relayTgz = join(work, `pocketshell-relay-${VERSION}.tgz`);
  writeFileSync(relayTgz, 'relay bytes');
  const out = join(work, 'brew');
  execFileSync(process.execPath, [
    join(ROOT, 'scripts/package-homebrew.ts'),
    '--main',
    tgz,
    '--relay',
    relayTgz,
    '--out',
    out,
  ]);
  const rb = readFileSync(join(out, 'pocketshell.rb'), 'utf8');
  const sha = createHash('sha256').update('stand-in tarball bytes').digest('hex');
  assert.match(rb, new RegExp(`sha256 "${sha}"`));
  assert.match(
    rb,
    new RegExp(`url "https://registry\\.npmjs\\.org/pocketshell/-/pocketshell-${VERSION}\\.tgz"`),
  );
  assert.match(rb, /class Pocketshell < Formula[\s\S]*service do[\s\S]*"daemon", "run"[\s\S]*\nend\n$/);
  assert.match(readFileSync(join(out, 'pocketshell-relay.rb'), 'utf8'), /class PocketshellRelay < Formula/);
});
