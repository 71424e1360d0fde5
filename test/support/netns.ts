/**
 * A three-namespace network made by a test (as root): a server side (relay,
 * coturn), a host side (the host agent) and a device side, on one bridge,
 * each with only `lo` and its link — no default route, so nothing leaves.
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
  /** Relay and coturn (`turnIp`), the host agent, the device. */
  server: { ns: string; ip: string };
  turnIp: string;
  host: { ns: string; ip: string };
  device: { ns: string; ip: string };
  /** `['ip', 'netns', 'exec', ns]` for the side. */
  exec(side: 'server' | 'host' | 'device'): string[];
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

/**
 * Makes the namespaces (`tag` keeps names unique: a pid): the server side
 * holds a bridge at `.1` (relay) and `.3` (TURN), the host side `.4` and the
 * device side `.2`, each joined to the bridge by a veth pair — three
 * machines on one LAN, so the host reaches coturn's relayed addresses over
 * a real link as it would across the internet.
 */
export function makeTestNetwork(tag: string, subnet = '10.89.0'): TestNetwork {
  const server = { ns: `pss-${tag}`, ip: `${subnet}.1` };
  const device = { ns: `psd-${tag}`, ip: `${subnet}.2` };
  const host = { ns: `psh-${tag}`, ip: `${subnet}.4` };
  const all = [server.ns, device.ns, host.ns];
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
      for (const ns of all)
        for (const pid of nsPids(ns))
          try {
            process.kill(pid, signal);
          } catch {
            // gone
          }
      if (signal === 'SIGTERM') execFileSync('sleep', ['0.3']);
    }
    for (const ns of all)
      try {
        run('ip', ['netns', 'del', ns]);
      } catch {
        // not made
      }
  };
  try {
    for (const ns of all) {
      run('ip', ['netns', 'add', ns]);
      run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    }
    run('ip', ['-n', server.ns, 'link', 'add', 'br0', 'type', 'bridge']);
    run('ip', ['-n', server.ns, 'addr', 'add', `${server.ip}/24`, 'dev', 'br0']);
    run('ip', ['-n', server.ns, 'addr', 'add', `${subnet}.3/24`, 'dev', 'br0']);
    run('ip', ['-n', server.ns, 'link', 'set', 'br0', 'up']);
    for (const [side, name] of [
      [device, 'd'],
      [host, 'h'],
    ] as const) {
      const outer = `ps${name}${tag}`.slice(0, 15);
      run('ip', ['link', 'add', outer, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', side.ns]);
      run('ip', ['link', 'set', outer, 'netns', server.ns]);
      run('ip', ['-n', server.ns, 'link', 'set', outer, 'master', 'br0']);
      run('ip', ['-n', server.ns, 'link', 'set', outer, 'up']);
      run('ip', ['-n', side.ns, 'addr', 'add', `${side.ip}/24`, 'dev', 'eth0']);
      run('ip', ['-n', side.ns, 'link', 'set', 'eth0', 'up']);
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
    turnIp: `${subnet}.3`,
    host,
    device,
    exec: (side) => ['ip', 'netns', 'exec', { server, host, device }[side].ns],
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
