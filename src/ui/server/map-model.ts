// The map the browser draws, as plain data: zones holding hosts holding pods, services in front
// of their pods, a link between every two hosts labelled with how it is carried, the BGP
// sessions, and health. Pure: the store's objects (and doctor's findings) in, elements out; the
// live server diffs two maps and sends only what changed.
import {
  LABEL_ZONE,
  type ClusterNetwork,
  type EndpointSlice,
  type Node,
  type Pod,
  type Service,
} from '../../api/types.js';
import type { NodeBgpStatus } from '../../bgp/status-store.js';
import { hostFromNode, type Host } from '../../routing/peers.js';
import { linkCarrier } from './carriers.js';

export type ElementKind = 'zone' | 'host' | 'pod' | 'service' | 'endpoint' | 'link' | 'bgp';

/** ok: nothing to say; warn: a doctor finding; bad: the node is not usable. */
export type Health = 'ok' | 'warn' | 'bad';

export interface MapElement {
  id: string;
  kind: ElementKind;
  label: string;
  /** The element that holds this one (a host's zone, a pod's host). */
  parent?: string;
  /** Ends of an edge (endpoint, link, bgp). */
  source?: string;
  target?: string;
  health: Health;
  /** What is wrong and how to fix it, shown on hover and in the tables. */
  hint?: string;
  /** The columns of this element's row in its table. */
  fields: Record<string, string>;
}

/** A failing `podnet doctor` check on one node. */
export interface Finding {
  check: string;
  detail: string;
  fix?: string;
}

export interface MapInput {
  network?: ClusterNetwork['spec'];
  nodes: readonly Node[];
  pods: readonly Pod[];
  services: readonly Service[];
  slices: readonly EndpointSlice[];
  bgp: readonly NodeBgpStatus[];
  /** Failing doctor checks by node name. */
  findings: ReadonlyMap<string, readonly Finding[]>;
}

const NO_ZONE = '(no zone)';
const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

export const zoneId = (zone: string): string => `zone/${zone}`;
export const hostId = (node: string): string => `host/${node}`;
export const podId = (namespace: string, name: string): string => `pod/${namespace}/${name}`;
export const serviceId = (namespace: string, name: string): string => `svc/${namespace}/${name}`;

/**
 * What building one map leaves for the next. The live map builds the whole map again on every
 * change, and on a big cluster nearly all of it comes from the same objects as last time:
 * thousands of pods, a link between every two hosts. Those elements are reused as they were, so
 * that a pod's arrival builds one element and the diff, which keeps each element's JSON, has
 * only that one to serialize.
 */
export class MapMemo {
  /** Each pod's element, by the very object the informer holds (replaced when the pod changes). */
  readonly pods = new WeakMap<Pod, MapElement>();
  /** The links, with what they were built from. */
  links:
    | {
        nodes: readonly Node[];
        network: string;
        bgp: readonly NodeBgpStatus[];
        elements: MapElement[];
      }
    | undefined;
}

export function buildMap(input: MapInput, memo?: MapMemo): MapElement[] {
  const elements: MapElement[] = [];
  const zones = new Set<string>();
  const nodeNames = new Set(input.nodes.map((n) => n.metadata.name));
  for (const node of input.nodes) {
    const zone = node.metadata.labels?.[LABEL_ZONE] ?? NO_ZONE;
    zones.add(zone);
    elements.push(hostElement(node, zone, input.findings.get(node.metadata.name) ?? []));
  }
  for (const zone of [...zones].sort()) {
    elements.push({ id: zoneId(zone), kind: 'zone', label: zone, health: 'ok', fields: { zone } });
  }
  for (const pod of input.pods) elements.push(podElementOnce(pod, nodeNames, memo));
  elements.push(...serviceElements(input.services, input.slices, input.pods));
  elements.push(...linkElementsOnce(input, memo));
  elements.push(...bgpElements(input.bgp, input.nodes));
  return elements.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

function condition(node: Node, type: string): string | undefined {
  return node.status?.conditions?.find((c) => c.type === type)?.status;
}

function hostElement(node: Node, zone: string, findings: readonly Finding[]): MapElement {
  const name = node.metadata.name;
  const ready = condition(node, 'Ready');
  const networkUnavailable = condition(node, 'NetworkUnavailable') === 'True';
  const problems: string[] = [];
  if (ready !== 'True') {
    problems.push(
      `NotReady: the node's agent is not reporting; start it again (in a lab: podnet lab repair)`,
    );
  }
  if (networkUnavailable) {
    problems.push('NetworkUnavailable: routes to this node are not in place; run podnet doctor');
  }
  for (const f of findings) {
    problems.push(`${f.check}: ${f.detail}${f.fix ? ` — fix: ${f.fix}` : ''}`);
  }
  const health: Health =
    ready !== 'True' || networkUnavailable ? 'bad' : findings.length > 0 ? 'warn' : 'ok';
  const host = hostFromNode(node);
  const status = [
    ready === 'True' ? 'Ready' : 'NotReady',
    ...(networkUnavailable ? ['NetworkUnavailable'] : []),
  ].join(',');
  return {
    id: hostId(name),
    kind: 'host',
    label: name,
    parent: zoneId(zone),
    health,
    ...(problems.length > 0 ? { hint: problems.join('\n') } : {}),
    fields: {
      host: name,
      zone,
      status,
      address: host?.ip ?? '',
      podCIDR: host?.podCIDR ?? '',
      findings: String(findings.length),
    },
  };
}

/** A pod's element as last built, unless its host has come or gone since. */
function podElementOnce(
  pod: Pod,
  nodeNames: ReadonlySet<string>,
  memo: MapMemo | undefined,
): MapElement {
  const node = pod.spec.nodeName;
  const known = memo?.pods.get(pod);
  if (known && (known.parent !== undefined) === (!!node && nodeNames.has(node))) return known;
  const element = podElement(pod, nodeNames);
  memo?.pods.set(pod, element);
  return element;
}

function podElement(pod: Pod, nodeNames: ReadonlySet<string>): MapElement {
  const { namespace = 'default', name } = pod.metadata;
  const node = pod.spec.nodeName;
  const phase = pod.status?.phase ?? 'Pending';
  const failed = phase === 'Failed' || phase === 'Unknown';
  return {
    id: podId(namespace, name),
    kind: 'pod',
    label: name,
    ...(node && nodeNames.has(node) ? { parent: hostId(node) } : {}),
    health: failed ? 'bad' : phase === 'Running' ? 'ok' : 'warn',
    ...(pod.status?.message ? { hint: pod.status.message } : {}),
    fields: {
      namespace,
      pod: name,
      host: node ?? '',
      ip: pod.status?.podIP ?? '',
      phase,
    },
  };
}

function serviceElements(
  services: readonly Service[],
  slices: readonly EndpointSlice[],
  pods: readonly Pod[],
): MapElement[] {
  const podKeys = new Set(
    pods.map((p) => `${p.metadata.namespace ?? 'default'}/${p.metadata.name}`),
  );
  const out: MapElement[] = [];
  for (const svc of services) {
    const { namespace = 'default', name } = svc.metadata;
    const id = serviceId(namespace, name);
    const targets = new Set<string>();
    for (const slice of slices) {
      if (slice.metadata.namespace !== namespace) continue;
      if (slice.metadata.labels?.[SERVICE_NAME_LABEL] !== name) continue;
      for (const ep of slice.endpoints) {
        const ref = ep.targetRef;
        if (ref?.kind !== 'Pod' || !ref.name) continue;
        const key = `${ref.namespace ?? namespace}/${ref.name}`;
        if (podKeys.has(key) && ep.conditions?.ready !== false) targets.add(key);
      }
    }
    const ports = (svc.spec.ports ?? []).map((p) => `${p.port}/${p.protocol ?? 'TCP'}`).join(',');
    const selects = svc.spec.selector && Object.keys(svc.spec.selector).length > 0;
    out.push({
      id,
      kind: 'service',
      label: name,
      health: selects && targets.size === 0 ? 'warn' : 'ok',
      ...(selects && targets.size === 0
        ? { hint: 'no ready endpoints: connections are refused' }
        : {}),
      fields: {
        namespace,
        service: name,
        clusterIP: svc.spec.clusterIP ?? '',
        ports,
        endpoints: [...targets]
          .map((k) => k.split('/')[1])
          .sort()
          .join(','),
      },
    });
    for (const key of [...targets].sort()) {
      const [podNs, podName] = key.split('/') as [string, string];
      out.push({
        id: `ep/${namespace}/${name}/${key}`,
        kind: 'endpoint',
        label: '',
        source: id,
        target: podId(podNs, podName),
        health: 'ok',
        fields: { service: `${namespace}/${name}`, pod: key },
      });
    }
  }
  return out;
}

/** The links as last built while the nodes, the network and the BGP sessions are the same. */
function linkElementsOnce(input: MapInput, memo: MapMemo | undefined): MapElement[] {
  const network = JSON.stringify(input.network ?? null);
  const last = memo?.links;
  if (
    last &&
    last.network === network &&
    sameObjects(last.nodes, input.nodes) &&
    sameObjects(last.bgp, input.bgp)
  )
    return last.elements;
  const elements = linkElements(input);
  if (memo) memo.links = { nodes: input.nodes, network, bgp: input.bgp, elements };
  return elements;
}

function sameObjects<T>(a: readonly T[], b: readonly T[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function linkElements(input: MapInput): MapElement[] {
  if (!input.network) return [];
  const hosts = input.nodes
    .map(hostFromNode)
    .filter((h): h is Host => h !== undefined)
    .sort((a, b) => (a.name < b.name ? -1 : 1));
  const bgp = new Map(input.bgp.map((s) => [s.node, s]));
  const out: MapElement[] = [];
  for (let i = 0; i < hosts.length; i++) {
    for (let j = i + 1; j < hosts.length; j++) {
      const [a, b] = [hosts[i]!, hosts[j]!];
      const carrier = linkCarrier(input.network, a, b, bgp);
      out.push({
        id: `link/${a.name}/${b.name}`,
        kind: 'link',
        label: carrier.label,
        source: hostId(a.name),
        target: hostId(b.name),
        health: carrier.ok ? 'ok' : 'warn',
        ...(carrier.ok ? {} : { hint: carrier.label }),
        fields: { from: a.name, to: b.name, carried: carrier.label },
      });
    }
  }
  return out;
}

/** A session to another node joins the two hosts; one to a router outside stays on its host. */
function bgpElements(statuses: readonly NodeBgpStatus[], nodes: readonly Node[]): MapElement[] {
  const byAddress = new Map<string, string>();
  for (const n of nodes) {
    const ip = hostFromNode(n)?.ip;
    if (ip) byAddress.set(ip, n.metadata.name);
  }
  const out: MapElement[] = [];
  for (const status of statuses) {
    for (const peer of status.peers) {
      const peerNode = byAddress.get(peer.address);
      const up = peer.state === 'Established';
      out.push({
        id: `bgp/${status.node}/${peer.address}`,
        kind: 'bgp',
        label: `BGP ${peer.state}`,
        source: hostId(status.node),
        target: peerNode ? hostId(peerNode) : hostId(status.node),
        health: up ? 'ok' : 'bad',
        ...(up ? {} : { hint: `BGP session to ${peer.address} is ${peer.state}` }),
        fields: {
          node: status.node,
          peer: peerNode ? `${peerNode} (${peer.address})` : peer.address,
          kind: peer.kind,
          state: peer.state,
          received: String(peer.prefixesReceived),
          advertised: String(peer.prefixesAdvertised),
        },
      });
    }
  }
  return out;
}

export interface MapPatch {
  /** Elements that are new or changed, whole. */
  upsert: MapElement[];
  /** Ids of elements that are gone. */
  remove: string[];
}

/**
 * Each element's JSON, kept with the element: the live map compares every new map with the last
 * one, whose elements were serialized when they were new (thousands of them on a big cluster;
 * an element is never changed once built).
 */
const serialized = new WeakMap<MapElement, string>();

function serialize(e: MapElement): string {
  let json = serialized.get(e);
  if (json === undefined) {
    json = JSON.stringify(e);
    serialized.set(e, json);
  }
  return json;
}

/** What changed between two maps; an empty patch when nothing did. */
export function diffMap(before: readonly MapElement[], after: readonly MapElement[]): MapPatch {
  const old = new Map(before.map((e) => [e.id, serialize(e)]));
  const now = new Set(after.map((e) => e.id));
  return {
    upsert: after.filter((e) => old.get(e.id) !== serialize(e)),
    remove: before.filter((e) => !now.has(e.id)).map((e) => e.id),
  };
}
