// The eBPF data path's programs as the kernel runs them: loaded and pinned by podnet's loader
// (so the verifier passes them), attached to a veth in a throw-away namespace, their maps
// filled from the pure desired content, and each run with BPF_PROG_TEST_RUN (`bpftool prog
// run`) on frames built here byte by byte from RFC 791 and RFC 793. What must be seen: a
// redirect (with the forwarding TTL and the destination pod's MACs) for pod→pod TCP, the
// kernel path for a service IP, a policy-held pod, a connection start and a backend's reply,
// and a drop for a spoofed source, each counted in the programs' counters. Service NAT: a SYN to
// a ClusterIP port leaves translated to a backend (both checksums recomputed here from scratch
// and compared byte for byte), the connection's later packets are translated and redirected,
// the backend's replies come back from the ClusterIP (redirected, or on the veth's egress for
// the SYN-ACK the kernel forwards), SYNs spread over the backends at random, and connections
// the program did not start, or that hairpin, are left to the kernel's NAT. Drain mode (after a
// switch back to `kernel`): the connections the program translated go on as before, a FIN marks
// its translation closing, and everything else, a new connection to the service included, is
// left to the kernel untouched.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  attachDatapath,
  datapathCounters,
  datapathTranslations,
  ensureBpfFs,
  linkIndexes,
  loadDatapath,
  syncDatapathMaps,
} from '../../src/kernel/bpf-datapath.js';
import { hostMacFor, podMacFor } from '../../src/kernel/pod-veth.js';
import { desiredDatapathMaps } from '../../src/routing/ebpf-maps.js';
import { uniqueName } from '../helpers/names.js';

const TC_ACT_OK = 0;
const TC_ACT_SHOT = 2;
const TC_ACT_REDIRECT = 7;

const mac = (text: string): number[] => text.split(':').map((b) => parseInt(b, 16));

/** The RFC 791 header checksum. */
function checksum(header: number[]): number {
  let sum = 0;
  for (let i = 0; i < header.length; i += 2) sum += (header[i]! << 8) | header[i + 1]!;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** The RFC 793 checksum of a segment with its IPv4 pseudo-header. */
function tcpChecksum(src: number[], dst: number[], segment: number[]): number {
  return checksum([...src, ...dst, 0, 6, segment.length >> 8, segment.length & 0xff, ...segment]);
}

/** An Ethernet frame with an IPv4 TCP segment (flags: 0x10 ACK, 0x02 SYN, 0x12 SYN-ACK). */
function tcpFrame(o: {
  src: number[];
  dst: number[];
  sport?: number;
  dport?: number;
  flags?: number;
  ttl?: number;
}): number[] {
  const sport = o.sport ?? 40000;
  const dport = o.dport ?? 8080;
  const payload = [...Buffer.from('podnet ebpf')];
  const tcp = [sport >> 8, sport & 0xff, dport >> 8, dport & 0xff, 0, 0, 0, 1, 0, 0, 0, 1];
  tcp.push(0x50, o.flags ?? 0x10, 0xff, 0xff, 0, 0, 0, 0, ...payload);
  const t = tcpChecksum(o.src, o.dst, tcp);
  tcp[16] = t >> 8;
  tcp[17] = t & 0xff;
  return ipv4Frame(o.src, o.dst, 6, o.ttl ?? 64, tcp);
}

/** An Ethernet frame around an IPv4 header (RFC 791, its checksum) and `l4`. */
function ipv4Frame(src: number[], dst: number[], protocol: number, ttl: number, l4: number[]) {
  const ip = [0x45, 0, 0, 20 + l4.length, 0x12, 0x34, 0x40, 0, ttl, protocol, 0, 0];
  ip.push(...src, ...dst);
  const c = checksum(ip);
  ip[10] = c >> 8;
  ip[11] = c & 0xff;
  const ethernet = [...mac('02:00:00:00:00:02'), ...mac('0a:58:0a:f4:01:05'), 0x08, 0x00];
  return [...ethernet, ...ip, ...l4];
}

/**
 * An Ethernet frame with a UDP datagram (RFC 768): its checksum over the pseudo-header, sent as
 * 0xffff when it comes to 0, or none at all (0) with `noChecksum`.
 */
function udpFrame(o: {
  src: number[];
  dst: number[];
  sport: number;
  dport: number;
  noChecksum?: boolean;
}): number[] {
  const payload = [...Buffer.from('podnet dns')];
  const length = 8 + payload.length;
  const udp = [o.sport >> 8, o.sport & 0xff, o.dport >> 8, o.dport & 0xff];
  udp.push(length >> 8, length & 0xff, 0, 0, ...payload);
  if (!o.noChecksum) {
    const c = checksum([...o.src, ...o.dst, 0, 17, length >> 8, length & 0xff, ...udp]) || 0xffff;
    udp[6] = c >> 8;
    udp[7] = c & 0xff;
  }
  return ipv4Frame(o.src, o.dst, 17, 64, udp);
}

interface Run {
  retval: number;
  out: number[];
}

function runProgram(prog: string, dir: string, frame: number[], ingressIfindex = 0): Run {
  const input = join(dir, 'in');
  const output = join(dir, 'out');
  const ctx = join(dir, 'ctx');
  writeFileSync(input, Buffer.from(frame));
  // struct __sk_buff up to ingress_ifindex (offset 36), the field the program keys sources by.
  const skb = Buffer.alloc(40);
  skb.writeUInt32LE(ingressIfindex, 36);
  writeFileSync(ctx, skb);
  const args = ['-j', 'prog', 'run', 'pinned', prog, 'data_in', input, 'data_out', output];
  const shown = execFileSync('bpftool', [...args, 'ctx_in', ctx], { encoding: 'utf8' });
  return {
    retval: (JSON.parse(shown) as { retval: number }).retval,
    out: [...readFileSync(output)],
  };
}

test('bpf datapath: the loaded programs pass the verifier and redirect, pass or drop as the maps say', async () => {
  const ns = uniqueName('dp');
  // Pinned where the lab's agents pin, which need not have a BPF file system at /sys/fs/bpf.
  await ensureBpfFs();
  const pins = `/run/podnet/bpf/${uniqueName('dp')}`;
  const dir = mkdtempSync(join(tmpdir(), 'pnt-bpfdp-'));
  execFileSync('ip', ['netns', 'add', ns]);
  try {
    const ip = (argv: string[]) => execFileSync('ip', ['-n', ns, ...argv]);
    ip(['link', 'add', 'name', 'pnaaaaaaaaaaa', 'type', 'veth', 'peer', 'name', 'pa']);
    ip(['link', 'add', 'name', 'pnbbbbbbbbbbb', 'type', 'veth', 'peer', 'name', 'pb']);
    ip(['link', 'add', 'name', 'eth0', 'type', 'veth', 'peer', 'name', 'wire']);
    const pod5 = { ip: '10.244.1.5', port: 8080 };
    const pod6 = { ip: '10.244.1.6', port: 8080 };
    const remote7 = { ip: '10.244.2.7', port: 8080 };
    const pods = [
      { hostVeth: 'pnaaaaaaaaaaa', ip: '10.244.1.5' },
      { hostVeth: 'pnbbbbbbbbbbb', ip: '10.244.1.6' },
    ];
    const ifindexes = await linkIndexes(ns);
    const input = {
      pods,
      ifindexes,
      underlay: 'eth0',
      underlaySubnet: '172.31.1.1/24',
      peers: [
        { podCIDR: '10.244.2.0/24', ip: '172.31.1.2' },
        // Another zone's host is no neighbour: the kernel routes to it.
        { podCIDR: '10.244.3.0/24', ip: '172.31.2.3' },
      ],
      policyPods: ['10.244.2.9'],
      backends: [
        { ip: '10.244.2.8', port: 8080, protocol: 'TCP' },
        { ip: '10.244.1.6', port: 8080, protocol: 'TCP' },
        { ip: '10.244.2.7', port: 8080, protocol: 'TCP' },
      ],
      services: [
        { clusterIP: '10.96.0.20', protocol: 'TCP', port: 80, endpoints: [pod6] },
        // Its only backend is the client itself: the kernel's hairpin masquerade is needed.
        { clusterIP: '10.96.0.21', protocol: 'TCP', port: 80, endpoints: [pod5] },
        { clusterIP: '10.96.0.30', protocol: 'TCP', port: 80, endpoints: [pod6, remote7] },
        // The cluster DNS, over UDP, on B's port 5353.
        {
          clusterIP: '10.96.0.10',
          protocol: 'UDP',
          port: 53,
          endpoints: [{ ...pod6, port: 5353 }],
        },
      ],
    };
    await loadDatapath(pins);
    await syncDatapathMaps(pins, desiredDatapathMaps(input));
    const want = { pod: pods.map((p) => p.hostVeth), underlay: ['eth0'] };
    assert.equal(await attachDatapath(pins, want, ns), 5, 'attached where missing');
    assert.equal(await attachDatapath(pins, want, ns), 0, 'found attached the second time');
    assert.equal(await syncDatapathMaps(pins, desiredDatapathMaps(input)), 0, 'maps in step');

    const fromPod = join(pins, 'progs', 'from_pod');
    const fromUnderlay = join(pins, 'progs', 'from_underlay');
    const podA = ifindexes.get('pnaaaaaaaaaaa')!;
    const A = [10, 244, 1, 5];

    // Pod → pod on this host: into the peer's namespace, as forwarding would hand it over.
    const local = runProgram(fromPod, dir, tcpFrame({ src: A, dst: [10, 244, 1, 6] }), podA);
    assert.equal(local.retval, TC_ACT_REDIRECT);
    const forwarded = tcpFrame({ src: A, dst: [10, 244, 1, 6], ttl: 63 });
    forwarded.splice(0, 12, ...mac(podMacFor('10.244.1.6')), ...mac(hostMacFor('pnbbbbbbbbbbb')));
    assert.deepEqual(local.out, forwarded, 'TTL 63, checksum updated, the pod link MACs');

    // Pod → a host-gw peer's pod: out of the underlay (the neighbour fills in the MACs).
    const remote = runProgram(fromPod, dir, tcpFrame({ src: A, dst: [10, 244, 2, 7] }), podA);
    assert.equal(remote.retval, TC_ACT_REDIRECT);
    assert.deepEqual(
      remote.out.slice(14),
      tcpFrame({ src: A, dst: [10, 244, 2, 7], ttl: 63 }).slice(14),
    );

    const kernel = (what: string, frame: number[], prog = fromPod) => {
      const r = runProgram(prog, dir, frame, podA);
      assert.equal(r.retval, TC_ACT_OK, what);
      assert.deepEqual(r.out, frame, `${what}: unchanged`);
    };
    kernel('a service port not translated', tcpFrame({ src: A, dst: [10, 96, 0, 20] }));
    kernel('a host in another zone', tcpFrame({ src: A, dst: [10, 244, 3, 3] }));
    kernel('a policy-held pod', tcpFrame({ src: A, dst: [10, 244, 2, 9] }));
    kernel('a connection start (SYN)', tcpFrame({ src: A, dst: [10, 244, 1, 6], flags: 0x02 }));
    const reply = { src: [10, 244, 2, 8], dst: [10, 244, 1, 5], sport: 8080, dport: 40000 };
    kernel(
      "a backend's reply on a connection the kernel translated",
      tcpFrame(reply),
      fromUnderlay,
    );
    kernel(
      'an address outside the peers',
      tcpFrame({ src: [172, 31, 9, 9], dst: A }),
      fromUnderlay,
    );

    // Someone else's address from pod A's veth: dropped on any path.
    const spoofed = runProgram(
      fromPod,
      dir,
      tcpFrame({ src: [10, 244, 1, 6], dst: [10, 96, 0, 20] }),
      podA,
    );
    assert.equal(spoofed.retval, TC_ACT_SHOT);

    // The underlay's program: a peer's pod to a pod here, into its namespace.
    const back = { src: [10, 244, 2, 7], dst: A, sport: 9000, dport: 40000 };
    const returned = runProgram(fromUnderlay, dir, tcpFrame(back));
    assert.equal(returned.retval, TC_ACT_REDIRECT);
    assert.deepEqual(returned.out.slice(0, 6), mac(podMacFor('10.244.1.5')));

    // Service NAT. A's SYN to 10.96.0.20:80 leaves for B at 10.244.1.6:8080 through the kernel
    // (conntrack and policy see the real backend), both checksums as if built there.
    const toPod = join(pins, 'progs', 'to_pod');
    const podB = ifindexes.get('pnbbbbbbbbbbb')!;
    const B = [10, 244, 1, 6];
    const SVC = [10, 96, 0, 20];
    const syn = runProgram(fromPod, dir, tcpFrame({ src: A, dst: SVC, dport: 80, flags: 2 }), podA);
    assert.equal(syn.retval, TC_ACT_OK, 'the translated SYN keeps the kernel path');
    assert.deepEqual(syn.out, tcpFrame({ src: A, dst: B, flags: 2 }), 'DNAT, checksums exact');
    // Before B's SYN-ACK, a packet of the connection is translated the same way but keeps the
    // kernel path: only the SYN-ACK shows that the kernel left the SYN's source port alone.
    const early = runProgram(fromPod, dir, tcpFrame({ src: A, dst: SVC, dport: 80 }), podA);
    assert.equal(early.retval, TC_ACT_OK, 'unconfirmed: the kernel path');
    assert.deepEqual(early.out, tcpFrame({ src: A, dst: B }), 'unconfirmed: DNAT all the same');
    // B's SYN-ACK keeps the kernel path; A's veth egress makes it come from the service.
    const fromB = { src: B, dst: A, sport: 8080, dport: 40000 };
    const synAck = tcpFrame({ ...fromB, flags: 0x12 });
    const synAckIn = runProgram(fromPod, dir, synAck, podB);
    assert.equal(synAckIn.retval, TC_ACT_OK, "a backend's SYN-ACK keeps the kernel path");
    assert.deepEqual(synAckIn.out, synAck, "a backend's SYN-ACK: unchanged on the way in");
    const egress = runProgram(toPod, dir, synAck);
    assert.equal(egress.retval, TC_ACT_OK);
    assert.deepEqual(
      egress.out,
      tcpFrame({ src: SVC, dst: A, sport: 80, dport: 40000, flags: 0x12 }),
    );
    // The connection's next packet: translated the same way and redirected into B.
    const ack = runProgram(fromPod, dir, tcpFrame({ src: A, dst: SVC, dport: 80 }), podA);
    assert.equal(ack.retval, TC_ACT_REDIRECT);
    assert.deepEqual(ack.out.slice(14), tcpFrame({ src: A, dst: B, ttl: 63 }).slice(14));
    // B's data back to A: reverse NAT, and straight into A's namespace.
    const answer = runProgram(fromPod, dir, tcpFrame(fromB), podB);
    assert.equal(answer.retval, TC_ACT_REDIRECT);
    assert.deepEqual(answer.out.slice(0, 6), mac(podMacFor('10.244.1.5')));
    assert.deepEqual(
      answer.out.slice(14),
      tcpFrame({ src: SVC, dst: A, sport: 80, dport: 40000, ttl: 63 }).slice(14),
    );
    // The kernel gave a translated SYN another source port (conntrack held an older connection
    // with its reply tuple): B's SYN-ACK goes to that port, and the connection keeps the kernel
    // path, whose conntrack maps the port back and forth.
    const moved = { src: A, dst: SVC, sport: 40004, dport: 80 };
    runProgram(fromPod, dir, tcpFrame({ ...moved, flags: 2 }), podA);
    const movedSynAck = tcpFrame({ ...fromB, dport: 50004, flags: 0x12 });
    assert.equal(runProgram(fromPod, dir, movedSynAck, podB).retval, TC_ACT_OK);
    const movedNext = runProgram(fromPod, dir, tcpFrame(moved), podA);
    assert.equal(movedNext.retval, TC_ACT_OK, 'another source port: the kernel path');
    assert.deepEqual(movedNext.out, tcpFrame({ ...moved, dst: B, dport: 8080 }));
    // Begun on the kernel path (no SYN seen here): conntrack keeps its NAT.
    kernel(
      'a connection the kernel began',
      tcpFrame({ src: A, dst: SVC, sport: 40001, dport: 80 }),
    );
    kernel(
      'a pod reaching itself (hairpin)',
      tcpFrame({ src: A, dst: [10, 96, 0, 21], dport: 80, flags: 2 }),
    );

    // 40 connections to a service of two backends, one here, one on a peer: both chosen.
    const chosen = new Map<string, number>();
    for (let i = 0; i < 40; i++) {
      const out = runProgram(
        fromPod,
        dir,
        tcpFrame({ src: A, dst: [10, 96, 0, 30], sport: 41000 + i, dport: 80, flags: 2 }),
        podA,
      ).out;
      const backend = out.slice(30, 34).join('.');
      chosen.set(backend, chosen.get(backend) ?? 41000 + i);
    }
    assert.deepEqual([...chosen.keys()].sort(), ['10.244.1.6', '10.244.2.7']);
    // The peer's backend answers over the underlay, as the service, into A.
    const sport = chosen.get('10.244.2.7')!;
    const overUnderlay = runProgram(
      fromUnderlay,
      dir,
      tcpFrame({ src: [10, 244, 2, 7], dst: A, sport: 8080, dport: sport }),
    );
    assert.equal(overUnderlay.retval, TC_ACT_REDIRECT);
    assert.deepEqual(
      overUnderlay.out.slice(14),
      tcpFrame({ src: [10, 96, 0, 30], dst: A, sport: 80, dport: sport, ttl: 63 }).slice(14),
    );

    const counts = await datapathCounters(pins);
    assert.deepEqual(Object.fromEntries(counts), {
      kernel: 54,
      redirect_peer: 5,
      redirect_neigh: 1,
      drop_spoofed: 1,
      service_dnat: 45,
      reverse_nat: 3,
    });

    // Drain mode: A's translated connection carries on, both ways; nothing else skips the kernel.
    assert.equal(
      await syncDatapathMaps(pins, desiredDatapathMaps({ ...input, mode: 'drain' })),
      1,
      'only the mode changes',
    );
    const onward = runProgram(fromPod, dir, tcpFrame({ src: A, dst: SVC, dport: 80 }), podA);
    assert.equal(onward.retval, TC_ACT_REDIRECT, 'draining: a translated connection goes on');
    assert.deepEqual(onward.out.slice(14), tcpFrame({ src: A, dst: B, ttl: 63 }).slice(14));
    const answered = runProgram(fromPod, dir, tcpFrame(fromB), podB);
    assert.equal(answered.retval, TC_ACT_REDIRECT, 'draining: its reply too');
    assert.deepEqual(
      answered.out.slice(14),
      tcpFrame({ src: SVC, dst: A, sport: 80, dport: 40000, ttl: 63 }).slice(14),
    );
    const fromPeer = tcpFrame({ src: [10, 244, 2, 7], dst: A, sport: 8080, dport: sport });
    assert.equal(runProgram(fromUnderlay, dir, fromPeer).retval, TC_ACT_REDIRECT);
    kernel('draining: pod to pod', tcpFrame({ src: A, dst: B, sport: 40002 }));
    kernel('draining: a peer pod to a pod here', tcpFrame(back), fromUnderlay);
    kernel(
      'draining: a new connection to the service',
      tcpFrame({ src: A, dst: SVC, sport: 40003, dport: 80, flags: 2 }),
    );
    assert.equal(
      runProgram(fromPod, dir, tcpFrame({ src: B, dst: SVC, dport: 80 }), podA).retval,
      TC_ACT_SHOT,
      'draining: a spoofed source is still dropped',
    );
    // A's FIN: translated and redirected, and its translation marked closing (struct nat_entry's
    // seventh byte) so that the agent ends the drain once it falls quiet.
    const fin = runProgram(
      fromPod,
      dir,
      tcpFrame({ src: A, dst: SVC, dport: 80, flags: 0x11 }),
      podA,
    );
    assert.equal(fin.retval, TC_ACT_REDIRECT);
    assert.deepEqual(
      fin.out.slice(14),
      tcpFrame({ src: A, dst: B, ttl: 63, flags: 0x11 }).slice(14),
    );
    const forwardKey = [...A, ...SVC, 40000 >> 8, 40000 & 0xff, 0, 80, 6, 0, 0, 0];
    const hex = (bytes: number[]) => bytes.map((b) => b.toString(16).padStart(2, '0')).join(' ');
    const { entries } = await datapathTranslations(pins);
    const forward = entries.get(hex(forwardKey))?.split(' ');
    assert.equal(forward?.[6], '01', 'closing');
    assert.equal(forward?.[7], '01', 'confirmed by the SYN-ACK');
    assert.deepEqual(Object.fromEntries(await datapathCounters(pins)), {
      kernel: 57,
      redirect_peer: 9,
      redirect_neigh: 1,
      drop_spoofed: 2,
      service_dnat: 47,
      reverse_nat: 5,
    });

    // UDP, back in full mode (the first datagram of a flow starts a translation, as a SYN does).
    // A's query to the cluster DNS leaves for B's 5353, both checksums exact, on the kernel path
    // (UDP always takes it); B's answer gets the service's address back on A's veth egress.
    assert.equal(await syncDatapathMaps(pins, desiredDatapathMaps(input)), 1, 'full again');
    const DNS = [10, 96, 0, 10];
    const toB = { src: A, dst: B, sport: 53000, dport: 5353 };
    for (const what of ['the first datagram', 'the next one, to the same backend']) {
      const query = runProgram(fromPod, dir, udpFrame({ ...toB, dst: DNS, dport: 53 }), podA);
      assert.equal(query.retval, TC_ACT_OK, what);
      assert.deepEqual(query.out, udpFrame(toB), `${what}: DNAT, checksums exact`);
    }
    const dnsAnswer = udpFrame({ src: B, dst: A, sport: 5353, dport: 53000 });
    const dnsIn = runProgram(fromPod, dir, dnsAnswer, podB);
    assert.equal(dnsIn.retval, TC_ACT_OK, "the DNS backend's answer keeps the kernel path");
    assert.deepEqual(dnsIn.out, dnsAnswer, "the DNS backend's answer: unchanged on the way in");
    const dnsBack = runProgram(toPod, dir, dnsAnswer);
    assert.equal(dnsBack.retval, TC_ACT_OK);
    assert.deepEqual(dnsBack.out, udpFrame({ src: DNS, dst: A, sport: 53, dport: 53000 }));
    // A datagram sent without a checksum keeps none.
    const bare = { src: A, sport: 53001, noChecksum: true };
    const unsummed = runProgram(fromPod, dir, udpFrame({ ...bare, dst: DNS, dport: 53 }), podA);
    assert.deepEqual(unsummed.out, udpFrame({ ...bare, dst: B, dport: 5353 }), 'still 0');
    assert.deepEqual(Object.fromEntries(await datapathCounters(pins)), {
      kernel: 61,
      redirect_peer: 9,
      redirect_neigh: 1,
      drop_spoofed: 2,
      service_dnat: 50,
      reverse_nat: 6,
    });
  } finally {
    execFileSync('ip', ['netns', 'del', ns]);
    rmSync(pins, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  }
});
