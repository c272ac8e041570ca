// Changes as the commands a person would type. The same text feeds the batch writer (without
// the program name) and `podnet plan` (with it), so what plan shows is what apply runs.
import { PODNET_ROUTE_PROTO, type Change, type Route, type TunnelLink } from './netobjects.js';

export type Tool = 'ip' | 'bridge' | 'sysctl' | 'wg' | 'wireguard-go';

export interface Command {
  tool: Tool;
  /** Arguments after the program name, as one line. */
  line: string;
}

export function renderChange(change: Change): Command[] {
  switch (change.op) {
    case 'link-add':
      if (change.link.kind === 'wireguard' && change.link.userspace) {
        // wireguard-go makes the TUN device itself.
        const { name, mtu } = change.link;
        return [{ tool: 'wireguard-go', line: name }, ip(`link set ${name} mtu ${mtu} up`)];
      }
      return [ip(linkAdd(change.link)), ip(`link set ${change.link.name} up`)];
    case 'link-set': {
      const mtu = change.mtu !== undefined ? ` mtu ${change.mtu}` : '';
      const mac = change.mac !== undefined ? ` address ${change.mac}` : '';
      return [ip(`link set ${change.name}${mtu}${mac}${change.up ? ' up' : ''}`)];
    }
    case 'link-del':
      return [ip(`link del ${change.name}`)];
    case 'addr-add':
    case 'addr-del':
      return [ip(`addr ${change.op.slice(5)} ${change.cidr} dev ${change.dev}`)];
    case 'fdb-append': {
      const e = change.entry;
      return [bridge(`fdb append ${e.mac} dev ${e.dev} dst ${e.dst} self permanent`)];
    }
    case 'fdb-del': {
      const e = change.entry;
      return [bridge(`fdb del ${e.mac} dev ${e.dev} dst ${e.dst} self`)];
    }
    case 'neigh-replace': {
      const n = change.neighbour;
      return [ip(`neigh replace ${n.ip} lladdr ${n.mac} dev ${n.dev} nud permanent`)];
    }
    case 'neigh-del':
      return [ip(`neigh del ${change.neighbour.ip} dev ${change.neighbour.dev}`)];
    case 'route-add':
    case 'route-replace':
    case 'route-del':
      return [ip(`route ${change.op.slice(6)} ${route(change.route)}`)];
    case 'sysctl':
      return [{ tool: 'sysctl', line: `-w ${change.key}=${change.value}` }];
    case 'wg-device':
      return [
        wg(
          `set ${change.name} private-key ${change.privateKeyFile} listen-port ${change.listenPort}`,
        ),
      ];
    case 'wg-peer-set': {
      const p = change.peer;
      return [
        wg(
          `set ${change.name} peer ${p.publicKey} endpoint ${p.endpoint} allowed-ips ${p.allowedIPs.join(',')}`,
        ),
      ];
    }
    case 'wg-peer-remove':
      return [wg(`set ${change.name} peer ${change.publicKey} remove`)];
  }
}

/** The commands for a list of changes, each line starting with its program's name. */
export function renderCommands(changes: readonly Change[]): string[] {
  return changes.flatMap(renderChange).map((c) => `${c.tool} ${c.line}`);
}

function ip(line: string): Command {
  return { tool: 'ip', line };
}

function wg(line: string): Command {
  return { tool: 'wg', line };
}

function bridge(line: string): Command {
  return { tool: 'bridge', line };
}

function linkAdd(link: TunnelLink): string {
  if (link.kind === 'ipip') {
    return `link add ${link.name} mtu ${link.mtu} type ipip local ${link.local}`;
  }
  if (link.kind === 'wireguard') return `link add ${link.name} mtu ${link.mtu} type wireguard`;
  return (
    `link add ${link.name} address ${link.mac} mtu ${link.mtu} type vxlan id ${link.vni}` +
    ` local ${link.local} dev ${link.underlayDev} dstport ${link.port}` +
    (link.learning ? '' : ' nolearning')
  );
}

function route(r: Route): string {
  const mtu = r.mtu === undefined ? '' : ` mtu ${r.mtu}`;
  return `${r.dst} via ${r.gateway} dev ${r.dev}${r.onlink ? ' onlink' : ''}${mtu} proto ${PODNET_ROUTE_PROTO}`;
}
