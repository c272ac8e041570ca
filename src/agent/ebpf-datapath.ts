// The eBPF data path controller (`datapath: ebpf`): keeps bpf/datapath.c's programs attached to
// this host's pod veths and underlay device and their maps in step with the pods this node
// wired, the Nodes, the policies and the services (ports and backends, read from the same
// objects and with the same endpoint choice as the proxy, so both paths send a new connection
// to the same set of pods). Maps are written before programs
// are attached, so a program never runs on maps that do not yet know its pods. A program the
// kernel refuses leaves the kernel path in place, and /healthz says why. Back to `kernel`, the
// programs come off every device; the pins stay, so switching again costs no load.
import { Counter, Gauge } from 'prom-client';
import { nodeInternalIP } from '../api/node-network.js';
import { effectiveNetwork } from '../api/node-settings.js';
import type { ClusterNetwork } from '../api/types.js';
import {
  DATAPATH_ACTIONS,
  attachDatapath,
  datapathCounters,
  datapathPinDir,
  detachDatapath,
  deviceWithAddress,
  linkIndexes,
  loadDatapath,
  syncDatapathMaps,
} from '../kernel/bpf-datapath.js';
import type { WiredPod } from '../policy/guard.js';
import { policySelectedAddresses } from '../policy/selected.js';
import { datapathPeersDirect, desiredDatapathMaps, sliceBackends } from '../routing/ebpf-maps.js';
import { hostFromNode } from '../routing/peers.js';
import { currentServicePorts } from './proxy.js';
import { errorMessage } from '../util/errors.js';
import type { AgentContext, Controller } from './controller.js';

const NAME = 'ebpf-datapath';
/** A periodic pass picks up veths that appeared between events and repairs hand changes. */
const PERIOD_MS = 10_000;

/** This host's pin directory, or undefined where no BPF file system is mounted. */
function pinDirIfAny(): string | undefined {
  try {
    return datapathPinDir();
  } catch {
    return undefined;
  }
}

export interface DatapathSource {
  wiredPods(): WiredPod[];
}

export function ebpfDatapathController(source: DatapathSource): Controller {
  let timer: NodeJS.Timeout | undefined;
  return {
    name: NAME,
    async start(ctx: AgentContext): Promise<void> {
      const log = ctx.log.child({ controller: NAME });
      const inf = ctx.informers;
      const networks = inf.informer('ClusterNetwork');
      const nodes = inf.informer('Node');
      const pods = inf.informer('Pod');
      const namespaces = inf.informer('Namespace');
      const policies = inf.informer('NetworkPolicy');
      const admin = inf.informer('AdminNetworkPolicy');
      const baseline = inf.informer('BaselineAdminNetworkPolicy');
      const slices = inf.informer('EndpointSlice');
      const services = inf.informer('Service');
      const all = [networks, nodes, pods, namespaces, policies, admin, baseline, slices, services];
      /** Where the programs are pinned, once the data path has been on here. */
      let dir: string | undefined;
      const active = new Gauge({
        name: 'podnet_ebpf_datapath_active',
        help: 'Whether the eBPF data path runs on this host (1) or pods use the kernel path (0)',
        registers: [ctx.metrics],
      });
      new Counter({
        name: 'podnet_ebpf_datapath_packets_total',
        help: "IPv4 packets the eBPF data path's programs decided on, by action (kernel: left to the host's forwarding path; service_dnat, reverse_nat: translated, and counted again where they went)",
        labelNames: ['action'],
        registers: [ctx.metrics],
        async collect() {
          const counts = dir
            ? await datapathCounters(dir).catch(() => new Map<string, number>())
            : new Map<string, number>();
          this.reset();
          for (const action of DATAPATH_ACTIONS) this.inc({ action }, counts.get(action) ?? 0);
        },
      });

      const pass = async (): Promise<string> => {
        const self = nodes.cache.get(ctx.options.nodeName);
        const spec = [...networks.cache.values()].find(
          (n: ClusterNetwork) => n.metadata.name === 'default',
        )?.spec;
        const network = effectiveNetwork(spec, self);
        if (network.datapath !== 'ebpf') {
          active.set(0);
          // After a restart too: programs an earlier agent attached come off.
          dir ??= pinDirIfAny();
          const removed = dir ? await detachDatapath(dir) : 0;
          return removed > 0 ? `kernel path: programs taken off ${removed} devices` : '';
        }
        dir ??= datapathPinDir();
        await loadDatapath(dir);
        const nodeIP = self ? nodeInternalIP(self) : undefined;
        const underlay = nodeIP ? await deviceWithAddress(nodeIP) : undefined;
        const ifindexes = await linkIndexes();
        const wired = source.wiredPods().filter((p) => ifindexes.has(p.hostVeth));
        const peers = datapathPeersDirect(network)
          ? [...nodes.cache.values()]
              .filter((n) => n.metadata.name !== ctx.options.nodeName)
              .flatMap((n) => hostFromNode(n) ?? [])
          : [];
        const maps = desiredDatapathMaps({
          pods: wired,
          ifindexes,
          underlay: underlay?.dev,
          underlaySubnet: underlay?.subnet,
          peers,
          policyPods: policySelectedAddresses({
            pods: pods.cache.values(),
            namespaces: [...namespaces.cache.values()],
            networkPolicies: [...policies.cache.values()],
            adminPolicies: [...admin.cache.values(), ...baseline.cache.values()],
          }),
          backends: sliceBackends(slices.cache.values()),
          services: currentServicePorts(services.cache.values(), slices.cache.values(), 4),
        });
        const written = await syncDatapathMaps(dir, maps);
        const attached = await attachDatapath(dir, {
          pod: [...new Set(wired.map((p) => p.hostVeth))],
          underlay: underlay ? [underlay.dev] : [],
        });
        active.set(1);
        return written + attached > 0
          ? `${written} map entries, ${attached} programs attached`
          : '';
      };

      // One pass at a time; changes that arrive while one runs are served by the next.
      let running = Promise.resolve();
      let waiting: Promise<void> | undefined;
      let failing = false;
      const sync = (reason: string): Promise<void> => {
        if (waiting) return waiting;
        waiting = running.then(async () => {
          waiting = undefined;
          try {
            const did = await pass();
            if (did) log.info({ reason }, `eBPF data path: ${did}`);
            if (failing) log.info('eBPF data path running');
            failing = false;
            ctx.health.setError(NAME, undefined);
          } catch (err) {
            active.set(0);
            const message = `pods use the kernel path: ${errorMessage(err)}`;
            if (!failing)
              log.error({ reason, err: errorMessage(err) }, 'eBPF data path not running');
            failing = true;
            ctx.health.setError(NAME, message);
          }
        });
        running = waiting;
        return waiting;
      };
      for (const informer of all) {
        informer.addHandler((c: { name: string; type: string }) => sync(`${c.type} ${c.name}`));
      }
      await Promise.all(all.map((i) => i.synced));
      await sync('start');
      timer = setInterval(() => void sync('resync'), PERIOD_MS);
      ctx.health.setReady(NAME, true);
    },
    async stop(): Promise<void> {
      clearInterval(timer);
    },
  };
}
