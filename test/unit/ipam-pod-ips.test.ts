import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCidr, parseIPv4 } from '../../src/net/index.js';
import { PodIPAllocator, PoolExhaustedError } from '../../src/ipam/pod-ips.js';

const subnet = parseCidr('10.244.1.0/29'); // hosts .1-.6
const gateway = parseIPv4('10.244.1.1');
const req = (containerID: string, ifname = 'eth0') => ({
  containerID,
  ifname,
  hostVeth: `pn-${containerID}`,
  netns: `/run/netns/${containerID}`,
});

function withDir(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'podnet-ipam-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('ipam-pod-ips: addresses are distinct, skip the gateway, and run out clearly', () => {
  withDir((dir) => {
    const ipam = PodIPAllocator.open(dir);
    const ips = ['a', 'b', 'c', 'd', 'e'].map(
      (id) => ipam.allocate(subnet, [gateway], req(id)).allocation.ip,
    );
    assert.deepEqual(ips, ['10.244.1.2', '10.244.1.3', '10.244.1.4', '10.244.1.5', '10.244.1.6']);
    assert.throws(
      () => ipam.allocate(subnet, [gateway], req('f')),
      (e: Error) => {
        assert.ok(e instanceof PoolExhaustedError);
        assert.match(
          e.message,
          /no free pod address left in 10\.244\.1\.0\/29 \(all 5 are in use\)/,
        );
        return true;
      },
    );
  });
});

test('ipam-pod-ips: the same owner gets its address back; release is idempotent', () => {
  withDir((dir) => {
    const ipam = PodIPAllocator.open(dir);
    const first = ipam.allocate(subnet, [gateway], req('a'));
    assert.equal(first.fresh, true);
    const again = ipam.allocate(subnet, [gateway], req('a'));
    assert.equal(again.fresh, false);
    assert.equal(again.allocation.ip, first.allocation.ip);
    // Another ifname of the same container is another attachment.
    assert.notEqual(
      ipam.allocate(subnet, [gateway], req('a', 'net1')).allocation.ip,
      first.allocation.ip,
    );
    assert.equal(ipam.release('a', 'eth0')?.ip, first.allocation.ip);
    assert.equal(ipam.release('a', 'eth0'), undefined);
    assert.equal(ipam.release('nobody', 'eth0'), undefined);
    assert.equal(ipam.usedIn(subnet), 1);
  });
});

test('ipam-pod-ips: a reopened allocator (agent restart) forgets nothing', () => {
  withDir((dir) => {
    const before = PodIPAllocator.open(dir);
    before.allocate(subnet, [gateway], req('a'));
    before.allocate(subnet, [gateway], req('b'));
    const after = PodIPAllocator.open(dir);
    assert.equal(after.get('a', 'eth0')?.ip, '10.244.1.2');
    assert.equal(after.get('b', 'eth0')?.hostVeth, 'pn-b');
    assert.equal(after.allocate(subnet, [gateway], req('c')).allocation.ip, '10.244.1.4');
  });
});

test('ipam-pod-ips: a file someone else created is skipped, not overwritten', () => {
  withDir((dir) => {
    const ipam = PodIPAllocator.open(dir);
    writeFileSync(join(dir, '10.244.1.2'), JSON.stringify(req('other')));
    assert.equal(ipam.allocate(subnet, [gateway], req('a')).allocation.ip, '10.244.1.3');
  });
});

test('ipam-pod-ips: round robin does not hand a freed address straight back', () => {
  withDir((dir) => {
    const ipam = PodIPAllocator.open(dir);
    ipam.allocate(subnet, [gateway], req('a'));
    ipam.release('a', 'eth0');
    assert.equal(ipam.allocate(subnet, [gateway], req('b')).allocation.ip, '10.244.1.3');
  });
});

test('ipam-pod-ips: GC frees unknown owners, torn records and temp files', () => {
  withDir((dir) => {
    const ipam = PodIPAllocator.open(dir);
    ipam.allocate(subnet, [gateway], req('keep'));
    ipam.allocate(subnet, [gateway], req('gone'));
    writeFileSync(join(dir, '10.244.1.6'), '{"containerID":'); // torn by a crash
    writeFileSync(join(dir, '10.244.1.5.123.tmp'), 'x');
    const reopened = PodIPAllocator.open(dir);
    assert.ok(!readdirSync(dir).some((n) => n.endsWith('.tmp')));
    const freed = reopened.releaseAllExcept([{ containerID: 'keep', ifname: 'eth0' }]);
    assert.deepEqual(freed.map((a) => a.ip).sort(), ['10.244.1.3', '10.244.1.6']);
    assert.deepEqual(readdirSync(dir), ['10.244.1.2']);
  });
});
