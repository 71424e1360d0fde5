#!/usr/bin/env node
// The `pocketshell` command of the npm package: checks the Node version, finds the
// platform package that carries this machine's native parts (@pocketshell/<platform>),
// makes them resolvable for the bundled CLI, and runs it. Plain JavaScript on purpose:
// it must give a clear message on any Node, before anything else can fail.
// node:module is imported whole: a named import of what an old Node lacks (registerHooks,
// enableCompileCache) would fail before the version check could say anything.
import * as nodeModule from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as nodeV8 from 'node:v8';
import { requireNode } from './node-check.js';

requireNode('pocketshell');
const { createRequire, enableCompileCache, registerHooks } = nodeModule;

/** This machine's platform package name, e.g. linux-x64-gnu. */
function target() {
  const { platform, arch } = process;
  if (platform === 'linux') {
    const glibc = process.report?.getReport?.().header?.glibcVersionRuntime;
    return `linux-${arch}-${glibc ? 'gnu' : 'musl'}`;
  }
  if (platform === 'win32') return `win32-${arch}-msvc`;
  return `${platform}-${arch}`;
}

const SUPPORTED = __SUPPORTED__;
const NATIVE = new Set(__NATIVE__);
const name = `@pocketshell/${target()}`;
const require = createRequire(import.meta.url);
let platformDir;
try {
  platformDir = dirname(require.resolve(`${name}/package.json`));
} catch {
  const known = SUPPORTED.includes(target());
  process.stderr.write(
    known
      ? `pocketshell: the platform package ${name} is missing.\n` +
          'npm skips optional dependencies when told to (--omit=optional, --no-optional) or when one failed to download.\n' +
          'Reinstall with: npm install -g pocketshell (optional dependencies on).\n'
      : `pocketshell: no prebuilt package for this platform (${target()}).\n` +
          `Prebuilt: ${SUPPORTED.join(', ')}.\n` +
          'Run from source instead: see docs/install.md ("From source").\n',
  );
  process.exit(1);
}

// The bundle loads node-pty, @napi-rs/keyring and node-datachannel by name: resolve those
// names inside the platform package.
const fromPlatform = createRequire(join(platformDir, 'lib', 'index.js'));
let resolving = false;
registerHooks({
  resolve(specifier, context, nextResolve) {
    const bare = specifier.startsWith('@')
      ? specifier.split('/').slice(0, 2).join('/')
      : specifier.split('/')[0];
    if (resolving || !NATIVE.has(bare)) return nextResolve(specifier, context);
    resolving = true;
    try {
      return {
        url: pathToFileURL(fromPlatform.resolve(specifier)).href,
        format: 'commonjs',
        shortCircuit: true,
      };
    } finally {
      resolving = false;
    }
  },
});

// A 1 MiB young generation (V8's default grows to 8 MiB and stays committed after a
// flood): the idle daemon keeps 20–35 MiB less at no measured throughput cost. Set here,
// late, it takes hold once V8 shrinks the space; the service passes it on the command
// line (DAEMON_NODE_FLAGS). docs/benchmarks.md, issue 17.
// Only for the long-lived processes (the daemon, the session holder): a one-off command such as
// `cp` moving a large file keeps V8's default.
if (['run', 'session-holder'].includes(process.argv[2] === 'daemon' ? process.argv[3] : process.argv[2]))
  nodeV8.setFlagsFromString('--max-semi-space-size=1');

// V8's code cache for the bundle: a warm start parses nothing (in the OS temp dir).
enableCompileCache?.();
await import('../dist/__BUNDLE__');
