// From a conntrack event to a flow record: which agent reports the connection, what its ends
// are called, and how its record changes when the kernel lets go of it.
import type { ConntrackEvent } from './conntrack-event.js';
import type {
  Flow,
  FlowEnd,
  FlowPath,
  FlowProtocol,
  FlowService,
  UnconfirmedConnection,
} from './types.js';
import { nodePortKey, serviceKey, subnetOf, type ClusterView } from './view.js';

/**
 * Every host a connection crosses sees it in its own conntrack table; one of them reports it,
 * so that a connection is one flow: the client's host when the client is one of its pods (it
 * also chose the endpoint), else the server's host when the server is one of its pods
 * (a client outside the pod network).
 */
export function reportsFlow(view: ClusterView, ev: ConntrackEvent): boolean {
  const client = subnetOf(view, ev.original.src);
  if (client) return client.node === view.self;
  return subnetOf(view, ev.reply.src)?.node === view.self;
}

/** The flow a connection's first event opens (a DESTROY of one opened before the agent started). */
export function openFlow(view: ClusterView, ev: ConntrackEvent, seq: number): Flow {
  const { original, reply } = ev;
  // The reply comes from whoever really answers: after DNAT, the endpoint the kernel chose.
  const translated = reply.src !== original.dst || reply.sport !== original.dport;
  const service = translated ? serviceOf(view, ev) : undefined;
  const source = end(view, original.src, original.sport);
  const destination = end(view, reply.src, reply.sport);
  const flow: Flow = {
    seq,
    id: `${view.self}/${ev.id}`,
    node: view.self,
    protocol: ev.protocol as FlowProtocol,
    source,
    ...(service ? { service } : {}),
    destination,
    path: pathOf(view, source, destination),
    verdict: 'forwarded',
    state: 'open',
    start: isoTime(ev.type === 'DESTROY' && ev.lifetime ? ev.time - ev.lifetime : ev.time),
  };
  return ev.type === 'NEW' ? flow : closeFlow(flow, ev, seq);
}

/**
 * The flow once the kernel destroyed its entry, with the counters it reports only then. It ends
 * when the kernel let go of it: for TCP that is after TIME_WAIT, which podnet does not follow
 * (its state changes are most of a connection's events, and the flow log asks for none of them).
 */
export function closeFlow(flow: Flow, ev: ConntrackEvent, seq: number): Flow {
  const traffic =
    ev.original.packets !== undefined && ev.reply.packets !== undefined
      ? {
          sent: { packets: ev.original.packets, bytes: ev.original.bytes ?? 0 },
          received: { packets: ev.reply.packets, bytes: ev.reply.bytes ?? 0 },
        }
      : undefined;
  return { ...flow, seq, state: 'closed', end: isoTime(ev.time), ...(traffic ? { traffic } : {}) };
}

/**
 * The flow of a connection a rule refused or denied: the agent that logged it reports it. A
 * refused connection never left this host; its destination is the service's address.
 */
export function unconfirmedFlow(view: ClusterView, c: UnconfirmedConnection, seq: number): Flow {
  const source = end(view, c.source.ip, c.source.port);
  const destination = end(view, c.destination.ip, c.destination.port);
  const ref =
    view.services.get(serviceKey(c.protocol, c.destination.ip, c.destination.port)) ??
    view.nodePorts.get(nodePortKey(c.protocol, c.destination.port));
  const service = ref ? { ...ref, ip: c.destination.ip, port: c.destination.port } : undefined;
  return {
    seq,
    id: `${view.self}/${c.verdict}-${seq}`,
    node: view.self,
    protocol: c.protocol,
    source,
    ...(service ? { service } : {}),
    destination,
    path: c.verdict === 'refused' ? 'local' : pathOf(view, source, destination),
    verdict: c.verdict,
    ...(c.reason ? { reason: c.reason } : {}),
    ...(c.policies ? { policies: c.policies } : {}),
    state: 'closed',
    start: c.time,
    end: c.time,
  };
}

function serviceOf(view: ClusterView, ev: ConntrackEvent): FlowService | undefined {
  const { dst, dport } = ev.original;
  const ref =
    view.services.get(serviceKey(ev.protocol, dst, dport)) ??
    view.nodePorts.get(nodePortKey(ev.protocol, dport));
  return ref ? { ...ref, ip: dst, port: dport } : undefined;
}

function end(view: ClusterView, ip: string, port: number): FlowEnd {
  const pod = view.pods.get(ip);
  return { ip, port, ...(pod ? { pod: pod.pod, ...(pod.node ? { node: pod.node } : {}) } : {}) };
}

/** The path between the two ends as this host routes it: toward the end that is not its own. */
function pathOf(view: ClusterView, source: FlowEnd, destination: FlowEnd): FlowPath {
  const from = subnetOf(view, source.ip);
  const to = subnetOf(view, destination.ip);
  if (!from || !to) return 'external';
  if (from.node === to.node) return 'local';
  return from.node === view.self ? to.path : from.path;
}

function isoTime(seconds: number): string {
  return new Date(Math.round(seconds * 1000)).toISOString();
}
