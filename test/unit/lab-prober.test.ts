// The lab prober's HTTP check against a real server on loopback: a fresh connection per probe,
// closed after its answer, as kubelet's probes are.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { ReadinessProber } from '../../src/lab/prober.js';
import { waitFor } from '../helpers/wait.js';

test('lab prober: each HTTP probe opens its own connection and leaves none open', async () => {
  const open = new Set<Socket>();
  let connections = 0;
  const server: Server = createServer((_req, res) => res.end('ok'));
  server.on('connection', (socket: Socket) => {
    connections++;
    open.add(socket);
    socket.once('close', () => open.delete(socket));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  const prober = new ReadinessProber(() => {});
  try {
    prober.track([
      {
        key: 'web/0',
        check: { kind: 'http', url: `http://127.0.0.1:${port}/readyz` },
        timing: {
          initialDelayMs: 0,
          periodMs: 30,
          timeoutMs: 1000,
          successThreshold: 1,
          failureThreshold: 3,
        },
        netns: '',
      },
    ]);
    await waitFor('three probes', () => connections >= 3, 5_000);
    assert.ok(prober.ready('web/0'));
    prober.stop();
    await waitFor('every probe connection closed', () => open.size === 0, 2_000);
  } finally {
    prober.stop();
    server.close();
  }
});
