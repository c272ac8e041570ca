// The tc BPF IP-in-IP programs as the kernel runs them: attached by podnet's loader to a device
// in a throw-away namespace (so the verifier passes them), their maps filled by the loader, and
// each run once with BPF_PROG_TEST_RUN (`bpftool prog run`) on a frame built here byte by byte
// from RFC 791 and RFC 2003; the output is compared with the RFC 2003 layout in both directions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { attachProgram, syncIpipBpf } from '../../src/kernel/bpf-ipip.js';
import { uniqueName } from '../helpers/names.js';

const LOCAL = [172, 31, 1, 1];
const REMOTE = [172, 31, 2, 2];
const ETHERNET = [2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];

/** The RFC 791 header checksum: ones' complement of the ones' complement sum of the words. */
function checksum(header: number[]): number {
  let sum = 0;
  for (let i = 0; i < header.length; i += 2) sum += (header[i]! << 8) | header[i + 1]!;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** An IPv4 header (no options) with its checksum. */
function ipv4(o: {
  tos: number;
  length: number;
  id: number;
  flags: number;
  ttl: number;
  protocol: number;
  src: number[];
  dst: number[];
}): number[] {
  const h = [
    0x45,
    o.tos,
    o.length >> 8,
    o.length & 0xff,
    o.id >> 8,
    o.id & 0xff,
    o.flags,
    0,
    o.ttl,
    o.protocol,
    0,
    0,
    ...o.src,
    ...o.dst,
  ];
  const c = checksum(h);
  h[10] = c >> 8;
  h[11] = c & 0xff;
  return h;
}

/** A UDP datagram from a pod on this host to one on the peer's (checksum 0: none). */
function innerPacket(tos: number, flags: number): number[] {
  const payload = [...Buffer.from('podnet ipip')];
  const udp = [0x30, 0x39, 0x1f, 0x90, 0, 8 + payload.length, 0, 0, ...payload];
  const ip = ipv4({
    tos,
    length: 20 + udp.length,
    id: 0x1234,
    flags,
    ttl: 63,
    protocol: 17,
    src: [10, 244, 1, 5],
    dst: [10, 244, 2, 7],
  });
  return [...ip, ...udp];
}

/** RFC 2003 section 3.1: TOS and DF copied from the inner header, protocol 4, our own TTL. */
function encapsulated(inner: number[], src = LOCAL, dst = REMOTE): number[] {
  const outer = ipv4({
    tos: inner[1]!,
    length: 20 + inner.length,
    id: (inner[4]! << 8) | inner[5]!,
    flags: inner[6]! & 0x40,
    ttl: 64,
    protocol: 4,
    src,
    dst,
  });
  return [...outer, ...inner];
}

function runProgram(progId: number, dir: string, frame: number[]): number[] {
  const input = join(dir, 'in');
  const output = join(dir, 'out');
  writeFileSync(input, Buffer.from(frame));
  execFileSync('bpftool', [
    'prog',
    'run',
    'id',
    String(progId),
    'data_in',
    input,
    'data_out',
    output,
  ]);
  return [...readFileSync(output)];
}

test('bpf ipip: the loaded programs pass the verifier and encapsulate and decapsulate byte for byte as RFC 2003 lays it out', async () => {
  const ns = uniqueName('bpf');
  const dir = mkdtempSync(join(tmpdir(), 'pnt-bpfipip-'));
  execFileSync('ip', ['netns', 'add', ns]);
  try {
    execFileSync('ip', ['-n', ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'peer0']);
    const tunnels = [{ podCIDR: '10.244.2.0/24', remote: '172.31.2.2', local: '172.31.1.1' }];
    await syncIpipBpf('eth0', tunnels, ns);
    const encap = await attachProgram('eth0', 'encap', ns);
    const decap = await attachProgram('eth0', 'decap', ns);

    for (const [what, tos, flags] of [
      ['DF, ECT(0)', 0x02, 0x40],
      ['no DF, CE, a DSCP', 0xbb, 0x00],
    ] as const) {
      const inner = innerPacket(tos, flags);
      const wrapped = runProgram(encap.progId, dir, [...ETHERNET, ...inner]);
      assert.deepEqual(wrapped, [...ETHERNET, ...encapsulated(inner)], `encapsulated, ${what}`);
      // The same packet as the peer sends it to this host.
      const arriving = [...ETHERNET, ...encapsulated(inner, REMOTE, LOCAL)];
      const unwrapped = runProgram(decap.progId, dir, arriving);
      assert.deepEqual(unwrapped, [...ETHERNET, ...inner], `decapsulated, ${what}`);
    }

    // A destination no peer owns leaves as it came.
    const other = innerPacket(0, 0x40);
    other.splice(16, 4, 10, 244, 9, 9);
    assert.deepEqual(runProgram(encap.progId, dir, [...ETHERNET, ...other]), [
      ...ETHERNET,
      ...other,
    ]);
    // Protocol 4 from an address that is not a peer is not unwrapped.
    const stranger = encapsulated(innerPacket(0, 0x40), [172, 31, 9, 9], LOCAL);
    assert.deepEqual(runProgram(decap.progId, dir, [...ETHERNET, ...stranger]), [
      ...ETHERNET,
      ...stranger,
    ]);

    // A peer removed from the cluster is removed from both maps; attaching again reuses them.
    await syncIpipBpf('eth0', [], ns);
    assert.deepEqual(await attachProgram('eth0', 'encap', ns), encap);
    const inner = innerPacket(0, 0x40);
    assert.deepEqual(runProgram(encap.progId, dir, [...ETHERNET, ...inner]), [
      ...ETHERNET,
      ...inner,
    ]);
  } finally {
    execFileSync('ip', ['netns', 'del', ns]);
    rmSync(dir, { recursive: true, force: true });
  }
});
