/**
 * Builds the npm packages of PocketShell into tarballs, ready for
 * `npm publish` or an offline `npm install -g`: `pocketshell` (the CLI
 * bundled into one ESM file plus a small launcher), one platform package
 * `@pocketshell/<target>` with the prebuilt native parts (node-pty, the
 * keyring binding, node-datachannel) taken from this checkout's
 * node_modules, and `pocketshell-relay` (bundled). Both carry the web
 * client, built afresh by Vite for each run (a failed build fails it). A target's natives must be present in
 * node_modules, so each platform package is built on (or for) its platform;
 * CI builds the matrix. Usage:
 *   node scripts/build-packages.ts [--out DIR] [--target linux-x64-gnu]... [--no-pack]
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { buildWebClient, webClientBuilt } from '@pocketshell/relay';
import { build } from 'esbuild';

const ROOT = resolve(import.meta.dirname, '..');
const NM = join(ROOT, 'node_modules');

/** Every platform package: npm's os/cpu/libc selectors and where each native part comes from. */
export const TARGETS = {
  'linux-x64-gnu': { os: 'linux', cpu: 'x64', libc: 'glibc', pty: 'build' },
  'linux-arm64-gnu': { os: 'linux', cpu: 'arm64', libc: 'glibc', pty: 'build' },
  'linux-x64-musl': { os: 'linux', cpu: 'x64', libc: 'musl', pty: 'build' },
  'darwin-arm64': { os: 'darwin', cpu: 'arm64', pty: 'prebuilds/darwin-arm64' },
  'darwin-x64': { os: 'darwin', cpu: 'x64', pty: 'prebuilds/darwin-x64' },
  'win32-x64-msvc': { os: 'win32', cpu: 'x64', pty: 'prebuilds/win32-x64' },
} as const satisfies Record<string, { os: string; cpu: string; libc?: string; pty: string }>;
export type Target = keyof typeof TARGETS;

/** Bare names the bundle loads at run time from the platform package. */
export const NATIVE = ['node-pty', '@napi-rs/keyring', 'node-datachannel'] as const;

const META = {
  license: 'Apache-2.0',
  homepage: 'https://github.com/pocketshell/pocketshell#readme',
  repository: { type: 'git', url: 'git+https://github.com/pocketshell/pocketshell.git' },
};

function version(): string {
  return (
    JSON.parse(readFileSync(join(ROOT, 'packages/host-agent/package.json'), 'utf8')) as { version: string }
  ).version;
}

function writeJson(path: string, value: unknown): void {
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);
}

/** This machine's target (what the launcher computes at run time). */
export function hostTarget(): Target {
  const { platform, arch } = process;
  let t: string;
  if (platform === 'linux') {
    const header = (process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header;
    t = `linux-${arch}-${header?.glibcVersionRuntime ? 'gnu' : 'musl'}`;
  } else t = platform === 'win32' ? `win32-${arch}-msvc` : `${platform}-${arch}`;
  if (!(t in TARGETS)) throw new Error(`no platform package for ${t}`);
  return t as Target;
}

/** Sources that are test support, never shipped: `testing/` and `bench/` folders, tests, scratch benchmarks. */
const TEST_SUPPORT =
  /(^|\/)packages\/[^/]+\/(testing|bench)\/|\.test\.ts$|(^|\/)test-support\.ts$|(^|\/)bench-scratch\.ts$/;

/** Bundles `entry` into one ESM file; throws when anything of the test support got in. */
export async function bundle(entry: string, outfile: string): Promise<void> {
  const { metafile } = await build({
    // Code splitting: what the source imports dynamically (engines, the relay, doctor, the
    // files and stats code…) becomes chunks beside the entry, read only when first used —
    // an idle daemon never parses them. Same folder, so import.meta.url paths hold.
    entryPoints: { [basename(outfile, '.mjs')]: entry },
    outdir: dirname(outfile),
    outExtension: { '.js': '.mjs' },
    splitting: true,
    chunkNames: 'chunk-[hash]',
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    minifyWhitespace: true,
    legalComments: 'linked',
    external: [...NATIVE, 'bufferutil', 'utf-8-validate'],
    // CommonJS dependencies inside an ES module bundle need a `require`.
    banner: {
      js: "import { createRequire as __psCreateRequire } from 'node:module'; const require = __psCreateRequire(import.meta.url);",
    },
    logLevel: 'warning',
    metafile: true,
  });
  // Test support is reachable only through the `testing` entry points; a production import of it fails the build.
  const leaked = Object.keys(metafile.inputs).filter((input) => TEST_SUPPORT.test(input));
  if (leaked.length > 0) throw new Error(`test support in the bundle of ${entry}: ${leaked.join(', ')}`);
}

function copyPackage(name: string, into: string, filter?: (src: string) => boolean): void {
  const from = join(NM, name);
  if (!existsSync(from)) throw new Error(`${name} is not in node_modules (needed for this platform package)`);
  cpSync(from, join(into, 'lib', 'node_modules', name), {
    recursive: true,
    dereference: true,
    filter: (src) => !/\.(map|md|d\.ts|test\.js)$/.test(src) && (filter ? filter(src) : true),
  });
}

const WEB_DIST = join(ROOT, 'packages/web/dist');
let webBuild: Promise<void> | undefined;

/**
 * Builds the web client (packages/web/dist) afresh, once per run, and copies
 * it to <package>/web/dist. Both packages always carry it: a failed build
 * fails the packaging, with Vite's message.
 */
async function copyWeb(dir: string): Promise<void> {
  webBuild ??= buildWebClient(WEB_DIST);
  await webBuild;
  if (!webClientBuilt(WEB_DIST)) throw new Error(`the web client build left no index.html in ${WEB_DIST}`);
  cpSync(WEB_DIST, join(dir, 'web', 'dist'), { recursive: true });
}

/** `@pocketshell/<target>`: the prebuilt native parts. */
export function buildPlatform(target: Target, out: string, v = version()): string {
  const t = TARGETS[target];
  const dir = join(out, 'platform', target);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'lib'), { recursive: true });
  // node-pty: its JavaScript and the addon for this platform (never its sources).
  const ptyNative = join(NM, 'node-pty', t.pty === 'build' ? 'build/Release/pty.node' : t.pty);
  if (!existsSync(ptyNative))
    throw new Error(
      `no prebuilt node-pty for ${target} at ${ptyNative} (build node-pty on that platform first)`,
    );
  const ptyDir = join(dir, 'lib', 'node_modules', 'node-pty');
  mkdirSync(ptyDir, { recursive: true });
  const ptyPkg = JSON.parse(readFileSync(join(NM, 'node-pty/package.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  writeJson(join(ptyDir, 'package.json'), {
    name: 'node-pty',
    version: ptyPkg.version,
    license: ptyPkg.license,
    main: ptyPkg.main,
  });
  cpSync(join(NM, 'node-pty/LICENSE'), join(ptyDir, 'LICENSE'));
  cpSync(join(NM, 'node-pty/lib'), join(ptyDir, 'lib'), {
    recursive: true,
    filter: (src) => !/(\.test\.js|\.map)$/.test(src) && !src.includes('/worker/conoutSocketWorker.test'),
  });
  cpSync(ptyNative, join(ptyDir, t.pty === 'build' ? 'build/Release/pty.node' : t.pty), { recursive: true });
  // The keyring binding: the loader and this platform's addon package.
  copyPackage('@napi-rs/keyring', dir, (src) => !src.endsWith('keytar.js'));
  copyPackage(`@napi-rs/keyring-${target}`, dir);
  // node-datachannel (the optional native WebRTC engine), when this checkout has it.
  if (existsSync(join(NM, '@node-datachannel', target))) {
    copyPackage('node-datachannel', dir, (src) => !src.includes('/src/') && !src.includes('/types/'));
    copyPackage('detect-libc', dir);
    copyPackage(`@node-datachannel/${target}`, dir);
  }
  cpSync(join(ROOT, 'packaging/npm/platform-index.js'), join(dir, 'lib', 'index.js'));
  writeFileSync(
    join(dir, 'README.md'),
    `# @pocketshell/${target}\n\nThe prebuilt native parts of [pocketshell](https://www.npmjs.com/package/pocketshell) for ${target}. Install \`pocketshell\`, not this.\n`,
  );
  cpSync(join(ROOT, 'LICENSE'), join(dir, 'LICENSE'));
  writeJson(join(dir, 'package.json'), {
    name: `@pocketshell/${target}`,
    version: v,
    description: `pocketshell's native parts (node-pty, keyring, node-datachannel) prebuilt for ${target}.`,
    ...META,
    os: [t.os],
    cpu: [t.cpu],
    ...('libc' in t ? { libc: [t.libc] } : {}),
    main: 'lib/index.js',
    files: ['lib', 'README.md', 'LICENSE'],
    preferUnplugged: true,
  });
  return dir;
}

/** `pocketshell`: the bundled CLI and its launcher. */
export async function buildMain(out: string, v = version()): Promise<string> {
  const dir = join(out, 'pocketshell');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'bin'), { recursive: true });
  // dist/lib/pocketshell.mjs: the CLI reads its version from ../package.json (dist/package.json
  // here), and the relay inside `up` finds the web client at ../../web/dist, i.e. <package>/web/dist.
  await bundle(
    join(ROOT, 'packages/host-agent/bin/pocketshell.js'),
    join(dir, 'dist', 'lib', 'pocketshell.mjs'),
  );
  writeJson(join(dir, 'dist', 'package.json'), {
    name: 'pocketshell-bundle',
    version: v,
    private: true,
    type: 'module',
  });
  const launcher = readFileSync(join(ROOT, 'packaging/npm/launcher.js'), 'utf8')
    .replace('__SUPPORTED__', JSON.stringify(Object.keys(TARGETS)))
    .replace('__NATIVE__', JSON.stringify(NATIVE))
    .replace('__BUNDLE__', 'lib/pocketshell.mjs');
  const files = ['bin', 'dist', 'man', 'web', 'README.md', 'LICENSE', 'NOTICE'];
  await copyWeb(dir);
  writeFileSync(join(dir, 'bin', 'pocketshell.js'), launcher, { mode: 0o755 });
  cpSync(join(ROOT, 'packaging/npm/node-check.js'), join(dir, 'bin', 'node-check.js'));
  cpSync(join(ROOT, 'LICENSE'), join(dir, 'LICENSE'));
  if (existsSync(join(ROOT, 'NOTICE'))) cpSync(join(ROOT, 'NOTICE'), join(dir, 'NOTICE'));
  cpSync(join(ROOT, 'packaging/man/pocketshell.1'), join(dir, 'man', 'pocketshell.1'));
  writeFileSync(
    join(dir, 'README.md'),
    '# pocketshell\n\nYour terminal, from your phone: end-to-end encrypted, peer to peer, with a self-hostable relay.\n\n' +
      '```\nnpm install -g pocketshell\npocketshell up\n```\n\nDocumentation: https://github.com/pocketshell/pocketshell/blob/main/docs/install.md\n',
  );
  writeJson(join(dir, 'package.json'), {
    name: 'pocketshell',
    version: v,
    description: 'PocketShell host agent: your terminal, from your phone, end-to-end encrypted.',
    ...META,
    type: 'module',
    bin: { pocketshell: 'bin/pocketshell.js' },
    man: ['man/pocketshell.1'],
    engines: { node: '>=22.18' },
    files,
    optionalDependencies: Object.fromEntries(Object.keys(TARGETS).map((t) => [`@pocketshell/${t}`, v])),
  });
  return dir;
}

/** `pocketshell-relay`: the bundled relay, and the web client when built. */
export async function buildRelay(out: string, v = version()): Promise<string> {
  const dir = join(out, 'pocketshell-relay');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'bin'), { recursive: true });
  // dist/lib/relay.mjs: the relay finds a web client at ../../web/dist from there, i.e. <package>/web/dist.
  await bundle(join(ROOT, 'packages/relay/bin/pocketshell-relay.js'), join(dir, 'dist', 'lib', 'relay.mjs'));
  cpSync(join(ROOT, 'packaging/npm/relay-launcher.js'), join(dir, 'bin', 'pocketshell-relay.js'));
  cpSync(join(ROOT, 'packaging/npm/node-check.js'), join(dir, 'bin', 'node-check.js'));
  const files = ['bin', 'dist', 'web', 'README.md', 'LICENSE'];
  await copyWeb(dir);
  cpSync(join(ROOT, 'LICENSE'), join(dir, 'LICENSE'));
  writeFileSync(
    join(dir, 'README.md'),
    '# pocketshell-relay\n\nThe self-hostable PocketShell relay (signaling, pairing, presence, TURN credentials).\n\n' +
      '```\nnpm install -g pocketshell-relay\npocketshell-relay --listen 127.0.0.1:8080\n```\n\nDocumentation: https://github.com/pocketshell/pocketshell/blob/main/docs/relay.md\n',
  );
  writeJson(join(dir, 'package.json'), {
    name: 'pocketshell-relay',
    version: v,
    description:
      'PocketShell relay: self-hostable signaling, pairing, routing, presence and TURN credentials.',
    ...META,
    type: 'module',
    bin: { 'pocketshell-relay': 'bin/pocketshell-relay.js' },
    engines: { node: '>=22.18' },
    files,
  });
  return dir;
}

/** `npm pack` a package folder into `into`; returns the tarball's path. */
export function pack(dir: string, into: string): string {
  mkdirSync(into, { recursive: true });
  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', into, dir], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const [info] = JSON.parse(out) as { filename: string }[];
  return join(into, info!.filename);
}

export interface Built {
  main: string;
  relay: string;
  platforms: Record<string, string>;
}

/** Builds everything; returns the tarballs (or the folders with `pack: false`). */
export async function buildPackages(options: {
  out: string;
  targets?: readonly Target[];
  pack?: boolean;
}): Promise<Built> {
  const out = resolve(options.out);
  const tarballs = join(out, 'tarballs');
  rmSync(tarballs, { recursive: true, force: true });
  const doPack = (d: string) => (options.pack === false ? d : pack(d, tarballs));
  const platforms: Record<string, string> = {};
  for (const t of options.targets ?? [hostTarget()]) platforms[t] = doPack(buildPlatform(t, out));
  return {
    main: doPack(await buildMain(out)),
    relay: doPack(await buildRelay(out)),
    platforms,
  };
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      out: { type: 'string', default: join(ROOT, 'build', 'packages') },
      target: { type: 'string', multiple: true },
      'no-pack': { type: 'boolean', default: false },
    },
  });
  for (const t of values.target ?? []) if (!(t in TARGETS)) throw new Error(`unknown target ${t}`);
  const built = await buildPackages({
    out: values.out,
    ...(values.target ? { targets: values.target as Target[] } : {}),
    pack: !values['no-pack'],
  });
  for (const file of [built.main, built.relay, ...Object.values(built.platforms)])
    process.stdout.write(`${file}\n`);
}
