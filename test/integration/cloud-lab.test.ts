// `lab up --backend cloud`: a 4-host, 2-zone, dual-stack lab whose underlay is a VPC (moto
// behind the lab's guard, instance metadata, the underlay router mirroring the route tables of
// both families). Pods reach each other through the VPC's routes alone, over IPv4 and IPv6; the AWS API's own view shows them; the source/
// destination check, metadata's hop limit, throttling and missing credentials behave as on AWS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CreateRouteCommand,
  DeleteRouteCommand,
  DescribeRouteTablesCommand,
  EC2Client,
  ModifyNetworkInterfaceAttributeCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { ec2Api } from '../../src/cloud/ec2.js';
import type { GuardStats } from '../../src/lab/cloud-guard.js';
import type { LabCloud } from '../../src/lab/cloud-plan.js';
import {
  PODNET,
  echoGet,
  echoGetOnce,
  echoPodYaml,
  podnet,
  podnetOk,
  readLab,
  runningPodIPs,
  until,
} from '../helpers/lab.js';
import { startCapture } from '../helpers/echo-lab.js';
import { sharedLab } from '../helpers/shared-lab.js';

// The agents inherit this: a resync every 2 s keeps the repair cases short.
process.env.PODNET_CLOUD_RESYNC_MS = '2000';
const lab = sharedLab([
  '--backend',
  'cloud',
  '--nodes',
  '4',
  '--zones',
  '2',
  '--ip-family',
  'dual',
]);

function cloudOf(): LabCloud {
  return JSON.parse(
    readFileSync(join(readLab(lab)!.stateDir, 'cloud', 'cloud.json'), 'utf8'),
  ) as LabCloud;
}

function ec2(cloud: LabCloud): EC2Client {
  return new EC2Client({
    region: cloud.region,
    endpoint: cloud.hostEndpoint,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
}

const pods = ['node-1', 'node-2', 'node-3', 'node-4'].map((node, i) => ({
  name: `echo-${i + 1}`,
  node,
}));

async function podIPs(): Promise<Map<string, string>> {
  // Listening on `::` the echo pods answer on both families.
  for (const p of pods)
    podnetOk(['--lab', lab, 'apply', '-f', '-'], { input: echoPodYaml(p.name, p.node, '::') });
  return until('pod IPs', () => {
    const out = JSON.parse(podnetOk(['--lab', lab, 'get', 'pods', '-o', 'json'])) as {
      items: { metadata: { name: string }; status?: { podIP?: string } }[];
    };
    const ips = new Map(out.items.map((p) => [p.metadata.name, p.status?.podIP ?? '']));
    return pods.every((p) => ips.get(p.name)) ? ips : undefined;
  });
}

/** Every pod subnet in every table, routed to its node's interface. */
async function allRoutesInPlace(cloud: LabCloud): Promise<boolean> {
  const out = await ec2(cloud).send(
    new DescribeRouteTablesCommand({ RouteTableIds: cloud.routeTables.map((t) => t.id) }),
  );
  const nodes = JSON.parse(podnetOk(['--lab', lab, 'get', 'nodes', '-o', 'json'])) as {
    items: { metadata: { name: string }; spec: { podCIDR: string } }[];
  };
  return (out.RouteTables ?? []).every((t) =>
    nodes.items.every((n) => {
      const eni = cloud.instances.find((i) => i.host === n.metadata.name)!.networkInterfaceId;
      return (t.Routes ?? []).some(
        (r) =>
          r.DestinationCidrBlock === n.spec.podCIDR &&
          r.NetworkInterfaceId === eni &&
          r.State === 'active',
      );
    }),
  );
}

test('pods in different zones talk through the VPC route tables alone', async () => {
  const cloud = cloudOf();
  const ips = await podIPs();
  assert.ok(await allRoutesInPlace(cloud), 'every node subnet routed to its ENI in every table');

  // No tunnel device on any host, and no BGP: hosts have only their default route.
  for (const h of readLab(lab)!.hosts) {
    const links = execFileSync('ip', ['-n', h.netns, '-d', 'link', 'show'], { encoding: 'utf8' });
    assert.doesNotMatch(links, /vxlan|ipip|wireguard/, `${h.name} has no tunnel`);
    const via = execFileSync('ip', ['-n', h.netns, 'route', 'show'], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => l.includes(' via '));
    assert.deepEqual(
      via,
      [`default via ${h.router} dev eth0 `],
      `${h.name} routes only to its gateway`,
    );
  }

  // tcpdump on the zone-2 bridge sees plain pod-to-pod TCP (not VXLAN, not IP-in-IP).
  const underlay = readLab(lab)!.underlay.netns;
  const target = ips.get('echo-2')!;
  const dump = await startCapture(underlay, 'br2', `tcp and dst host ${target} and dst port 8080`, [
    '-c',
    '1',
  ]);
  const answer = await echoGet(lab, 'echo-1', target);
  assert.equal(answer.node, 'node-2');
  const seen = await dump.stop();
  assert.match(
    seen,
    new RegExp(
      `${ips.get('echo-1')!.replace(/\./g, '\\.')}\\.\\d+ > ${target.replace(/\./g, '\\.')}\\.8080`,
    ),
  );

  // Every pod reaches every pod, same zone (a hairpin through the VPC router) and across.
  for (const from of pods) {
    for (const to of pods) {
      if (from === to) continue;
      assert.equal((await echoGet(lab, from.name, ips.get(to.name)!)).pod, to.name);
    }
  }

  // The AWS CLI against the same endpoint lists every node's subnet with its ENI.
  const cli = execFileSync(
    'aws',
    [
      'ec2',
      'describe-route-tables',
      '--endpoint-url',
      cloud.hostEndpoint,
      '--region',
      cloud.region,
      '--output',
      'text',
      '--query',
      'RouteTables[].Routes[].[DestinationCidrBlock,NetworkInterfaceId]',
    ],
    {
      encoding: 'utf8',
      env: { ...process.env, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' },
    },
  );
  const nodes = JSON.parse(podnetOk(['--lab', lab, 'get', 'nodes', '-o', 'json'])) as {
    items: { metadata: { name: string }; spec: { podCIDR: string } }[];
  };
  for (const n of nodes.items) {
    const eni = cloud.instances.find((i) => i.host === n.metadata.name)!.networkInterfaceId;
    const lines = cli.split('\n').filter((l) => l.startsWith(`${n.spec.podCIDR}\t`));
    assert.equal(lines.length, cloud.routeTables.length, `${n.spec.podCIDR} in every table`);
    for (const l of lines) assert.equal(l.split('\t')[1], eni);
  }
});

test('dual-stack: a VPC route per node per family, and pods talk over IPv6 through them alone', async () => {
  const cloud = cloudOf();
  await podIPs();
  const nodes = JSON.parse(podnetOk(['--lab', lab, 'get', 'nodes', '-o', 'json'])) as {
    items: { metadata: { name: string }; spec: { podCIDRs?: string[] } }[];
  };
  const ipv6Subnets = nodes.items.map((n) => {
    const subnet = n.spec.podCIDRs?.find((c) => c.includes(':'));
    assert.ok(subnet, `${n.metadata.name} has an IPv6 pod subnet`);
    return { node: n.metadata.name, subnet };
  });
  // Every table routes every node's IPv6 subnet to that node's interface, beside its IPv4 one.
  const ipv6RoutesInPlace = async (): Promise<boolean> => {
    const out = await ec2(cloud).send(
      new DescribeRouteTablesCommand({ RouteTableIds: cloud.routeTables.map((t) => t.id) }),
    );
    assert.equal(out.RouteTables?.length, cloud.routeTables.length);
    return (out.RouteTables ?? []).every((t) =>
      ipv6Subnets.every(({ node, subnet }) =>
        (t.Routes ?? []).some(
          (r) =>
            r.DestinationIpv6CidrBlock === subnet &&
            r.NetworkInterfaceId ===
              cloud.instances.find((i) => i.host === node)!.networkInterfaceId,
        ),
      ),
    );
  };
  const deadline = Date.now() + 30_000;
  while (!(await ipv6RoutesInPlace())) {
    assert.ok(Date.now() < deadline, 'IPv6 routes not in every table after 30 s');
    await new Promise((r) => setTimeout(r, 500));
  }
  // The VPC router mirrors them to the instances' IPv6 addresses.
  const underlay = readLab(lab)!.underlay.netns;
  const mirrored = execFileSync('ip', ['-6', '-n', underlay, 'route', 'show', 'table', '101'], {
    encoding: 'utf8',
  });
  for (const { node, subnet } of ipv6Subnets) {
    const ipv6 = cloud.instances.find((i) => i.host === node)!.ipv6;
    assert.ok(ipv6, `${node}'s instance has an IPv6 address`);
    assert.ok(mirrored.includes(`${subnet} via ${ipv6} dev br`), `${subnet} mirrored: ${mirrored}`);
  }
  // IPv6 across zones (echo-1 on node-1 in zone 1, echo-2 on node-2 in zone 2) and within one,
  // with no pn-vxlan6 on any host (the first case finds no tunnel device at all).
  for (const [from, to] of [
    ['echo-1', 'echo-2'],
    ['echo-2', 'echo-1'],
    ['echo-1', 'echo-3'],
  ] as const) {
    const target = runningPodIPs(lab, to)!.find((ip) => ip.includes(':'))!;
    const answer = await until(`HTTP over IPv6 from ${from} to ${target}`, () =>
      echoGetOnce(lab, from, `http://[${target}]:8080/`),
    );
    assert.equal(answer.pod, to);
  }
});

test('instance metadata answers the host and gives a pod nothing', async () => {
  const host = readLab(lab)!.hosts[0]!;
  const token = (netns: string[]): ReturnType<typeof spawnSync> =>
    spawnSync(
      netns[0]!,
      [
        ...netns.slice(1),
        'curl',
        '-s',
        '-m',
        '3',
        '-X',
        'PUT',
        '-H',
        'X-aws-ec2-metadata-token-ttl-seconds: 60',
        'http://169.254.169.254/latest/api/token',
      ],
      { encoding: 'utf8' },
    );
  const fromHost = token(['ip', 'netns', 'exec', host.netns]);
  assert.equal(fromHost.status, 0);
  assert.ok(String(fromHost.stdout).length > 10, 'the host gets a token');
  await podIPs();
  const fromPod = token([PODNET, 'lab', 'exec', '--name', lab, 'echo-1', '--']);
  assert.notEqual(fromPod.status, 0, 'a pod one hop away gets no answer (TTL 1)');
  assert.equal(String(fromPod.stdout), '');
});

test('throttling slows the route controller but loses no route', async () => {
  const cloud = cloudOf();
  const api = ec2(cloud);
  const nodes = JSON.parse(podnetOk(['--lab', lab, 'get', 'nodes', '-o', 'json'])) as {
    items: { metadata: { name: string }; spec: { podCIDR: string } }[];
  };
  // A route deleted by hand, then a burst of RequestLimitExceeded on the next calls.
  await api.send(
    new DeleteRouteCommand({
      RouteTableId: cloud.routeTables[0]!.id,
      DestinationCidrBlock: nodes.items[0]!.spec.podCIDR,
    }),
  );
  const before = (await (await fetch(`${cloud.hostEndpoint}/guard/stats`)).json()) as {
    throttled: number;
  };
  await fetch(`${cloud.hostEndpoint}/guard/throttle?calls=6`, { method: 'POST' });
  const deadline = Date.now() + 60_000;
  while (!(await allRoutesInPlace(cloud).catch(() => false))) {
    if (Date.now() > deadline) throw new Error('routes not back after the throttling burst');
    await new Promise((r) => setTimeout(r, 500));
  }
  const after = (await (await fetch(`${cloud.hostEndpoint}/guard/stats`)).json()) as {
    throttled: number;
  };
  assert.ok(after.throttled >= before.throttled + 6, 'the burst was answered');
});

test('with the source/destination check left on, the VPC drops pod traffic and doctor says why', async () => {
  const cloud = cloudOf();
  const ips = await podIPs();
  const state = readLab(lab)!;
  const node2 = cloud.instances.find((i) => i.host === 'node-2')!;
  const restartAgent = (env: NodeJS.ProcessEnv): void => {
    const record = JSON.parse(
      readFileSync(join(state.stateDir, 'procs', 'agent-node-2.json'), 'utf8'),
    ) as { pid: number };
    process.kill(-record.pid, 'SIGTERM');
    execFileSync('sh', ['-c', `while kill -0 ${record.pid} 2>/dev/null; do sleep 0.1; done`]);
    const r = spawnSync(PODNET, ['lab', 'repair', '--name', lab], {
      encoding: 'utf8',
      env: { ...process.env, ...env },
    });
    assert.equal(r.status, 0, r.stderr);
  };
  try {
    await ec2(cloud).send(
      new ModifyNetworkInterfaceAttributeCommand({
        NetworkInterfaceId: node2.networkInterfaceId,
        SourceDestCheck: { Value: true },
      }),
    );
    restartAgent({ PODNET_CLOUD_KEEP_SOURCE_DEST_CHECK: '1' });
    await until(
      'the VPC to drop traffic to node-2',
      () => (echoGetOnce(lab, 'echo-1', `http://${ips.get('echo-2')}:8080/`) ? undefined : true),
      20_000,
    );
    const doctor = await until(
      'doctor to name the check',
      () => {
        const r = podnet(['--lab', lab, 'doctor', '--node', 'node-2']);
        return r.stdout.includes('cloud-source-dest-check') ? r : undefined;
      },
      20_000,
    );
    assert.equal(doctor.status, 1);
    assert.match(
      doctor.stdout,
      new RegExp(
        `${node2.networkInterfaceId} has its source/destination check on: the VPC drops every packet to or from this node's pods`,
      ),
    );
  } finally {
    restartAgent({ PODNET_CLOUD_KEEP_SOURCE_DEST_CHECK: '' });
  }
  // The agent turns it off again: traffic flows.
  assert.equal((await echoGet(lab, 'echo-1', ips.get('echo-2')!, 30_000)).pod, 'echo-2');
});

test('a route to a terminated instance is a blackhole, in the API and in the VPC router; outside the cluster CIDR it stays', async () => {
  const cloud = cloudOf();
  const api = ec2(cloud);
  const table = cloud.routeTables[0]!;
  const run = await api.send(
    new RunInstancesCommand({
      ImageId: 'ami-12c6146b',
      MinCount: 1,
      MaxCount: 1,
      SubnetId: table.subnetId,
      PrivateIpAddress: '172.31.1.200',
    }),
  );
  const instance = run.Instances![0]!;
  const eni = instance.NetworkInterfaces![0]!.NetworkInterfaceId!;
  await api.send(
    new CreateRouteCommand({
      RouteTableId: table.id,
      DestinationCidrBlock: '192.168.50.0/24',
      NetworkInterfaceId: eni,
    }),
  );
  const underlay = readLab(lab)!.underlay.netns;
  const kernel = (): string =>
    execFileSync('ip', ['-n', underlay, 'route', 'show', 'table', '101'], { encoding: 'utf8' });
  await until('the router to route it', () =>
    kernel().includes('192.168.50.0/24 via 172.31.1.200 dev br1') ? true : undefined,
  );
  await api.send(new TerminateInstancesCommand({ InstanceIds: [instance.InstanceId!] }));
  await until('the router to drop it', () =>
    kernel().includes('blackhole 192.168.50.0/24') ? true : undefined,
  );
  const out = await api.send(new DescribeRouteTablesCommand({ RouteTableIds: [table.id] }));
  const route = out.RouteTables![0]!.Routes!.find(
    (r) => r.DestinationCidrBlock === '192.168.50.0/24',
  );
  assert.equal(route?.State, 'blackhole');
  // Outside the cluster CIDR: the route controller leaves it, blackhole or not, through two
  // passes that read the tables after the route went blackhole.
  const describes = async (): Promise<number> =>
    ((await (await fetch(`${cloud.hostEndpoint}/guard/stats`)).json()) as GuardStats).calls
      .DescribeRouteTables ?? 0;
  const seen = await describes();
  const deadline = Date.now() + 30_000;
  while ((await describes()) < seen + 2) {
    assert.ok(Date.now() < deadline, 'the route controller made no two passes in 30 s');
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.match(kernel(), /blackhole 192\.168\.50\.0\/24/);
});

test('no credentials, or an unknown route table: one clear line each', async () => {
  const cloud = cloudOf();
  const saved = { ...process.env };
  Object.assign(process.env, {
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent',
    AWS_CONFIG_FILE: '/nonexistent',
  });
  delete process.env.AWS_ACCESS_KEY_ID;
  delete process.env.AWS_SECRET_ACCESS_KEY;
  delete process.env.AWS_PROFILE;
  try {
    const settings = {
      provider: 'aws' as const,
      routeTableIDs: [cloud.routeTables[0]!.id],
      region: cloud.region,
      endpoint: cloud.hostEndpoint,
    };
    await assert.rejects(ec2Api(settings).describeRouteTables(settings.routeTableIDs), {
      message: `no AWS credentials for ${cloud.hostEndpoint}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a profile, or an instance role`,
    });
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' });
    await assert.rejects(ec2Api(settings).describeRouteTables(['rtb-00000000']), {
      message: 'route table rtb-00000000 does not exist in us-east-1 (spec.cloud.routeTableIDs)',
    });
  } finally {
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
  }
});
