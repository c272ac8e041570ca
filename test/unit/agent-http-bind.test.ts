// The agent's metrics and health port: a bare `:port` binds loopback, never every address; a
// configured address is used as given.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { HealthState } from '../../src/agent/controller.js';
import { startHealthServer } from '../../src/agent/http.js';

for (const [configured, bound] of [
  [':0', '127.0.0.1'],
  ['127.0.0.1:0', '127.0.0.1'],
]) {
  test(`agent http: --metrics ${configured} listens on ${bound} only`, async () => {
    const server = await startHealthServer(configured!, new Registry(), new HealthState());
    try {
      assert.equal((server.address() as AddressInfo).address, bound);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
}
