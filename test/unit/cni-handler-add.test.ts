// An ADD as the agent serves it, with the kernel and the store replaced by fakes: which stages
// run side by side, and what a failure in each undoes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  handleCniCall,
  type AddStage,
  type CniContext,
  type NewPodPolicies,
  type PodRef,
} from '../../src/cni/handler.js';
import { PodIPAllocator } from '../../src/ipam/pod-ips.js';
import type { IpSession } from '../../src/kernel/ip-session.js';
import { HelperEndedError } from '../../src/kernel/line-helper.js';
import type { PodLinkSession } from '../../src/kernel/pod-link-session.js';
import type { PodVeth } from '../../src/kernel/pod-veth.js';
import { parseCidr } from '../../src/net/index.js';
import { createLogger } from '../../src/util/log.js';

const ENV = {
  CNI_COMMAND: 'ADD',
  CNI_CONTAINERID: 'c1',
  // Any namespace file will do: nothing enters it here.
  CNI_NETNS: '/proc/self/ns/net',
  CNI_IFNAME: 'eth0',
  CNI_PATH: '/opt/cni/bin',
  CNI_ARGS: 'K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-0',
};
const CONF = JSON.stringify({ cniVersion: '1.0.0', name: 'podnet', type: 'podnet' });

interface Fakes {
  ctx: CniContext;
  /** ip batch lines the host session was given (the wiring goes to podnet-pod-link). */
  hostCommands: string[];
  forgotten: string[];
  unbound: string[];
  stages: AddStage[];
  done(): void;
}

function fakes(opts: {
  wire?: (veth: PodVeth) => Promise<void>;
  isolate?: (pod: PodRef, ip: string) => Promise<void>;
}): Fakes {
  const dir = mkdtempSync(join(tmpdir(), 'podnet-cni-handler-'));
  const hostCommands: string[] = [];
  const forgotten: string[] = [];
  const unbound: string[] = [];
  const stages: AddStage[] = [];
  const host = {
    async run(commands: string[]) {
      hostCommands.push(...commands);
    },
  } as unknown as IpSession;
  const podLinks = {
    wire: (veth: PodVeth) => opts.wire?.(veth) ?? Promise.resolve(),
  } as unknown as PodLinkSession;
  const policies: NewPodPolicies = {
    isolateNewPod: (pod, ip) => opts.isolate?.(pod, ip) ?? Promise.resolve(),
    forgetNewPod: (_pod, ip) => void forgotten.push(ip),
  };
  const ctx: CniContext = {
    ipam: PodIPAllocator.open(dir),
    host,
    podLinks,
    node: () => ({
      podCIDR: parseCidr('10.244.1.0/24'),
      nodeIP: '172.31.1.1',
      mtu: 1450,
      dnsIPs: ['10.96.0.10'],
      domain: 'cluster.local',
    }),
    pods: {
      bind: async () => undefined,
      unbind: async (_pod, ip) => void unbound.push(ip),
    },
    policies,
    guardSync: async () => undefined,
    observeAddStage: (stage) => void stages.push(stage),
    log: createLogger('test', {}, { write: () => undefined }),
  };
  return {
    ctx,
    hostCommands,
    forgotten,
    unbound,
    stages,
    done: () => rmSync(dir, { recursive: true, force: true }),
  };
}

test('cni add: the policies of a recorded pod are enforced while its veth is still being wired', async () => {
  let asked!: () => void;
  const policiesAsked = new Promise<void>((resolve) => (asked = resolve));
  const f = fakes({
    // The wiring finishes only once the policies were asked for: an ADD that waited for the
    // wiring before asking would never get there, and fails after a second.
    wire: () =>
      Promise.race([
        policiesAsked,
        new Promise<void>((_, reject) =>
          setTimeout(() => reject(new Error('policies not asked for')), 1000),
        ),
      ]),
    isolate: async () => asked(),
  });
  try {
    const r = await handleCniCall(ENV, CONF, f.ctx);
    assert.equal(r.exitCode, 0, r.stdout);
    assert.match(r.stdout, /"address":"10\.244\.1\.2\/32"/);
    assert.deepEqual(f.stages.toSorted(), ['allocate', 'guard', 'policy', 'record', 'wire']);
    assert.deepEqual(f.forgotten, []);
  } finally {
    f.done();
  }
});

test('cni add: a wiring failure frees the address and takes it out of the policies', async () => {
  const f = fakes({
    wire: async () => {
      throw new Error('no such device');
    },
  });
  try {
    const r = await handleCniCall(ENV, CONF, f.ctx);
    assert.equal(r.exitCode, 1);
    assert.match(r.stdout, /could not wire eth0: no such device/);
    assert.deepEqual(f.forgotten, ['10.244.1.2']);
    assert.deepEqual(f.unbound, ['10.244.1.2']);
    assert.deepEqual(f.ctx.ipam.list(), []);
    assert.deepEqual(f.hostCommands, [], 'podnet-pod-link removed what it made itself');
    assert.deepEqual(f.stages, [], 'a failed ADD reports no stages');
  } finally {
    f.done();
  }
});

test('cni add: a podnet-pod-link that died mid-request has its half-made veth removed', async () => {
  const f = fakes({
    wire: async () => {
      throw new HelperEndedError('podnet-pod-link ended unexpectedly');
    },
  });
  try {
    const r = await handleCniCall(ENV, CONF, f.ctx);
    assert.equal(r.exitCode, 1);
    assert.match(r.stdout, /could not wire eth0: podnet-pod-link ended unexpectedly/);
    assert.deepEqual(f.ctx.ipam.list(), []);
    assert.equal(f.hostCommands.length, 1);
    assert.match(f.hostCommands[0]!, /^link del pn[0-9a-f]{11}$/);
  } finally {
    f.done();
  }
});

test('cni add: a policy failure removes the veth, frees the address and forgets it', async () => {
  const f = fakes({
    isolate: async () => {
      throw new Error('nft said no');
    },
  });
  try {
    const r = await handleCniCall(ENV, CONF, f.ctx);
    assert.equal(r.exitCode, 1);
    const error = JSON.parse(r.stdout) as { code: number; msg: string };
    assert.equal(error.code, 11, 'worth a retry');
    assert.match(error.msg, /could not enforce the policies of pod shop\/web-0: nft said no/);
    assert.deepEqual(f.forgotten, ['10.244.1.2']);
    assert.deepEqual(f.unbound, ['10.244.1.2']);
    assert.deepEqual(f.ctx.ipam.list(), []);
    assert.ok(f.hostCommands.some((c) => c.startsWith('link del pn')));
  } finally {
    f.done();
  }
});
