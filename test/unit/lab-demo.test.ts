// The demo's pure parts: which families a lab walks, the addresses of one family among an
// answer's lines, and the summary a person reads per family.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  addressesOf,
  demoFamilies,
  formatSummary,
  type DemoFlow,
  type DemoSummary,
} from '../../src/lab/demo.js';

test('demo: a dual-stack lab walks IPv4 then IPv6; a single-family lab its own', () => {
  assert.deepEqual(demoFamilies('dual'), ['ipv4', 'ipv6']);
  assert.deepEqual(demoFamilies('ipv6'), ['ipv6']);
  assert.deepEqual(demoFamilies('ipv4'), ['ipv4']);
});

test('demo: the addresses of one family among dig lines (CNAMEs and blanks left out)', () => {
  const lines = ['my-svc.example.', '10.96.0.20', ' fd00:10:96::14 ', '', 'not-an-ip'];
  assert.deepEqual(addressesOf(lines, 'ipv4'), ['10.96.0.20']);
  assert.deepEqual(addressesOf(lines, 'ipv6'), ['fd00:10:96::14']);
  assert.deepEqual(addressesOf(['10.96.0.20', 'fd00:10:96::14'], 'ipv6'), ['fd00:10:96::14']);
});

test('demo: the summary has DNS, DNAT, paths and trace lines for each family', () => {
  const flow = (family: 'ipv4' | 'ipv6', ip: string): DemoFlow => ({
    family,
    serviceIP: ip,
    dnsAnswer: [ip],
    answered: 3,
    spread: { 'echo-1': 1, 'echo-2': 2 },
    dnat: {},
    paths: [{ pod: 'echo-2', podIP: 'x', node: 'node-2', kind: 'vxlan', route: 'x dev pn-vxlan' }],
    trace: { ok: true, text: 'every hop is in place', dns: '' },
  });
  const summary: DemoSummary = {
    lab: 'demo',
    name: 'my-svc.my-namespace.svc.cluster.local',
    ipFamily: 'dual',
    requests: 3,
    flows: [flow('ipv4', '10.96.0.20'), flow('ipv6', 'fd00:10:96::14')],
    labRemoved: true,
    tryCommands: [],
  };
  const text = formatSummary(summary);
  assert.match(text, /IPv4 DNS {4}my-svc\.my-namespace\.svc\.cluster\.local → 10\.96\.0\.20 /);
  assert.match(text, /IPv6 DNS {4}my-svc\.my-namespace\.svc\.cluster\.local → fd00:10:96::14 /);
  assert.match(text, /IPv6 DNAT {3}3 of 3 requests answered; served by echo-1 1, echo-2 2/);
  assert.match(text, /IPv6 path {3}echo-2: vxlan/);
  assert.match(text, /IPv4 trace {2}ok: every hop is in place/);
  assert.match(text, /lab {7}'demo' removed/);
});
