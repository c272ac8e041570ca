import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeEtcdFailure } from '../../src/store/etcd.js';
import { parseEtcdUrl } from '../../src/store/etcd-url.js';

// What gRPC said when etcd, started with --client-cert-auth, refused a client without one.
const REFUSED =
  'No connection established. Last error: 407D286DE57F0000:error:0A000412:SSL routines:' +
  'ssl3_read_bytes:ssl/tls alert bad certificate:../deps/openssl/openssl/ssl/record/' +
  'rec_layer_s3.c:918:SSL alert number 42\n (2026-12-06T13:43:01.738Z).';

test('etcd failures: a refused TLS handshake says what the store URL lacks, on one line', () => {
  const noCert = parseEtcdUrl('etcd:10.0.0.1:2379?ca=/p/ca.crt');
  assert.equal(
    describeEtcdFailure(REFUSED, noCert),
    'etcd asks for a client certificate: give cert=FILE&key=FILE, signed by a CA etcd trusts',
  );
  const withCert = parseEtcdUrl('etcd:10.0.0.1:2379?ca=/p/ca.crt&cert=/p/c.crt&key=/p/c.key');
  assert.match(
    describeEtcdFailure(REFUSED, withCert),
    /refused the client certificate \/p\/c\.crt/,
  );
  assert.equal(
    describeEtcdFailure('14 UNAVAILABLE: unable to verify the first certificate', withCert),
    "etcd's certificate is not signed by ca /p/ca.crt",
  );
});

test('etcd failures: other errors lose the status code, resolver notes and timestamp', () => {
  const plain = parseEtcdUrl('etcd:10.0.0.1:2379');
  assert.equal(
    describeEtcdFailure(
      '14 UNAVAILABLE: No connection established. Last error: Failed to connect (2026-12-06T13:43:04.550Z).',
      plain,
    ),
    'No connection established. Last error: Failed to connect',
  );
  assert.equal(
    describeEtcdFailure('4 DEADLINE_EXCEEDED: Deadline exceeded Resolution note: x\ny', plain),
    'Deadline exceeded',
  );
});
