// The guard controller: keeps the node guard (anti-spoofing, no tunnels from pods, host
// protection) in step with the pods this node wired, the Nodes' addresses, the BGP peers and
// the ClusterNetwork, whatever the proxy mode and whatever NetworkPolicy says. The CNI server
// waits for it on every ADD and DEL, so a pod's address is let out of its veth before the
// pod runs; changes to Pods, Nodes and the ClusterNetwork, and a periodic check that repairs
// what someone else changed, bring it up to date too.
import { Counter } from 'prom-client';
import type { ClusterNetwork } from '../api/types.js';
import { NftSession } from '../kernel/nft-session.js';
import { nftTable } from '../kernel/nft-table.js';
import {
  CONTROL_PORTS,
  DROP_REASONS,
  GUARD_TABLE,
  guardHolds,
  protectedNodeAddresses,
  syncGuard,
  type GuardInput,
  type GuardKernel,
  type GuardTable,
  type PortRange,
  type WiredPod,
} from '../policy/guard.js';
import { parseEtcdUrl } from '../store/etcd-url.js';
import { errorMessage } from '../util/errors.js';
import type { AgentContext, AgentOptions, Controller } from './controller.js';

const NAME = 'guard';
/** A periodic check puts back what was changed behind the agent's back. */
const RESYNC_MS = 30_000;
/**
 * A check whose read overlapped a write of the agent's own tries again this much later; after
 * this many such tries in a row, it reads in a pass of its own, whatever waits behind it.
 */
const UNSETTLED_RETRY_MS = 1000;
const UNSETTLED_TRIES = 3;

export interface GuardSource {
  wiredPods(): WiredPod[];
  /** Set by the guard: the CNI server awaits it before answering an ADD or DEL. */
  guardSync: (() => Promise<void>) | undefined;
}

/** `etcd:H:P,...` → its hosts and ports (a store on the network is part of the control plane). */
function storeEndpoints(storeUrl: string): { hosts: string[]; ports: number[] } {
  if (!storeUrl.startsWith('etcd:')) return { hosts: [], ports: [] };
  const endpoints = parseEtcdUrl(storeUrl).hosts.map((h) => h.replace(/^https?:\/\//, ''));
  return {
    hosts: endpoints.map((h) => h.slice(0, h.lastIndexOf(':'))),
    ports: endpoints.map((h) => Number(h.slice(h.lastIndexOf(':') + 1))),
  };
}

/** The control ports of this agent's own configuration, beside the well-known ones. */
function controlPorts(options: AgentOptions, storePorts: number[]): PortRange[] {
  const metricsPort = Number(
    options.metricsAddress.slice(options.metricsAddress.lastIndexOf(':') + 1),
  );
  const own = [metricsPort, ...storePorts].filter((p) => p > 0 && p <= 65535);
  return [...CONTROL_PORTS, ...own.map((p) => ({ first: p, last: p }))];
}

export function guardController(
  source: GuardSource,
  given?: GuardKernel,
  resyncMs = RESYNC_MS,
): Controller {
  // A long-lived nft: the CNI server waits for a pass on every ADD, so no process start there.
  const session = given ? undefined : new NftSession();
  const kernel = given ?? nftTable(GUARD_TABLE, undefined, session);
  /** Odd while a script of this process is being applied: a read meanwhile may straddle it. */
  let writes = 0;
  const counted: GuardKernel = {
    async run(script) {
      writes++;
      try {
        await kernel.run(script);
      } finally {
        writes++;
      }
    },
    list: () => kernel.list(),
    counters: () => kernel.counters(),
  };
  let timer: NodeJS.Timeout | undefined;
  let retry: NodeJS.Timeout | undefined;
  let stopped = false;
  return {
    name: NAME,
    async start(ctx: AgentContext): Promise<void> {
      const log = ctx.log.child({ controller: NAME });
      const store = storeEndpoints(ctx.options.storeUrl);
      const ports = controlPorts(ctx.options, store.ports);
      const nodes = ctx.informers.informer('Node');
      const pods = ctx.informers.informer('Pod');
      const networks = ctx.informers.informer('ClusterNetwork');
      // Routers the nodes peer with: a pod masqueraded to its node would look like that node.
      const peers = ctx.informers.informer('BGPPeer');
      const input = (): GuardInput => {
        const network = [...networks.cache.values()].find(
          (n: ClusterNetwork) => n.metadata.name === 'default',
        );
        return {
          pods: source.wiredPods(),
          protectedAddresses: [
            ...protectedNodeAddresses(nodes.cache.values()),
            ...[...peers.cache.values()].map((p) => p.spec.peerIP),
            ...store.hosts,
            ...(ctx.options.controlPlane ?? []),
          ],
          controlPorts: ports,
          allowPorts: network?.spec.hostProtection?.allowPorts ?? [],
        };
      };
      // One pass at a time. A pass reads its inputs afresh when it begins, so changes that
      // arrive while one waits to begin are all served by it. Pod and Node churn and CNI calls
      // diff against the table this process programmed (a cluster of thousands of nodes
      // changes some Node every second); the start, a periodic check that found the table
      // changed, and changes to peers and the ClusterNetwork read the kernel, which repairs
      // hand changes.
      let programmed: GuardTable | undefined;
      let readKernel = true;
      let running = Promise.resolve();
      let waiting: Promise<void> | undefined;
      const sync = (reason: string, fromKernel: boolean): Promise<void> => {
        readKernel ||= fromKernel;
        if (waiting) return waiting;
        waiting = running.then(async () => {
          waiting = undefined;
          const remembered = readKernel ? undefined : programmed;
          readKernel = false;
          try {
            const { table, changed } = await syncGuard(counted, input(), remembered);
            programmed = table;
            if (changed) log.info({ reason }, 'guard updated');
            ctx.health.setError(NAME, undefined);
          } catch (err) {
            programmed = undefined;
            readKernel = true;
            ctx.health.setError(NAME, errorMessage(err));
            log.error({ reason, err: errorMessage(err) }, 'could not update the guard');
          }
        });
        running = waiting;
        return waiting;
      };
      new Counter({
        name: 'podnet_guard_drops_total',
        help: 'Packets from pods the node guard dropped, by reason (spoofed source, tunnel, host port)',
        labelNames: ['reason'],
        registers: [ctx.metrics],
        async collect() {
          // The kernel counts; the metric shows its count.
          const counts = await kernel.counters().catch(() => new Map<string, number>());
          this.reset();
          for (const reason of DROP_REASONS) this.inc({ reason }, counts.get(reason) ?? 0);
        },
      });
      nodes.addHandler((c) => sync(`node ${c.name} ${c.type}`, false));
      // Only this node's pods are wired here: another node's pod changes nothing in the table,
      // and a pass for each would make every node work for every pod change in the cluster.
      pods.addHandler((c) =>
        c.object.spec.nodeName === ctx.options.nodeName
          ? sync(`pod ${c.name} ${c.type}`, false)
          : undefined,
      );
      networks.addHandler((c) => sync(`clusternetwork ${c.name} ${c.type}`, true));
      peers.addHandler((c) => sync(`bgppeer ${c.name} ${c.type}`, true));
      // Not before every cache is full: a pass over half the Nodes would take protection away.
      await Promise.all([nodes.synced, pods.synced, networks.synced, peers.synced]);
      source.guardSync = () => sync('cni', false);
      await sync('start', true);
      // The periodic check reads the kernel beside the passes, not in one of them: reading is
      // two listings, and an ADD arriving meanwhile would wait for all of them. Only a
      // table that differs costs a pass that reads it again and repairs.
      let unsettled = 0;
      const check = async (): Promise<void> => {
        const seen = writes;
        const compared = programmed;
        // Undefined: a write of this process overlapped the read, which then proves nothing.
        let holds: boolean | undefined;
        if (!compared) holds = false;
        else if (seen % 2 === 0) {
          const read = await guardHolds(kernel, compared).catch(() => false);
          holds = writes === seen ? read : undefined;
        }
        if (stopped || holds === true) {
          unsettled = 0;
          return;
        }
        if (holds === undefined && ++unsettled < UNSETTLED_TRIES) {
          retry = setTimeout(() => void check(), UNSETTLED_RETRY_MS);
          return;
        }
        unsettled = 0;
        await sync('resync', true);
      };
      timer = setInterval(() => void check(), resyncMs);
      ctx.health.setReady(NAME, true);
    },
    async stop(): Promise<void> {
      stopped = true;
      clearInterval(timer);
      clearTimeout(retry);
      // Its nft would keep the agent from exiting.
      session?.close();
    },
  };
}
