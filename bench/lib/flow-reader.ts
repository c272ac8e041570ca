// The agent's flow log alone, for bench/flows.ts: run inside a host namespace, it reads that
// namespace's conntrack events and names them as flows exactly as the agent does (the same
// reader, decoder and ring), until SIGTERM; then it prints what it saw and the CPU it and its
// podnet-conntrack-events used, in seconds (its own from the moment the helper subscribed).
// Usage: flow-reader.js NODE CLIENT_IP SERVICE_IP:PORT BACKEND_IP[@NODE]...
import { readFileSync } from 'node:fs';
import type { Node, Pod, Service } from '../../src/api/types.js';
import { FlowLog } from '../../src/flows/log.js';
import { clusterView } from '../../src/flows/view.js';
import { readConntrackEvents } from '../../src/kernel/conntrack-events.js';

const [self, clientIP, service, ...backends] = process.argv.slice(2);
const [serviceIP, servicePort] = service!.split(':');

const pod = (name: string, ip: string, nodeName: string): Pod => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'bench' },
  spec: { nodeName, containers: [] },
  status: { podIP: ip, podIPs: [{ ip }] },
});
const node = (name: string, podCIDR: string): Node => ({
  apiVersion: 'v1',
  kind: 'Node',
  metadata: { name },
  spec: { podCIDR },
});
const svc: Service = {
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 'web', namespace: 'bench' },
  spec: { clusterIP: serviceIP, ports: [{ port: Number(servicePort), protocol: 'TCP' }] },
};
const view = clusterView({
  self: self!,
  pods: [
    pod('client', clientIP!, 'host-0'),
    ...backends.map((b, i) => {
      const [ip, on] = b.split('@');
      return pod(`backend-${i}`, ip!, on ?? 'host-0');
    }),
  ],
  services: [svc],
  nodes: [node('host-0', '10.244.1.0/24'), node('host-1', '10.244.2.0/24')],
  routes: [{ dst: '10.244.2.0/24', gateway: '172.31.0.2', dev: 'u0' }],
  routing: 'store',
  backend: 'hostgw',
  tunnels: {},
});

const log = new FlowLog(5000);
let events = 0;
let opened = 0;
let lost = 0;
const reader = readConntrackEvents({
  onEvent(ev) {
    events++;
    if (log.apply(view, ev)?.opened) opened++;
  },
  onLost: () => lost++,
  onReady: () => ready(),
  onWarning(line) {
    process.stderr.write(`flow-reader: ${line}\n`);
  },
  onExit(reason) {
    process.stderr.write(`flow-reader: ${reason}\n`);
  },
});
// The flow log's own work starts once the helper has subscribed: node's start-up is not a cost
// of the connections.
let atReady = { node: 0, helper: 0 };
function ready(): void {
  atReady = cpuSeconds();
  process.stdout.write('ready\n');
}

/** Seconds of CPU this process and its waited-for children (the helper) used, apart. */
function cpuSeconds(): { node: number; helper: number } {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
  // utime, stime, cutime, cstime: fields 14-17 of stat, 11-14 after the command name.
  const ticks = (i: number) => Number(fields[i]) / 100;
  return { node: ticks(11) + ticks(12), helper: ticks(13) + ticks(14) };
}

process.once('SIGTERM', () => {
  reader.stop();
  // The helper counts as a child once it has exited and been waited for.
  setTimeout(() => {
    const cpu = cpuSeconds();
    const node = cpu.node - atReady.node;
    process.stdout.write(`${JSON.stringify({ events, opened, lost, node, helper: cpu.helper })}\n`);
    process.exit(0);
  }, 300);
});
