// The cloud lab's pure parts: the VPC router's kernel routes and checks, the guard's blackhole
// marking and error documents, instance metadata's answers, spec.cloud for the lab.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  labCloudSettings,
  routerRouteSpec,
  routerRoutes,
  sourceDestCheckScript,
  type EmulatedInterface,
  type LabCloud,
} from '../../src/lab/cloud-plan.js';
import { ec2ErrorXml, markBlackholes } from '../../src/lab/cloud-guard.js';
import { metadataValues } from '../../src/lab/cloud-metadata.js';

const interfaces = new Map<string, EmulatedInterface>([
  ['eni-a', { id: 'eni-a', ip: '172.31.1.1', sourceDestCheck: false, live: true }],
  ['eni-b', { id: 'eni-b', ip: '172.31.2.2', sourceDestCheck: true, live: true }],
  ['eni-gone', { id: 'eni-gone', ip: '172.31.1.3', sourceDestCheck: false, live: false }],
]);
const zones = [
  { subnet: '172.31.1.0/24', bridge: 'br1' },
  { subnet: '172.31.2.0/24', bridge: 'br2' },
];
const table = { zone: 'zone-1', bridge: 'br1', id: 'rtb-1', subnetId: 'subnet-1' };

test('the VPC router routes each node route to its instance on that zone bridge, blackholes the gone', () => {
  const routes = routerRoutes(
    [
      {
        table,
        zoneIndex: 1,
        routes: [
          { destination: '172.31.0.0/16', gatewayId: 'local' },
          { destination: '10.244.1.0/24', networkInterfaceId: 'eni-a' },
          { destination: '10.244.2.0/24', networkInterfaceId: 'eni-b' },
          { destination: '10.244.3.0/24', networkInterfaceId: 'eni-gone' },
        ],
      },
    ],
    interfaces,
    zones,
  );
  assert.deepEqual(routes.map(routerRouteSpec), [
    '10.244.1.0/24 via 172.31.1.1 dev br1 onlink table 101',
    '10.244.2.0/24 via 172.31.2.2 dev br2 onlink table 101',
    'blackhole 10.244.3.0/24 table 101',
  ]);
});

test('only instances whose check is on are held to their own address', () => {
  const script = sourceDestCheckScript(
    [
      { host: 'node-1', ip: '172.31.1.1', port: 'h1', networkInterfaceId: 'eni-a' },
      { host: 'node-2', ip: '172.31.2.2', port: 'h2', networkInterfaceId: 'eni-b' },
    ] as LabCloud['instances'],
    interfaces,
  );
  assert.match(script, /iifname "h2" ip saddr != 172\.31\.2\.2 drop/);
  assert.match(script, /oifname "h2" ip daddr != 172\.31\.2\.2 drop/);
  assert.doesNotMatch(script, /"h1"/);
});

test('the guard reports routes to a gone instance as blackholes and leaves the rest', () => {
  const xml =
    '<routeTableSet><item><routeSet>' +
    '<item><destinationCidrBlock>172.31.0.0/16</destinationCidrBlock><gatewayId>local</gatewayId><state>active</state></item>' +
    '<item><destinationCidrBlock>10.244.1.0/24</destinationCidrBlock><networkInterfaceId>eni-a</networkInterfaceId><state>active</state></item>' +
    '<item><destinationCidrBlock>10.244.3.0/24</destinationCidrBlock><networkInterfaceId>eni-gone</networkInterfaceId><state>active</state></item>' +
    '</routeSet></item></routeTableSet>';
  const out = markBlackholes(xml, interfaces);
  assert.match(out, /eni-gone<\/networkInterfaceId><state>blackhole/);
  assert.match(out, /eni-a<\/networkInterfaceId><state>active/);
  assert.match(out, /local<\/gatewayId><state>active/);
  assert.match(ec2ErrorXml('RouteLimitExceeded', 'full'), /<Code>RouteLimitExceeded<\/Code>/);
});

test("metadata answers each instance's own identity; spec.cloud counts the local route", () => {
  const cloud: LabCloud = {
    region: 'us-east-1',
    endpoint: 'http://172.31.1.254:4566',
    hostEndpoint: 'http://127.0.0.1:1',
    vpcId: 'vpc-1',
    quota: 4,
    overflow: 'vxlan',
    routeTables: [table],
    instances: [
      {
        host: 'node-1',
        ip: '172.31.1.1',
        port: 'h1',
        instanceId: 'i-1',
        networkInterfaceId: 'eni-a',
        mac: '02:00:00:00:00:01',
        subnetId: 'subnet-1',
        availabilityZone: 'us-east-1a',
      },
    ],
  };
  const values = metadataValues(cloud, cloud.instances[0]!);
  assert.equal(values.get('network/interfaces/macs/02:00:00:00:00:01/interface-id'), 'eni-a');
  assert.equal(values.get('placement/availability-zone'), 'us-east-1a');
  assert.deepEqual(labCloudSettings(cloud), {
    provider: 'aws',
    routeTableIDs: ['rtb-1'],
    region: 'us-east-1',
    endpoint: 'http://172.31.1.254:4566',
    metadataEndpoint: 'http://169.254.169.254',
    routeLimit: 4,
    overflow: 'vxlan',
  });
});

test('in a dual-stack lab the VPC router sends IPv6 node routes to the instance IPv6 address', () => {
  const dual = new Map(interfaces);
  dual.set('eni-a', { ...interfaces.get('eni-a')!, ipv6: 'fd00:172:31:1::1' });
  const routes = routerRoutes(
    [
      {
        table,
        zoneIndex: 1,
        routes: [
          { destination: 'fd00:10:244:1::/64', networkInterfaceId: 'eni-a' },
          // An instance with no IPv6 address cannot take IPv6: the route goes nowhere.
          { destination: 'fd00:10:244:2::/64', networkInterfaceId: 'eni-b' },
        ],
      },
    ],
    dual,
    zones,
  );
  assert.deepEqual(routes.map(routerRouteSpec), [
    'fd00:10:244:1::/64 via fd00:172:31:1::1 dev br1 onlink table 101',
    'blackhole fd00:10:244:2::/64 table 101',
  ]);
  const script = sourceDestCheckScript(
    [
      {
        host: 'node-2',
        ip: '172.31.2.2',
        ipv6: 'fd00:172:31:2::2',
        port: 'h2',
        networkInterfaceId: 'eni-b',
      },
    ] as LabCloud['instances'],
    interfaces,
  );
  assert.match(script, /iifname "h2" ip6 saddr != \{ fd00:172:31:2::2, fe80::\/10 \} drop/);
});
