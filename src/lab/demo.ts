// `podnet demo`: the request flow podnet exists for, on real kernels, with every value read
// from the system: the name resolves to the service's cluster IP, the client's own host DNATs
// each new connection to one pod at random, and each packet crosses to that pod's host
// directly (same zone) or through VXLAN (other zone).
import { join } from 'node:path';
import { run, runJson } from '../process/run.js';
import { podnetBin, repoBinDir } from './paths.js';
import { OperationError } from '../util/errors.js';

export const DEMO_NAMESPACE = 'my-namespace';
export const DEMO_SERVICE = 'my-svc';
const DEMO_NAME = `${DEMO_SERVICE}.${DEMO_NAMESPACE}.svc.cluster.local`;
const ECHO_PODS = ['echo-1', 'echo-2', 'echo-3'];

export interface DemoOptions {
  lab: string;
  requests: number;
  keep: boolean;
  /** Show the lab's own log lines between the story's steps (they always go to its log files). */
  verbose: boolean;
}

export interface DemoPath {
  pod: string;
  podIP: string;
  node: string;
  /** `local` (same host), `direct` (routed via the peer host), `vxlan` (encapsulated). */
  kind: 'local' | 'direct' | 'vxlan' | 'unknown';
  route: string;
}

export interface DemoSummary {
  lab: string;
  name: string;
  serviceIP: string;
  /** What the cluster DNS answered the client for the name (empty when it did not). */
  dnsAnswer: string[];
  requests: number;
  answered: number;
  /** Requests served per pod, from the pods' own answers. */
  spread: Record<string, number>;
  /** Connections the client host's conntrack DNATed from the service IP, per pod IP. */
  dnat: Record<string, number>;
  paths: DemoPath[];
  labRemoved: boolean;
  /** With --keep: commands to explore the lab with (arguments after `podnet`). */
  tryCommands: string[][];
  /** With --keep: the lab's kubeconfig, for kubectl and Kubernetes client libraries. */
  kubeconfig?: string;
}

/**
 * What to try in a kept lab, each naming the lab: a person may have other labs up, and a
 * command that relies on "the one lab that is up" would then refuse.
 */
export function tryCommands(lab: string): string[][] {
  return [
    ['--lab', lab, 'get', 'pods', '-A', '-o', 'wide'],
    ['--lab', lab, 'lab', 'exec', '-n', DEMO_NAMESPACE, 'client', '--', 'dig', DEMO_NAME],
    ['--lab', lab, 'plan', '--node', 'node-1'],
    ['--lab', lab, 'doctor', '--node', 'node-2'],
    ['lab', 'down', '--name', lab],
  ];
}

interface PodJson {
  metadata: { name: string };
  spec: { nodeName?: string };
  status?: { podIP?: string; phase?: string };
}

type Progress = (line: string) => void;

function podnet(lab: string, args: string[]): string[] {
  return [podnetBin(), '--lab', lab, ...args];
}

async function waitForPods(lab: string, names: string[]): Promise<Map<string, PodJson>> {
  const deadline = Date.now() + 90_000;
  for (;;) {
    const list = await runJson<{ items: PodJson[] }>(
      podnet(lab, ['get', 'pods', '-n', DEMO_NAMESPACE, '-o', 'json']),
    );
    const pods = new Map(list.items.map((p) => [p.metadata.name, p]));
    if (
      names.every((n) => pods.get(n)?.status?.podIP && pods.get(n)?.status?.phase === 'Running')
    ) {
      return pods;
    }
    if (Date.now() > deadline) {
      throw new OperationError(
        `demo pods did not start within 90 s (see 'podnet --lab ${lab} get pods -n ${DEMO_NAMESPACE}')`,
      );
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Runs a command in the client pod, as `podnet lab exec` does for a person. */
function inClient(lab: string, argv: string[]): Promise<{ stdout: string; code: number }> {
  return run(podnet(lab, ['lab', 'exec', '-n', DEMO_NAMESPACE, 'client', '--', ...argv]), {
    okCodes: [1, 2, 9, 124],
  });
}

/** How the client's host reaches a pod IP, from the kernel's own route lookup. */
async function pathTo(
  hostNetns: string,
  pod: string,
  node: string,
  podIP: string,
): Promise<DemoPath> {
  const [route] = await runJson<{ dst: string; gateway?: string; dev: string; prefsrc?: string }[]>(
    ['ip', '-j', 'route', 'get', podIP],
    { netns: hostNetns },
  );
  const text = route
    ? `${podIP} ${route.gateway ? `via ${route.gateway} ` : ''}dev ${route.dev}`
    : 'no route';
  let kind: DemoPath['kind'] = 'unknown';
  if (route?.dev === 'pn-vxlan') kind = 'vxlan';
  else if (route?.dev.startsWith('pn')) kind = 'local';
  else if (route?.gateway) kind = 'direct';
  return { pod, podIP, node, kind, route: text };
}

/** DNAT decisions the client host's kernel made: original destination → the pod it picked. */
async function dnatChoices(hostNetns: string, serviceIP: string): Promise<Record<string, number>> {
  const { stdout } = await run(['conntrack', '-L', '-p', 'tcp', '--orig-dst', serviceIP], {
    netns: hostNetns,
    okCodes: [1],
  });
  const counts: Record<string, number> = {};
  for (const line of stdout.split('\n')) {
    // The reply direction's source is the pod the connection was rewritten to.
    const sources = [...line.matchAll(/src=(\d+\.\d+\.\d+\.\d+)/g)].map((m) => m[1]!);
    if (sources.length >= 2) counts[sources[1]!] = (counts[sources[1]!] ?? 0) + 1;
  }
  return counts;
}

export async function runDemo(opts: DemoOptions, say: Progress): Promise<DemoSummary> {
  const { lab } = opts;
  say(`1/6 building the lab '${lab}': 3 hosts in 2 zones, backend auto (this takes a few seconds)`);
  await run([podnetBin(), 'lab', 'down', '--name', lab]);
  await run([podnetBin(), 'lab', 'up', '--name', lab, ...(opts.verbose ? ['--verbose'] : [])], {
    passThrough: true,
  });

  say(
    `2/6 applying examples/demo.yaml: 3 echo pods on 3 hosts behind ${DEMO_SERVICE}, and a client`,
  );
  await run(podnet(lab, ['apply', '-f', join(repoBinDir(), '..', 'examples', 'demo.yaml')]));
  const pods = await waitForPods(lab, [...ECHO_PODS, 'client']);
  const service = await runJson<{ spec: { clusterIP: string } }>(
    podnet(lab, ['get', 'service', DEMO_SERVICE, '-n', DEMO_NAMESPACE, '-o', 'json']),
  );
  const serviceIP = service.spec.clusterIP;
  const client = pods.get('client')!;
  const labState = await runJson<{
    hosts: { name: string; netns: string; zone: string }[];
    apiServer?: { kubeconfig: string };
  }>(podnet(lab, ['lab', 'status', '--name', lab, '-o', 'json']));
  const clientHost = labState.hosts.find((h) => h.name === client.spec.nodeName)!;
  for (const name of [...ECHO_PODS, 'client']) {
    const p = pods.get(name)!;
    say(`    ${name.padEnd(7)} ${p.status!.podIP!.padEnd(13)} on ${p.spec.nodeName}`);
  }

  say(`3/6 asking the cluster DNS from the client: ${DEMO_NAME}`);
  const dig = await inClient(lab, ['dig', '+short', '+time=2', '+tries=2', DEMO_NAME]);
  const dnsAnswer = dig.stdout.split('\n').filter((l) => /^\d+\.\d+\.\d+\.\d+$/.test(l.trim()));
  say(
    dnsAnswer.length > 0
      ? `    answer: ${dnsAnswer.join(', ')} (the service's cluster IP is ${serviceIP})`
      : `    no answer from the cluster DNS; using the cluster IP ${serviceIP} from the store`,
  );
  const target = dnsAnswer.length > 0 ? DEMO_NAME : serviceIP;

  say(
    `4/6 ${opts.requests} HTTP requests from the client to http://${target}/ (new connection each)`,
  );
  const loop = `for i in $(seq ${opts.requests}); do timeout 3 busybox wget -q -O - http://${target}/; echo; done`;
  const answers = await inClient(lab, ['sh', '-c', loop]);
  const spread: Record<string, number> = Object.fromEntries(ECHO_PODS.map((p) => [p, 0]));
  let answered = 0;
  for (const line of answers.stdout.split('\n')) {
    try {
      const body = JSON.parse(line) as { pod?: string };
      if (body.pod) {
        spread[body.pod] = (spread[body.pod] ?? 0) + 1;
        answered++;
      }
    } catch {
      /* a request that got no answer prints an empty line */
    }
  }
  for (const [pod, n] of Object.entries(spread)) {
    say(`    ${pod.padEnd(7)} ${String(n).padStart(3)}  ${'#'.repeat(n)}`);
  }

  say(
    `5/6 the DNAT choices ${clientHost.name}'s kernel made (conntrack, original destination ${serviceIP})`,
  );
  const dnat = await dnatChoices(clientHost.netns, serviceIP);
  for (const [ip, n] of Object.entries(dnat)) say(`    → ${ip.padEnd(13)} ${n} connections`);

  say(`6/6 the path from ${clientHost.name} (${clientHost.zone}) to each pod, from 'ip route get'`);
  const paths: DemoPath[] = [];
  for (const name of ECHO_PODS) {
    const p = pods.get(name)!;
    const path = await pathTo(clientHost.netns, name, p.spec.nodeName!, p.status!.podIP!);
    paths.push(path);
    const how = {
      local: 'same host, the pod veth',
      direct: 'same zone: plain route via the host',
      vxlan: 'other zone: VXLAN tunnel',
      unknown: '?',
    }[path.kind];
    say(`    ${name} on ${path.node}: ${path.route}  (${how})`);
  }

  let labRemoved = false;
  if (!opts.keep) {
    await run([podnetBin(), 'lab', 'down', '--name', lab]);
    labRemoved = true;
  }
  return {
    lab,
    name: DEMO_NAME,
    serviceIP,
    dnsAnswer,
    requests: opts.requests,
    answered,
    spread,
    dnat,
    paths,
    labRemoved,
    tryCommands: labRemoved ? [] : tryCommands(lab),
    ...(!labRemoved && labState.apiServer ? { kubeconfig: labState.apiServer.kubeconfig } : {}),
  };
}

/** The one-screen summary a person reads at the end. */
export function formatSummary(s: DemoSummary): string {
  const served = Object.entries(s.spread)
    .map(([p, n]) => `${p} ${n}`)
    .join(', ');
  const lines = [
    '',
    'Summary',
    `  DNS      ${s.name} → ${s.dnsAnswer.length ? s.dnsAnswer.join(', ') : '(no answer)'} (cluster IP ${s.serviceIP})`,
    `  DNAT     ${s.answered} of ${s.requests} requests answered; served by ${served}`,
    ...s.paths.map((p) => `  path     ${p.pod}: ${p.kind.padEnd(6)} ${p.route}`),
    s.labRemoved
      ? `  lab      '${s.lab}' removed`
      : [
          `  lab      '${s.lab}' kept. Try:`,
          ...(s.kubeconfig
            ? [`             KUBECONFIG=${s.kubeconfig} kubectl get pods -A -o wide`]
            : []),
          ...s.tryCommands.map((argv) => `             bin/podnet ${argv.join(' ')}`),
        ].join('\n'),
  ];
  return lines.join('\n');
}
