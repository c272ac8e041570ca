// The long-lived nft session's reading of nft's stderr, and its one-line scripts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NftErrorReader, scriptLine } from '../../src/kernel/nft-session.js';

test('nft session: a script goes as one line, its commands joined by semicolons', () => {
  assert.equal(
    scriptLine(
      'add table inet podnet-guard\n  add set inet podnet-guard s { type ipv4_addr; }\n\nadd element inet podnet-guard s { 10.0.0.1 }\n',
    ),
    'add table inet podnet-guard; add set inet podnet-guard s { type ipv4_addr; }; add element inet podnet-guard s { 10.0.0.1 }',
  );
});

test('nft session: each script gets exactly the errors reported before its sentinel', () => {
  const ends: string[][] = [];
  const reader = new NftErrorReader((errors) => ends.push(errors));
  const sentinel = [
    'Error: syntax error, unexpected newline, expecting string',
    'podnet-end-of-script',
    '                    ^',
  ];
  // A script that succeeded, one that failed, then one that succeeded: stderr as nft writes
  // it, split across reads anywhere.
  const stderr = [
    ...sentinel,
    'Error: Could not process rule: No such file or directory',
    'add element inet podnet-guard nosuch { 10.0.0.2 }',
    '                              ^^^^^^',
    ...sentinel,
    ...sentinel,
    '',
  ].join('\n');
  for (let i = 0; i < stderr.length; i += 7) reader.push(stderr.slice(i, i + 7));
  assert.deepEqual(ends, [[], ['Could not process rule: No such file or directory'], []]);
});
