// The DNS server's cache of cluster objects, kept up to date one object at a time from the
// store's list/watch (CoreDNS keeps this apart from answering too). It derives each service's
// DNS view when the service or one of its EndpointSlices changes, and keeps the reverse map
// for PTR.
import type { ClusterNetwork, EndpointSlice, KubeObject, Node, Service } from '../api/types.js';
import { ANNOTATION_NODE_IP, LABEL_SERVICE_NAME } from '../api/types.js';
import { formatIP, tryParseIP } from '../net/index.js';
import { dnsEndpoints } from './endpoints.js';

/** Where objects without a namespace live (as in Kubernetes and the store). */
const DEFAULT_NAMESPACE = 'default';
import type { ClusterView, PortRecord, ServiceRecord } from './records.js';

export class ClusterIndex implements ClusterView {
  /** True once the first full list has been applied. */
  synced = false;
  /** Bumped on every change that can alter an answer: caches of answers compare it. */
  version = 0;
  /** Set when the current update changed an answer (a pod's status alone often does not). */
  private changed = false;
  network: ClusterNetwork['spec'] | undefined;
  /**
   * Bumped when the network or a node's addresses change: who may ask for names outside the
   * cluster depends on them, no answer does (so `version` stays, and with it the caches).
   */
  rangesVersion = 0;
  /** node name → its addresses */
  private readonly nodes = new Map<string, string[]>();

  private readonly namespaces = new Set<string>();
  /** namespace → name → Service */
  private readonly services = new Map<string, Map<string, Service>>();
  /** `ns/service` → slice name → EndpointSlice (by the slice's service-name label) */
  private readonly slices = new Map<string, Map<string, EndpointSlice>>();
  /** `ns/slice` → the `ns/service` it is filed under */
  private readonly sliceOwners = new Map<string, string>();
  /** `ns/name` → the service's DNS view */
  private readonly records = new Map<string, ServiceRecord>();
  /** IP → names pointing at it (for PTR) */
  private readonly reverse = new Map<string, Set<string>>();

  constructor(private readonly domain: string) {}

  // ---- ClusterView ----

  namespaceExists(namespace: string): boolean {
    return this.namespaces.has(namespace) || (this.services.get(namespace)?.size ?? 0) > 0;
  }

  service(namespace: string, name: string): ServiceRecord | undefined {
    return this.records.get(`${namespace}/${name}`);
  }

  namesForIP(ip: string): string[] {
    return [...(this.reverse.get(ip) ?? [])].sort();
  }

  /** Every node's addresses (status and the underlay address the agent publishes). */
  nodeAddresses(): string[] {
    return [...this.nodes.values()].flat();
  }

  // ---- updates ----

  /**
   * The first full list has been applied: build every service and start answering. Until
   * then changes are only stored, so that a first sync of many pods costs one pass.
   */
  markSynced(): void {
    this.synced = true;
    for (const byName of this.services.values())
      for (const svc of byName.values()) this.rebuild(svc);
    this.changed = true;
    this.commit();
  }

  /** Replaces every object with this full list (first sync, or a re-list after compaction). */
  replaceAll(objects: KubeObject[]): void {
    this.namespaces.clear();
    this.services.clear();
    this.slices.clear();
    this.sliceOwners.clear();
    this.records.clear();
    this.reverse.clear();
    this.network = undefined;
    this.nodes.clear();
    this.rangesVersion++;
    this.synced = false;
    for (const obj of objects) this.apply(obj);
    this.markSynced();
  }

  apply(obj: KubeObject): void {
    switch (obj.kind) {
      case 'Namespace':
        this.changed ||= !this.namespaces.has(obj.metadata.name);
        this.namespaces.add(obj.metadata.name);
        break;
      case 'Service':
        this.byNamespace(this.services, obj).set(obj.metadata.name, obj);
        this.changed = true; // a new service makes its namespace exist
        this.rebuild(obj);
        break;
      case 'EndpointSlice':
        this.applySlice(obj);
        break;
      case 'ClusterNetwork':
        this.network = obj.spec;
        this.changed = true;
        this.rangesVersion++;
        break;
      case 'Node':
        this.applyNode(obj);
        return;
      default:
        return;
    }
    this.commit();
  }

  remove(kind: string, namespace: string | undefined, name: string): void {
    const ns = namespace ?? DEFAULT_NAMESPACE;
    switch (kind) {
      case 'Namespace':
        this.changed ||= this.namespaces.delete(name);
        break;
      case 'Service':
        this.changed ||= this.services.get(ns)?.delete(name) ?? false;
        this.setRecord(`${ns}/${name}`, undefined);
        break;
      case 'EndpointSlice': {
        const owner = this.sliceOwners.get(`${ns}/${name}`);
        if (owner === undefined) return;
        this.sliceOwners.delete(`${ns}/${name}`);
        this.slices.get(owner)?.delete(name);
        this.rebuildService(owner);
        break;
      }
      case 'ClusterNetwork':
        this.network = undefined;
        this.changed = true;
        this.rangesVersion++;
        break;
      case 'Node':
        if (this.nodes.delete(name)) this.rangesVersion++;
        return;
      default:
        return;
    }
    this.commit();
  }

  private applyNode(node: Node): void {
    const addresses = (node.status?.addresses ?? [])
      .filter((a) => a.type !== 'Hostname')
      .map((a) => a.address);
    const underlay = node.metadata.annotations?.[ANNOTATION_NODE_IP];
    if (underlay) addresses.push(underlay);
    const before = this.nodes.get(node.metadata.name);
    if (before?.join() === addresses.join()) return; // a status update that moved no address
    this.nodes.set(node.metadata.name, addresses);
    this.rangesVersion++;
  }

  private commit(): void {
    if (this.changed) this.version++;
    this.changed = false;
  }

  /** Files the slice under its service (moving it if its label changed) and rebuilds both. */
  private applySlice(slice: EndpointSlice): void {
    const ns = slice.metadata.namespace ?? DEFAULT_NAMESPACE;
    const name = slice.metadata.name;
    const before = this.sliceOwners.get(`${ns}/${name}`);
    const service = slice.metadata.labels?.[LABEL_SERVICE_NAME];
    const owner = service === undefined ? undefined : `${ns}/${service}`;
    if (before !== undefined && before !== owner) {
      this.slices.get(before)?.delete(name);
      this.rebuildService(before);
    }
    if (owner === undefined) {
      this.sliceOwners.delete(`${ns}/${name}`);
      return;
    }
    this.sliceOwners.set(`${ns}/${name}`, owner);
    let slices = this.slices.get(owner);
    if (!slices) this.slices.set(owner, (slices = new Map()));
    slices.set(name, slice);
    this.rebuildService(owner);
  }

  private rebuildService(key: string): void {
    const [ns, name] = key.split('/') as [string, string];
    const svc = this.services.get(ns)?.get(name);
    if (svc) this.rebuild(svc);
  }

  private rebuild(svc: Service): void {
    if (!this.synced) return; // markSynced() builds every service once
    const ns = svc.metadata.namespace ?? DEFAULT_NAMESPACE;
    this.setRecord(`${ns}/${svc.metadata.name}`, this.recordOf(svc, ns));
  }

  private recordOf(svc: Service, namespace: string): ServiceRecord {
    const name = svc.metadata.name.toLowerCase();
    const ns = namespace.toLowerCase();
    if (svc.spec.type === 'ExternalName') {
      return {
        kind: 'ExternalName',
        name,
        namespace: ns,
        externalName: svc.spec.externalName ?? '',
      };
    }
    const ports: PortRecord[] = (svc.spec.ports ?? [])
      .filter((p) => p.name)
      .map((p) => ({ name: p.name!.toLowerCase(), protocol: p.protocol ?? 'TCP', port: p.port }));
    const clusterIPs = svc.spec.clusterIPs ?? (svc.spec.clusterIP ? [svc.spec.clusterIP] : []);
    if (clusterIPs.length === 0 || clusterIPs[0] === 'None') {
      const slices = this.slices.get(`${namespace}/${svc.metadata.name}`)?.values() ?? [];
      const endpoints = dnsEndpoints(svc, slices);
      return { kind: 'Headless', name, namespace: ns, ports, endpoints };
    }
    return { kind: 'ClusterIP', name, namespace: ns, clusterIPs, ports };
  }

  private setRecord(key: string, record: ServiceRecord | undefined): void {
    const old = this.records.get(key);
    if (JSON.stringify(old) === JSON.stringify(record)) return;
    this.changed = true;
    if (old) for (const [ip, n] of this.reverseNames(old)) this.reverse.get(ip)?.delete(n);
    if (record) {
      this.records.set(key, record);
      for (const [ip, n] of this.reverseNames(record)) {
        let names = this.reverse.get(ip);
        if (!names) this.reverse.set(ip, (names = new Set()));
        names.add(n);
      }
    } else {
      this.records.delete(key);
    }
    if (old)
      for (const [ip] of this.reverseNames(old))
        if (this.reverse.get(ip)?.size === 0) this.reverse.delete(ip);
  }

  private reverseNames(r: ServiceRecord): [string, string][] {
    const fqdn = `${r.name}.${r.namespace}.svc.${this.domain}`;
    if (r.kind === 'ClusterIP') return r.clusterIPs.map((ip) => [canonical(ip), fqdn]);
    if (r.kind === 'Headless') {
      return r.endpoints.map((e) => [canonical(e.ip), `${e.hostname}.${fqdn}`]);
    }
    return [];
  }

  private byNamespace<T extends Service>(map: Map<string, Map<string, T>>, obj: T): Map<string, T> {
    const ns = obj.metadata.namespace ?? DEFAULT_NAMESPACE;
    let inner = map.get(ns);
    if (!inner) map.set(ns, (inner = new Map()));
    return inner;
  }
}

/** The reverse map's key: IPv6 may be written several ways, a PTR question names one. */
function canonical(ip: string): string {
  const parsed = tryParseIP(ip);
  return parsed?.family === 6 ? formatIP(parsed) : ip;
}
