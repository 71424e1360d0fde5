/**
 * The generated systemd unit and launchd plist: what they say, that
 * `systemd-analyze verify --user` accepts the unit without a single warning
 * (no running systemd needed), and that the plist is well-formed XML whose
 * structure follows Apple's plist DTD (plutil is not on Linux).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { ServiceSpec } from './backend.ts';
import { launchdPlist } from './launchd.ts';
import { systemdQuote, systemdUnit } from './systemd.ts';

const dir = mkdtempSync(join(tmpdir(), 'pocketshell-units-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const spec: ServiceSpec = {
  command: [process.execPath, '/opt/pocket shell/bin/pocketshell.js', 'daemon', 'run'],
  env: { POCKETSHELL_HOME: '/home/ann/.pocketshell', POCKETSHELL_KEYSTORE: 'a "b" $c 100%' },
  stateDir: '/home/ann/.pocketshell',
  home: '/home/ann',
  logFile: '/home/ann/.pocketshell/daemon.log',
  hardened: true,
};

test('the unit restarts on failure, is sandboxed and keeps the state folder writable', () => {
  const unit = systemdUnit(spec);
  assert.match(unit, /^Restart=on-failure$/m);
  assert.match(unit, /^RestartSec=5s$/m);
  // A restart signals the daemon alone: the session holder and its shells live on.
  assert.match(unit, /^KillMode=process$/m);
  assert.match(unit, /^NoNewPrivileges=yes$/m);
  assert.match(unit, /^PrivateTmp=yes$/m);
  assert.match(unit, /^ProtectSystem=strict$/m);
  assert.match(unit, /^ReadWritePaths=\/home\/ann\/\.pocketshell$/m);
  assert.match(unit, /^WantedBy=default\.target$/m);
  assert.match(unit, /^ExecStart=".*node" "\/opt\/pocket shell\/bin\/pocketshell\.js" "daemon" "run"$/m);
  assert.match(unit, /^Environment="POCKETSHELL_KEYSTORE=a \\"b\\" \$c 100%%"$/m);
  const plain = systemdUnit({ ...spec, hardened: false });
  assert.doesNotMatch(plain, /NoNewPrivileges|ProtectSystem|PrivateTmp/);
  assert.throws(() => systemdQuote('a\nb'), { code: 'config_invalid' });
  assert.equal(systemdQuote('$HOME', true), '"$$HOME"');
});

const analyze = spawnSync('systemd-analyze', ['--version']).status === 0;

test('systemd-analyze verify --user accepts the unit with no warnings', {
  skip: !analyze && 'no systemd-analyze',
}, () => {
  const runtime = mkdtempSync(join(dir, 'rt-'));
  for (const hardened of [true, false]) {
    // ExecStart must name executables that exist: this node and a real script.
    const script = join(dir, 'pocketshell.js');
    writeFileSync(script, '');
    const unit = join(dir, `pocketshell-${hardened}.service`);
    writeFileSync(
      unit,
      systemdUnit({ ...spec, command: [process.execPath, script, 'daemon', 'run'], hardened }),
    );
    const r = spawnSync('systemd-analyze', ['verify', '--user', '--man=no', unit], {
      env: { ...process.env, XDG_RUNTIME_DIR: runtime },
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    const complaints = r.stderr
      .split('\n')
      .filter((l) => l.includes(unit) || /Unknown|ignoring|Failed/.test(l));
    assert.deepEqual(complaints, []);
  }
  // The check can fail: a broken line is reported.
  const bad = join(dir, 'bad.service');
  writeFileSync(bad, systemdUnit(spec).replace('Restart=on-failure', 'Restart=sometimes'));
  const r = spawnSync('systemd-analyze', ['verify', '--user', '--man=no', bad], {
    env: { ...process.env, XDG_RUNTIME_DIR: runtime },
    encoding: 'utf8',
  });
  assert.match(r.stderr, /restart specifier/);
});

/** Element content allowed by Apple's PropertyList-1.0.dtd, checked with a tag stack. */
function checkPlist(xml: string): void {
  assert.match(
    xml,
    /^<\?xml version="1\.0" encoding="UTF-8"\?>\n<!DOCTYPE plist PUBLIC "-\/\/Apple\/\/DTD PLIST 1\.0\/\/EN"/,
  );
  const body = xml.replace(/^<\?xml[^>]*\?>\s*<!DOCTYPE[^>]*>\s*/, '');
  const values = new Set(['array', 'dict', 'string', 'integer', 'real', 'true', 'false', 'data', 'date']);
  const stack: { name: string; children: string[] }[] = [];
  let root: string | undefined;
  const re = /<(\/?)([a-z]+)([^>]*?)(\/?)>|([^<]+)/g;
  for (let m = re.exec(body); m; m = re.exec(body)) {
    const [, close, name, attrs, selfClose, text] = m;
    if (text !== undefined) {
      assert.ok(!/[<&](?!amp;|lt;|gt;|quot;|apos;)/.test(text), `bad text ${text}`);
      if (text.trim())
        assert.ok(
          ['string', 'key', 'integer'].includes(stack.at(-1)?.name ?? ''),
          `text in ${stack.at(-1)?.name}`,
        );
      continue;
    }
    if (close) {
      const open = stack.pop();
      assert.equal(open?.name, name, 'tags nest');
      if (name === 'dict') {
        const kids = open!.children;
        assert.equal(kids.length % 2, 0, 'dict holds key/value pairs');
        for (const [i, k] of kids.entries())
          assert.ok(i % 2 === 0 ? k === 'key' : values.has(k), `dict child ${i}: ${k}`);
      }
      if (name === 'array') for (const k of open!.children) assert.ok(values.has(k));
      if (name === 'plist') assert.equal(open!.children.length, 1);
      continue;
    }
    if (stack.length === 0) {
      assert.equal(root, undefined, 'one root');
      root = name;
      assert.equal(name, 'plist');
      assert.match(attrs ?? '', /version="1\.0"/);
    } else stack.at(-1)!.children.push(name!);
    if (!selfClose) stack.push({ name: name!, children: [] });
    else assert.ok(name === 'true' || name === 'false', `${name} cannot be empty`);
  }
  assert.equal(stack.length, 0, 'every tag closed');
}

test('the plist is a valid property list: run at load, kept alive, log paths', () => {
  const xml = launchdPlist({ ...spec, env: { ...spec.env, ODD: '<&>' } });
  checkPlist(xml);
  assert.match(xml, /<key>RunAtLoad<\/key>\s*<true\/>/);
  assert.match(xml, /<key>KeepAlive<\/key>/);
  assert.match(
    xml,
    /<key>StandardOutPath<\/key>\s*<string>\/home\/ann\/\.pocketshell\/daemon\.log<\/string>/,
  );
  assert.match(xml, /<string>&lt;&amp;&gt;<\/string>/);
  assert.throws(() => checkPlist(xml.replace('<true/>', '<true>')));
  assert.throws(() => checkPlist(xml.replace('<key>RunAtLoad</key>', '')));
  const lint = spawnSync('plutil', ['-lint', '-'], { input: xml });
  if (lint.status !== null && !lint.error) assert.equal(lint.status, 0, String(lint.stderr));
});
