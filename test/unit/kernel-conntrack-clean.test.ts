import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cleanRequest } from '../../src/kernel/conntrack.js';

test('conntrack cleanup: one request line per stale flow, as podnet-conntrack-clean reads it', () => {
  assert.equal(
    cleanRequest({ protocol: 'udp', serviceIP: '10.96.0.10', port: 53, endpointIP: '10.244.2.2' }),
    '4 17 10.96.0.10 53 10.244.2.2\n',
  );
  // A node port: any original destination.
  assert.equal(
    cleanRequest({ protocol: 'sctp', port: 30080, endpointIP: 'fd00:10:244::5' }),
    '6 132 - 30080 fd00:10:244::5\n',
  );
  assert.throws(
    () => cleanRequest({ protocol: 'udp', port: 53, endpointIP: 'not-an-ip' }),
    /not an endpoint address: not-an-ip/,
  );
});
