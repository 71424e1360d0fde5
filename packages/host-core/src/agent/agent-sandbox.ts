/**
 * The sandbox an agent session runs in, as the manager uses it
 * (docs/host.md "Agents"): bubblewrap when `detectSandbox` finds a working
 * one (./sandbox.ts), else none with the sentence that says why. Each
 * session's argv is wrapped so the agent writes only in the device's
 * workspace roots and its own folder (`~/.claude`, `~/.codex`), reads
 * nothing on the deny list or in PocketShell's state folder — except its
 * own login file — and keeps the network (the agent talks to its API)
 * unless config.json says `agents.network: "off"`.
 * The sessions' permission sockets live outside the state folder (the run
 * folder, `agentRunDir`), bound into the sandbox, so the permission tool
 * claude starts inside it reaches its session's socket.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { AgentKind } from '@pocketshell/protocol';
import type { AgentSandbox } from './manager.ts';
import { detectSandbox, noSandboxMessage, type SandboxInfo, sandboxArgv, underTmp } from './sandbox.ts';

/** Each agent's own folders (written) and login file (read, though on the deny list). */
const OWN: Record<AgentKind, { writable: readonly string[]; login: string }> = {
  claude: { writable: ['.claude', '.claude.json'], login: '.claude/.credentials.json' },
  codex: { writable: ['.codex'], login: '.codex/auth.json' },
};

/**
 * Where sessions' folders (MCP config, socket, token) live: under
 * `$XDG_RUNTIME_DIR` when set, else `~/.cache/pocketshell/agents` — never
 * under the state folder, which the sandbox hides, nor `/tmp`, which it
 * replaces.
 */
export function agentRunDir(env: Readonly<Record<string, string | undefined>>, home: string): string {
  const runtime = env.XDG_RUNTIME_DIR;
  return runtime?.startsWith('/')
    ? path.join(runtime, 'pocketshell-agents')
    : path.join(home, '.cache', 'pocketshell', 'agents');
}

/**
 * The host's agent sandbox: bwrap when it works here (`off`: none, said
 * so), the state folder denied too. Bubblewrap is probed on first use
 * (`agent.info` or a start), not when the host opens.
 */
export function agentSandbox(o: {
  env: Readonly<Record<string, string | undefined>>;
  stateDir: string;
  /** The run folder (`agentRunDir`): bound in, for the permission sockets. */
  runDir: string;
  /** Programs the agent's process starts besides its own executable (node, the permission tool's pocketshell). */
  programs?: readonly string[];
  off?: boolean;
  /** The agent's network inside the sandbox (default `on`). */
  network?: 'on' | 'off';
}): AgentSandbox {
  let found: SandboxInfo | undefined;
  const probe = (): SandboxInfo =>
    (found ??= o.off
      ? { kind: 'none', reason: 'the sandbox is turned off in this host’s settings' }
      : detectSandbox({ searchPath: o.env.PATH ?? '' }));
  return {
    get kind() {
      return probe().kind;
    },
    get reason() {
      const f = probe();
      return f.kind === 'none' ? noSandboxMessage(f.reason) : undefined;
    },
    wrap: (argv, w) => {
      const f = probe();
      if (f.kind === 'none') throw new Error('no sandbox on this host');
      const own = OWN[w.kind];
      // The agent's own folder must exist to be bound writable (the home is read-only inside).
      fs.mkdirSync(path.join(w.home, own.writable[0]!), { recursive: true, mode: 0o700 });
      const cmd = sandboxArgv({
        bwrap: f.path,
        command: argv[0]!,
        args: argv.slice(1),
        workspace: w.roots,
        cwd: w.cwd,
        home: w.home,
        stateDir: o.stateDir,
        allowPaths: [path.join(w.home, own.login)],
        writable: [...own.writable.map((p) => path.join(w.home, p)), o.runDir],
        // Programs that live under /tmp would vanish behind the sandbox's own /tmp: bound back read-only.
        readOnly: [
          ...new Set([argv[0]!, ...(o.programs ?? [])].map(underTmp).filter((p) => p !== undefined)),
        ],
        network: o.network ?? 'on',
        env: {},
      });
      return [cmd.file, ...cmd.args];
    },
  };
}
