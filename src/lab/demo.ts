// `podnet demo`: the request flow podnet exists for, on real kernels, with every value read
// from the system, for each address family of the lab (both on the default dual-stack lab):
// the name resolves to the service's cluster IP of that family (A, AAAA), the client's own host
// DNATs each new connection to one pod at random, each packet crosses to that pod's host
// directly (same zone) or through VXLAN (other zone), and `podnet trace` follows the same name.
import { join } from 'node:path';
import { run, runJson } from '../process/run.js';
import { podnetBin, repoBinDir } from './paths.js';
import { OperationError } from '../util/errors.js';
import { tryParseIP, type Family } from '../net/index.js';

export const DEMO_NAMESPACE = 'my-namespace';
export const DEMO_SERVICE = 'my-svc';
const DEMO_NAME = `${DEMO_SERVICE}.${DEMO_NAMESPACE}.svc.cluster.local`;
const ECHO_PODS = ['echo-1', 'echo-2', 'echo-3'];

/** The lab's families, as `lab up --ip-family` takes them. */
export type DemoIpFamily = 'ipv4' | 'ipv6' | 'dual';

export interface DemoOptions {
  lab: string;
  /** HTTP requests per family. */
  requests: number;
  ipFamily: DemoIpFamily;
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

/** The request flow over one address family. */
export interface DemoFlow {
  family: 'ipv4' | 'ipv6';
  /** The service's cluster IP of this family. */
  serviceIP: string;
  /** What the cluster DNS answered the client for the name, A or AAAA (empty when nothing). */
  dnsAnswer: string[];
  answered: number;
  /** Requests served per pod, from the pods' own answers. */
  spread: Record<string, number>;
  /** Connections the client host's conntrack DNATed from the service IP, per pod IP. */
  dnat: Record<string, number>;
  paths: DemoPath[];
  /** `podnet trace` from the client to the name in this family: its verdict and DNS step. */
  trace: { ok: boolean; text: string; dns: string };
}

export interface DemoSummary {
  lab: string;
  name: string;
  ipFamily: DemoIpFamily;
  /** Requests made in each family. */
  requests: number;
  flows: DemoFlow[];
  labRemoved: boolean;
  /** With --keep: commands to explore the lab with (arguments after `podnet`). */
  tryCommands: string[][];
  /** With --keep: the lab's kubeconfig, for kubectl and Kubernetes client libraries. */
  kubeconfig?: string;
}

/** The families a lab of `ipFamily` carries, in the order the demo walks them. */
export function demoFamilies(ipFamily: DemoIpFamily): ('ipv4' | 'ipv6')[] {
  return ipFamily === 'dual' ? ['ipv4', 'ipv6'] : [ipFamily];
}

const familyNumber = (family: 'ipv4' | 'ipv6'): Family => (family === 'ipv4' ? 4 : 6);

/** The addresses of `family` among `texts` (lines of an answer, say), in their order. */
export function addressesOf(texts: readonly string[], family: 'ipv4' | 'ipv6'): string[] {
  return texts.map((t) => t.trim()).filter((t) => tryParseIP(t)?.family === familyNumber(family));
}

/**
 * What to try in a kept lab, each naming the lab: a person may have other labs up, and a
 * command that relies on "the one lab that is up" would then refuse.
 */
export function tryCommands(lab: string): string[][] {
  return [
    ['--lab', lab, 'get', 'pods', '-A', '-o', 'wide'],
    ['--lab', lab, 'lab', 'exec', '-n', DEMO_NAMESPACE, 'client', '--', 'dig', DEMO_NAME, 'AAAA'],
    ['--lab', lab, 'trace', '-n', DEMO_NAMESPACE, 'client', `${DEMO_SERVICE}:80`],
    ['--lab', lab, 'plan', '--node', 'node-1'],
    ['--lab', lab, 'doctor', '--node', 'node-2'],
    ['lab', 'down', '--name', lab],
  ];
}

interface PodJson {
  metadata: { name: string };
  spec: { nodeName?: string };
  status?: { podIP?: string; podIPs?: { ip: string }[]; phase?: string };
}

/** A pod's address of `family`. */
function podAddress(pod: PodJson, family: 'ipv4' | 'ipv6'): string {
  const all = (pod.status?.podIPs ?? []).map((p) => p.ip);
  return addressesOf(all.length > 0 ? all : [pod.status?.podIP ?? ''], family)[0] ?? '';
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
  if (route?.dev === 'pn-vxlan' || route?.dev === 'pn-vxlan6') kind = 'vxlan';
  else if (route?.dev.startsWith('pn')) kind = 'local';
  else if (route?.gateway) kind = 'direct';
  return { pod, podIP, node, kind, route: text };
}

/** DNAT decisions the client host's kernel made: original destination → the pod it picked. */
async function dnatChoices(
  hostNetns: string,
  serviceIP: string,
  family: 'ipv4' | 'ipv6',
): Promise<Record<string, number>> {
  const { stdout } = await run(
    ['conntrack', '-L', '-f', family, '-p', 'tcp', '--orig-dst', serviceIP],
    { netns: hostNetns, okCodes: [1] },
  );
  const counts: Record<string, number> = {};
  for (const line of stdout.split('\n')) {
    // The reply direction's source is the pod the connection was rewritten to.
    const sources = [...line.matchAll(/src=(\S+)/g)].map((m) => m[1]!);
    if (sources.length >= 2) counts[sources[1]!] = (counts[sources[1]!] ?? 0) + 1;
  }
  return counts;
}

/**
 * `n` HTTP GETs of `http://HOST/` from the client pod, each a new connection, with a name
 * resolved to an address of one family only (A or AAAA through the pod's resolver, as
 * getaddrinfo does for an application that asks for that family); one line per request, the
 * echo's JSON answer or the error.
 */
const REQUESTS_SCRIPT = `
const http = require('node:http');
const [host, family, n] = process.argv.slice(1);
(async () => {
  for (let i = 0; i < Number(n); i++) {
    const line = await new Promise((resolve) => {
      const req = http.get({ host, port: 80, family: Number(family), agent: false, timeout: 3000 }, (res) => {
        let body = '';
        res.on('data', (b) => (body += b));
        res.on('end', () => resolve(body.trim()));
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (e) => resolve(JSON.stringify({ error: e.message })));
    });
    process.stdout.write(line + '\\n');
  }
})();
`;

const STEPS = 7;
const step = (n: number, text: string): string => `${n}/${STEPS} ${text}`;
const label = (family: 'ipv4' | 'ipv6'): string => (family === 'ipv4' ? 'IPv4' : 'IPv6');

export async function runDemo(opts: DemoOptions, say: Progress): Promise<DemoSummary> {
  const { lab } = opts;
  const families = demoFamilies(opts.ipFamily);
  say(
    step(
      1,
      `building the lab '${lab}': 3 hosts in 2 zones, backend auto, ${families.map(label).join(' and ')} (this takes a few seconds)`,
    ),
  );
  await run([podnetBin(), 'lab', 'down', '--name', lab]);
  await run(
    [
      ...[podnetBin(), 'lab', 'up', '--name', lab, '--ip-family', opts.ipFamily],
      ...(opts.verbose ? ['--verbose'] : []),
    ],
    { passThrough: true },
  );

  say(
    step(
      2,
      `applying examples/demo.yaml: 3 echo pods on 3 hosts behind ${DEMO_SERVICE}, and a client`,
    ),
  );
  await run(podnet(lab, ['apply', '-f', join(repoBinDir(), '..', 'examples', 'demo.yaml')]));
  const pods = await waitForPods(lab, [...ECHO_PODS, 'client']);
  const service = await runJson<{ spec: { clusterIP: string; clusterIPs?: string[] } }>(
    podnet(lab, ['get', 'service', DEMO_SERVICE, '-n', DEMO_NAMESPACE, '-o', 'json']),
  );
  const clusterIPs = service.spec.clusterIPs ?? [service.spec.clusterIP];
  const client = pods.get('client')!;
  const labState = await runJson<{
    hosts: { name: string; netns: string; zone: string }[];
    apiServer?: { kubeconfig: string };
  }>(podnet(lab, ['lab', 'status', '--name', lab, '-o', 'json']));
  const clientHost = labState.hosts.find((h) => h.name === client.spec.nodeName)!;
  for (const name of [...ECHO_PODS, 'client']) {
    const p = pods.get(name)!;
    const ips = families.map((f) => podAddress(p, f)).join(', ');
    say(`    ${name.padEnd(7)} ${ips.padEnd(34)} on ${p.spec.nodeName}`);
  }
  const flows: DemoFlow[] = families.map((family) => ({
    family,
    serviceIP: addressesOf(clusterIPs, family)[0] ?? '',
    dnsAnswer: [],
    answered: 0,
    spread: Object.fromEntries(ECHO_PODS.map((p) => [p, 0])),
    dnat: {},
    paths: [],
    trace: { ok: false, text: '', dns: '' },
  }));

  say(step(3, `asking the cluster DNS from the client: ${DEMO_NAME}`));
  for (const flow of flows) {
    const type = flow.family === 'ipv4' ? 'A' : 'AAAA';
    const dig = await inClient(lab, ['dig', '+short', '+time=2', '+tries=2', DEMO_NAME, type]);
    flow.dnsAnswer = addressesOf(dig.stdout.split('\n'), flow.family);
    say(
      flow.dnsAnswer.length > 0
        ? `    ${type.padEnd(4)} ${flow.dnsAnswer.join(', ')} (the service's ${label(flow.family)} cluster IP is ${flow.serviceIP})`
        : `    ${type.padEnd(4)} no answer from the cluster DNS (the service's ${label(flow.family)} cluster IP is ${flow.serviceIP})`,
    );
  }

  say(
    step(
      4,
      `${opts.requests} HTTP requests per family from the client to http://${DEMO_NAME}/ (new connection each)`,
    ),
  );
  for (const flow of flows) {
    // Without an answer from the DNS, the rest of the flow still shows, by the cluster IP.
    const target = flow.dnsAnswer.length > 0 ? DEMO_NAME : flow.serviceIP;
    const answers = await inClient(lab, [
      ...[process.execPath, '-e', REQUESTS_SCRIPT, target],
      ...[String(familyNumber(flow.family)), String(opts.requests)],
    ]);
    for (const line of answers.stdout.split('\n')) {
      try {
        const body = JSON.parse(line) as { pod?: string };
        if (body.pod) {
          flow.spread[body.pod] = (flow.spread[body.pod] ?? 0) + 1;
          flow.answered++;
        }
      } catch {
        /* a request that got no answer prints its error or nothing */
      }
    }
    say(`    over ${label(flow.family)}${target === DEMO_NAME ? '' : ` to ${flow.serviceIP}`}:`);
    for (const [pod, n] of Object.entries(flow.spread)) {
      say(`      ${pod.padEnd(7)} ${String(n).padStart(3)}  ${'#'.repeat(n)}`);
    }
  }

  say(step(5, `the DNAT choices ${clientHost.name}'s kernel made (conntrack, per cluster IP)`));
  for (const flow of flows) {
    flow.dnat = await dnatChoices(clientHost.netns, flow.serviceIP, flow.family);
    say(`    original destination ${flow.serviceIP}:`);
    for (const [ip, n] of Object.entries(flow.dnat)) {
      say(`      → ${ip.padEnd(22)} ${n} connections`);
    }
  }

  say(
    step(
      6,
      `the path from ${clientHost.name} (${clientHost.zone}) to each pod, from 'ip route get'`,
    ),
  );
  const how = {
    local: 'same host, the pod veth',
    direct: 'same zone: plain route via the host',
    vxlan: 'other zone: VXLAN tunnel',
    unknown: '?',
  };
  for (const flow of flows) {
    for (const name of ECHO_PODS) {
      const p = pods.get(name)!;
      const path = await pathTo(
        clientHost.netns,
        name,
        p.spec.nodeName!,
        podAddress(p, flow.family),
      );
      flow.paths.push(path);
      say(`    ${name} on ${path.node}: ${path.route}  (${how[path.kind]})`);
    }
  }

  say(step(7, `podnet trace from the client to ${DEMO_SERVICE}:80, per family`));
  for (const flow of flows) {
    flow.trace = await traceName(lab, flow.family);
    say(`    ${label(flow.family)}: ${flow.trace.dns}`);
    say(`      ${flow.trace.ok ? 'ok' : 'broken'}: ${flow.trace.text}`);
  }

  let labRemoved = false;
  if (!opts.keep) {
    await run([podnetBin(), 'lab', 'down', '--name', lab]);
    labRemoved = true;
  }
  return {
    lab,
    name: DEMO_NAME,
    ipFamily: opts.ipFamily,
    requests: opts.requests,
    flows,
    labRemoved,
    tryCommands: labRemoved ? [] : tryCommands(lab),
    ...(!labRemoved && labState.apiServer ? { kubeconfig: labState.apiServer.kubeconfig } : {}),
  };
}

/** `podnet trace` of the service by name in `family`, as a person would run it. */
async function traceName(lab: string, family: 'ipv4' | 'ipv6'): Promise<DemoFlow['trace']> {
  const argv = ['trace', '-n', DEMO_NAMESPACE, 'client', `${DEMO_SERVICE}:80`];
  const r = await run(podnet(lab, [...argv, '--family', family, '-o', 'json']), { okCodes: [1] });
  const out = JSON.parse(r.stdout) as {
    hops: { step: string; detail: string }[];
    verdict: { ok: boolean; text: string };
  };
  const dns = out.hops.find((h) => h.step === 'dns')?.detail ?? '';
  return { ok: out.verdict.ok, text: out.verdict.text, dns };
}

/** The one-screen summary a person reads at the end. */
export function formatSummary(s: DemoSummary): string {
  const lines = ['', 'Summary'];
  for (const f of s.flows) {
    const served = Object.entries(f.spread)
      .map(([p, n]) => `${p} ${n}`)
      .join(', ');
    const name = `${label(f.family)}`;
    lines.push(
      `  ${name} DNS    ${s.name} → ${f.dnsAnswer.length ? f.dnsAnswer.join(', ') : '(no answer)'} (cluster IP ${f.serviceIP})`,
      `  ${name} DNAT   ${f.answered} of ${s.requests} requests answered; served by ${served}`,
      ...f.paths.map((p) => `  ${name} path   ${p.pod}: ${p.kind.padEnd(6)} ${p.route}`),
      `  ${name} trace  ${f.trace.ok ? 'ok' : 'broken'}: ${f.trace.text}`,
    );
  }
  lines.push(
    s.labRemoved
      ? `  lab       '${s.lab}' removed`
      : [
          `  lab       '${s.lab}' kept. Try:`,
          ...(s.kubeconfig
            ? [`             KUBECONFIG=${s.kubeconfig} kubectl get pods -A -o wide`]
            : []),
          ...s.tryCommands.map((argv) => `             bin/podnet ${argv.join(' ')}`),
        ].join('\n'),
  );
  return lines.join('\n');
}
