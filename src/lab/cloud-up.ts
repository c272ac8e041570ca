// `lab up --backend cloud`: the lab's underlay becomes a VPC. moto (the image's EC2 emulator)
// runs in the underlay namespace behind the guard, which the hosts reach on zone 1's router
// address and `podnet` in the machine's namespace through a loopback relay; the VPC gets one
// subnet and route table per zone and one instance per host at the host's address; instance
// metadata answers at 169.254.169.254; the VPC router mirrors the route tables into the kernel.
import { accessSync, constants, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import {
  AssociateRouteTableCommand,
  CreateRouteTableCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  RunInstancesCommand,
} from '@aws-sdk/client-ec2';
import { ipBatch } from '../kernel/links.js';
import { nftApply } from '../kernel/nft.js';
import { setSysctls } from '../kernel/netns.js';
import { isRunning, listensOnTcp } from '../process/daemons.js';
import { OperationError } from '../util/errors.js';
import {
  DEFAULT_LAB_ROUTE_LIMIT,
  GUARD_PORT,
  LAB_REGION,
  METADATA_ADDRESS,
  MOTO_ADDRESS,
  availabilityZone,
  cloudDir,
  cloudFile,
  guardAddress,
  type LabCloud,
  type LabInstance,
  type LabRouteTable,
} from './cloud-plan.js';
import { metadataHopLimitScript } from './cloud-metadata.js';
import { motoClient } from './cloud-moto.js';
import { podnetBin } from './paths.js';
import type { LabPlan } from './plan.js';
import { startLoopbackRelay } from './relay-process.js';
import { startProcess } from './supervisor.js';
import { pollUntil } from './wait.js';

/** An image moto knows; the lab's instances run nothing, they only hold addresses. */
const LAB_IMAGE = 'ami-12c6146b';
export const CLOUD_RELAY = 'cloud-relay';

/** Credentials the lab's agents use: moto takes any. */
export const LAB_AWS_ENV = { AWS_ACCESS_KEY_ID: 'lab', AWS_SECRET_ACCESS_KEY: 'lab' };

export async function startLabCloud(plan: LabPlan, timeoutMs = 30_000): Promise<LabCloud> {
  const moto = onPath('moto_server');
  if (!moto) {
    throw new OperationError(
      'lab up --backend cloud needs moto_server (the EC2 emulator) on PATH; it is not installed here',
    );
  }
  const netns = plan.underlayNetns;
  // As in a VPC, a hairpin through the router (two hosts of one zone) draws no redirect.
  await setSysctls(netns, {
    'net.ipv4.conf.all.send_redirects': '0',
    ...Object.fromEntries(plan.zones.map((z) => [`net.ipv4.conf.${z.bridge}.send_redirects`, '0'])),
  });
  await ipBatch(netns, [`addr add ${METADATA_ADDRESS}/32 dev lo`]);
  await nftApply(metadataHopLimitScript(METADATA_ADDRESS), { netns });

  const quota = (plan.options.cloud?.routeLimit ?? DEFAULT_LAB_ROUTE_LIMIT) + 1;
  const motoProc = await startProcess(plan.stateDir, {
    id: 'cloud-moto',
    argv: [moto, '-H', MOTO_ADDRESS.split(':')[0]!, '-p', MOTO_ADDRESS.split(':')[1]!],
    netns,
    enter: 'nsenter',
  });
  const guard = guardAddress(plan);
  const guardProc = await startProcess(plan.stateDir, {
    id: 'cloud-guard',
    argv: [
      podnetBin(),
      'lab',
      'cloud-guard',
      '--listen',
      guard,
      '--upstream',
      `http://${MOTO_ADDRESS}`,
      '--quota',
      String(quota),
    ],
    netns,
    enter: 'nsenter',
  });
  const { port } = await startLoopbackRelay(plan.stateDir, CLOUD_RELAY, netns, guard);
  const hostEndpoint = `http://127.0.0.1:${port}`;
  const up = await pollUntil(() => {
    for (const p of [motoProc, guardProc]) {
      if (!isRunning(p)) throw new OperationError(`${p.id} exited (log: ${p.log})`);
    }
    return listensOnTcp(motoProc.pid, MOTO_ADDRESS) && listensOnTcp(guardProc.pid, guard)
      ? true
      : undefined;
  }, timeoutMs);
  if (!up) throw new OperationError(`the lab's EC2 API is not up after ${timeoutMs / 1000}s`);

  const cloud = await provision(plan, hostEndpoint, quota);
  mkdirSync(cloudDir(plan.stateDir), { recursive: true });
  writeFileSync(cloudFile(plan.stateDir), `${JSON.stringify(cloud, null, 2)}\n`);
  await Promise.all(
    ['cloud-metadata', 'vpc-router'].map((verb) =>
      startProcess(plan.stateDir, {
        id: verb,
        argv: [podnetBin(), 'lab', verb, '--lab-dir', plan.stateDir],
        netns,
        enter: 'nsenter',
      }),
    ),
  );
  return cloud;
}

/** cloud.json of a cloud lab, or undefined before lab up wrote it. */
export function readLabCloud(labDir: string): LabCloud | undefined {
  const file = cloudFile(labDir);
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as LabCloud) : undefined;
}

/** The VPC, a subnet and route table per zone, an instance per host. */
async function provision(plan: LabPlan, hostEndpoint: string, quota: number): Promise<LabCloud> {
  const ec2 = motoClient(hostEndpoint);
  const vpcId = (await ec2.send(new CreateVpcCommand({ CidrBlock: '172.31.0.0/16' }))).Vpc!.VpcId!;
  const routeTables: LabRouteTable[] = [];
  for (const z of plan.zones) {
    const subnetId = (
      await ec2.send(
        new CreateSubnetCommand({
          VpcId: vpcId,
          CidrBlock: z.subnet,
          AvailabilityZone: availabilityZone(z.index),
        }),
      )
    ).Subnet!.SubnetId!;
    const id = (await ec2.send(new CreateRouteTableCommand({ VpcId: vpcId }))).RouteTable!
      .RouteTableId!;
    await ec2.send(new AssociateRouteTableCommand({ RouteTableId: id, SubnetId: subnetId }));
    routeTables.push({ zone: z.zone, bridge: z.bridge, id, subnetId });
  }
  const instances: LabInstance[] = [];
  for (const h of plan.hosts) {
    const subnetId = routeTables[h.zoneIndex - 1]!.subnetId;
    const run = await ec2.send(
      new RunInstancesCommand({
        ImageId: LAB_IMAGE,
        MinCount: 1,
        MaxCount: 1,
        SubnetId: subnetId,
        PrivateIpAddress: h.ip,
      }),
    );
    const instance = run.Instances![0]!;
    const eni = instance.NetworkInterfaces![0]!;
    instances.push({
      host: h.name,
      ip: h.ip,
      ...(h.ipv6 ? { ipv6: h.ipv6.address } : {}),
      port: h.underlayPeer,
      instanceId: instance.InstanceId!,
      networkInterfaceId: eni.NetworkInterfaceId!,
      mac: eni.MacAddress!,
      subnetId,
      availabilityZone: availabilityZone(h.zoneIndex),
    });
  }
  return {
    region: LAB_REGION,
    endpoint: `http://${plan.zones[0]!.router}:${GUARD_PORT}`,
    hostEndpoint,
    vpcId,
    quota,
    overflow: plan.options.cloud?.overflow ?? 'refuse',
    routeTables,
    instances,
  };
}

function onPath(program: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const file = join(dir, program);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      /* not here */
    }
  }
  return undefined;
}
