/**
 * Builds the Debian packages with dpkg-deb from the npm package folders
 * (scripts/build-packages.ts): `pocketshell_<v>_<arch>.deb` — the bundled
 * CLI and its platform package under /usr/lib/pocketshell, /usr/bin/pocketshell,
 * the reference systemd user unit and the man page — and
 * `pocketshell-relay_<v>_all.deb` with its system unit and
 * /etc/default/pocketshell-relay. Both run on the system's Node (>= 22.18,
 * e.g. Debian trixie-backports or NodeSource), or on $POCKETSHELL_NODE. Usage:
 *   node scripts/package-deb.ts [--out DIR]
 */
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { buildMain, buildPlatform, buildRelay, hostTarget, TARGETS, type Target } from './build-packages.ts';

const ROOT = resolve(import.meta.dirname, '..');
const DEB_ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64' };
const MAINTAINER = 'PocketShell maintainers <security@pocketshell.dev>';

/** The `/usr/bin` wrapper: the system's node (or $POCKETSHELL_NODE) on the packaged launcher. */
function wrapper(name: string, lib: string, script: string): string {
  return `#!/bin/sh
# ${name}: runs ${lib}/${script} on Node >= 22.18 ($POCKETSHELL_NODE, else node on PATH).
here=$(dirname "$(readlink -f "$0")")
exec "\${POCKETSHELL_NODE:-node}" "$here/../lib/${lib}/${script}" "$@"
`;
}

function duKiB(dir: string): number {
  let bytes = 0;
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) bytes += statSync(p).size;
    }
  };
  walk(dir);
  return Math.ceil(bytes / 1024);
}

function control(fields: Record<string, string>): string {
  return `${Object.entries(fields)
    .map(([k, v]) => `${k}: ${v}`)
    .join('\n')}\n`;
}

function copyright(): string {
  return `Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: pocketshell
Source: https://github.com/pocketshell/pocketshell

Files: *
Copyright: PocketShell authors
License: Apache-2.0
 On Debian systems, the full text of the Apache License 2.0 is in
 /usr/share/common-licenses/Apache-2.0. Bundled third-party code keeps its
 own licenses (MIT, BSD, ISC, MPL-2.0), listed in the .LEGAL.txt files beside
 the bundles and in the vendored packages.
`;
}

function dpkgBuild(root: string, out: string, name: string): string {
  mkdirSync(out, { recursive: true });
  const file = join(out, name);
  execFileSync('dpkg-deb', ['--root-owner-group', '-Zxz', '--build', root, file], { stdio: 'ignore' });
  return file;
}

/** `pocketshell_<v>_<arch>.deb` for `target` (a linux glibc target). */
export async function buildAgentDeb(out: string, target: Target = hostTarget()): Promise<string> {
  const t = TARGETS[target];
  if (t.os !== 'linux' || !('libc' in t) || t.libc !== 'glibc') throw new Error(`no .deb for ${target}`);
  const work = join(out, 'deb', 'pocketshell');
  rmSync(work, { recursive: true, force: true });
  const main = await buildMain(join(out, 'npm'));
  const platform = buildPlatform(target, join(out, 'npm'));
  const lib = join(work, 'usr/lib/pocketshell');
  cpSync(main, lib, { recursive: true });
  cpSync(platform, join(lib, 'node_modules', '@pocketshell', target), { recursive: true });
  const pkg = JSON.parse(readFileSync(join(main, 'package.json'), 'utf8')) as { version: string };
  mkdirSync(join(work, 'usr/bin'), { recursive: true });
  writeFileSync(
    join(work, 'usr/bin/pocketshell'),
    wrapper('pocketshell', 'pocketshell', 'bin/pocketshell.js'),
  );
  chmodSync(join(work, 'usr/bin/pocketshell'), 0o755);
  mkdirSync(join(work, 'usr/lib/systemd/user'), { recursive: true });
  cpSync(
    join(ROOT, 'packaging/systemd/pocketshell.service'),
    join(work, 'usr/lib/systemd/user/pocketshell.service'),
  );
  mkdirSync(join(work, 'usr/share/man/man1'), { recursive: true });
  writeFileSync(
    join(work, 'usr/share/man/man1/pocketshell.1.gz'),
    gzipSync(readFileSync(join(ROOT, 'packaging/man/pocketshell.1')), { level: 9 }),
  );
  rmSync(join(lib, 'man'), { recursive: true, force: true });
  mkdirSync(join(work, 'usr/share/doc/pocketshell'), { recursive: true });
  writeFileSync(join(work, 'usr/share/doc/pocketshell/copyright'), copyright());
  mkdirSync(join(work, 'DEBIAN'));
  writeFileSync(
    join(work, 'DEBIAN/control'),
    control({
      Package: 'pocketshell',
      Version: pkg.version,
      Architecture: DEB_ARCH[t.cpu] ?? t.cpu,
      Maintainer: MAINTAINER,
      'Installed-Size': String(duKiB(join(work, 'usr'))),
      Depends: 'nodejs (>= 22.18)',
      Recommends: 'tmux',
      Suggests: 'screen, gnome-keyring',
      Section: 'net',
      Priority: 'optional',
      Homepage: 'https://github.com/pocketshell/pocketshell',
      Description:
        'your terminal, from your phone, end-to-end encrypted\n' +
        ' The PocketShell host agent pairs phones and other devices and serves them\n' +
        ' terminals over WebRTC, peer to peer. A relay (self-hostable: the\n' +
        ' pocketshell-relay package) only routes encrypted envelopes.\n' +
        ' .\n' +
        ' Run `pocketshell daemon start` to run it as a systemd user service.',
    }),
  );
  return dpkgBuild(work, join(out, 'debs'), `pocketshell_${pkg.version}_${DEB_ARCH[t.cpu] ?? t.cpu}.deb`);
}

/** `pocketshell-relay_<v>_all.deb` (pure JavaScript on node:sqlite). */
export async function buildRelayDeb(out: string): Promise<string> {
  const work = join(out, 'deb', 'pocketshell-relay');
  rmSync(work, { recursive: true, force: true });
  const relay = await buildRelay(join(out, 'npm'));
  const pkg = JSON.parse(readFileSync(join(relay, 'package.json'), 'utf8')) as { version: string };
  cpSync(relay, join(work, 'usr/lib/pocketshell-relay'), { recursive: true });
  mkdirSync(join(work, 'usr/bin'), { recursive: true });
  writeFileSync(
    join(work, 'usr/bin/pocketshell-relay'),
    wrapper('pocketshell-relay', 'pocketshell-relay', 'bin/pocketshell-relay.js'),
  );
  chmodSync(join(work, 'usr/bin/pocketshell-relay'), 0o755);
  mkdirSync(join(work, 'usr/lib/systemd/system'), { recursive: true });
  cpSync(
    join(ROOT, 'packaging/systemd/pocketshell-relay.service'),
    join(work, 'usr/lib/systemd/system/pocketshell-relay.service'),
  );
  mkdirSync(join(work, 'etc/default'), { recursive: true });
  cpSync(join(ROOT, 'packaging/relay/default'), join(work, 'etc/default/pocketshell-relay'));
  mkdirSync(join(work, 'usr/share/doc/pocketshell-relay/examples'), { recursive: true });
  writeFileSync(join(work, 'usr/share/doc/pocketshell-relay/copyright'), copyright());
  for (const f of ['Caddyfile', 'nginx.conf'])
    cpSync(join(ROOT, 'packaging/relay', f), join(work, 'usr/share/doc/pocketshell-relay/examples', f));
  mkdirSync(join(work, 'DEBIAN'));
  writeFileSync(join(work, 'DEBIAN/conffiles'), '/etc/default/pocketshell-relay\n');
  // Debian's helpers, written out: enable on install, stop on removal, reload units.
  writeFileSync(
    join(work, 'DEBIAN/postinst'),
    '#!/bin/sh\nset -e\nif [ "$1" = configure ] && [ -d /run/systemd/system ]; then\n  systemctl daemon-reload || true\n  systemctl enable --now pocketshell-relay.service || true\nfi\n',
  );
  writeFileSync(
    join(work, 'DEBIAN/prerm'),
    '#!/bin/sh\nset -e\nif [ -d /run/systemd/system ]; then\n  systemctl stop pocketshell-relay.service || true\n  if [ "$1" = remove ]; then systemctl disable pocketshell-relay.service || true; fi\nfi\n',
  );
  writeFileSync(
    join(work, 'DEBIAN/postrm'),
    '#!/bin/sh\nset -e\nif [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi\n',
  );
  for (const f of ['postinst', 'prerm', 'postrm']) chmodSync(join(work, 'DEBIAN', f), 0o755);
  writeFileSync(
    join(work, 'DEBIAN/control'),
    control({
      Package: 'pocketshell-relay',
      Version: pkg.version,
      Architecture: 'all',
      Maintainer: MAINTAINER,
      'Installed-Size': String(duKiB(join(work, 'usr'))),
      Depends: 'nodejs (>= 22.18)',
      Suggests: 'coturn, caddy | nginx',
      Section: 'net',
      Priority: 'optional',
      Homepage: 'https://github.com/pocketshell/pocketshell',
      Description:
        'self-hostable relay for PocketShell\n' +
        ' Signaling, pairing, presence and TURN credentials for PocketShell hosts\n' +
        ' and devices. It routes end-to-end encrypted envelopes and never sees\n' +
        ' terminal data. Runs as the pocketshell-relay system service on\n' +
        ' 127.0.0.1:8080, meant to sit behind a TLS reverse proxy.',
    }),
  );
  return dpkgBuild(work, join(out, 'debs'), `pocketshell-relay_${pkg.version}_all.deb`);
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { out: { type: 'string', default: join(ROOT, 'build', 'deb') } } });
  const out = resolve(values.out);
  process.stdout.write(`${await buildAgentDeb(out)}\n${await buildRelayDeb(out)}\n`);
}
