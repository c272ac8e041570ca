// The flow record: one connection as an agent saw it in conntrack, with its ends named as pods
// and services. This is the shape `GET /flows` on an agent's HTTP port serves and `podnet flows`
// prints; the browser map reads the same JSON.
//
// GET /flows?since=SEQ → { "node": "node-1", "seq": 42, "lost": 0, "flows": [Flow, ...] }
//   `seq` is the agent's latest sequence number: ask again with since=seq to get only the flows
//   that began or changed after it (a flow is sent again when it closes, with its counters).
//   `lost` counts conntrack events the kernel dropped before the agent read them.
//
// A Flow in JSON:
// {
//   "seq": 17, "id": "node-1/3206261315", "node": "node-1",
//   "protocol": "tcp",
//   "source": { "ip": "10.244.1.5", "port": 40918, "pod": "my-namespace/client" },
//   "service": { "namespace": "my-namespace", "name": "my-svc", "ip": "10.96.0.20", "port": 80 },
//   "destination": { "ip": "10.244.2.7", "port": 8080, "pod": "my-namespace/echo-2",
//                    "node": "node-2" },
//   "path": "vxlan", "verdict": "forwarded", "state": "closed",
//   "start": "2025-01-01T10:00:00.000Z", "end": "2025-01-01T10:00:00.020Z",
//   "traffic": { "sent": { "packets": 6, "bytes": 412 }, "received": { "packets": 4, "bytes": 880 } }
// }
// `service` is absent when the client did not go through a cluster IP; `pod` when an address is
// no pod's; `end` and `traffic` until conntrack has destroyed the entry (the kernel reports
// counters only then; `end` is that moment, for TCP after TIME_WAIT); `reason` says why a flow was refused or denied, and `policies` which
// NetworkPolicies denied it. A refused or denied flow is one a rule logged before conntrack
// confirmed it: it is closed from the start and carries no counters.

export type FlowProtocol = 'tcp' | 'udp' | 'sctp' | 'icmp';

/**
 * How the packets went between hosts: `local` (both ends on this host), `direct` (routed to the
 * peer's underlay address), `vxlan`/`ipip` (encapsulated), `wireguard` (encrypted), `bgp` (a
 * BGP-learnt route), `cloud`
 * (the cloud's route table), `external` (not a pod network address), `unknown` (no route).
 */
export type FlowPath =
  'local' | 'direct' | 'vxlan' | 'ipip' | 'wireguard' | 'bgp' | 'cloud' | 'external' | 'unknown';

/**
 * forwarded: conntrack confirmed it; refused: a service without endpoints rejected it; denied:
 * a NetworkPolicy dropped it.
 */
export type FlowVerdict = 'forwarded' | 'refused' | 'denied';

export interface FlowEnd {
  ip: string;
  port: number;
  /** namespace/name of the pod with this address. */
  pod?: string;
  /** The node the pod runs on. */
  node?: string;
}

export interface FlowService {
  namespace: string;
  name: string;
  ip: string;
  port: number;
}

export interface FlowCounters {
  packets: number;
  bytes: number;
}

export interface Flow {
  seq: number;
  id: string;
  node: string;
  protocol: FlowProtocol;
  source: FlowEnd;
  service?: FlowService;
  destination: FlowEnd;
  path: FlowPath;
  verdict: FlowVerdict;
  reason?: string;
  /** `namespace/name` of the policies that denied it. */
  policies?: string[];
  state: 'open' | 'closed';
  start: string;
  end?: string;
  /** sent: client → server; received: server → client. */
  traffic?: { sent: FlowCounters; received: FlowCounters };
}

/** The answer of `GET /flows`. */
export interface FlowPage {
  node: string;
  seq: number;
  lost: number;
  flows: Flow[];
}

/**
 * A connection a podnet rule refused or denied before conntrack confirmed it, as the rule
 * logged its first packet.
 */
export interface UnconfirmedConnection {
  /** ISO time the packet was logged. */
  time: string;
  protocol: FlowProtocol;
  source: { ip: string; port: number };
  destination: { ip: string; port: number };
  verdict: 'refused' | 'denied';
  reason?: string;
  policies?: string[];
}
