// From a conntrack event to a flow record: which agent reports the connection, what its ends
// are called, and how its record changes when the kernel lets go of it.
//
// The log keeps thousands of records that each live a few seconds: long enough to outlive the
// collector's young generation, so every byte of them is copied and marked again. A record is
// therefore one flat object whose names are the view's own (shared, not copied) and whose times
// are numbers; the nested JSON shape of a Flow is built only when someone reads it.
import type { ConntrackEvent } from '../net/conntrack-event.js';
import type {
  Flow,
  FlowEnd,
  FlowPath,
  FlowProtocol,
  FlowVerdict,
  UnconfirmedConnection,
} from './types.js';
import {
  nodePortKey,
  serviceKey,
  subnetOf,
  type ClusterView,
  type PodRef,
  type ServiceRef,
} from './view.js';

export interface FlowRecord {
  /** The sequence number of its latest change. */
  seq: number;
  /** Its name in the log: the kernel's number for the connection, or the verdict's for one a rule logged. */
  key: number | string;
  node: string;
  protocol: FlowProtocol;
  sourceIP: string;
  sourcePort: number;
  sourcePod: PodRef | undefined;
  service: ServiceRef | undefined;
  serviceIP: string;
  servicePort: number;
  destinationIP: string;
  destinationPort: number;
  destinationPod: PodRef | undefined;
  path: FlowPath;
  verdict: FlowVerdict;
  reason: string | undefined;
  policies: string[] | undefined;
  /** Milliseconds since the epoch; `endMs` is NaN while the connection is open. */
  startMs: number;
  endMs: number;
  /** The kernel's counters, once it reported them (on DESTROY, with accounting on). */
  counted: boolean;
  sentPackets: number;
  sentBytes: number;
  receivedPackets: number;
  receivedBytes: number;
}

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
export function openFlow(view: ClusterView, ev: ConntrackEvent, seq: number): FlowRecord {
  const { original, reply } = ev;
  // The reply comes from whoever really answers: after DNAT, the endpoint the kernel chose.
  const translated = reply.src !== original.dst || reply.sport !== original.dport;
  const record = newRecord(view, seq, ev.id, ev.protocol as FlowProtocol, {
    source: original.src,
    sourcePort: original.sport,
    destination: reply.src,
    destinationPort: reply.sport,
    service: translated ? serviceOf(view, ev.protocol, original.dst, original.dport) : undefined,
    serviceIP: original.dst,
    servicePort: original.dport,
  });
  record.path = pathOf(view, record.sourceIP, record.destinationIP);
  const seconds = ev.type === 'DESTROY' && ev.lifetime ? ev.time - ev.lifetime : ev.time;
  record.startMs = Math.round(seconds * 1000);
  if (ev.type === 'DESTROY') closeFlow(record, ev, seq);
  return record;
}

/**
 * Closes the record once the kernel destroyed its entry, with the counters it reports only
 * then. It ends when the kernel let go of it: for TCP that is after TIME_WAIT, which podnet
 * does not follow (its state changes are most of a connection's events, and the flow log asks
 * for none of them).
 */
export function closeFlow(record: FlowRecord, ev: ConntrackEvent, seq: number): void {
  record.seq = seq;
  record.endMs = Math.round(ev.time * 1000);
  const { original, reply } = ev;
  if (original.packets !== undefined && reply.packets !== undefined) {
    record.counted = true;
    record.sentPackets = original.packets;
    record.sentBytes = original.bytes ?? 0;
    record.receivedPackets = reply.packets;
    record.receivedBytes = reply.bytes ?? 0;
  }
}

/**
 * The flow of a connection a rule refused or denied: the agent that logged it reports it. A
 * refused connection never left this host; its destination is the service's address.
 */
export function unconfirmedFlow(
  view: ClusterView,
  c: UnconfirmedConnection,
  seq: number,
): FlowRecord {
  const { ip, port } = c.destination;
  const record = newRecord(view, seq, `${c.verdict}-${seq}`, c.protocol, {
    source: c.source.ip,
    sourcePort: c.source.port,
    destination: ip,
    destinationPort: port,
    service: serviceOf(view, c.protocol, ip, port),
    serviceIP: ip,
    servicePort: port,
  });
  record.path =
    c.verdict === 'refused' ? 'local' : pathOf(view, record.sourceIP, record.destinationIP);
  record.verdict = c.verdict;
  record.reason = c.reason;
  record.policies = c.policies;
  record.startMs = record.endMs = Date.parse(c.time);
  return record;
}

/** The record in the shape `GET /flows` serves. */
export function toFlow(r: FlowRecord): Flow {
  const open = Number.isNaN(r.endMs);
  return {
    seq: r.seq,
    id: `${r.node}/${r.key}`,
    node: r.node,
    protocol: r.protocol,
    source: flowEnd(r.sourceIP, r.sourcePort, r.sourcePod),
    ...(r.service ? { service: { ...r.service, ip: r.serviceIP, port: r.servicePort } } : {}),
    destination: flowEnd(r.destinationIP, r.destinationPort, r.destinationPod),
    path: r.path,
    verdict: r.verdict,
    ...(r.reason ? { reason: r.reason } : {}),
    ...(r.policies ? { policies: r.policies } : {}),
    state: open ? 'open' : 'closed',
    start: new Date(r.startMs).toISOString(),
    ...(open ? {} : { end: new Date(r.endMs).toISOString() }),
    ...(r.counted
      ? {
          traffic: {
            sent: { packets: r.sentPackets, bytes: r.sentBytes },
            received: { packets: r.receivedPackets, bytes: r.receivedBytes },
          },
        }
      : {}),
  };
}

interface Ends {
  source: string;
  sourcePort: number;
  destination: string;
  destinationPort: number;
  service: ServiceRef | undefined;
  serviceIP: string;
  servicePort: number;
}

/** A forwarded, open record; every field is set here so that all records share one shape. */
function newRecord(
  view: ClusterView,
  seq: number,
  key: number | string,
  protocol: FlowProtocol,
  ends: Ends,
): FlowRecord {
  const sourcePod = view.pods.get(ends.source);
  const destinationPod = view.pods.get(ends.destination);
  return {
    seq,
    key,
    node: view.self,
    protocol,
    sourceIP: sourcePod?.ip ?? ends.source,
    sourcePort: ends.sourcePort,
    sourcePod,
    service: ends.service,
    serviceIP: ends.serviceIP,
    servicePort: ends.servicePort,
    destinationIP: destinationPod?.ip ?? ends.destination,
    destinationPort: ends.destinationPort,
    destinationPod,
    path: 'unknown',
    verdict: 'forwarded',
    reason: undefined,
    policies: undefined,
    startMs: 0,
    endMs: NaN,
    counted: false,
    sentPackets: 0,
    sentBytes: 0,
    receivedPackets: 0,
    receivedBytes: 0,
  };
}

function serviceOf(
  view: ClusterView,
  protocol: string,
  ip: string,
  port: number,
): ServiceRef | undefined {
  return (
    view.services.get(serviceKey(protocol, ip, port)) ??
    view.nodePorts.get(nodePortKey(protocol, port))
  );
}

function flowEnd(ip: string, port: number, pod: PodRef | undefined): FlowEnd {
  return { ip, port, ...(pod ? { pod: pod.pod, ...(pod.node ? { node: pod.node } : {}) } : {}) };
}

/** The path between the two ends as this host routes it: toward the end that is not its own. */
function pathOf(view: ClusterView, source: string, destination: string): FlowPath {
  const from = subnetOf(view, source);
  const to = subnetOf(view, destination);
  if (!from || !to) return 'external';
  if (from.node === to.node) return 'local';
  return from.node === view.self ? to.path : from.path;
}
