// The long-lived nft session: scripts are transactions, each gets exactly its own errors, and
// a session whose nft died starts again on the next script.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { NftScriptError, NftSession } from '../../src/kernel/nft-session.js';
import { deleteNamespace, sweepStaleNamespaces, uniqueName } from '../helpers/names.js';

function elements(netns: string): string {
  return execFileSync('ip', ['netns', 'exec', netns, 'nft', 'list', 'set', 'inet', 't', 's'], {
    encoding: 'utf8',
  });
}

test('kernel-nft-session: concurrent scripts, each all or nothing with its own errors', async () => {
  sweepStaleNamespaces();
  const netns = uniqueName('nft');
  execFileSync('ip', ['netns', 'add', netns]);
  const nft = new NftSession(netns);
  try {
    await nft.run('add table inet t\nadd set inet t s { type ipv4_addr; }\n');
    const results = await Promise.allSettled([
      nft.run('add element inet t s { 10.0.0.1 }'),
      // The first command is valid: the failing second must take it back.
      nft.run('add element inet t s { 10.0.0.2 }\nadd element inet t nosuch { 10.0.0.3 }\n'),
      nft.run('add element inet t s { 10.0.0.4 }'),
    ]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'rejected', 'fulfilled'],
    );
    const failed = (results[1] as PromiseRejectedResult).reason as NftScriptError;
    assert.ok(failed instanceof NftScriptError);
    assert.equal(failed.errors.length, 1);
    assert.match(failed.message, /No such file or directory/);
    const listed = elements(netns);
    assert.match(listed, /10\.0\.0\.1/);
    assert.doesNotMatch(listed, /10\.0\.0\.2/);
    assert.match(listed, /10\.0\.0\.4/);

    // A retired nft answers what it was given; the next script goes to a fresh one.
    const last = nft.run('add element inet t s { 10.0.0.7 }');
    nft.close();
    await last;
    await nft.run('add element inet t s { 10.0.0.8 }');
    assert.match(elements(netns), /10\.0\.0\.7\b/);
    assert.match(elements(netns), /10\.0\.0\.8\b/);

    // nft killed behind the session's back (the namespace's only process): a script sent
    // before the session noticed fails, and the next one starts a new nft.
    const pids = execFileSync('ip', ['netns', 'pids', netns], { encoding: 'utf8' });
    for (const pid of pids.split('\n').filter(Boolean)) process.kill(Number(pid), 'SIGKILL');
    await nft.run('add element inet t s { 10.0.0.5 }').catch(() => undefined);
    await nft.run('add element inet t s { 10.0.0.6 }');
    assert.match(elements(netns), /10\.0\.0\.6/);
  } finally {
    nft.close();
    deleteNamespace(netns);
  }
});
