// The short chaos run: traffic by service name from a pod on every host of a 3-host, 2-zone lab
// while faults come one after another, each with its limits asserted on what the clients saw.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ChaosLab } from '../helpers/chaos-lab.js';
import { sweepLeftovers } from '../helpers/lab.js';

const chaos = new ChaosLab(3);
before(async () => {
  sweepLeftovers();
  await chaos.up();
  await chaos.startTraffic(20);
});
after(() => chaos.down());

test('an agent SIGKILLed and restarted by lab repair fails no request', async () => {
  for (const h of chaos.lab.hosts) {
    const f = await chaos.agentKilled(h.name);
    assert.ok(f.ok > 0, `${h.name}: traffic flowed`);
    assert.equal(f.failed, 0, `${h.name}: failed requests`);
  }
});

test('a DNS pod SIGKILLed: no lookup fails, none waits past one retry, its flows go in 1 s', async (t) => {
  const dns = await chaos.dnsPodKilled('coredns-1');
  t.diagnostic(
    `endpoint gone after ${dns.endpointGoneMs} ms, conntrack after ${dns.conntrackGoneMs} ms; ` +
      `failed lookups ${dns.failedLookups}, slowest ${dns.slowestLookupMs} ms, ` +
      `failed requests ${dns.failed}`,
  );
  assert.ok(dns.endpointGoneMs <= 1000, `endpoint gone after ${dns.endpointGoneMs} ms`);
  assert.ok(
    dns.conntrackGoneMs <= 1000,
    `conntrack entries gone after ${dns.conntrackGoneMs} ms (endpoint after ${dns.endpointGoneMs} ms)`,
  );
  assert.equal(dns.failedLookups, 0, 'failed lookups');
  assert.ok(dns.slowestLookupMs <= 6000, `slowest lookup ${dns.slowestLookupMs} ms`);
  assert.equal(dns.failed, 0, 'failed requests');
});

test("one host's underlay link down 5 s: its requests recover within 2 s, others flow on", async (t) => {
  const host = chaos.lab.hosts.at(-1)!.name;
  const { own, others } = await chaos.linkDown(host, 5000);
  t.diagnostic(`recovery ${own.recoveryMs} ms (${host}), ${others.recoveryMs} ms (others)`);
  assert.ok(own.recoveryMs <= 2000, `${host} recovered ${own.recoveryMs} ms after link up`);
  assert.ok(
    others.recoveryMs <= 2000,
    `other hosts recovered ${others.recoveryMs} ms after link up`,
  );
  assert.ok(others.gapMs <= 1000, `other hosts went ${others.gapMs} ms without an answer`);
});
