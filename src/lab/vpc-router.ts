// The lab's VPC router: the underlay namespace routes like the VPC it stands for. A loop
// mirrors each emulated route table into a kernel table of its zone's bridge (picked by
// `ip rule iif <bridge>`) — `<podCIDR> via <instance address>`, or a blackhole when the
// instance is gone — and drops traffic from or to a foreign address on a host whose interface
// has its source/destination check on. Only what differs is changed.
import { nftApply } from '../kernel/nft.js';
import { ipBatch } from '../kernel/links.js';
import { ensureTableRules, listTableRoutes, type TableRoute } from '../kernel/route-tables.js';
import type { Logger } from '../util/log.js';
import { errorMessage } from '../util/errors.js';
import {
  ROUTER_TABLE_BASE,
  routerRouteSpec,
  routerRoutes,
  sourceDestCheckScript,
  type EmulatedInterface,
  type LabCloud,
  type RouterRoute,
} from './cloud-plan.js';
import { parseCidr } from '../net/index.js';
import { motoClient, readInterfaces, readRoutes } from './cloud-moto.js';
import type { LabZone } from './state.js';

const PERIOD_MS = 500;

export interface VpcRouterInput {
  netns: string;
  motoUrl: string;
  cloud: LabCloud;
  zones: readonly LabZone[];
  log: Logger;
}

/** Runs until the signal aborts. */
export async function runVpcRouter(input: VpcRouterInput, signal: AbortSignal): Promise<void> {
  const { netns, cloud, zones, log } = input;
  const moto = motoClient(input.motoUrl);
  // A dual-stack lab's tables hold IPv6 node routes too, sent to the instances' IPv6 addresses.
  const dualStack = cloud.instances.some((i) => i.ipv6);
  const families: (4 | 6)[] = dualStack ? [4, 6] : [4];
  const tables = cloud.routeTables.map((t) => ({
    table: t,
    zoneIndex: zones.findIndex((z) => z.zone === t.zone) + 1,
  }));
  const rules = tables.map((t) => ({
    iif: t.table.bridge,
    table: ROUTER_TABLE_BASE + t.zoneIndex,
    priority: 1000 + t.zoneIndex,
  }));
  await ensureTableRules(netns, rules, 4);
  if (dualStack) await ensureTableRules(netns, rules, 6);
  let appliedChecks = '';
  let lastError = '';
  while (!signal.aborted) {
    try {
      const [interfaces, routes] = await Promise.all([
        readInterfaces(moto).then((found) => withIPv6(found, cloud)),
        readRoutes(
          moto,
          tables.map((t) => t.table.id),
        ),
      ]);
      const want = routerRoutes(
        tables.map((t) => ({ ...t, routes: routes.get(t.table.id) ?? [] })),
        interfaces,
        zones,
      );
      const changed = await mirror(netns, want, ROUTER_TABLE_BASE, tables.length, families);
      const checks = sourceDestCheckScript(cloud.instances, interfaces);
      if (checks !== appliedChecks) {
        await nftApply(checks, { netns });
        appliedChecks = checks;
        log.info('source/destination checks applied');
      }
      if (changed > 0) log.info({ changed }, 'route tables mirrored');
      lastError = '';
    } catch (err) {
      const line = errorMessage(err);
      if (line !== lastError) log.warn({ err: line }, 'mirroring failed; trying again');
      lastError = line;
    }
    await new Promise((resolve) => setTimeout(resolve, PERIOD_MS));
  }
}

/** The lab's record of each instance's IPv6 address, on the interfaces moto lists. */
function withIPv6(
  interfaces: Map<string, EmulatedInterface>,
  cloud: LabCloud,
): Map<string, EmulatedInterface> {
  for (const i of cloud.instances) {
    const eni = interfaces.get(i.networkInterfaceId);
    if (eni && i.ipv6) eni.ipv6 = i.ipv6;
  }
  return interfaces;
}

/** The kernel tables made equal to `want` in each family; returns how many routes changed. */
async function mirror(
  netns: string,
  want: readonly RouterRoute[],
  base: number,
  count: number,
  families: readonly (4 | 6)[],
): Promise<number> {
  const lines: string[] = [];
  for (let z = 1; z <= count; z++) {
    for (const family of families) {
      const table = base + z;
      const have = await listTableRoutes(netns, table, family);
      const wanted = want.filter(
        (r) => r.table === table && parseCidr(r.destination, { loose: true }).family === family,
      );
      for (const r of wanted) {
        const current = have.find((h) => h.dst === r.destination);
        if (!current || !same(current, r)) lines.push(`route replace ${routerRouteSpec(r)}`);
      }
      for (const h of have) {
        if (!wanted.some((r) => r.destination === h.dst)) {
          lines.push(
            `route del ${h.type === 'blackhole' ? 'blackhole ' : ''}${h.dst} table ${table}`,
          );
        }
      }
    }
  }
  await ipBatch(netns, lines);
  return lines.length;
}

function same(have: TableRoute, want: RouterRoute): boolean {
  if (!want.via) return have.type === 'blackhole';
  return have.type !== 'blackhole' && have.gateway === want.via.ip && have.dev === want.via.bridge;
}
