// An in-memory host for the routing reconciler: links with addresses, podnet's routes,
// permanent neighbours, VXLAN FDB entries and sysctls. Changes are applied as `ip -force
// -batch` would: each on its own, failures reported together; and refused where the kernel
// refuses (a route or neighbour on a device that does not exist, a route or link added twice,
// a route added where a route podnet does not own already goes, a delete of something absent).
import type { Change, FdbEntry, Neighbour, Route, Underlay } from '../../src/kernel/netobjects.js';
import type { ActualLink } from '../../src/kernel/netobjects.js';
import type { HostState } from '../../src/kernel/routing-read.js';
import type { RoutingKernel } from '../../src/routing/kernel.js';
import { inCIDR } from './in-cidr.js';

export class FakeRoutingKernel implements RoutingKernel {
  links = new Map<string, ActualLink>();
  routes: Route[] = [];
  /** Routes someone else made (not podnet's protocol): never read, but they block an add. */
  foreignRoutes: Route[] = [];
  neighbours: Neighbour[] = [];
  fdb: FdbEntry[] = [];
  sysctls: Record<string, string> = {
    'net.ipv4.conf.all.rp_filter': '0',
    'net.ipv4.conf.default.rp_filter': '0',
  };
  /** Every change applied, in order. */
  readonly applied: Change[] = [];

  /** A host whose underlay device `dev` holds `address/prefixLength`. */
  constructor(readonly underlay: Underlay) {
    this.links.set(underlay.dev, {
      name: underlay.dev,
      kind: 'veth',
      mtu: underlay.mtu,
      mac: '02:00:00:00:00:aa',
      up: true,
      addresses: [`${underlay.address}/${underlay.prefixLength}`],
    });
  }

  async readHostState(opts: { devices: readonly string[]; nodeIP: string }): Promise<HostState> {
    const owned = new Set(opts.devices);
    const holder = [...this.links.values()].find((l) =>
      l.addresses.some((a) => a.split('/')[0] === opts.nodeIP),
    );
    return {
      actual: {
        routes: this.routes.map((r) => ({ ...r })),
        links: [...this.links.values()]
          .filter((l) => owned.has(l.name))
          .map((l) => structuredClone(l)),
        neighbours: this.neighbours.filter((n) => owned.has(n.dev)).map((n) => ({ ...n })),
        fdb: this.fdb.filter((f) => owned.has(f.dev)).map((f) => ({ ...f })),
      },
      underlay: holder ? this.underlay : undefined,
    };
  }

  async readSysctls(keys: readonly string[]): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const k of keys) {
      const value = this.sysctls[k] ?? this.deviceDefault(k);
      if (value !== undefined) out[k] = value;
    }
    return out;
  }

  /**
   * A device's `net.ipv4.conf.DEV.*` key nobody set: the kernel gives every device its own
   * copy of the `default` value when the device appears, and none once it is gone.
   */
  private deviceDefault(key: string): string | undefined {
    const m = /^net\.ipv4\.conf\.([^.]+)\.(.+)$/.exec(key);
    if (!m || m[1] === 'all' || m[1] === 'default' || !this.links.has(m[1]!)) return undefined;
    return this.sysctls[`net.ipv4.conf.default.${m[2]}`];
  }

  async applyChanges(changes: readonly Change[]): Promise<{ batches: number }> {
    const failures: string[] = [];
    for (const c of changes) {
      try {
        this.apply(c);
        this.applied.push(c);
      } catch (err) {
        failures.push(`${c.op}: ${(err as Error).message}`);
      }
    }
    if (failures.length)
      throw new Error(`${failures.length} kernel change(s) failed: ${failures.join('; ')}`);
    return { batches: 1 };
  }

  /** Where the kernel would send a packet to `dst`: the longest matching prefix. */
  routeLookup(dst: string): { dev: string; gateway?: string } | undefined {
    const candidates: { prefix: number; dev: string; gateway?: string }[] = [];
    for (const r of this.routes) {
      if (inCIDR(dst, r.dst))
        candidates.push({ prefix: Number(r.dst.split('/')[1]), dev: r.dev, gateway: r.gateway });
    }
    // Connected subnets of the addresses on each link that is up.
    for (const l of this.links.values()) {
      if (!l.up) continue;
      for (const a of l.addresses)
        if (inCIDR(dst, a)) candidates.push({ prefix: Number(a.split('/')[1]), dev: l.name });
    }
    const best = candidates.sort((a, b) => b.prefix - a.prefix)[0];
    return best && { dev: best.dev, gateway: best.gateway };
  }

  private device(name: string): ActualLink {
    const link = this.links.get(name);
    if (!link) throw new Error(`Cannot find device "${name}"`);
    return link;
  }

  private apply(c: Change): void {
    switch (c.op) {
      case 'link-add': {
        if (this.links.has(c.link.name)) throw new Error('File exists');
        if (c.link.kind === 'vxlan') this.device(c.link.underlayDev);
        this.links.set(c.link.name, {
          name: c.link.name,
          kind: c.link.kind,
          mtu: c.link.mtu,
          mac: c.link.kind === 'vxlan' ? c.link.mac : '',
          up: false,
          addresses: [],
          vxlan:
            c.link.kind === 'vxlan'
              ? {
                  vni: c.link.vni,
                  port: c.link.port,
                  local: c.link.local,
                  underlayDev: c.link.underlayDev,
                  learning: c.link.learning,
                }
              : undefined,
          ipip: c.link.kind === 'ipip' ? { local: c.link.local } : undefined,
        });
        // `ip link add` is followed by `ip link set up` in the same batch.
        this.device(c.link.name).up = true;
        return;
      }
      case 'link-set': {
        const l = this.device(c.name);
        if (c.mtu !== undefined) l.mtu = c.mtu;
        if (c.mac !== undefined) l.mac = c.mac;
        if (c.up) l.up = true;
        return;
      }
      case 'link-del':
        this.device(c.name);
        this.links.delete(c.name);
        // The kernel removes what hung on the device with it.
        this.routes = this.routes.filter((r) => r.dev !== c.name);
        this.neighbours = this.neighbours.filter((n) => n.dev !== c.name);
        this.fdb = this.fdb.filter((f) => f.dev !== c.name);
        for (const key of Object.keys(this.sysctls))
          if (key.startsWith(`net.ipv4.conf.${c.name}.`)) delete this.sysctls[key];
        return;
      case 'addr-add': {
        const l = this.device(c.dev);
        if (l.addresses.includes(c.cidr)) throw new Error('File exists');
        l.addresses.push(c.cidr);
        return;
      }
      case 'addr-del': {
        const l = this.device(c.dev);
        if (!l.addresses.includes(c.cidr)) throw new Error('Cannot assign requested address');
        l.addresses = l.addresses.filter((a) => a !== c.cidr);
        return;
      }
      case 'fdb-append':
        this.device(c.entry.dev);
        this.fdb.push({ ...c.entry });
        return;
      case 'fdb-del': {
        const i = this.fdb.findIndex(
          (f) => f.dev === c.entry.dev && f.mac === c.entry.mac && f.dst === c.entry.dst,
        );
        if (i === -1) throw new Error('No such file or directory');
        this.fdb.splice(i, 1);
        return;
      }
      case 'neigh-replace':
        this.device(c.neighbour.dev);
        this.neighbours = this.neighbours.filter(
          (n) => !(n.dev === c.neighbour.dev && n.ip === c.neighbour.ip),
        );
        this.neighbours.push({ ...c.neighbour });
        return;
      case 'neigh-del': {
        const before = this.neighbours.length;
        this.neighbours = this.neighbours.filter(
          (n) => !(n.dev === c.neighbour.dev && n.ip === c.neighbour.ip),
        );
        if (this.neighbours.length === before) throw new Error('No such file or directory');
        return;
      }
      case 'route-add':
      case 'route-replace': {
        const dev = this.device(c.route.dev);
        // Without onlink the gateway must be reachable on the device.
        if (!c.route.onlink && !dev.addresses.some((a) => inCIDR(c.route.gateway, a)))
          throw new Error('Nexthop has invalid gateway');
        const i = this.routes.findIndex((r) => r.dst === c.route.dst);
        const taken = i !== -1 || this.foreignRoutes.some((r) => r.dst === c.route.dst);
        if (taken && c.op === 'route-add') throw new Error('File exists');
        if (i !== -1) this.routes.splice(i, 1);
        // A replace takes the destination over, whoever made the route there.
        this.foreignRoutes = this.foreignRoutes.filter((r) => r.dst !== c.route.dst);
        this.routes.push({ ...c.route });
        return;
      }
      case 'route-del': {
        const i = this.routes.findIndex((r) => r.dst === c.route.dst);
        if (i === -1) throw new Error('No such process');
        this.routes.splice(i, 1);
        return;
      }
      case 'sysctl':
        this.sysctls[c.key] = c.value;
        return;
    }
  }
}
