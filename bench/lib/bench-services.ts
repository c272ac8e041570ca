// The connect benches' service table: many services, and one that leads somewhere real.
import type { ServicePortRule } from '../../src/proxy/model.js';

const octets = (n: number): string => `${(n >> 8) & 255}.${n & 255}`;

/** N services with one endpoint each; the last one leads to the real backend. */
export function connectServices(n: number, backendIP: string): ServicePortRule[] {
  return Array.from({ length: n }, (_, i) => ({
    name: `bench/svc-${String(i).padStart(6, '0')}:`,
    clusterIP: `10.96.${octets(i + 1)}`,
    protocol: 'TCP' as const,
    port: 80,
    endpoints: [{ ip: i === n - 1 ? backendIP : `10.244.200.${(i % 250) + 1}`, port: 8080 }],
  }));
}
