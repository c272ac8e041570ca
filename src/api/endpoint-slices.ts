// The endpoint-slice controller's decisions, as pure functions: from a Service with a selector
// and the pods it selects, the EndpointSlices and the legacy Endpoints object that describe
// them, and the smallest set of writes that turns the slices stored now into those. Services
// without a selector are someone else's (their slices are written by hand) and get nothing.
import { createHash } from 'node:crypto';
import { compareIP, parseIP, parseStored, tryParseIP } from '../net/index.js';
import { FAMILY_NAMES } from './cluster-families.js';
import { isPodReady, isPodServing, resolveTargetPort, selectedPods } from './endpoints.js';
import {
  ENDPOINTSLICE_CONTROLLER,
  LABEL_HEADLESS,
  LABEL_MANAGED_BY,
  LABEL_SERVICE_NAME,
  type AddressType,
  type EndpointAddress,
  type EndpointPort,
  type EndpointSlice,
  type Endpoints,
  type Pod,
  type Service,
  type SliceEndpoint,
  type SlicePort,
} from './types.js';

/** Kubernetes' default `--max-endpoints-per-slice`. */
export const MAX_ENDPOINTS_PER_SLICE = 100;

/** Set on the Endpoints podnet writes, as Kubernetes' endpoints controller does: ours to update. */
export const LABEL_SKIP_MIRROR = 'endpointslice.kubernetes.io/skip-mirror';

/**
 * What the endpoints on a node need to know of it: undefined when the cluster has no such Node
 * (removed: no host routes to its pods any more), else its zone label.
 */
export type NodeLookup = (nodeName: string) => { zone?: string } | undefined;

/** For callers without Nodes at hand: every node exists, none has a zone. */
const EVERY_NODE: NodeLookup = () => ({});

/**
 * Whether the controller writes this service's endpoints: it has a selector (an empty one is
 * none, as the Kubernetes API stores it) and is not ExternalName.
 */
export function managesService(svc: Service): boolean {
  const selector = svc.spec.selector;
  return (
    selector !== undefined && Object.keys(selector).length > 0 && svc.spec.type !== 'ExternalName'
  );
}

/** Whether podnet's controller wrote this slice (others' slices are never touched). */
export function isManagedSlice(slice: EndpointSlice): boolean {
  return slice.metadata.labels?.[LABEL_MANAGED_BY] === ENDPOINTSLICE_CONTROLLER;
}

/** The service a slice belongs to, by its `kubernetes.io/service-name` label. */
export function sliceServiceName(slice: EndpointSlice): string | undefined {
  return slice.metadata.labels?.[LABEL_SERVICE_NAME];
}

/** Endpoints that share an address type and the same resolved ports, before slicing. */
interface EndpointGroup {
  addressType: AddressType;
  ports: SlicePort[];
  endpoints: SliceEndpoint[];
}

/** The ports a service's ports reach on this pod (named target ports differ pod by pod). */
function podPorts(svc: Service, pod: Pod): SlicePort[] {
  return (svc.spec.ports ?? []).flatMap((sp) => {
    const protocol = sp.protocol ?? 'TCP';
    const port = resolveTargetPort(sp.targetPort, sp.port, protocol, pod);
    return port === undefined ? [] : [{ name: sp.name ?? '', protocol, port }];
  });
}

function podEndpoint(svc: Service, pod: Pod, address: string, nodes: NodeLookup): SliceEndpoint {
  const ns = pod.metadata.namespace ?? 'default';
  const node = pod.spec.nodeName;
  const facts = node === undefined ? {} : nodes(node);
  const zone = facts?.zone;
  // A pod whose Node was removed answers no one: other hosts dropped their routes to it with the
  // Node, so traffic sent to it (a DNS query, a connection) would only time out.
  const reachable = facts !== undefined;
  const endpoint: SliceEndpoint = {
    addresses: [address],
    conditions: {
      ready: reachable && isPodReady(pod),
      serving: reachable && isPodServing(pod),
      terminating: pod.metadata.deletionTimestamp !== undefined,
    },
  };
  // A pod names itself in DNS only under the service its subdomain names.
  if (pod.spec.hostname && pod.spec.subdomain === svc.metadata.name) {
    endpoint.hostname = pod.spec.hostname;
  }
  if (node !== undefined) endpoint.nodeName = node;
  if (zone !== undefined) endpoint.zone = zone;
  endpoint.targetRef = {
    kind: 'Pod',
    namespace: ns,
    name: pod.metadata.name,
    ...(pod.metadata.uid ? { uid: pod.metadata.uid } : {}),
  };
  return endpoint;
}

/** The pod's addresses with their types: status.podIPs, or status.podIP alone. */
function podAddresses(pod: Pod): { address: string; addressType: AddressType }[] {
  const where = `Pod ${pod.metadata.namespace ?? 'default'}/${pod.metadata.name}`;
  const listed = pod.status?.podIPs?.map((p) => p.ip) ?? [pod.status!.podIP!];
  return listed.map((address, i) => {
    const field = pod.status?.podIPs ? `status.podIPs[${i}].ip` : 'status.podIP';
    const ip = parseStored(parseIP, address, where, field);
    return { address, addressType: FAMILY_NAMES[ip.family] };
  });
}

/**
 * The address types the service's slices carry: its ipFamilies; for a service stored without
 * them, its cluster IP's family, or (headless) every family its pods have.
 */
function serviceAddressTypes(svc: Service): AddressType[] | undefined {
  if (svc.spec.ipFamilies?.length) return svc.spec.ipFamilies;
  const ip = svc.spec.clusterIP ? tryParseIP(svc.spec.clusterIP) : undefined;
  return ip ? [FAMILY_NAMES[ip.family]] : undefined;
}

/** The key a group is known by: address type and ports (also the stem of its slices' names). */
function groupKey(addressType: AddressType, ports: SlicePort[]): string {
  return JSON.stringify([addressType, ports.map((p) => [p.name, p.protocol, p.port])]);
}

/** The service's endpoints, grouped by address type and resolved ports, pods in IP order. */
function endpointGroups(svc: Service, pods: Iterable<Pod>, nodes: NodeLookup): EndpointGroup[] {
  const groups = new Map<string, EndpointGroup>();
  const types = serviceAddressTypes(svc);
  for (const pod of selectedPods(svc, pods)) {
    const ports = podPorts(svc, pod);
    // One endpoint per family: a dual-stack pod is in the IPv4 slice and in the IPv6 one.
    for (const { address, addressType } of podAddresses(pod)) {
      if (types && !types.includes(addressType)) continue;
      const key = groupKey(addressType, ports);
      let group = groups.get(key);
      if (!group) groups.set(key, (group = { addressType, ports, endpoints: [] }));
      group.endpoints.push(podEndpoint(svc, pod, address, nodes));
    }
  }
  return [...groups.values()];
}

/** What the controller writes, and what it found stored for the same service. */
export interface SlicePlan {
  create: EndpointSlice[];
  /** Stored slices with new contents, carrying the resourceVersion they were read at. */
  update: EndpointSlice[];
  /** Stored slices no longer wanted, as they were read. */
  delete: EndpointSlice[];
}

/** A slice's name: the service, then a short hash of its group, then a number after the first. */
function sliceName(svc: Service, key: string, index: number): string {
  const stem = createHash('sha256').update(key).digest('hex').slice(0, 8);
  return `${svc.metadata.name}-${stem}${index === 0 ? '' : `-${index}`}`;
}

function newSlice(svc: Service, name: string, group: EndpointGroup): EndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name,
      namespace: svc.metadata.namespace ?? 'default',
      labels: sliceLabels(svc),
    },
    addressType: group.addressType,
    endpoints: [],
    ports: group.ports,
  };
}

/** The service's own labels, then those that say whose slice this is and what it is for. */
function sliceLabels(svc: Service): Record<string, string> {
  return {
    ...svc.metadata.labels,
    ...(svc.spec.clusterIP === 'None' ? { [LABEL_HEADLESS]: '' } : {}),
    [LABEL_SERVICE_NAME]: svc.metadata.name,
    [LABEL_MANAGED_BY]: ENDPOINTSLICE_CONTROLLER,
  };
}

function endpointKey(endpoint: SliceEndpoint): string {
  return endpoint.addresses[0]!;
}

/**
 * The writes that make a service's stored slices (those this controller manages for it) say
 * what its pods say now. Endpoints stay in the slice they are in, so that a change to one pod
 * rewrites one slice; new endpoints fill slices with room before a slice is added; slices left
 * empty go, except one, which stays as the service's placeholder as in Kubernetes.
 */
export function planEndpointSlices(
  svc: Service,
  pods: Iterable<Pod>,
  stored: readonly EndpointSlice[],
  nodes: NodeLookup = EVERY_NODE,
): SlicePlan {
  const plan: SlicePlan = { create: [], update: [], delete: [] };
  if (!managesService(svc)) {
    plan.delete.push(...stored);
    return plan;
  }
  const groups = endpointGroups(svc, pods, nodes);
  // A service without endpoints keeps one empty slice, so readers see it has been handled.
  if (groups.length === 0) {
    const addressType = serviceAddressTypes(svc)?.[0] ?? 'IPv4';
    groups.push({ addressType, ports: [], endpoints: [] });
  }
  const storedByGroup = new Map<string, EndpointSlice[]>();
  for (const slice of [...stored].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name))) {
    const key = groupKey(slice.addressType, slice.ports ?? []);
    storedByGroup.set(key, [...(storedByGroup.get(key) ?? []), slice]);
  }
  const usedNames = new Set(stored.map((s) => s.metadata.name));
  for (const group of groups) {
    const key = groupKey(group.addressType, group.ports);
    const existing = storedByGroup.get(key) ?? [];
    storedByGroup.delete(key);
    planGroup(svc, key, group, existing, usedNames, plan);
  }
  for (const leftovers of storedByGroup.values()) plan.delete.push(...leftovers);
  return plan;
}

function planGroup(
  svc: Service,
  key: string,
  group: EndpointGroup,
  existing: EndpointSlice[],
  usedNames: Set<string>,
  plan: SlicePlan,
): void {
  const wanted = new Map(group.endpoints.map((e) => [endpointKey(e), e]));
  const labels = sliceLabels(svc);
  // Each stored slice keeps the endpoints still wanted, in their new state.
  const kept = existing.map((slice) => {
    const endpoints = slice.endpoints.flatMap((e) => {
      const now = wanted.get(endpointKey(e));
      if (!now) return [];
      wanted.delete(endpointKey(e));
      return [now];
    });
    return {
      before: slice,
      after: { ...slice, metadata: { ...slice.metadata, labels }, endpoints },
    };
  });
  // The rest fill the fullest slices with room first (fewer slices to rewrite), then new ones.
  const fresh = [...wanted.values()];
  const byFill = [...kept].sort((a, b) => b.after.endpoints.length - a.after.endpoints.length);
  for (const slot of byFill) {
    const room = MAX_ENDPOINTS_PER_SLICE - slot.after.endpoints.length;
    if (room > 0 && fresh.length > 0) {
      slot.after.endpoints = [...slot.after.endpoints, ...fresh.splice(0, room)];
    }
  }
  const created: EndpointSlice[] = [];
  for (let index = 0; fresh.length > 0; index++) {
    const name = sliceName(svc, key, index);
    if (usedNames.has(name)) continue;
    usedNames.add(name);
    const slice = newSlice(svc, name, group);
    slice.endpoints = fresh.splice(0, MAX_ENDPOINTS_PER_SLICE);
    created.push(slice);
  }
  const nonEmpty = kept.filter((k) => k.after.endpoints.length > 0);
  const empty = kept.filter((k) => k.after.endpoints.length === 0);
  // One slice stays when the group has no endpoints at all (the placeholder).
  if (nonEmpty.length === 0 && created.length === 0) {
    const placeholder = empty.shift();
    if (placeholder) nonEmpty.push(placeholder);
    else {
      const name = sliceName(svc, key, 0);
      created.push(newSlice(svc, usedNames.has(name) ? sliceName(svc, key, 1) : name, group));
    }
  }
  for (const { before, after } of nonEmpty) {
    if (!sameSlice(before, after)) plan.update.push(sortedEndpoints(after));
  }
  plan.create.push(...created.map(sortedEndpoints));
  plan.delete.push(...empty.map((k) => k.before));
}

/** Endpoints in address order inside a slice, so that equal contents compare equal. */
function sortedEndpoints(slice: EndpointSlice): EndpointSlice {
  const endpoints = [...slice.endpoints].sort((a, b) =>
    compareIP(parseIP(endpointKey(a)), parseIP(endpointKey(b))),
  );
  return { ...slice, endpoints };
}

function sameSlice(a: EndpointSlice, b: EndpointSlice): boolean {
  const content = (s: EndpointSlice) =>
    JSON.stringify([s.metadata.labels, sortedEndpoints(s).endpoints, s.ports, s.addressType]);
  return content(a) === content(b);
}

/**
 * The legacy Endpoints object for the same service: ready pods under `addresses`, pods not
 * ready yet under `notReadyAddresses`; pods being deleted are left out, as Kubernetes' endpoints
 * controller does. Pods whose ports resolve alike share a subset.
 */
export function desiredEndpoints(
  svc: Service,
  pods: Iterable<Pod>,
  nodes: NodeLookup = EVERY_NODE,
): Endpoints {
  const subsets: NonNullable<Endpoints['subsets']> = [];
  // Endpoints predate dual-stack: like Kubernetes', they list the primary family only.
  const primary = serviceAddressTypes(svc)?.[0] ?? 'IPv4';
  for (const group of endpointGroups(svc, pods, nodes)) {
    if (group.addressType !== primary) continue;
    const addresses: EndpointAddress[] = [];
    const notReady: EndpointAddress[] = [];
    for (const e of group.endpoints) {
      if (e.conditions?.terminating) continue;
      const address: EndpointAddress = {
        ip: e.addresses[0]!,
        ...(e.hostname ? { hostname: e.hostname } : {}),
        ...(e.nodeName ? { nodeName: e.nodeName } : {}),
        ...(e.targetRef ? { targetRef: e.targetRef } : {}),
      };
      (e.conditions?.ready ? addresses : notReady).push(address);
    }
    if (addresses.length === 0 && notReady.length === 0) continue;
    subsets.push({
      ...(addresses.length > 0 ? { addresses } : {}),
      ...(notReady.length > 0 ? { notReadyAddresses: notReady } : {}),
      ports: group.ports.map((p): EndpointPort => ({
        ...(p.name ? { name: p.name } : {}),
        port: p.port!,
        protocol: p.protocol ?? 'TCP',
      })),
    });
  }
  return {
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: {
      name: svc.metadata.name,
      namespace: svc.metadata.namespace ?? 'default',
      labels: { ...svc.metadata.labels, [LABEL_SKIP_MIRROR]: 'true' },
    },
    ...(subsets.length > 0 ? { subsets } : {}),
  };
}

/** Whether podnet's controller wrote this Endpoints object (hand-written ones are left alone). */
export function isManagedEndpoints(endpoints: Endpoints): boolean {
  return endpoints.metadata.labels?.[LABEL_SKIP_MIRROR] === 'true';
}
