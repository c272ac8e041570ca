// Leader election: a leader killed without giving the lead up holds the key until its lease
// expires; the same node's agent started again leads at once, any other waits, unless the
// leader's node has left the cluster.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { campaign, ELECTION_PREFIX } from '../../src/agent/leader.js';
import type { Store } from '../../src/store/store.js';
import { withTempStore } from '../helpers/temp-store.js';

const KEY = `${ELECTION_PREFIX}test-controller`;
/** Long enough that the dead leader's lease cannot expire during the test. */
const TTL_SECONDS = 60;

/** The key as a SIGKILLed leader leaves it: in its name, bound to a lease nobody keeps alive. */
async function leftByKilledLeader(store: Store, identity: string): Promise<string> {
  const lease = await store.grantLease(TTL_SECONDS);
  await store.create(KEY, identity, { lease });
  return lease;
}

/** Whether `identity` wins the election's first round, and the lease its key is then bound to. */
async function firstRound(
  store: Store,
  identity: string,
  holderGone?: (holder: string) => boolean,
): Promise<{ elected: boolean; lease?: string }> {
  const seen: { elected: boolean; lease?: string } = { elected: false };
  let elected!: () => void;
  const electedOnce = new Promise<void>((resolve) => (elected = resolve));
  const election = campaign(store, 'test-controller', identity, {
    ttlSeconds: TTL_SECONDS,
    log: pino({ level: 'silent' }),
    onElected: () => elected(),
    onDeposed: () => undefined,
    holderGone,
  });
  try {
    // The first round runs at once; the next one would come a third of the TTL later.
    await Promise.race([electedOnce, new Promise((r) => setTimeout(r, 500))]);
    seen.elected = election.isLeader();
    seen.lease = (await store.get(KEY))?.lease;
  } finally {
    await election.stop();
  }
  return seen;
}

test('the killed leader’s own node, started again, leads at once under a new lease', async () => {
  await withTempStore(async (store) => {
    const dead = await leftByKilledLeader(store, 'node-1');
    const round = await firstRound(store, 'node-1');
    assert.ok(round.elected, 'node-1 leads again');
    assert.ok(round.lease !== undefined && round.lease !== dead, 'under a lease of its own');
  });
});

test('another node waits out the killed leader’s lease', async () => {
  await withTempStore(async (store) => {
    await leftByKilledLeader(store, 'node-1');
    assert.equal((await firstRound(store, 'node-2')).elected, false);
    assert.equal((await store.get(KEY))?.value, 'node-1');
  });
});

test('another node takes over at once from a leader whose node was removed', async () => {
  await withTempStore(async (store) => {
    const dead = await leftByKilledLeader(store, 'node-1');
    const round = await firstRound(store, 'node-2', (holder) => holder === 'node-1');
    assert.ok(round.elected, 'node-2 leads without waiting out the lease');
    assert.ok(round.lease !== undefined && round.lease !== dead, 'under a lease of its own');
  });
});

test('a leader whose node is still there keeps the lead', async () => {
  await withTempStore(async (store) => {
    await leftByKilledLeader(store, 'node-1');
    assert.equal((await firstRound(store, 'node-2', () => false)).elected, false);
    assert.equal((await store.get(KEY))?.value, 'node-1');
  });
});
