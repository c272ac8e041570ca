// The eBPF data path controller (`datapath: ebpf`): keeps bpf/datapath.c's programs attached to
// this host's pod veths and underlay device and their maps in step with the pods this node
// wired, the Nodes, the policies and the services (ports and backends, read from the same
// objects and with the same endpoint choice as the proxy, so both paths send a new connection
// to the same set of pods). Maps are written before programs
// are attached, so a program never runs on maps that do not yet know its pods. A program the
// kernel refuses leaves the kernel path in place, and /healthz says why. Back to `kernel`, the
// programs drain first: conntrack never saw the connections they translated to the ClusterIP
// (their SYN crossed it already translated, their later packets not at all), so the kernel
// could not carry those on; handing them to conntrack would mean forging its entries, window
// state and all. Instead the programs stay attached in drain mode, translating and redirecting
// only those connections while everything else, new connections included, takes the kernel
// path, and come off every device once the last of them ends (FIN or RST) or goes idle
// (openTranslations). The pins stay, so switching again costs no load.
import { Counter, Gauge } from 'prom-client';
import { nodeInternalIP } from '../api/node-network.js';
import { effectiveNetwork } from '../api/node-settings.js';
import type { ClusterNetwork, Node } from '../api/types.js';
import {
  DATAPATH_ACTIONS,
  attachDatapath,
  datapathCounters,
  datapathDevices,
  datapathPinDir,
  datapathPinDirIfAny,
  datapathTranslations,
  detachDatapath,
  deviceWithAddress,
  forgetTranslations,
  linkIndexes,
  loadDatapath,
  syncDatapathMaps,
} from '../kernel/bpf-datapath.js';
import type { WiredPod } from '../policy/guard.js';
import { policySelectedAddresses } from '../policy/selected.js';
import {
  datapathPeersDirect,
  desiredDatapathMaps,
  openTranslations,
  type DatapathMode,
  sliceBackends,
} from '../routing/ebpf-maps.js';
import { hostFromNode } from '../routing/peers.js';
import { currentServicePorts } from './proxy.js';
import { errorMessage } from '../util/errors.js';
import type { AgentContext, Controller } from './controller.js';

const NAME = 'ebpf-datapath';
/** A periodic pass picks up veths that appeared between events and repairs hand changes. */
const PERIOD_MS = 10_000;
/**
 * While draining, how soon to look again whether the last translated connection has ended: a
 * look is one read of the translations, and a whole pass only once none is open.
 */
const DRAIN_CHECK_MS = 1_000;

export interface DatapathSource {
  wiredPods(): WiredPod[];
}

export function ebpfDatapathController(source: DatapathSource): Controller {
  let timer: NodeJS.Timeout | undefined;
  let drainTimer: NodeJS.Timeout | undefined;
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
      const draining = new Gauge({
        name: 'podnet_ebpf_datapath_draining_translations',
        help: 'After a switch to the kernel path: translations (one per direction of a connection) the programs still carry until their connections end',
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
          // After a restart too: programs an earlier agent attached drain and come off.
          dir ??= datapathPinDirIfAny();
          const on = dir ? await datapathDevices() : undefined;
          if (!dir || !on || Object.values(on).every((devs) => devs.length === 0)) {
            stopDrainChecks();
            return '';
          }
          return drain(dir, network, self);
        }
        dir ??= datapathPinDir();
        await loadDatapath(dir);
        stopDrainChecks();
        const { written, attached } = await run(dir, network, self, 'full');
        active.set(1);
        return written + attached > 0
          ? `${written} map entries, ${attached} programs attached`
          : '';
      };

      /** The maps for this host's pods, peers, policies and services, and the programs on. */
      const run = async (
        dir: string,
        network: ReturnType<typeof effectiveNetwork>,
        self: Node | undefined,
        mode: DatapathMode,
      ): Promise<{ written: number; attached: number }> => {
        const nodeIP = self ? nodeInternalIP(self) : undefined;
        const underlay = nodeIP ? await deviceWithAddress(nodeIP) : undefined;
        const ifindexes = await linkIndexes();
        const wired = source.wiredPods().filter((p) => ifindexes.has(p.hostVeth));
        const peers = datapathPeersDirect({ ...network, datapath: 'ebpf' })
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
          mode,
        });
        // Maps (and so the mode) before programs: a program never runs on maps behind it.
        const written = await syncDatapathMaps(dir, maps);
        const attached = await attachDatapath(dir, {
          pod: [...new Set(wired.map((p) => p.hostVeth))],
          underlay: underlay ? [underlay.dev] : [],
        });
        return { written, attached };
      };

      /**
       * Back on the kernel path with programs still attached: drain mode is written first, so
       * no translation begins after the map is read; then the programs stay while any
       * translated connection is open, and come off once none is, their translations with them.
       */
      const drain = async (
        dir: string,
        network: ReturnType<typeof effectiveNetwork>,
        self: Node | undefined,
      ): Promise<string> => {
        await loadDatapath(dir);
        const { written } = await run(dir, network, self, 'drain');
        const { entries, nowNs } = await datapathTranslations(dir);
        const open = openTranslations(entries, nowNs);
        draining.set(open);
        if (open > 0) {
          checkDrainSoon(dir);
          return written > 0
            ? `kernel path: draining ${open} translations of open connections`
            : '';
        }
        stopDrainChecks();
        const removed = await detachDatapath(dir);
        // Off every device first: no program can be using a translation forgotten here.
        const forgotten = await forgetTranslations(dir, entries.keys());
        return `kernel path: programs taken off ${removed} devices, ${forgotten} translations forgotten`;
      };

      /** A look at the translations alone; the pass that takes the programs off once none is open. */
      const checkDrainSoon = (dir: string): void => {
        clearTimeout(drainTimer);
        drainTimer = setTimeout(() => {
          void datapathTranslations(dir)
            .then(({ entries, nowNs }) => openTranslations(entries, nowNs))
            .catch(() => 0)
            .then((open) => {
              if (drainTimer === undefined) return; // a pass ended the drain meanwhile
              if (open > 0) {
                draining.set(open);
                checkDrainSoon(dir);
              } else void sync('drain over');
            });
        }, DRAIN_CHECK_MS);
      };
      const stopDrainChecks = (): void => {
        clearTimeout(drainTimer);
        drainTimer = undefined;
        draining.set(0);
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
      clearTimeout(drainTimer);
    },
  };
}
