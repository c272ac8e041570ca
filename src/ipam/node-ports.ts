// NodePort allocation. Each node port in use is a key `/podnet/nodeports/<port>` naming the
// service that holds it, created only if absent: two `podnet apply` runs racing for a port
// cannot both win, and a port given by hand that another service holds is refused.
import type { Service, ServicePort } from '../api/types.js';
import type { Store } from '../store/store.js';
import { OperationError, UsageError } from '../util/errors.js';

/** Kubernetes' default `--service-node-port-range`. */
export const NODE_PORT_MIN = 30000;
export const NODE_PORT_MAX = 32767;
export const NODE_PORT_PREFIX = '/podnet/nodeports/';

interface Reservation {
  /** `namespace/name` of the service holding the port. */
  service: string;
}

function owner(svc: Service): string {
  return `${svc.metadata.namespace ?? 'default'}/${svc.metadata.name}`;
}

function keyOf(port: number): string {
  return `${NODE_PORT_PREFIX}${port}`;
}

async function holders(store: Store): Promise<Map<number, { service: string; rev: number }>> {
  const { items } = await store.list(NODE_PORT_PREFIX);
  const out = new Map<number, { service: string; rev: number }>();
  for (const kv of items) {
    const port = Number(kv.key.slice(NODE_PORT_PREFIX.length));
    out.set(port, { service: (JSON.parse(kv.value) as Reservation).service, rev: kv.modRevision });
  }
  return out;
}

/**
 * Gives every port of a NodePort service a node port: the one it names (if free or already
 * its own) or a free one from 30000-32767. Returns the service with `nodePort` filled in.
 * Bad input (out of range, held by another service) is a UsageError naming the field, and
 * nothing is reserved then. Ports the service no longer uses are released.
 */
export async function assignNodePorts(store: Store, svc: Service): Promise<Service> {
  if (svc.spec.type !== 'NodePort') {
    await releaseNodePorts(store, svc);
    return svc;
  }
  const me = owner(svc);
  const held = await holders(store);
  const ports = (svc.spec.ports ?? []).map((p) => ({ ...p }));
  ports.forEach((p, i) => {
    if (p.nodePort === undefined) return;
    const field = `spec.ports[${i}].nodePort`;
    if (!Number.isInteger(p.nodePort) || p.nodePort < NODE_PORT_MIN || p.nodePort > NODE_PORT_MAX) {
      throw new UsageError(
        `${field}: ${p.nodePort} is outside the node port range ${NODE_PORT_MIN}-${NODE_PORT_MAX}`,
      );
    }
    const other = held.get(p.nodePort);
    if (other && other.service !== me) {
      throw new UsageError(
        `${field}: ${p.nodePort} is already used by service ${other.service}; pick another or leave it out to get a free one`,
      );
    }
  });
  // Ports this service held before and still asks for nothing: keep them, like Kubernetes
  // keeps a service's node port across updates.
  const mine = [...held].filter(([, h]) => h.service === me).map(([port]) => port);
  const claimed = new Set(ports.map((p) => p.nodePort).filter((n) => n !== undefined));
  const reusable = mine.filter((port) => !claimed.has(port));
  for (const p of ports) {
    if (p.nodePort === undefined && reusable.length) {
      p.nodePort = reusable.shift()!;
      claimed.add(p.nodePort);
    }
  }

  const created: number[] = [];
  try {
    for (const [i, p] of ports.entries()) {
      if (p.nodePort !== undefined) {
        if (held.get(p.nodePort)?.service === me) continue;
        if (!(await reserve(store, p.nodePort, me))) {
          throw new UsageError(
            `spec.ports[${i}].nodePort: ${p.nodePort} was just taken by another service; pick another or leave it out`,
          );
        }
        created.push(p.nodePort);
        continue;
      }
      p.nodePort = await reserveFree(store, me, held, claimed);
      created.push(p.nodePort);
      claimed.add(p.nodePort);
    }
  } catch (err) {
    // Nothing half-applied: give back what this call reserved.
    for (const port of created) await store.delete(keyOf(port));
    throw err;
  }
  const inUse = new Set(ports.map((p) => p.nodePort));
  for (const port of mine)
    if (!inUse.has(port)) await store.delete(keyOf(port), held.get(port)!.rev);
  return { ...svc, spec: { ...svc.spec, ports: ports as ServicePort[] } };
}

/** Releases every node port the service holds (on delete, or when it stops being NodePort). */
export async function releaseNodePorts(store: Store, svc: Service): Promise<void> {
  const me = owner(svc);
  for (const [port, h] of await holders(store)) {
    if (h.service === me) await store.delete(keyOf(port), h.rev);
  }
}

async function reserve(store: Store, port: number, service: string): Promise<boolean> {
  const value: Reservation = { service };
  return (await store.create(keyOf(port), JSON.stringify(value))) !== undefined;
}

/** A free port, starting at a random place so that concurrent allocations rarely collide. */
async function reserveFree(
  store: Store,
  service: string,
  held: Map<number, unknown>,
  claimed: Set<number | undefined>,
): Promise<number> {
  const size = NODE_PORT_MAX - NODE_PORT_MIN + 1;
  const start = Math.floor(Math.random() * size);
  for (let i = 0; i < size; i++) {
    const port = NODE_PORT_MIN + ((start + i) % size);
    if (held.has(port) || claimed.has(port)) continue;
    if (await reserve(store, port, service)) return port;
  }
  throw new OperationError(
    `no free node port left in ${NODE_PORT_MIN}-${NODE_PORT_MAX}: delete a NodePort service or give spec.ports[].nodePort of a released one`,
  );
}
