// The EC2 calls the cloud backend makes, behind one small interface so that the route
// controller's loop can be tested against an in-memory table. Each call is paced by AWS's own
// token bucket for that action; the SDK's standard retries back off on RequestLimitExceeded;
// AWS's error codes become outcomes (converged, quota) or one clear line for people.
import type { CloudSettings } from '../api/types.js';
import { tryParseCidr } from '../net/index.js';
import { OperationError } from '../util/errors.js';
import { AWS_BUCKETS, TokenBucket, paceBelow } from './pacing.js';
import type { RouteTable } from './routes.js';

/** What a route change came to; anything else throws. */
export type RouteOutcome = 'done' | 'converged' | 'route-limit';

export interface CloudApi {
  describeRouteTables(ids: readonly string[]): Promise<RouteTable[]>;
  createRoute(table: string, destination: string, eni: string): Promise<RouteOutcome>;
  replaceRoute(table: string, destination: string, eni: string): Promise<RouteOutcome>;
  deleteRoute(table: string, destination: string): Promise<RouteOutcome>;
  disableSourceDestCheck(eni: string): Promise<void>;
  /** The primary interface of an instance (when only spec.providerID names it). */
  primaryInterface(instanceId: string): Promise<{ eni: string; ip?: string }>;
}

/** What each SDK call is sent with. */
interface SendOptions {
  abortSignal: AbortSignal;
}

/** Told once per API call: the action and how it ended (ok, or the error code). */
export type CallObserver = (action: string, outcome: string) => void;

/**
 * How long one call may take, retries included (the standard retries' backoff on throttling
 * adds up to about a minute over 8 attempts). A server that takes a request and never answers
 * would otherwise hold the caller forever: the SDK sets no timeout of its own.
 */
const SEND_TIMEOUT_MS = 90_000;

/** Error codes that mean the route is already as wanted (a stale read, or a retried call). */
const CONVERGED: Record<string, string[]> = {
  CreateRoute: ['RouteAlreadyExists'],
  DeleteRoute: ['InvalidRoute.NotFound'],
};

export function ec2Api(settings: CloudSettings, observe: CallObserver = () => {}): CloudApi {
  // The SDK is loaded by the first cloud backend that asks for it: an agent of any other
  // backend would otherwise carry its 50 MB of code and heap for nothing.
  const sdk = import('@aws-sdk/client-ec2');
  const client = sdk.then(
    ({ EC2Client }) =>
      new EC2Client({
        region: settings.region,
        ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
        maxAttempts: 8,
        retryMode: 'standard',
      }),
  );
  const routeBucket = bucket(paceBelow(AWS_BUCKETS.routes));
  const describeBucket = bucket(AWS_BUCKETS.describeRouteTables);
  const modifyBucket = bucket(AWS_BUCKETS.modifyNetworkInterfaceAttribute);
  const instancesBucket = bucket(AWS_BUCKETS.describeInstances);

  const call = async <T>(
    action: string,
    pace: TokenBucket,
    send: (options: SendOptions) => Promise<T>,
    context: string,
  ): Promise<T> => {
    await pace.take();
    try {
      const out = await send({ abortSignal: AbortSignal.timeout(SEND_TIMEOUT_MS) });
      observe(action, 'ok');
      return out;
    } catch (err) {
      observe(action, errorCode(err));
      throw cloudError(err, action, context, settings);
    }
  };
  const change = async (
    action: string,
    send: (options: SendOptions) => Promise<unknown>,
    context: string,
  ): Promise<RouteOutcome> => {
    try {
      await call(action, routeBucket, send, context);
      return 'done';
    } catch (err) {
      const code = err instanceof CloudError ? err.code : '';
      if (CONVERGED[action]?.includes(code)) return 'converged';
      if (code === 'RouteLimitExceeded') return 'route-limit';
      throw err;
    }
  };

  return {
    async describeRouteTables(ids) {
      const out = await call(
        'DescribeRouteTables',
        describeBucket,
        async (o) =>
          (await client).send(
            new (await sdk).DescribeRouteTablesCommand({
              Filters: [{ Name: 'route-table-id', Values: [...ids] }],
            }),
            o,
          ),
        ids.join(', '),
      );
      const tables = (out.RouteTables ?? []).map((t) => ({
        id: t.RouteTableId ?? '',
        routes: (t.Routes ?? [])
          .filter((r) => r.DestinationCidrBlock ?? r.DestinationIpv6CidrBlock)
          .map((r) => ({
            destination: (r.DestinationCidrBlock ?? r.DestinationIpv6CidrBlock)!,
            ...(r.NetworkInterfaceId ? { networkInterfaceId: r.NetworkInterfaceId } : {}),
            state: r.State === 'blackhole' ? ('blackhole' as const) : ('active' as const),
          })),
      }));
      const missing = ids.filter((id) => !tables.some((t) => t.id === id));
      if (missing.length > 0) {
        throw new CloudError(
          'InvalidRouteTableID.NotFound',
          `route table ${missing.join(', ')} does not exist in ${settings.region} (spec.cloud.routeTableIDs)`,
        );
      }
      return tables;
    },
    createRoute: (table, destination, eni) =>
      change(
        'CreateRoute',
        async (o) =>
          (await client).send(
            new (await sdk).CreateRouteCommand({
              RouteTableId: table,
              ...destinationOf(destination),
              NetworkInterfaceId: eni,
            }),
            o,
          ),
        `${table} ${destination}`,
      ),
    replaceRoute: (table, destination, eni) =>
      change(
        'ReplaceRoute',
        async (o) =>
          (await client).send(
            new (await sdk).ReplaceRouteCommand({
              RouteTableId: table,
              ...destinationOf(destination),
              NetworkInterfaceId: eni,
            }),
            o,
          ),
        `${table} ${destination}`,
      ),
    deleteRoute: (table, destination) =>
      change(
        'DeleteRoute',
        async (o) =>
          (await client).send(
            new (await sdk).DeleteRouteCommand({
              RouteTableId: table,
              ...destinationOf(destination),
            }),
            o,
          ),
        `${table} ${destination}`,
      ),
    async disableSourceDestCheck(eni) {
      await call(
        'ModifyNetworkInterfaceAttribute',
        modifyBucket,
        async (o) =>
          (await client).send(
            new (await sdk).ModifyNetworkInterfaceAttributeCommand({
              NetworkInterfaceId: eni,
              SourceDestCheck: { Value: false },
            }),
            o,
          ),
        eni,
      );
    },
    async primaryInterface(instanceId) {
      const out = await call(
        'DescribeInstances',
        instancesBucket,
        async (o) =>
          (await client).send(
            new (await sdk).DescribeInstancesCommand({ InstanceIds: [instanceId] }),
            o,
          ),
        instanceId,
      );
      const instance = out.Reservations?.[0]?.Instances?.[0];
      const primary = instance?.NetworkInterfaces?.find((i) => i.Attachment?.DeviceIndex === 0);
      if (!primary?.NetworkInterfaceId) {
        throw new CloudError('NoInterface', `instance ${instanceId} has no network interface`);
      }
      return { eni: primary.NetworkInterfaceId, ip: primary.PrivateIpAddress };
    },
  };
}

/** A failed cloud call: the AWS error code, and one line for people. */
export class CloudError extends OperationError {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'CloudError';
  }
}

/** EC2 names an IPv6 route's destination in a field of its own. */
function destinationOf(
  destination: string,
): { DestinationCidrBlock: string } | { DestinationIpv6CidrBlock: string } {
  return tryParseCidr(destination, { loose: true })?.family === 6
    ? { DestinationIpv6CidrBlock: destination }
    : { DestinationCidrBlock: destination };
}

function bucket(b: { burst: number; perSecond: number }): TokenBucket {
  return new TokenBucket(b.burst, b.perSecond);
}

function errorCode(err: unknown): string {
  const e = err as { name?: string; Code?: string };
  return e.Code ?? e.name ?? 'Error';
}

/** One line for people naming the setting to look at. */
function cloudError(
  err: unknown,
  action: string,
  context: string,
  settings: CloudSettings,
): CloudError {
  const code = errorCode(err);
  const detail = err instanceof Error ? err.message : String(err);
  const where = settings.endpoint ?? `the EC2 API in ${settings.region}`;
  switch (code) {
    case 'CredentialsProviderError':
      return new CloudError(
        code,
        `no AWS credentials for ${where}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a profile, or an instance role`,
      );
    case 'AuthFailure':
    case 'UnauthorizedOperation':
      return new CloudError(
        code,
        `${action} ${context}: not allowed by these AWS credentials (${code})`,
      );
    case 'InvalidRouteTableID.NotFound':
      return new CloudError(
        code,
        `route table ${context.split(' ')[0]} does not exist in ${settings.region} (spec.cloud.routeTableIDs)`,
      );
    case 'AbortError':
      return new CloudError(
        'Timeout',
        `${action} ${context}: no answer from ${where} within ${SEND_TIMEOUT_MS / 1000} s (spec.cloud.endpoint)`,
      );
    default:
      if ((err as { code?: string }).code === 'ECONNREFUSED') {
        return new CloudError(
          'Unreachable',
          `${action}: cannot reach ${where} (spec.cloud.endpoint)`,
        );
      }
      return new CloudError(code, `${action} ${context}: ${code}: ${detail.split('\n')[0]}`);
  }
}
