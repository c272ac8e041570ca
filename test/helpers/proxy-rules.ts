// The service port the iptables and nftables rule-writer tests program alike.
import type { ServicePortRule } from '../../src/proxy/model.js';

/** shop/web:http, TCP 10.96.0.20:80, with `n` endpoints 10.244.<i>.5:8080 (i from 1). */
export function webRule(n: number, extra: Partial<ServicePortRule> = {}): ServicePortRule {
  return {
    name: 'shop/web:http',
    clusterIP: '10.96.0.20',
    protocol: 'TCP',
    port: 80,
    endpoints: Array.from({ length: n }, (_, i) => ({ ip: `10.244.${i + 1}.5`, port: 8080 })),
    ...extra,
  };
}
