import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderConflist } from '../../src/cni/conflist.js';
import { parseNetConf } from '../../src/cni/config.js';

test('cni-conflist: one podnet plugin at the given socket, 1.0.0 by default', () => {
  const list = JSON.parse(renderConflist({ agentSocket: '/run/podnet/labs/x/node-1.sock' }));
  assert.equal(list.cniVersion, '1.0.0');
  assert.equal(list.name, 'podnet');
  assert.deepEqual(list.plugins, [
    { type: 'podnet', agentSocket: '/run/podnet/labs/x/node-1.sock' },
  ]);
  // What a runtime passes the plugin (the list's version and name injected) parses.
  const conf = parseNetConf(
    JSON.stringify({ cniVersion: list.cniVersion, name: list.name, ...list.plugins[0] }),
    'ADD',
  );
  assert.equal(conf.agentSocket, '/run/podnet/labs/x/node-1.sock');
});

test('cni-conflist: portmap chained after podnet when asked, for hostPort', () => {
  const list = JSON.parse(renderConflist({ portmap: true }));
  assert.deepEqual(list.plugins, [
    { type: 'podnet', agentSocket: '/run/podnet/agent.sock' },
    { type: 'portmap', capabilities: { portMappings: true } },
  ]);
});
