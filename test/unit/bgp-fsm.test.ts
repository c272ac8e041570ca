import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  collisionKeeps,
  connectRetryAfter,
  newFsm,
  step,
  type Fsm,
  type FsmAction,
  type FsmConfig,
  type FsmEvent,
} from '../../src/bgp/fsm.js';
import { BgpMessageError, type Message, type OpenMessage } from '../../src/bgp/message.js';

const CONFIG: FsmConfig = {
  localAs: 64512,
  peerAs: 64512,
  bgpId: '10.0.0.1',
  holdTime: 90,
  connectRetryTime: 3,
  idleHoldTime: 5,
  passive: false,
};

function peerOpen(over: Partial<OpenMessage> = {}): OpenMessage {
  return {
    type: 'open',
    version: 4,
    asNumber: 64512,
    holdTime: 30,
    bgpId: '10.0.0.2',
    multiprotocol: [{ afi: 1, safi: 1 }],
    routeRefresh: true,
    fourOctetAs: true,
    otherCapabilities: [],
    ...over,
  };
}

/** Runs events in order; returns the final FSM and every action, flattened. */
function run(fsm: Fsm, ...events: FsmEvent[]): { fsm: Fsm; actions: FsmAction[] } {
  const actions: FsmAction[] = [];
  for (const e of events) {
    const r = step(fsm, e);
    fsm = r.fsm;
    actions.push(...r.actions);
  }
  return { fsm, actions };
}

const types = (actions: FsmAction[]) => actions.map((a) => a.type);
const msg = (message: Message): FsmEvent => ({ type: 'message', message });
/** The NOTIFICATION action with no data, as the FSM sends for its own errors. */
const notification = (code: number, subcode: number): FsmAction => ({
  type: 'send-notification',
  code,
  subcode,
  data: Buffer.alloc(0),
});

function established(config = CONFIG, open = peerOpen()): Fsm {
  return run(
    newFsm(config),
    { type: 'start' },
    { type: 'tcp-connected' },
    msg(open),
    msg({ type: 'keepalive' }),
  ).fsm;
}

test('bgp fsm: Idle → Connect → OpenSent → OpenConfirm → Established', () => {
  let r = run(newFsm(CONFIG), { type: 'start' });
  assert.equal(r.fsm.state, 'Connect');
  assert.deepEqual(types(r.actions), ['start-timer', 'connect']);
  r = run(r.fsm, { type: 'tcp-connected' });
  assert.equal(r.fsm.state, 'OpenSent');
  assert.deepEqual(r.actions, [
    { type: 'stop-timer', timer: 'connect-retry' },
    { type: 'send-open' },
    { type: 'start-timer', timer: 'hold', seconds: 240 },
  ]);
  r = run(r.fsm, msg(peerOpen()));
  assert.equal(r.fsm.state, 'OpenConfirm');
  // Hold time is the smaller of both, keepalive a third of it.
  assert.equal(r.fsm.negotiated?.holdTime, 30);
  assert.deepEqual(r.actions.slice(1), [
    { type: 'send-keepalive' },
    { type: 'start-timer', timer: 'hold', seconds: 30 },
    { type: 'start-timer', timer: 'keepalive', seconds: 10 },
  ]);
  r = run(r.fsm, msg({ type: 'keepalive' }));
  assert.equal(r.fsm.state, 'Established');
  assert.deepEqual(types(r.actions), ['start-timer', 'established']);
});

test('bgp fsm: passive waits in Active; connect failures retry', () => {
  let r = run(newFsm({ ...CONFIG, passive: true }), { type: 'start' });
  assert.equal(r.fsm.state, 'Active');
  assert.ok(!types(r.actions).includes('connect'));
  r = run(newFsm(CONFIG), { type: 'start' }, { type: 'tcp-failed' });
  assert.equal(r.fsm.state, 'Active');
  r = run(r.fsm, { type: 'timer', timer: 'connect-retry' });
  assert.equal(r.fsm.state, 'Connect');
  assert.ok(types(r.actions).includes('connect'));
});

test('bgp fsm: refused connections are retried soon, backing off to connectRetryTime', () => {
  // A joining node's peers connect a moment before its speaker listens: the retry must not
  // cost them the whole connect-retry time (bench/bgp-convergence.ts).
  const retries: number[] = [];
  let fsm = run(newFsm(CONFIG), { type: 'start' }).fsm;
  for (let i = 0; i < 7; i++) {
    const failed = step(fsm, { type: 'tcp-failed' });
    const timer = failed.actions.find((a) => a.type === 'start-timer');
    retries.push(timer?.type === 'start-timer' ? timer.seconds : NaN);
    const retried = step(failed.fsm, { type: 'timer', timer: 'connect-retry' });
    assert.equal(retried.fsm.state, 'Connect');
    assert.ok(types(retried.actions).includes('connect'));
    fsm = retried.fsm;
  }
  assert.deepEqual(retries, [0.1, 0.2, 0.4, 0.8, 1.6, 3, 3]);
  // A session that comes up starts the count again.
  const up = run(fsm, { type: 'tcp-connected' }, msg(peerOpen()), msg({ type: 'keepalive' }));
  assert.equal(up.fsm.state, 'Established');
  assert.equal(up.fsm.connectFailures, undefined);
});

test('bgp fsm: a peer closing before its OPEN is a failed attempt too, retried soon', () => {
  // A node that has just joined accepts and closes connections from peers it does not know yet.
  let r = run(newFsm(CONFIG), { type: 'start' }, { type: 'tcp-connected' }, { type: 'tcp-failed' });
  assert.equal(r.fsm.state, 'Active');
  assert.deepEqual(
    r.actions.filter((a) => a.type === 'start-timer' && a.timer === 'connect-retry').pop(),
    { type: 'start-timer', timer: 'connect-retry', seconds: connectRetryAfter(CONFIG, 1) },
  );
  // Accepting and closing again and again backs off all the same.
  r = run(r.fsm, { type: 'timer', timer: 'connect-retry' });
  r = run(r.fsm, { type: 'tcp-connected' }, { type: 'tcp-failed' });
  assert.equal(r.fsm.connectFailures, 2);
});

test('bgp fsm: hold time 0 means no keepalives and no hold timer', () => {
  const r = run(
    newFsm({ ...CONFIG, holdTime: 0 }),
    { type: 'start' },
    { type: 'tcp-connected' },
    msg(peerOpen()),
  );
  assert.equal(r.fsm.negotiated?.holdTime, 0);
  assert.ok(!r.actions.some((a) => a.type === 'start-timer' && a.timer === 'keepalive'));
});

test('bgp fsm: bad OPENs get the right NOTIFICATION and go Idle', () => {
  const open = run(newFsm(CONFIG), { type: 'start' }, { type: 'tcp-connected' }).fsm;
  const cases: [Partial<OpenMessage>, number, number][] = [
    [{ asNumber: 65001 }, 2, 2],
    [{ bgpId: '10.0.0.1' }, 2, 3],
    [{ multiprotocol: [{ afi: 2, safi: 1 }] }, 2, 7],
  ];
  for (const [over, code, subcode] of cases) {
    const r = step(open, msg(peerOpen(over)));
    assert.equal(r.fsm.state, 'Idle');
    const n = r.actions.find((a) => a.type === 'send-notification');
    assert.deepEqual(n && [n.code, n.subcode], [code, subcode], JSON.stringify(over));
    assert.ok(r.actions.some((a) => a.type === 'start-timer' && a.timer === 'idle-hold'));
  }
});

test('bgp fsm: unexpected messages are FSM errors with RFC 6608 subcodes', () => {
  const sent = run(newFsm(CONFIG), { type: 'start' }, { type: 'tcp-connected' }).fsm;
  let r = step(sent, msg({ type: 'keepalive' }));
  assert.deepEqual(r.actions[0], notification(5, 1));
  r = step(established(), msg(peerOpen()));
  assert.equal(r.fsm.state, 'Idle');
  assert.deepEqual(r.actions[0], notification(5, 3));
});

test('bgp fsm: Established restarts the hold timer on traffic and delivers UPDATEs', () => {
  const update = {
    type: 'update' as const,
    withdrawn: [],
    nlri: [],
    errors: [],
    endOfRib: true,
  };
  const r = step(established(), msg(update));
  assert.equal(r.fsm.state, 'Established');
  assert.deepEqual(r.actions, [
    { type: 'start-timer', timer: 'hold', seconds: 30 },
    { type: 'update', update },
  ]);
  const k = step(established(), { type: 'timer', timer: 'keepalive' });
  assert.deepEqual(types(k.actions), ['send-keepalive', 'start-timer']);
});

test('bgp fsm: hold timer expiry, NOTIFICATION, TCP reset and decode errors end the session', () => {
  let r = step(established(), { type: 'timer', timer: 'hold' });
  assert.equal(r.fsm.state, 'Idle');
  assert.deepEqual(r.actions[0], notification(4, 0));
  assert.deepEqual(
    r.actions.find((a) => a.type === 'down'),
    { type: 'down', reason: 'notification-sent', detail: 'hold timer expired' },
  );
  r = step(
    established(),
    msg({ type: 'notification', code: 6, subcode: 2, data: Buffer.alloc(0) }),
  );
  assert.equal(r.actions.find((a) => a.type === 'down')?.type, 'down');
  assert.ok(!types(r.actions).includes('send-notification'));
  r = step(established(), { type: 'tcp-failed' });
  assert.deepEqual(
    r.actions.find((a) => a.type === 'down'),
    { type: 'down', reason: 'tcp-failed', detail: 'connection closed by peer' },
  );
  const err = new BgpMessageError(3, 1, Buffer.from([1]), 'bad');
  r = step(established(), { type: 'bad-message', error: err });
  assert.deepEqual(r.actions[0], {
    type: 'send-notification',
    code: 3,
    subcode: 1,
    data: Buffer.from([1]),
  });
  // Idle-hold wait ends → start again.
  r = step(r.fsm, { type: 'timer', timer: 'idle-hold' });
  assert.equal(r.fsm.state, 'Connect');
});

test('bgp fsm: stop sends Cease only when a session is open, and does not restart', () => {
  let r = step(established(), { type: 'stop' });
  assert.deepEqual(r.actions[0], notification(6, 2));
  assert.ok(!r.actions.some((a) => a.type === 'start-timer'));
  r = step(established(), { type: 'stop', subcode: 7 });
  assert.equal((r.actions[0] as { subcode: number }).subcode, 7);
  r = run(newFsm(CONFIG), { type: 'start' }, { type: 'stop' });
  assert.ok(!types(r.actions).includes('send-notification'));
});

test('bgp fsm: collision keeps the connection of the higher BGP identifier', () => {
  assert.equal(collisionKeeps('10.0.0.9', '10.0.0.2'), 'outgoing');
  assert.equal(collisionKeeps('10.0.0.2', '10.0.0.9'), 'incoming');
  // Compared as unsigned numbers, not strings.
  assert.equal(collisionKeeps('192.168.0.1', '10.0.0.200'), 'outgoing');
});

test('bgp fsm: a session over IPv6 offers and carries IPv6 unicast alone', () => {
  const overIPv6: FsmConfig = { ...CONFIG, ipv4Unicast: false, ipv6Unicast: true };
  const both = established(
    overIPv6,
    peerOpen({
      multiprotocol: [
        { afi: 1, safi: 1 },
        { afi: 2, safi: 1 },
      ],
    }),
  );
  assert.equal(both.state, 'Established');
  assert.equal(both.negotiated?.ipv6Unicast, true);
  assert.equal(both.negotiated?.noIpv4Unicast, true);
  // A peer that offers IPv6 unicast alone (BIRD with only an ipv6 channel) is taken.
  const ipv6Only = established(overIPv6, peerOpen({ multiprotocol: [{ afi: 2, safi: 1 }] }));
  assert.equal(ipv6Only.state, 'Established');
  // An IPv4 session that also offers IPv6 carries both: nothing is left out.
  const dual = established(
    { ...CONFIG, ipv6Unicast: true },
    peerOpen({
      multiprotocol: [
        { afi: 1, safi: 1 },
        { afi: 2, safi: 1 },
      ],
    }),
  );
  assert.equal(dual.negotiated?.noIpv4Unicast, undefined);
  assert.equal(dual.negotiated?.ipv6Unicast, true);
  // No family in common: refused as an unsupported capability, naming the family wanted.
  const open = run(newFsm(overIPv6), { type: 'start' }, { type: 'tcp-connected' }).fsm;
  for (const over of [{ multiprotocol: [{ afi: 1, safi: 1 }] }, { multiprotocol: [] }]) {
    const r = step(open, msg(peerOpen(over)));
    assert.equal(r.fsm.state, 'Idle');
    const n = r.actions.find((a) => a.type === 'send-notification');
    assert.deepEqual(n && [n.code, n.subcode], [2, 7], JSON.stringify(over));
  }
});
