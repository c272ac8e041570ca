import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isLostEventsWarning, parseConntrackEvent } from '../../src/flows/conntrack-event.js';

// Lines as `conntrack -E -e NEW,DESTROY -o timestamp,id` prints them (v1.4.7).
const NEW_TCP =
  '[1700000000.306582]\t    [NEW] tcp      6 120 SYN_SENT src=10.244.1.5 dst=10.96.0.20 sport=40918 dport=80 [UNREPLIED] src=10.244.2.7 dst=10.244.1.5 sport=8080 dport=40918 id=3206261315';
const DESTROY_TCP =
  '[1700000001.324494]\t[DESTROY] tcp      6 119 TIME_WAIT src=10.244.1.5 dst=10.96.0.20 sport=40918 dport=80 packets=6 bytes=412 src=10.244.2.7 dst=10.244.1.5 sport=8080 dport=40918 packets=4 bytes=880 [ASSURED] delta-time=1 id=3206261315 [USERSPACE] portid=4244897040';
const NEW_UDP_EXTENDED =
  '[1700000000.5]\t    [NEW] ipv4     2 udp      17 30 src=10.244.1.5 dst=10.96.0.10 sport=5353 dport=53 [UNREPLIED] src=10.244.2.3 dst=10.244.1.5 sport=53 dport=5353 id=77';
const UPDATE_TCP =
  '[1700000000.306602]\t [UPDATE] tcp      6 60 SYN_RECV src=10.244.1.5 dst=10.96.0.20 sport=40918 dport=80 src=10.244.2.7 dst=10.244.1.5 sport=8080 dport=40918 id=3206261315';
const NEW_ICMP =
  '[1700000000.1]\t    [NEW] icmp     1 30 src=10.244.1.5 dst=10.244.2.7 type=8 code=0 id=4242 [UNREPLIED] src=10.244.2.7 dst=10.244.1.5 type=0 code=0 id=4242 id=991';

test('a NEW line gives the time, protocol, id and both tuples', () => {
  const ev = parseConntrackEvent(NEW_TCP);
  assert.deepEqual(ev, {
    type: 'NEW',
    time: 1700000000.306582,
    protocol: 'tcp',
    id: 3206261315,
    original: { src: '10.244.1.5', dst: '10.96.0.20', sport: 40918, dport: 80 },
    reply: { src: '10.244.2.7', dst: '10.244.1.5', sport: 8080, dport: 40918 },
  });
});

test('a DESTROY line carries the counters of each direction and the lifetime', () => {
  const ev = parseConntrackEvent(DESTROY_TCP)!;
  assert.equal(ev.type, 'DESTROY');
  assert.deepEqual(ev.original, {
    src: '10.244.1.5',
    dst: '10.96.0.20',
    sport: 40918,
    dport: 80,
    packets: 6,
    bytes: 412,
  });
  assert.equal(ev.reply.packets, 4);
  assert.equal(ev.reply.bytes, 880);
  assert.equal(ev.lifetime, 1);
  assert.equal(ev.id, 3206261315);
});

test('the address family of `-o extended` is skipped; ICMP tuple ids are not the connection id', () => {
  const udp = parseConntrackEvent(NEW_UDP_EXTENDED)!;
  assert.equal(udp.protocol, 'udp');
  assert.equal(udp.original.dport, 53);
  assert.equal(udp.id, 77);
  const icmp = parseConntrackEvent(NEW_ICMP)!;
  assert.equal(icmp.id, 991);
  assert.equal(icmp.original.dport, 0);
});

test('other lines are not events; the lost-events warning is recognised', () => {
  assert.equal(
    parseConntrackEvent('conntrack v1.4.7 (conntrack-tools): 8 flow events have been shown.'),
    undefined,
  );
  assert.equal(parseConntrackEvent(''), undefined);
  assert.equal(parseConntrackEvent(UPDATE_TCP), undefined, 'state changes are not asked for');
  assert.equal(
    parseConntrackEvent('[1.0]\t[NEW] ipv4 2 tcp 6 120 SYN_SENT src=1.2.3.4'),
    undefined,
  );
  assert.ok(isLostEventsWarning('WARNING: We have hit ENOBUFS! We are losing events.'));
  assert.ok(
    !isLostEventsWarning('conntrack v1.4.7 (conntrack-tools): 8 flow events have been shown.'),
  );
});
