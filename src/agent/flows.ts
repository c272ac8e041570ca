// The flow log: every connection this node's pods open (and those pods outside the pod network
// open to them), read from the kernel's conntrack events, named as pods and services from the
// shared informers, kept in a bounded ring served as GET /flows, and counted per service. What
// conntrack never confirms comes from the log groups of podnet's own rules: connections the
// proxy refused (read here) and those NetworkPolicy denied (read by the policy controller).
import { Counter } from 'prom-client';
import { DEFAULT_CLUSTER_NETWORK } from '../api/types.js';
import {
  enableConntrackAccounting,
  readConntrackEvents,
  type ConntrackEventReader,
} from '../kernel/conntrack-events.js';
import { subscribeNflog, type LoggedPacket, type NflogSubscription } from '../kernel/nflog.js';
import { readPodnetRouteTable } from '../kernel/podnet-routes.js';
import type { DeniedConnection } from '../policy/denied-log.js';
import { REFUSED_LOG_GROUP } from '../proxy/refused-log.js';
import { IPIP_DEVICE } from '../routing/backends/ipip.js';
import { VXLAN_DEVICE } from '../routing/backends/vxlan.js';
import { WIREGUARD_DEVICE } from '../routing/backends/wireguard.js';
import { FlowLog, type FlowChange } from '../flows/log.js';
import type { FlowPage, FlowProtocol, UnconfirmedConnection } from '../flows/types.js';
import { clusterView, type ClusterView, type HostRoute, type ServiceRef } from '../flows/view.js';
import { errorMessage } from '../util/errors.js';
import type { AgentContext, Controller } from './controller.js';
import { serialRuns, type SerialRuns } from '../util/serial-runs.js';

const NAME = 'flows';
/** Flows kept per agent: about 2 MB of records. */
const CAPACITY = Number(process.env.PODNET_FLOW_CAPACITY) || 5000;
/** Routes change with Nodes; re-reading them now and then also catches a repair. */
const ROUTES_PERIOD_MS = 10_000;

export interface FlowsController extends Controller {
  /** Keeps a connection NetworkPolicy denied (before start: not kept). */
  addDenied(c: DeniedConnection): void;
}

export function flowsController(): FlowsController {
  let reader: ConntrackEventReader | undefined;
  let refusedReader: NflogSubscription | undefined;
  let timer: NodeJS.Timeout | undefined;
  let routeReads: SerialRuns | undefined;
  const flows = new FlowLog(CAPACITY);
  let viewOf: (() => ClusterView) | undefined;
  return {
    name: NAME,
    addDenied(c: DeniedConnection): void {
      const protocol = FLOW_PROTOCOLS.find((p) => p === c.protocol.toLowerCase());
      if (!viewOf || !protocol) return;
      const whose = c.direction === 'Ingress' ? c.destination : c.source;
      flows.addUnconfirmed(viewOf(), {
        time: c.time,
        protocol,
        source: c.source,
        destination: c.destination,
        verdict: 'denied',
        reason: `${c.direction.toLowerCase()} of ${whose.pod ?? whose.ip}`,
        policies: c.policies,
      });
    },
    async start(ctx: AgentContext): Promise<void> {
      const log = ctx.log.child({ controller: NAME });
      const metrics = flowMetrics(ctx);
      try {
        enableConntrackAccounting();
      } catch (err) {
        log.warn(
          { err: errorMessage(err) },
          'conntrack accounting is off: flows carry no counters',
        );
      }
      const pods = ctx.informers.informer('Pod');
      const services = ctx.informers.informer('Service');
      const nodes = ctx.informers.informer('Node');
      const networks = ctx.informers.informer('ClusterNetwork');
      let routes: HostRoute[] = [];
      let view: ClusterView | undefined;
      const forget = (): void => {
        view = undefined;
      };
      for (const informer of [pods, services, nodes, networks]) informer.addHandler(forget);
      const currentView = (): ClusterView => {
        if (view) return view;
        const network = networks.cache.get('default')?.spec ?? DEFAULT_CLUSTER_NETWORK;
        view = clusterView({
          self: ctx.options.nodeName,
          pods: pods.cache.values(),
          services: services.cache.values(),
          nodes: nodes.cache.values(),
          routes,
          routing: network.routing,
          backend: ctx.options.overrides.backend ?? network.backend,
          tunnels: {
            [VXLAN_DEVICE]: 'vxlan',
            [IPIP_DEVICE]: 'ipip',
            [WIREGUARD_DEVICE]: 'wireguard',
          },
        });
        return view;
      };
      const readRoutes = async (): Promise<void> => {
        try {
          routes = await readPodnetRouteTable();
          view = undefined;
        } catch (err) {
          log.warn({ err: errorMessage(err) }, 'could not read routes: paths may show unknown');
        }
      };
      viewOf = currentView;
      await readRoutes();
      // A burst of Node changes (an agent's start tells it every Node) is one read, not one each.
      routeReads = serialRuns(readRoutes, () => undefined);
      routeReads.open();
      timer = setInterval(() => routeReads?.trigger(), ROUTES_PERIOD_MS);
      nodes.addHandler(() => routeReads?.trigger());

      reader = readConntrackEvents({
        onEvent(ev) {
          const change = flows.apply(currentView(), ev);
          if (change) metrics.count(change);
        },
        onLost: () => metrics.countOverrun(),
        onWarning(line) {
          log.warn({ err: line }, 'the conntrack event reader warned');
        },
        onExit(reason) {
          log.warn({ err: reason }, 'conntrack event reader stopped; starting it again');
        },
      });
      refusedReader = subscribeNflog(
        REFUSED_LOG_GROUP,
        (packet) => {
          const refused = refusedConnection(packet);
          if (refused) flows.addUnconfirmed(currentView(), refused);
        },
        (err) => log.warn({ err }, 'the log of refused connections stopped: flows miss them'),
      );
      ctx.http.add('/flows', (query): FlowPage => {
        const since = Number(query.get('since') ?? 0) || 0;
        return {
          node: ctx.options.nodeName,
          seq: flows.latest,
          lost: metrics.lost(),
          flows: flows.since(since),
        };
      });
      ctx.health.setReady(NAME, true);
    },
    async stop(): Promise<void> {
      clearInterval(timer);
      await routeReads?.stop();
      reader?.stop();
      refusedReader?.stop();
    },
  };
}

/** A packet the proxy's reject rule logged: a connection to a service without endpoints. */
function refusedConnection(packet: LoggedPacket): UnconfirmedConnection | undefined {
  const protocol = PROTOCOL_NUMBERS[packet.protocol];
  if (!protocol) return undefined;
  return {
    time: new Date().toISOString(),
    protocol,
    source: { ip: packet.source, port: packet.sourcePort },
    destination: { ip: packet.destination, port: packet.destinationPort },
    verdict: 'refused',
    reason: 'no endpoints',
  };
}

const PROTOCOL_NUMBERS: Record<number, FlowProtocol> = {
  1: 'icmp',
  6: 'tcp',
  17: 'udp',
  132: 'sctp',
};
const FLOW_PROTOCOLS = Object.values(PROTOCOL_NUMBERS);

function flowMetrics(ctx: AgentContext): {
  countOverrun(): void;
  lost(): number;
  count(change: FlowChange): void;
} {
  const overruns = new Counter({
    name: 'podnet_flow_event_overruns_total',
    help: 'Times the kernel dropped conntrack events before the agent read them (each loses one or more flows)',
    registers: [ctx.metrics],
  });
  const connections = new Counter({
    name: 'podnet_service_connections_total',
    help: "Connections this node's clients opened to a service",
    labelNames: ['namespace', 'service'],
    registers: [ctx.metrics],
  });
  const bytes = new Counter({
    name: 'podnet_service_bytes_total',
    help: 'Bytes both ways of the closed connections to a service',
    labelNames: ['namespace', 'service'],
    registers: [ctx.metrics],
  });
  // A service's counters by the view's own reference to it: the labelled form of inc() hashes
  // its labels on every call, and a busy node counts thousands of connections a second.
  const perService = new WeakMap<ServiceRef, ServiceCounters>();
  const countersOf = (ref: ServiceRef): ServiceCounters => {
    let counters = perService.get(ref);
    if (!counters) {
      counters = {
        connections: connections.labels(ref.namespace, ref.name),
        bytes: bytes.labels(ref.namespace, ref.name),
      };
      perService.set(ref, counters);
    }
    return counters;
  };
  let lost = 0;
  return {
    countOverrun() {
      lost++;
      overruns.inc();
    },
    lost: () => lost,
    count({ record, opened, closed }) {
      if (!record.service) return;
      const counters = countersOf(record.service);
      if (opened) counters.connections.inc();
      if (closed && record.counted) counters.bytes.inc(record.sentBytes + record.receivedBytes);
    },
  };
}

interface ServiceCounters {
  connections: { inc(): void };
  bytes: { inc(value: number): void };
}
