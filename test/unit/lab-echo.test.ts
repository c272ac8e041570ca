import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { startEcho, identityFromEnv, udpReply } from '../../src/lab/echo.js';

const id = { pod: 'web-1', namespace: 'default', ip: '10.244.1.5', node: 'node-1' };

test('serve-echo: identity comes from the pod runner environment', () => {
  assert.deepEqual(
    identityFromEnv({
      POD_NAME: 'web-1',
      POD_NAMESPACE: 'default',
      POD_IP: '10.244.1.5',
      NODE_NAME: 'node-1',
    }),
    id,
  );
  assert.deepEqual(JSON.parse(udpReply(id, Buffer.from('hi')).toString()), { ...id, echo: 'hi' });
});

test('serve-echo: HTTP GET names the pod, UDP datagrams come back with the pod name', async () => {
  const server = await startEcho(id, 0, '127.0.0.1');
  try {
    const res = await fetch(`http://127.0.0.1:${server.port}/anything`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), id);
    const post = await fetch(`http://127.0.0.1:${server.port}/`, { method: 'POST', body: 'x' });
    assert.equal(post.status, 405);

    const client = createSocket('udp4');
    try {
      const reply = await new Promise<Buffer>((resolve, reject) => {
        client.once('message', resolve);
        client.once('error', reject);
        client.send('ping 1', server.port, '127.0.0.1');
      });
      assert.deepEqual(JSON.parse(reply.toString()), { ...id, echo: 'ping 1' });
    } finally {
      client.close();
    }
  } finally {
    await server.close();
  }
});
