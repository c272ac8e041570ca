// The emulated EC2 as the lab's own cloud processes read it: straight from moto inside the
// underlay, past the guard, so that the VPC's own workings spend none of the account's tokens.
import {
  DescribeInstancesCommand,
  DescribeNetworkInterfacesCommand,
  DescribeRouteTablesCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { LAB_REGION, type EmulatedInterface, type EmulatedRoute } from './cloud-plan.js';

/** moto takes any keys; fixed ones keep the lab's processes off every credential chain. */
export function motoClient(endpoint: string): EC2Client {
  return new EC2Client({
    region: LAB_REGION,
    endpoint,
    credentials: { accessKeyId: 'lab', secretAccessKey: 'lab' },
    maxAttempts: 2,
  });
}

/** Every interface with its check, and whether its instance still runs. */
export async function readInterfaces(ec2: EC2Client): Promise<Map<string, EmulatedInterface>> {
  const [enis, reservations] = await Promise.all([
    ec2.send(new DescribeNetworkInterfacesCommand({})),
    ec2.send(new DescribeInstancesCommand({})),
  ]);
  const running = new Set<string>();
  for (const r of reservations.Reservations ?? []) {
    for (const i of r.Instances ?? []) {
      const state = i.State?.Name;
      if (i.InstanceId && (state === 'running' || state === 'pending')) running.add(i.InstanceId);
    }
  }
  const out = new Map<string, EmulatedInterface>();
  for (const e of enis.NetworkInterfaces ?? []) {
    if (!e.NetworkInterfaceId || !e.PrivateIpAddress) continue;
    out.set(e.NetworkInterfaceId, {
      id: e.NetworkInterfaceId,
      ip: e.PrivateIpAddress,
      sourceDestCheck: e.SourceDestCheck !== false,
      live: e.Attachment?.InstanceId !== undefined && running.has(e.Attachment.InstanceId),
    });
  }
  return out;
}

/** The routes of each table (both families), by table ID. */
export async function readRoutes(
  ec2: EC2Client,
  tableIds: readonly string[],
): Promise<Map<string, EmulatedRoute[]>> {
  const out = await ec2.send(
    new DescribeRouteTablesCommand({
      Filters: [{ Name: 'route-table-id', Values: [...tableIds] }],
    }),
  );
  return new Map(
    (out.RouteTables ?? []).map((t) => [
      t.RouteTableId ?? '',
      (t.Routes ?? [])
        .filter((r) => r.DestinationCidrBlock ?? r.DestinationIpv6CidrBlock)
        .map((r) => ({
          destination: (r.DestinationCidrBlock ?? r.DestinationIpv6CidrBlock)!,
          ...(r.NetworkInterfaceId ? { networkInterfaceId: r.NetworkInterfaceId } : {}),
          ...(r.GatewayId ? { gatewayId: r.GatewayId } : {}),
        })),
    ]),
  );
}
