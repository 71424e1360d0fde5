/**
 * A two-namespace network made by a test (as root): a server side (relay,
 * coturn, host agent) and a device side, joined by a veth pair, each with
 * only `lo` and its end of the pair — no default route, so nothing leaves.
 * nftables rules on the device side make its network what the test needs:
 * no UDP at all (a hotel network: only TURN over TCP or TLS gets through),
 * or TCP to a few ports only. Rules apply to the device's namespace alone,
 * so coturn still relays to the host over UDP on the server side, as a
 * TURN server on the internet would. `close()` ends every process left in
 * the namespaces and deletes them; idempotent.
 */
import { execFileSync } from 'node:child_process';

export interface TestNetwork {
  /** Namespace names and their addresses. */
  server: { ns: string; ip: string };
  device: { ns: string; ip: string };
  /** `['ip', 'netns', 'exec', ns]` for the side. */
  exec(side: 'server' | 'device'): string[];
  /** Drops every UDP packet in and out of the device side. */
  blockUdp(): void;
  /** Device side: TCP only to these server ports (and UDP dropped). */
  onlyTcpTo(ports: number[]): void;
  /** Removes the device side's rules. */
  open(): void;
  close(): void;
}

function run(cmd: string, args: string[], input?: string): void {
  execFileSync(cmd, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'ignore', 'pipe'], input });
}

function nsPids(ns: string): number[] {
  try {
    return execFileSync('ip', ['netns', 'pids', ns], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    })
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/** Makes the two namespaces (`tag` keeps names unique: a pid). */
export function makeTestNetwork(tag: string, subnet = '10.89.0'): TestNetwork {
  const server = { ns: `pss-${tag}`, ip: `${subnet}.1` };
  const device = { ns: `psd-${tag}`, ip: `${subnet}.2` };
  const vs = `pss${tag}`.slice(0, 15);
  const vd = `psd${tag}`.slice(0, 15);
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
      for (const ns of [server.ns, device.ns])
        for (const pid of nsPids(ns))
          try {
            process.kill(pid, signal);
          } catch {
            // gone
          }
      if (signal === 'SIGTERM') execFileSync('sleep', ['0.3']);
    }
    for (const ns of [server.ns, device.ns])
      try {
        run('ip', ['netns', 'del', ns]);
      } catch {
        // not made
      }
  };
  try {
    run('ip', ['netns', 'add', server.ns]);
    run('ip', ['netns', 'add', device.ns]);
    run('ip', ['link', 'add', vs, 'type', 'veth', 'peer', 'name', vd]);
    run('ip', ['link', 'set', vs, 'netns', server.ns]);
    run('ip', ['link', 'set', vd, 'netns', device.ns]);
    for (const [side, dev] of [
      [server, vs],
      [device, vd],
    ] as const) {
      run('ip', ['-n', side.ns, 'link', 'set', 'lo', 'up']);
      run('ip', ['-n', side.ns, 'addr', 'add', `${side.ip}/24`, 'dev', dev]);
      run('ip', ['-n', side.ns, 'link', 'set', dev, 'up']);
    }
  } catch (error) {
    close();
    throw error;
  }
  const nft = (rules: string) => run('ip', ['netns', 'exec', device.ns, 'nft', '-f', '-'], rules);
  const open = () => {
    try {
      run('ip', ['netns', 'exec', device.ns, 'nft', 'delete', 'table', 'inet', 'pstest']);
    } catch {
      // no rules yet
    }
  };
  const table = (extra: string) => `table inet pstest {
  chain output { type filter hook output priority 0; policy accept;
    oifname "lo" accept
    meta l4proto udp drop
    ${extra}
  }
  chain input { type filter hook input priority 0; policy accept;
    iifname "lo" accept
    meta l4proto udp drop
  }
}
`;
  return {
    server,
    device,
    exec: (side) => ['ip', 'netns', 'exec', side === 'server' ? server.ns : device.ns],
    blockUdp() {
      open();
      nft(table(''));
    },
    onlyTcpTo(ports) {
      open();
      nft(table(`tcp dport { ${ports.join(', ')} } accept\n    meta l4proto tcp drop`));
    },
    open,
    close,
  };
}
